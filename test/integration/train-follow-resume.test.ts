import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfig } from '../support/kafka.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { makeCodecs } from '../../src/ingest/codec.ts';
import { syntheticClicks } from '../../src/data/synthetic.ts';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf } from '../../src/model/gru4rec-config.ts';
import { saveModel } from '../../src/registry/model-file.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { readCheckpoint } from '../../src/train/continuous/checkpoint-file.ts';
import { followConfig } from '../../src/train/continuous/stream-trainer.ts';

const root = new URL('../../', import.meta.url).pathname;

/** A `train --follow` child (runTrainFollow, the command's body) whose stderr lines are collected. */
function follower(env: NodeJS.ProcessEnv, fromModel: string, checkpoint: string): { child: ChildProcess; lines: string[]; waitFor: (re: RegExp, ms?: number) => Promise<string> } {
  const script = `import('./src/cli/train.ts').then((m) => m.runTrainFollow({ fromModel: ${JSON.stringify(fromModel)}, checkpoint: ${JSON.stringify(checkpoint)} })).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let buf = '';
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.re.test(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
      nl = buf.indexOf('\n');
    }
  });
  const waitFor = (re: RegExp, ms = 120_000) =>
    new Promise<string>((resolve, reject) => {
      const hit = lines.find((l) => re.test(l));
      if (hit) return resolve(hit);
      const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; got:\n${lines.join('\n')}`)), ms);
      waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  return { child, lines, waitFor };
}

test('train --follow killed with SIGKILL resumes from its checkpoint offsets; SIGTERM finishes the window, checkpoints and exits 0; a passed gate is published', async () => {
  const cfg = await testConfig('follow');
  const codec = makeCodecs(cfg.wireFormat).click;
  const clicks = [...syntheticClicks({ nItems: 200, nSessions: 1500, seed: 3 })];
  const producer = createKafka(cfg, '-test').producer();
  await producer.connect();
  const now = Date.now();
  const messages = clicks.map((c) => ({
    key: c.sessionId,
    value: codec.encode({ sessionId: c.sessionId, userId: null, itemId: c.itemId, eventType: 'CLICK', timestamp: now, context: null }),
  }));
  for (let i = 0; i < messages.length; i += 1000) await producer.send({ topic: cfg.topics.clicks.name, messages: messages.slice(i, i + 1000) });
  await producer.disconnect();

  // The starting model knows every item of the stream (catalogue growth is unit-tested).
  await initBackend('wasm', () => {});
  const itemIds = [...new Set(clicks.map((c) => c.itemId))];
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-follow-it-'));
  const config = followConfig('rsc15-xe-fast', { nItems: itemIds.length, embeddingDim: 0, hiddenSizes: [32], constrainedEmbedding: true, useBias: true });
  const model = Gru4Rec.init(archOf(config, itemIds.length), 1);
  await saveModel(join(dir, 'start'), { weights: model.toWeights(), itemIds, config });
  model.dispose();

  const env = {
    ...process.env,
    STREAMREC_TOPICS__CLICKS__NAME: cfg.topics.clicks.name,
    STREAMREC_TOPICS__MODEL_UPDATES__NAME: cfg.topics.modelUpdates.name,
    STREAMREC_GROUPS__TRAINER: cfg.groups.trainer,
    STREAMREC_REGISTRY__PATH: join(dir, 'registry'),
    STREAMREC_TRAIN__WINDOW_EVENTS: '800',
    STREAMREC_TRAIN__GATE_WINDOW_EVENTS: '400',
    STREAMREC_TRAIN__CHECKPOINT_EVERY_EVENTS: '800',
  };
  const ckptDir = join(dir, 'checkpoint');
  const first = follower(env, join(dir, 'start'), ckptDir);
  await first.waitFor(/window \d+ .*; checkpoint /);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  const killedAt = await readCheckpoint(ckptDir);
  assert.ok(killedAt && killedAt.events > 0 && killedAt.events < clicks.length, `checkpoint of a partial run: ${killedAt?.events}`);

  const second = follower(env, join(dir, 'start'), ckptDir);
  const resumed = await second.waitFor(/resuming from checkpoint/);
  assert.match(resumed, new RegExp(`${killedAt.events} events`));
  for (const [p, off] of Object.entries(killedAt.offsets)) {
    const line = await second.waitFor(new RegExp(`partition ${p}: first offset read`));
    assert.equal(line.split('first offset read ')[1], off, `partition ${p} resumes at the checkpoint's offset, re-reading nothing before it`);
  }
  await second.waitFor(/window \d+ \(gate\).*passed, published version \d+/);
  await second.waitFor(/window \d+ /);
  second.child.kill('SIGTERM');
  const code = await new Promise((r) => second.child.once('exit', r));
  assert.equal(code, 0, second.lines.join('\n'));
  assert.ok(second.lines.some((l) => l.includes('train: stopped:')));
  const final = await readCheckpoint(ckptDir);
  assert.ok(final && final.events > killedAt.events);
  for (const [p, off] of Object.entries(killedAt.offsets)) assert.ok(BigInt(final.offsets[p]) >= BigInt(off));
  const registry = new ModelRegistry(join(dir, 'registry'));
  const current = await registry.current();
  assert.ok(current !== null, 'a passed candidate was promoted');
  const info = (await registry.load(current)).info;
  assert.ok(info.gate?.passed && info.trainingOffsets, JSON.stringify(info));
});
