import assert from 'node:assert/strict';
import test from 'node:test';
import { engineFailureDrill, poisonPillDrill, repeatedKillDrill, rollingRestartDrill, slowInstanceDrill, violations, zombieFencingDrill } from '../support/drills.ts';

// Reduced versions of `npm run drills`: the same checks against an uninterrupted reference run.

test('drill: engine errors mid-batch abort and restore; committed output equals the uninterrupted run', async () => {
  const r = await engineFailureDrill(40, 10, 3);
  assert.deepEqual(violations(r), [], JSON.stringify(r));
});

test('drill: poison pills (2^31 map count, 10 MB, null key, bad UTF-8, implausible time, garbage) are dead-lettered, the rest served exactly once', async () => {
  const r = await poisonPillDrill(40, 10);
  assert.deepEqual(violations(r), [], JSON.stringify(r));
});

test('drill: a zombie fenced by a new instance with its id stops; nothing duplicated or lost', async () => {
  const r = await zombieFencingDrill(40, 10);
  assert.deepEqual(violations(r), [], JSON.stringify(r));
});

test('drill: SIGKILL of a serving process twice under load; each replacement restores and continues exactly once', async () => {
  const r = await repeatedKillDrill(40, 12, 2);
  assert.deepEqual(violations(r), [], JSON.stringify(r));
});

test('drill: rolling restart of two processes (SIGTERM, restart) under load', async () => {
  const r = await rollingRestartDrill(40, 12);
  assert.deepEqual(violations(r), [], JSON.stringify(r));
});

test('drill: an instance stalling longer than the session timeout inside batches commits nothing twice', async () => {
  const r = await slowInstanceDrill(40, 10);
  assert.deepEqual(violations(r), [], JSON.stringify(r));
});

// The broker-outage drills (8 s, 60 s) run in `npm run drills` only: each starts and stops a broker
// of its own, and whether kafkajs rides the outage out or gives up (exit 69, restarted) depends on
// timing, which a loaded CI machine makes nondeterministic.
