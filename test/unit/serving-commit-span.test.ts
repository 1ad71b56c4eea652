import assert from 'node:assert/strict';
import test from 'node:test';
import { CommitSpan } from '../../src/serving/commit-span.ts';

const ticket = { generation: 1 };

test('span: collects partitions, first offsets and next offsets across its batches', () => {
  const span = new CommitSpan(ticket, 0, () => undefined);
  span.addChunk(0, '10', '19', 10);
  span.addChunk(2, '5', '5', 1);
  span.addChunk(0, '20', '24', 5);
  span.addChunk(1, '100', '199', 100);
  assert.deepEqual(
    span.partitions.sort((a, b) => a - b),
    [0, 1, 2],
  );
  assert.equal(span.firstOffset(0), '10');
  assert.equal(span.firstOffset(2), '5');
  assert.equal(span.firstOffset(3), undefined);
  assert.deepEqual(
    span.nextOffsets().sort((a, b) => a.partition - b.partition),
    [
      { partition: 0, offset: '25' },
      { partition: 1, offset: '200' },
      { partition: 2, offset: '6' },
    ],
  );
  assert.equal(span.records, 116);
});

test('span: due on its interval, on its record count, and after every batch with interval 0', () => {
  const span = new CommitSpan(ticket, 1000, () => undefined);
  span.addChunk(0, '0', '99', 100);
  assert.equal(span.due(1050, { intervalMs: 100, maxRecords: 1000 }), false);
  assert.equal(span.due(1100, { intervalMs: 100, maxRecords: 1000 }), true, 'interval passed since it opened');
  assert.equal(span.due(1001, { intervalMs: 100, maxRecords: 100 }), true, 'record count reached');
  assert.equal(span.due(1000, { intervalMs: 0, maxRecords: 1_000_000 }), true, 'interval 0: commit per batch');
});

test('span: abort rolls back every partition of every batch once, and fails whoever waits on it', async () => {
  const rolledBack: number[][] = [];
  const span = new CommitSpan(ticket, 0, (partitions) => void rolledBack.push([...partitions].sort()));
  span.addChunk(0, '0', '9', 10);
  span.lifecycle.advance('stepped');
  span.lifecycle.advance('sent');
  // A second batch of the span touches another partition: sent → stepped is the next batch.
  span.addChunk(1, '0', '4', 5);
  span.lifecycle.advance('stepped');
  const waiting = span.settled.then(
    () => 'committed',
    (e: Error) => e.message,
  );
  const cause = new Error('engine failed');
  assert.equal(await span.abort(cause), true);
  assert.equal(await span.abort(cause), false, 'a second abort does nothing');
  assert.deepEqual(rolledBack, [[0, 1]]);
  assert.equal(await waiting, 'engine failed');
  assert.equal(span.aborted, true);
  assert.throws(() => span.markCommitted(), /from aborted to committed/);
});

test('span: commit resolves the waiters; a committed span cannot abort', async () => {
  let rollbacks = 0;
  const span = new CommitSpan(ticket, 0, () => void rollbacks++);
  span.addChunk(0, '0', '0', 1);
  span.lifecycle.advance('stepped');
  span.lifecycle.advance('sent');
  span.markCommitted();
  await span.settled;
  assert.equal(span.committed, true);
  assert.equal(await span.abort(new Error('late')), false);
  assert.equal(rollbacks, 0);
});

test('span: sends run one at a time in order, without the caller waiting; flush waits for all', async () => {
  const span = new CommitSpan(ticket, 0, () => undefined);
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const send = (name: string, ms: number) => async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    log.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`end ${name}`);
    inFlight--;
  };
  span.send(send('a', 20));
  span.send(send('b', 1));
  span.send(send('c', 5));
  log.push('caller goes on');
  await span.flush();
  assert.equal(maxInFlight, 1);
  assert.deepEqual(log, ['caller goes on', 'start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('span: a failed send skips the later ones and flush reports the first failure', async () => {
  const span = new CommitSpan(ticket, 0, () => undefined);
  const ran: string[] = [];
  span.send(async () => void ran.push('a'));
  span.send(async () => {
    ran.push('b');
    throw new Error('broker said no');
  });
  span.send(async () => void ran.push('c'));
  await assert.rejects(span.flush(), /broker said no/);
  await span.quiesce();
  assert.deepEqual(ran, ['a', 'b']);
});
