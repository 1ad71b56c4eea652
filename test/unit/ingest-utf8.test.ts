import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/random/rng.ts';
import { firstInvalidUtf8, isValidUtf8 } from '../../src/ingest/utf8.ts';

const bytes = (...b: number[]) => Uint8Array.from(b);
const fatal = new TextDecoder('utf-8', { fatal: true });
const strictlyValid = (b: Uint8Array): boolean => {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
};

test('well-formed UTF-8 passes, including a real U+FFFD and 4-byte characters', () => {
  for (const s of ['', 'session-42', 'café', '日本語', '\uFFFD', '🛒 cart', '\u{10FFFF}', '\u0000']) assert.equal(isValidUtf8(Buffer.from(s, 'utf8')), true, s);
});

test('ill-formed sequences are found at the offset of their first byte', () => {
  const cases: Array<[string, Uint8Array, number]> = [
    ['lone continuation byte', bytes(0x61, 0x80), 1],
    ['0xff', bytes(0x61, 0x62, 0xff), 2],
    ['overlong 2-byte NUL', bytes(0xc0, 0x80), 0],
    ['overlong 3-byte', bytes(0xe0, 0x80, 0x80), 0],
    ['overlong 4-byte', bytes(0xf0, 0x80, 0x80, 0x80), 0],
    ['UTF-16 surrogate', bytes(0x61, 0xed, 0xa0, 0x80), 1],
    ['above U+10FFFF', bytes(0xf4, 0x90, 0x80, 0x80), 0],
    ['lead byte 0xf5', bytes(0xf5, 0x80, 0x80, 0x80), 0],
    ['truncated at the end', bytes(0x61, 0xe6, 0x97), 1],
    ['continuation missing mid-string', bytes(0xc3, 0x61), 0],
  ];
  for (const [name, b, at] of cases) {
    assert.equal(firstInvalidUtf8(b, 0, b.length), at, name);
    assert.equal(strictlyValid(b), false, `${name}: the reference agrees it is invalid`);
  }
});

test('only the given range is checked: a sequence cut by the range end is invalid, bytes outside are ignored', () => {
  const b = Buffer.from('xé\xff', 'latin1'); // 78 e9 ff: invalid from byte 1 on, but the range is byte 0 only
  assert.equal(firstInvalidUtf8(b, 0, 1), -1);
  const utf8 = Buffer.from('aé', 'utf8'); // 61 c3 a9
  assert.equal(firstInvalidUtf8(utf8, 0, 2), 1, 'é cut in half by the range end');
  assert.equal(firstInvalidUtf8(utf8, 1, 3), -1);
});

test('agrees with a strict TextDecoder on 20,000 random byte strings biased towards multi-byte sequences', () => {
  const random = seededRandom(12345);
  const next = () => Math.floor(random() * 2 ** 24);
  const interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
  let invalid = 0;
  for (let n = 0; n < 20_000; n++) {
    const len = next() % 8;
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = next() % 3 === 0 ? next() & 0xff : interesting[next() % interesting.length];
    const want = strictlyValid(b);
    if (!want) invalid++;
    assert.equal(isValidUtf8(b), want, `bytes ${Buffer.from(b).toString('hex')}`);
  }
  assert.ok(invalid > 1000 && invalid < 19_000, `both outcomes exercised (${invalid} invalid)`);
});
