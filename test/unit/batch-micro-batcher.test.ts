import assert from 'node:assert/strict';
import test from 'node:test';
import { type Chunk, ChunkDroppedError, MicroBatcher } from '../../src/batch/micro-batcher.ts';

const chunk = (partition: number, n: number, base = 0): Chunk<number> => ({ partition, records: Array.from({ length: n }, (_, i) => base + i) });

test('chunks queued while a batch runs are merged up to maxSize, in submission order', async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = new MicroBatcher<number>(10, async (chunks) => {
    batches.push(chunks.flatMap((c) => c.records));
    if (batches.length === 1) await gate;
  });
  const first = b.submit(chunk(0, 3, 0));
  const rest = [b.submit(chunk(1, 4, 100)), b.submit(chunk(2, 5, 200)), b.submit(chunk(3, 6, 300))];
  release();
  await Promise.all([first, ...rest]);
  // [0..2] alone; then 4 + 5 fit in 10, the 6-record chunk does not and goes next.
  assert.deepEqual(
    batches.map((x) => x.length),
    [3, 9, 6],
  );
  assert.deepEqual(batches[1], [100, 101, 102, 103, 200, 201, 202, 203, 204]);
});

test('a failed batch rejects every chunk in it, and the next batch still runs', async () => {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = new MicroBatcher<number>(100, async (chunks) => {
    calls++;
    if (calls === 1) await gate;
    if (calls === 2) throw new Error(`boom ${chunks.length}`);
  });
  const a = b.submit(chunk(0, 1));
  const x = b.submit(chunk(1, 1));
  const y = b.submit(chunk(2, 1));
  release();
  await a;
  await assert.rejects(x, /boom 2/);
  await assert.rejects(y, /boom 2/);
  await b.submit(chunk(3, 1));
  assert.equal(calls, 3);
});

test('drop() rejects queued chunks of revoked partitions; they never reach the processor', async () => {
  const seen: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = new MicroBatcher<number>(100, async (chunks) => {
    for (const c of chunks) seen.push(c.partition);
    if (seen.length === 1) await gate;
  });
  const inFlight = b.submit(chunk(0, 1));
  const revoked = b.submit(chunk(1, 1));
  const kept = b.submit(chunk(2, 1));
  assert.equal(b.drop(new Set([1])), 1);
  await assert.rejects(revoked, (e) => e instanceof ChunkDroppedError && e.partition === 1);
  release();
  await Promise.all([inFlight, kept]);
  assert.deepEqual(seen, [0, 2]);
  await b.idle();
  assert.equal(b.queuedChunks, 0);
});

test('maxSize must be a positive integer', () => {
  assert.throws(() => new MicroBatcher<number>(0, async () => undefined), RangeError);
});

test('a chunk submitted as soon as the previous one resolves is processed (no lost wake-up)', async () => {
  let processed = 0;
  const b = new MicroBatcher<number>(10, async () => {
    processed++;
  });
  // Each partition submits its next chunk from the continuation of the previous one, as the
  // serving loop does; the second submit must not find a loop that is about to end.
  for (let i = 0; i < 5; i++) await b.submit(chunk(0, 1, i));
  assert.equal(processed, 5);
});

test('betweenBatches runs after the batch in flight and before queued chunks, never inside a batch', async () => {
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = new MicroBatcher<number>(100, async (chunks) => {
    log.push(`start ${chunks.map((c) => c.partition)}`);
    if (log.length === 1) await gate;
    log.push('end');
  });
  const first = b.submit(chunk(0, 1));
  const queued = b.submit(chunk(1, 1));
  const swap = b.betweenBatches(async () => {
    log.push('swap');
    return 42;
  });
  release();
  assert.equal(await swap, 42);
  await Promise.all([first, queued]);
  assert.deepEqual(log, ['start 0', 'end', 'swap', 'start 1', 'end']);
  // With nothing in flight it runs at once.
  assert.equal(await b.betweenBatches(async () => 'idle'), 'idle');
});

test('a chunk resolves with its batch result', async () => {
  let n = 0;
  const b = new MicroBatcher<number, string>(10, async (chunks) => `batch ${++n} of ${chunks.length}`);
  assert.equal(await b.submit(chunk(0, 2)), 'batch 1 of 1');
});

test('whenDry runs once the queue stays empty, not between a chunk and its caller’s next one', async () => {
  const log: string[] = [];
  const b = new MicroBatcher<number>(
    4,
    async (chunks) => void log.push(`batch ${chunks.map((c) => c.records.length)}`),
    async () => void log.push('dry'),
  );
  // One caller hands over its records chunk after chunk, as a fetch does: the batcher must not
  // see "dry" in the microtask gap between one chunk resolving and the next being submitted.
  const caller = (async () => {
    for (let i = 0; i < 3; i++) await b.submit(chunk(0, 4, i * 4));
  })();
  await caller;
  await b.idle();
  assert.deepEqual(log, ['batch 4', 'batch 4', 'batch 4', 'dry']);
});

test('chunks submitted while whenDry runs wait for it, then are processed; the hook runs again after them', async () => {
  const log: string[] = [];
  let releaseDry!: () => void;
  const dryGate = new Promise<void>((r) => (releaseDry = r));
  let dries = 0;
  const b = new MicroBatcher<number>(
    10,
    async (chunks) => void log.push(`batch ${chunks.map((c) => c.partition)}`),
    async () => {
      log.push('dry');
      if (++dries === 1) await dryGate;
    },
  );
  const first = b.submit(chunk(0, 1));
  await first;
  // The loop is now inside whenDry (after the setImmediate yield).
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const second = b.submit(chunk(1, 1));
  assert.deepEqual(log, ['batch 0', 'dry']);
  releaseDry();
  await second;
  await b.idle();
  assert.deepEqual(log, ['batch 0', 'dry', 'batch 1', 'dry']);
});
