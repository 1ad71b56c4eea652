import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BacklogCollapse, type ModelUpdate, parseModelUpdate } from '../../src/registry/model-updates.ts';

const HASH = 'a'.repeat(64);
const update = (version: number): ModelUpdate => ({ version, vocabularyHash: HASH, weightsHash: 'b'.repeat(64), announcedAt: 1_700_000_000_000 + version });

test('parseModelUpdate: a valid announcement, unknown fields dropped; malformed ones say why', () => {
  assert.deepEqual(parseModelUpdate(Buffer.from(JSON.stringify({ ...update(3), note: 'from a newer announcer' }))), { update: update(3) });
  const problems: Array<[Buffer | null, RegExp]> = [
    [null, /no value/],
    [Buffer.from('{"version": 3'), /not valid JSON/],
    [Buffer.from('[1]'), /expected a JSON object/],
    [Buffer.from(JSON.stringify({ ...update(3), version: 0 })), /version: must be a positive integer, got 0/],
    [Buffer.from(JSON.stringify({ ...update(3), weightsHash: 'B'.repeat(64) })), /weightsHash: must be a lowercase hex SHA-256/],
    [Buffer.from(JSON.stringify({ version: 3, vocabularyHash: HASH, weightsHash: HASH })), /announcedAt: must be epoch milliseconds/],
  ];
  for (const [value, problem] of problems) {
    const got = parseModelUpdate(value);
    assert.ok('problem' in got, String(value));
    assert.match(got.problem, problem);
  }
});

test('backlog: what was on the topic at start collapses to its newest valid announcement; later ones pass in order', () => {
  const c = new BacklogCollapse(new Map([[0, 3n]]));
  assert.deepEqual(c.take(0, '0', update(1)), []);
  assert.deepEqual(c.take(0, '1', update(2)), []);
  assert.deepEqual(c.take(0, '2', update(3)), []);
  assert.deepEqual(c.take(0, '3', update(4)), [update(4)], 'the last record of the backlog is the one delivered');
  assert.deepEqual(c.take(0, '4', update(5)), [update(5)]);
  assert.deepEqual(c.take(0, '5', null), [], 'a malformed live record is skipped');
  assert.deepEqual(c.take(0, '6', update(6)), [update(6)]);
});

test('backlog: a malformed last record falls back to the newest valid one; a gap past the end releases it before the next', () => {
  const malformedLast = new BacklogCollapse(new Map([[0, 2n]]));
  malformedLast.take(0, '0', update(1));
  malformedLast.take(0, '1', update(2));
  assert.deepEqual(malformedLast.take(0, '2', null), [update(2)]);

  // Compaction (or a transaction marker) can leave the backlog's last offset without a record.
  const gap = new BacklogCollapse(new Map([[0, 5n]]));
  gap.take(0, '3', update(3));
  assert.deepEqual(gap.take(0, '7', update(4)), [update(3), update(4)]);

  const empty = new BacklogCollapse(new Map());
  assert.deepEqual(empty.take(0, '0', update(1)), [update(1)], 'nothing on the topic at start: everything is live');
  const onlyMalformed = new BacklogCollapse(new Map([[0, 0n]]));
  assert.deepEqual(onlyMalformed.take(0, '0', null), []);
});
