import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MicroBatcher, BatcherClosedError, type BatchMeta } from '../../src/batch/micro-batcher.ts';

/** Lets queued microtasks and resolved handlers run (setImmediate is not mocked). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A handler whose batches finish only when the test says so. */
function gatedHandler<T>() {
  const calls: Array<{ items: T[]; meta: BatchMeta; done: ReturnType<typeof deferred> }> = [];
  let running = 0;
  let maxRunning = 0;
  const onBatch = async (batch: T[], meta: BatchMeta) => {
    const done = deferred();
    calls.push({ items: [...batch], meta, done });
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      await done.promise;
    } finally {
      running--;
    }
  };
  return { calls, onBatch, maxRunning: () => maxRunning };
}

test('flushes full batches at once and the remainder when its wait runs out', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const seen: Array<[number[], BatchMeta]> = [];
  const b = new MicroBatcher<number>({ maxBatchSize: 3, maxWaitMs: 1000, onBatch: (batch, meta) => void seen.push([[...batch], meta]) });
  for (let i = 0; i < 7; i++) b.push(0, i);
  assert.equal(seen.length, 0, 'nothing runs synchronously inside push');
  await settle();
  assert.deepEqual(seen.map(([items, m]) => [items, m.reason, m.seq]), [[[0, 1, 2], 'size', 0], [[3, 4, 5], 'size', 1]]);
  assert.equal(b.buffered, 1);
  t.mock.timers.tick(999);
  await settle();
  assert.equal(seen.length, 2);
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(seen[2][0], [6]);
  assert.equal(seen[2][1].reason, 'time');
  assert.equal(b.buffered, 0);
  assert.deepEqual(b.stats(), { buffered: 0, inFlight: 0, batches: 3, items: 7, failures: 0, paused: false });
});

test('the wait budget counts from the oldest buffered item of each partition', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const seen: Array<[string[], BatchMeta]> = [];
  const b = new MicroBatcher<string>({ maxBatchSize: 2, maxWaitMs: 100, onBatch: (batch, meta) => void seen.push([[...batch], meta]) });
  b.push(0, 'a');
  t.mock.timers.tick(30);
  b.push(1, 'x');
  t.mock.timers.tick(20);
  b.push(0, 'b'); // completes a full batch with a
  b.push(0, 'c'); // pushed at 50: due at 150, not at 100
  await settle();
  assert.deepEqual(seen.map(([i]) => i), [['a', 'b']]);
  t.mock.timers.tick(79); // t = 129
  await settle();
  assert.equal(seen.length, 1);
  t.mock.timers.tick(1); // t = 130: x (pushed at 30) is due
  await settle();
  assert.deepEqual(seen.map(([i, m]) => [i, m.partition, m.reason, m.oldestPushedAt]).slice(1), [[['x'], 1, 'time', 30]]);
  t.mock.timers.tick(19); // t = 149
  await settle();
  assert.equal(seen.length, 2);
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(seen[2][0], ['c']);
  assert.equal(seen[2][1].oldestPushedAt, 50);
});

test('maxWaitMs 0 sends whatever has accumulated on the next tick', async () => {
  const seen: number[][] = [];
  const b = new MicroBatcher<number>({ maxBatchSize: 10, maxWaitMs: 0, onBatch: (batch) => void seen.push([...batch]) });
  b.push(0, 1);
  b.push(0, 2);
  await settle();
  assert.deepEqual(seen, [[1, 2]]);
});

test('per-partition order survives many batches, random partitions and slow handlers', async () => {
  let state = 12345;
  const rand = (n: number) => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n);
  const received = new Map<number, number[]>();
  let running = 0;
  let maxRunning = 0;
  const sizes: number[] = [];
  const b = new MicroBatcher<{ p: number; seq: number }>({
    maxBatchSize: 7,
    maxWaitMs: 0,
    onBatch: async (batch, meta) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      sizes.push(batch.length);
      for (let i = rand(3); i > 0; i--) await settle();
      for (const e of batch) {
        assert.equal(e.p, meta.partition, 'a batch holds one partition');
        const list = received.get(e.p) ?? [];
        list.push(e.seq);
        received.set(e.p, list);
      }
      running--;
    },
  });
  const pushed = new Map<number, number>();
  for (let i = 0; i < 5000; i++) {
    const p = rand(4);
    const seq = pushed.get(p) ?? 0;
    pushed.set(p, seq + 1);
    b.push(p, { p, seq });
    if (rand(10) === 0) await settle();
  }
  await b.flush();
  assert.equal(maxRunning, 1);
  assert.ok(Math.max(...sizes) <= 7);
  for (const [p, n] of pushed) assert.deepEqual(received.get(p), Array.from({ length: n }, (_, i) => i), `partition ${p}`);
});

