/**
 * Strict UTF-8 validation of a byte range, in place.
 *
 * avsc (like Buffer#toString) decodes invalid UTF-8 lossily: every bad sequence becomes U+FFFD,
 * so two different ids can decode to the same string and the original bytes are gone. Checking
 * the decoded string cannot tell a producer's U+FFFD from a replaced byte; only the raw bytes
 * can. This walks them without creating a view or a string (Node's `buffer.isUtf8` would need a
 * subarray per field), and short ASCII ids, the common case, cost one comparison per byte.
 */

/**
 * Returns the offset of the first byte of the first invalid sequence in `bytes[start, end)`,
 * or -1 when the range is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence at the end).
 */
export function firstInvalidUtf8(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    // Lead byte ranges and the narrowed range of the first continuation byte (Unicode table 3-7).
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= end) return i;
    const c1 = bytes[i + 1];
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** Whether `bytes[start, end)` is well-formed UTF-8. */
export function isValidUtf8(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  return firstInvalidUtf8(bytes, start, end) === -1;
}
