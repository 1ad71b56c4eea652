import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { syntheticClicks } from '../../src/data/synthetic.ts';
import { parseDuration, runTune } from '../../src/cli/tune.ts';
import { runTrain } from '../../src/cli/train.ts';
import { loadModel } from '../../src/registry/model-file.ts';
import { readStartConfig } from '../../src/train/tune/tuned-config-file.ts';
import { ConfigError, UsageError } from '../../src/errors/errors.ts';

/** Synthetic clicks as train / valid session TSVs (the first 80% of sessions train). */
function writeTsvs(dir: string): { train: string; valid: string } {
  const bySession = new Map<string, string[]>();
  for (const c of syntheticClicks({ nItems: 80, nSessions: 500, meanSessionLength: 6, sequentialP: 0.85, seed: 4 })) {
    if (!bySession.has(c.sessionId)) bySession.set(c.sessionId, []);
    bySession.get(c.sessionId)!.push(`${c.sessionId}\t${c.itemId}\t${c.time.toFixed(2)}`);
  }
  const sessions = [...bySession.values()];
  const cut = Math.round(0.8 * sessions.length);
  const header = 'SessionId\tItemId\tTime';
  const train = join(dir, 'train.tsv');
  const valid = join(dir, 'valid.tsv');
  writeFileSync(train, [header, ...sessions.slice(0, cut).flat()].join('\n') + '\n');
  writeFileSync(valid, [header, ...sessions.slice(cut).flat()].join('\n') + '\n');
  return { train, valid };
}

test('streamrec tune --model iknn: every trial in the table, the best params written and read back as a start config', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-tune-cli-'));
  const files = writeTsvs(dir);
  const out = join(dir, 'best-iknn.yaml');
  const result = await runTune({ ...files, model: 'iknn', trials: 4, search: 'random', seed: 3, out });
  assert.equal(result.trials.length, 4);
  const text = readFileSync(out, 'utf8');
  assert.match(text, /^# streamrec tune --model iknn: best of 4 trials \(random search, seed 3\)/);
  assert.match(text, /^model: iknn$/m);
  assert.deepEqual(readStartConfig('iknn', out), result.best!.config);
  // The file is also a valid start for the next search (--from), whose trial 0 is exactly it.
  const again = await runTune({ ...files, model: 'iknn', trials: 1, from: out, out: join(dir, 'again.yaml') });
  assert.deepEqual(again.trials[0].config, result.best!.config);
  assert.equal(again.trials[0].run!.recall, result.best!.run!.recall);
});

test('streamrec tune (gru4rec): the best config file trains with streamrec train --config', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-tune-cli-'));
  const files = writeTsvs(dir);
  const out = join(dir, 'best.yaml');
  const start = join(dir, 'start.yaml');
  writeFileSync(start, 'layers: [16]\nbatchSize: 16\nnSample: 16\nlearningRate: 0.00001\n');
  const result = await runTune({ ...files, trials: 3, seed: 1, epochs: 1, from: start, out });
  assert.equal(result.trials[0].origin, 'start');
  const yaml = parseYaml(readFileSync(out, 'utf8'));
  assert.equal(yaml.nEpochs, 1, '--epochs overrides the start config');
  const modelDir = join(dir, 'model');
  await runTrain({ data: files.train, out: modelDir, config: out });
  const saved = await loadModel(modelDir);
  assert.deepEqual(saved.config, result.best!.config);
});

test('streamrec tune: durations, and bad flags fail with the flag named', async () => {
  assert.equal(parseDuration('--budget', '10m'), 600);
  assert.equal(parseDuration('--budget', '90s'), 90);
  assert.equal(parseDuration('--budget', '1h'), 3600);
  assert.equal(parseDuration('--budget', '1500ms'), 1.5);
  assert.equal(parseDuration('--budget', '45'), 45);
  assert.throws(
    () => parseDuration('--budget', 'ten minutes'),
    (e: unknown) => e instanceof ConfigError && /--budget: expected a duration/.test(e.message),
  );
  assert.throws(() => parseDuration('--budget', '0s'), ConfigError);
  await assert.rejects(
    runTune({ data: '/nonexistent', model: 'xgboost' }),
    (e: unknown) => e instanceof ConfigError && /--model: expected one of gru4rec, sknn, iknn/.test(e.message),
  );
  await assert.rejects(runTune({ data: '/nonexistent', search: 'grid' }), (e: unknown) => e instanceof ConfigError && /--search/.test(e.message));
  await assert.rejects(runTune({ model: 'sknn' }), UsageError);
  await assert.rejects(runTune({ model: 'sknn', epochs: 3, data: '/x' }), (e: unknown) => e instanceof ConfigError && /--epochs: only applies to --model gru4rec/.test(e.message));
  await assert.rejects(runTune({ model: 'sknn', data: '/nonexistent/dir' }), (e: unknown) => (e as { kind?: string }).kind === 'no-input');
});
