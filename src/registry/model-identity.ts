/**
 * What a saved model is, as hashes a serving process can compare with what it finds elsewhere
 * (a session state on the changelog, a click's item id): the vocabulary its item indices refer
 * to, and the layout of the recurrent state it keeps per session. Both are SHA-256 over a
 * canonical encoding, so the same model always yields the same hashes, whatever process computes them.
 */
import { createHash } from 'node:crypto';
import { cellOf, type CellKind, type Gru4RecArch } from '../model/weights.ts';

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * SHA-256 of the item id list in index order. Canonical encoding: a tag, the count, then each id
 * as its UTF-8 byte length and bytes (u32 little-endian lengths), so no two lists share an
 * encoding (["ab", "c"] and ["a", "bc"] differ) and JSON escaping rules play no part.
 */
export function vocabularyHash(itemIds: readonly string[]): string {
  const tag = Buffer.from('streamrec-vocabulary/1\n', 'utf8');
  let bytes = tag.length + 4;
  for (const id of itemIds) bytes += 4 + Buffer.byteLength(id, 'utf8');
  const buf = Buffer.allocUnsafe(bytes);
  let o = tag.copy(buf, 0);
  o = buf.writeUInt32LE(itemIds.length, o);
  for (const id of itemIds) {
    const n = buf.write(id, o + 4, 'utf8');
    buf.writeUInt32LE(n, o);
    o += 4 + n;
  }
  return sha256Hex(buf);
}

/**
 * The per-session state a model keeps between events, described far enough to tell whether a
 * stored state can be read by another model: its format, the recurrent cell (an LSTM's [h | c] of
 * H units and a GRU's h of 2H units fill buffers of the same size but are not interchangeable), the hidden size of each layer, and what
 * the stored history holds (the last N item indices of the session, N set by serving, which is why
 * N itself is not part of it: a store with a shorter history keeps the newest items).
 */
export interface StateLayout {
  modelFormat: string;
  /** Absent for the GRU, so a GRU's layout (and its hash) is what it was before the other cells. */
  cell?: Exclude<CellKind, 'gru'>;
  hiddenSizes: number[];
  history: 'item-indices-oldest-first';
}

export function stateLayoutOf(modelFormat: string, arch: Gru4RecArch): StateLayout {
  const cell = cellOf(arch);
  return { modelFormat, ...(cell === 'gru' ? {} : { cell }), hiddenSizes: [...arch.hiddenSizes], history: 'item-indices-oldest-first' };
}

/** SHA-256 of the layout's JSON with its keys in a fixed order (the one above); a GRU's JSON has no cell key. */
export function stateLayoutHash(layout: StateLayout): string {
  const cell = layout.cell === undefined || (layout.cell as CellKind) === 'gru' ? {} : { cell: layout.cell };
  return sha256Hex(JSON.stringify({ modelFormat: layout.modelFormat, ...cell, hiddenSizes: layout.hiddenSizes, history: layout.history }));
}