test('only one batch is in flight; the partition with the oldest item goes next', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const h = gatedHandler<string>();
  const b = new MicroBatcher<string>({ maxBatchSize: 2, maxWaitMs: 1000, onBatch: h.onBatch });
  b.push(1, 'p1-a');
  t.mock.timers.tick(1);
  b.push(0, 'p0-a');
  b.push(0, 'p0-b');
  b.push(1, 'p1-b');
  await settle();
  assert.equal(h.calls.length, 1);
  assert.deepEqual(h.calls[0].items, ['p1-a', 'p1-b']);
  let idle = false;
  const idleP = b.whenIdle().then(() => (idle = true));
  await settle();
  assert.equal(h.calls.length, 1, 'the second full batch waits for the first');
  assert.equal(idle, false);
  h.calls[0].done.resolve();
  await settle();
  assert.equal(h.calls.length, 2);
  assert.deepEqual(h.calls[1].items, ['p0-a', 'p0-b']);
  assert.equal(idle, false);
  h.calls[1].done.resolve();
  await idleP;
  assert.equal(h.maxRunning(), 1);
});

test('pause above the high-water mark, resume only below the low-water mark', async () => {
  const h = gatedHandler<number>();
  const events: string[] = [];
  const b = new MicroBatcher<number>({
    maxBatchSize: 5,
    maxWaitMs: 1000,
    highWaterMark: 10,
    lowWaterMark: 4,
    onBatch: h.onBatch,
    onPause: () => events.push(`pause@${b.buffered}`),
    onResume: () => events.push(`resume@${b.buffered}`),
  });
  for (let i = 0; i < 10; i++) b.push(0, i);
  assert.deepEqual(events, [], 'reaching the mark is not exceeding it');
  await b.whenBelowHighWater();
  b.push(0, 10);
  b.push(0, 11);
  assert.deepEqual(events, ['pause@11']);
  assert.equal(b.paused, true);
  let below = false;
  const belowP = b.whenBelowHighWater().then(() => (below = true));
  await settle();
  h.calls[0].done.resolve(); // 12 → 7 buffered: under high, still above low
  await settle();
  assert.deepEqual(events, ['pause@11']);
  assert.equal(below, false);
  h.calls[1].done.resolve(); // 7 → 2
  await belowP;
  assert.deepEqual(events, ['pause@11', 'resume@2']);
  assert.equal(b.paused, false);
  for (let i = 0; i < 9; i++) b.push(0, 100 + i);
  assert.deepEqual(events, ['pause@11', 'resume@2', 'pause@11']);
  // Drain so no timer outlives the test.
  const flushed = b.flush();
  for (let i = 2; i < 5; i++) {
    await settle();
    h.calls[i].done.resolve();
  }
  await flushed;
  // 11 → 6 → 1: the resume comes with the batch that crosses the low-water mark.
  assert.deepEqual(events, ['pause@11', 'resume@2', 'pause@11', 'resume@1']);
});

test('a failing batch stops the batcher, surfaces the error and is retried first, intact', async () => {
  const processed: number[] = [];
  const metas: BatchMeta[] = [];
  const errors: Array<[unknown, BatchMeta]> = [];
  let failNext = false;
  const b = new MicroBatcher<number>({
    maxBatchSize: 2,
    maxWaitMs: 1000,
    onBatch: (batch, meta) => {
      metas.push(meta);
      if (failNext) {
        failNext = false;
        throw new Error('engine fell over');
      }
      processed.push(...batch);
    },
    onError: (e, meta) => errors.push([e, meta]),
  });
  b.push(0, 0);
  b.push(0, 1);
  await settle();
  failNext = true;
  for (let i = 2; i < 6; i++) b.push(0, i);
  await settle();
  assert.deepEqual(processed, [0, 1]);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0][0]), /engine fell over/);
  assert.equal(errors[0][1].seq, 1);
  assert.equal(b.buffered, 4, 'the failed batch is still buffered');
  assert.match(String(b.error), /engine fell over/);
  await assert.rejects(b.flush(), /engine fell over/);
  await assert.rejects(b.whenIdle(), /engine fell over/);
  b.push(0, 6);
  b.push(0, 7);
  await settle();
  assert.equal(metas.length, 2, 'a stopped batcher starts nothing');

  b.retry();
  await b.flush();
  assert.deepEqual(processed, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(
    metas.slice(2, 4).map((m) => [m.reason, m.attempt]),
    [['retry', 2], ['size', 1]],
  );
  assert.equal(b.stats().failures, 1);
});

