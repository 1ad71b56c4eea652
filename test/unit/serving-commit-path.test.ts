import assert from 'node:assert/strict';
import test from 'node:test';
import { FencedError, StreamrecError } from '../../src/errors/errors.ts';
import { BatchLifecycle, IllegalTransitionError } from '../../src/serving/batch-lifecycle.ts';
import { sendRounds } from '../../src/serving/committer.ts';
import { fatalFormOf } from '../../src/serving/fatal-errors.ts';
import { GroupMembership } from '../../src/serving/group-membership.ts';

test('lifecycle: open → stepped → sent → committed; a committed batch cannot abort', async () => {
  let rollbacks = 0;
  const l = new BatchLifecycle(() => void rollbacks++);
  l.advance('stepped');
  l.advance('sent');
  l.advance('committed');
  assert.equal(await l.abort(new Error('late')), false);
  assert.equal(rollbacks, 0);
  assert.equal(l.phase, 'committed');
});

test('lifecycle: an abort from any phase before commit rolls back exactly once', async () => {
  for (const steps of [[], ['stepped'], ['stepped', 'sent']] as const) {
    let rollbacks = 0;
    const l = new BatchLifecycle(() => void rollbacks++);
    for (const s of steps) l.advance(s);
    const cause = new Error('engine failed');
    assert.equal(await l.abort(cause), true);
    assert.equal(await l.abort(cause), false);
    assert.equal(rollbacks, 1);
    assert.equal(l.phase, 'aborted');
    assert.equal(l.cause, cause);
    assert.throws(() => l.advance('committed'), IllegalTransitionError);
  }
});

test('lifecycle: phases cannot be skipped', () => {
  const l = new BatchLifecycle(() => undefined);
  assert.throws(() => l.advance('committed'), /from open to committed/);
  assert.throws(() => l.advance('sent'), /from open to sent/);
});

test('membership: a batch commits only in the generation it started in, owning all its partitions', () => {
  const m = new GroupMembership();
  m.assign([0, 1, 2]);
  const t = m.ticket();
  assert.equal(m.whyNotCommit(t, [0, 2]), null);
  m.markLost('heartbeat failed: The group is rebalancing');
  assert.match(m.whyNotCommit(t, [0]) ?? '', /rebalancing/);
  const { revoked, added } = m.assign([0, 3]);
  assert.deepEqual(revoked, [1, 2]);
  assert.deepEqual(added, [3]);
  assert.match(m.whyNotCommit(t, [0]) ?? '', /generation 1 → 2/);
  const t2 = m.ticket();
  assert.equal(m.whyNotCommit(t2, [0, 3]), null);
  assert.match(m.whyNotCommit(t2, [1]) ?? '', /partition 1 is no longer assigned/);
});

test('fatal errors: fencing and unwritable records end the process; transient errors retry the batch', () => {
  const fenced = Object.assign(new Error('There is a newer producer with the same transactionalId which fences the current one'), {
    name: 'KafkaJSProtocolError',
    type: 'PRODUCER_FENCED',
  });
  assert.ok(fatalFormOf(fenced) instanceof FencedError);
  assert.ok(fatalFormOf(new Error('Cannot call beginTransaction in state ABORTING')) instanceof FencedError);
  const wrapped = Object.assign(new Error('retries exceeded'), {
    originalError: Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE' }),
  });
  const tooLarge = fatalFormOf(wrapped);
  assert.ok(tooLarge instanceof StreamrecError && tooLarge.kind === 'broker' && !tooLarge.retriable);
  assert.equal(fatalFormOf(new Error('engine exploded')), null);
  assert.equal(fatalFormOf(Object.assign(new Error('This server is not the leader for that topic-partition'), { type: 'NOT_LEADER_FOR_PARTITION' })), null);
});

test('send rounds: at most one entry per topic per request, so packed dead-letter groups stay separate batches', () => {
  const m = (topic: string, n: number) => ({ topic, messages: Array.from({ length: n }, () => ({ value: 'x' })) });
  const rounds = sendRounds([m('recs', 3), m('dl', 1), m('dl', 1), m('changelog', 2), m('dl', 1)]);
  assert.deepEqual(
    rounds.map((r) => r.map((x) => x.topic)),
    [['recs', 'dl', 'changelog'], ['dl'], ['dl']],
  );
});
