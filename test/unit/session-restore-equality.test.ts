/**
 * What a restore from the changelog guarantees, at the serving recommender: a process restored
 * from the records of a run emits the same lists, with bit-identical scores, as that run going on
 * uninterrupted — in `full` and in `history` record mode. And why `history` mode writes a full
 * record for a session longer than historyLength: a history-only record of it restores the
 * state of its last historyLength items only, which is not the live state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { loadConfig } from '../../src/config/config.ts';
import { prepareModel } from '../../src/serving/create-recommender.ts';
import { Gru4RecRecommender } from '../../src/serving/gru4rec-recommender.ts';
import type { ClickInput, RecommendOutcome } from '../../src/serving/recommender.ts';
import type { ChangelogInput, ChangelogRecord } from '../../src/session/changelog.ts';
import { HISTORY_RECORD_VERSION, parseSessionRecord, SESSION_RECORD_VERSION, type RecordMode } from '../../src/session/session-codec.ts';

const N_ITEMS = 80;
const HISTORY = 5;
const itemIds = Array.from({ length: N_ITEMS }, (_, i) => `i${i}`);
const weights = syntheticWeights({ nItems: N_ITEMS, embeddingDim: 0, hiddenSizes: [24], constrainedEmbedding: false, useBias: true }, 3);
const quiet = () => undefined;

async function recommender(changelogRecord: RecordMode, engine: 'onnx' | 'tfjs' = 'onnx'): Promise<Gru4RecRecommender> {
  const c = loadConfig(undefined, {});
  c.model.engine = engine;
  c.serving.topK = 10;
  c.serving.batch.maxSize = 16;
  return new Gru4RecRecommender(await prepareModel(c, weights, itemIds, 'v1', quiet), {
    topK: 10,
    excludeSeen: false,
    historyLength: HISTORY,
    maxSessions: 100,
    ttlMs: 3_600_000,
    unknownItems: 'dead-letter',
    changelogRecord,
  });
}

/** Session s has `lengths[s]` clicks, interleaved round-robin; one partition per session mod 2. */
function clicks(lengths: number[], offset = 0): ClickInput[] {
  const out: ClickInput[] = [];
  const longest = Math.max(...lengths);
  for (let e = 0; e < longest; e++)
    for (let s = 0; s < lengths.length; s++)
      if (e < lengths[s]) out.push({ sessionId: `s${s}`, itemId: `i${(s * 13 + (e + offset) * 7) % N_ITEMS}`, partition: s % 2, timestamp: 0 });
  return out;
}

/** Serves in micro-batches of 7; the changelog is drained once at the end, as a commit spanning them would. */
async function serve(rec: Gru4RecRecommender, events: ClickInput[]): Promise<{ out: RecommendOutcome[]; changelog: ChangelogRecord[] }> {
  const out: RecommendOutcome[] = [];
  for (let i = 0; i < events.length; i += 7) {
    const part: RecommendOutcome[] = [];
    await rec.recommendBatch(events.slice(i, i + 7), part);
    out.push(...part);
  }
  return { out, changelog: rec.drainChangelog() };
}

const asInputs = (records: ChangelogRecord[]): ChangelogInput[] => records.map((r) => ({ key: Buffer.from(r.key), value: r.value, partition: r.partition }));

function hiddenOf(rec: Gru4RecRecommender, id: string): Float32Array {
  return Float32Array.from(rec.store.hiddenView(0, rec.store.slotOf(id)));
}

// Sessions 0–3 stay within historyLength (5) before the interruption; 4–5 outgrow it.
const BEFORE = [1, 2, 3, 5, 6, 11];
const AFTER = [2, 2, 2, 2, 2, 2];

for (const [mode, engine] of [
  ['full', 'onnx'],
  ['history', 'onnx'],
  ['history', 'tfjs'],
] as const) {
  test(`${mode} records (${engine} engine): a restored process serves exactly what the uninterrupted one does`, async () => {
    const live = await recommender(mode, engine);
    const first = await serve(live, clicks(BEFORE));
    assert.equal(first.changelog.length, BEFORE.length, 'one record per session for the whole span');
    const versions = first.changelog.map((r) => (r.value ? parseSessionRecord(r.value).version : -1));
    if (mode === 'full') assert.ok(versions.every((v) => v === SESSION_RECORD_VERSION));
    else assert.deepEqual(versions, [3, 3, 3, 3, 2, 2], 'history-only within the window, full beyond it');

    // Restore re-encodes with a batched encode() of other batch sizes than serving's step(): still bit-identical.
    const restored = await recommender(mode, engine);
    const counts = await restored.restorePartition(asInputs(first.changelog));
    const reencoded = await restored.completeRestore();
    assert.equal(counts.restored + counts.reencodeNeeded, BEFORE.length);
    assert.equal(reencoded, mode === 'history' ? 4 : 0);
    for (let s = 0; s < BEFORE.length; s++) assert.deepEqual(hiddenOf(restored, `s${s}`), hiddenOf(live, `s${s}`), `state of s${s} bit for bit`);

    const next = clicks(AFTER, 100);
    const a = await serve(live, next);
    const b = await serve(restored, next);
    assert.equal(b.out.length, next.length);
    assert.deepEqual(b.out, a.out, 'same lists, same scores');
    await live.close();
    await restored.close();
  });
}

test('a history-only record of a session longer than historyLength would restore another state (why it is written in full)', async () => {
  const live = await recommender('history');
  const { changelog } = await serve(live, clicks(BEFORE));
  // Rewrite the full records as history-only ones: the same header and history, no state.
  const historyOnly = changelog.map((r) => {
    const value = r.value as Buffer;
    const view = parseSessionRecord(value);
    if (view.version === HISTORY_RECORD_VERSION) return r;
    const header = Buffer.from(value.subarray(0, view.hiddenOffset));
    header[0] = HISTORY_RECORD_VERSION;
    return { ...r, value: Buffer.concat([header, value.subarray(view.historyOffset)]) };
  });
  const restored = await recommender('history');
  await restored.restorePartition(asInputs(historyOnly));
  assert.equal(await restored.completeRestore(), BEFORE.length);
  for (let s = 0; s < 4; s++) assert.deepEqual(hiddenOf(restored, `s${s}`), hiddenOf(live, `s${s}`), `s${s} is within the window: exact`);
  for (const s of [4, 5]) assert.notDeepEqual(hiddenOf(restored, `s${s}`), hiddenOf(live, `s${s}`), `s${s} saw items before its window`);
  await live.close();
  await restored.close();
});