test('an async rejection is handled like a throw, and close() reports it', async () => {
  const h = gatedHandler<number>();
  const b = new MicroBatcher<number>({ maxBatchSize: 1, maxWaitMs: 1000, onBatch: h.onBatch });
  b.push(3, 1);
  await settle();
  const closing = b.close();
  h.calls[0].done.reject(new Error('lost the GPU'));
  await assert.rejects(closing, /lost the GPU/);
  assert.equal(b.buffered, 1);
});

test('flush drains partial batches at once; close waits for the batch in flight', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const h = gatedHandler<string>();
  const b = new MicroBatcher<string>({ maxBatchSize: 3, maxWaitMs: 1000, onBatch: h.onBatch });
  b.push(0, 'a');
  b.push(1, 'b');
  b.push(0, 'c');
  const flushed = b.flush();
  await settle();
  assert.deepEqual(h.calls.map((c) => [c.items, c.meta.reason]), [[['a', 'c'], 'flush']]);
  h.calls[0].done.resolve();
  await settle();
  assert.deepEqual(h.calls[1].items, ['b']);
  h.calls[1].done.resolve();
  await flushed;
  assert.equal(b.buffered, 0);
  t.mock.timers.tick(5000);
  await settle();
  assert.equal(h.calls.length, 2, 'flushed partitions leave no timers behind');

  for (const x of ['d', 'e', 'f', 'g']) b.push(0, x);
  await settle();
  assert.equal(h.calls.length, 3);
  let closed: number | undefined;
  const closing = b.close().then((left) => (closed = left));
  assert.throws(() => b.push(0, 'h'), BatcherClosedError);
  await settle();
  assert.equal(closed, undefined, 'close waits for the batch in flight');
  h.calls[2].done.resolve();
  await closing;
  assert.equal(closed, 1, 'g was never started and is reported as left over');
  t.mock.timers.tick(5000);
  await settle();
  assert.equal(h.calls.length, 3, 'nothing starts after close');
  await assert.rejects(b.flush(), BatcherClosedError);
});

test('batch arrays are fresh by default and one reused array on request', async () => {
  const fresh: number[][] = [];
  const a = new MicroBatcher<number>({ maxBatchSize: 2, maxWaitMs: 0, onBatch: (batch) => void fresh.push(batch) });
  for (let i = 0; i < 4; i++) a.push(0, i);
  await a.flush();
  assert.deepEqual(fresh, [[0, 1], [2, 3]], 'kept arrays are not overwritten');

  const arrays = new Set<number[]>();
  const contents: number[][] = [];
  const r = new MicroBatcher<number>({
    maxBatchSize: 2,
    maxWaitMs: 0,
    reuseBatchArray: true,
    onBatch: (batch) => {
      arrays.add(batch);
      contents.push([...batch]);
    },
  });
  for (let i = 0; i < 5; i++) r.push(0, i);
  await r.flush();
  assert.equal(arrays.size, 1);
  assert.deepEqual(contents, [[0, 1], [2, 3], [4]]);
  assert.equal([...arrays][0].length, 0, 'the shared array holds no references between batches');
});

test('discardPartition drops a revoked partition, never its batch in flight', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const h = gatedHandler<number>();
  const events: string[] = [];
  const b = new MicroBatcher<number>({
    maxBatchSize: 2,
    maxWaitMs: 100,
    highWaterMark: 4,
    lowWaterMark: 2,
    onBatch: h.onBatch,
    onPause: () => events.push('pause'),
    onResume: () => events.push('resume'),
  });
  b.push(0, 1);
  b.push(0, 2);
  b.push(1, 3);
  b.push(1, 4);
  b.push(1, 5);
  await settle();
  assert.deepEqual(events, ['pause']);
  assert.equal(h.calls[0].meta.partition, 0);
  assert.throws(() => b.discardPartition(0), /in flight/);
  assert.equal(b.discardPartition(1), 3);
  assert.equal(b.bufferedOf(1), 0);
  assert.deepEqual(events, ['pause'], '2 buffered is not below the low-water mark');
  h.calls[0].done.resolve();
  await b.whenIdle();
  assert.deepEqual(events, ['pause', 'resume']);
  t.mock.timers.tick(1000);
  await settle();
  assert.equal(h.calls.length, 1, 'the discarded partition produces no batch');
});

test('options are validated', () => {
  const onBatch = () => {};
  assert.throws(() => new MicroBatcher({ maxBatchSize: 0, maxWaitMs: 1, onBatch }), /maxBatchSize/);
  assert.throws(() => new MicroBatcher({ maxBatchSize: 1, maxWaitMs: -1, onBatch }), /maxWaitMs/);
  assert.throws(() => new MicroBatcher({ maxBatchSize: 1, maxWaitMs: 1, highWaterMark: 2, lowWaterMark: 3, onBatch }), /lowWaterMark/);
});
