import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { EXIT_CODES } from '../../src/errors/errors.ts';

// Each failure a user meets first ends with one line naming the file, field or peer, and the
// documented exit code (README: Exit codes) — never a stack trace.
const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'streamrec-cli-errors-'));

function run(args: string[], env: Record<string, string> = {}, timeout = 60_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout });
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('streamrec: ') && !l.includes('tfjs backend'));
  return { code: r.status, lines, stderr: r.stderr };
}

function assertOneLine(r: ReturnType<typeof run>, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.lines.length, 1, r.stderr);
  assert.match(r.lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('a missing data file: exit 66, one line naming it', () => {
  assertOneLine(run(['train', '--data', join(dir, 'missing.tsv'), '--out', join(dir, 'm')]), EXIT_CODES.noInput, /missing\.tsv: no such file/);
});

test('a malformed data file: exit 65, one line naming the file and line', () => {
  const f = join(dir, 'bad.tsv');
  writeFileSync(f, 'SessionId\tItemId\tTime\n1\t2\tnot-a-time\n');
  assertOneLine(run(['train', '--data', f, '--out', join(dir, 'm')]), EXIT_CODES.dataFile, /bad\.tsv:2: malformed row/);
});

test('a bad topology: exit 78, one line naming the file and the field', () => {
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'serving: { batch: { maxSize: -1 } }\n');
  const r = run(['serve', '--topology', f]);
  assert.equal(r.code, EXIT_CODES.config, r.stderr);
  assert.equal(r.lines.length, 1, r.stderr);
  assert.match(r.lines[0], /bad\.yaml: /);
});

test('a bad model directory: exit 65 before anything connects, one line naming the file', () => {
  const m = join(dir, 'model');
  const r = run(['serve'], { STREAMREC_MODEL__KIND: 'gru4rec', STREAMREC_MODEL__PATH: m, KAFKA_BROKERS: '127.0.0.1:1' });
  assertOneLine(r, EXIT_CODES.dataFile, /model: model directory does not exist/);
});

test('an unreachable broker: exit 69, one line naming the address', () => {
  const r = run(['serve'], { KAFKA_BROKERS: '127.0.0.1:1', STREAMREC_METRICS__PORT: '0' }, 120_000);
  assertOneLine(r, EXIT_CODES.brokerUnavailable, /cannot reach Kafka at 127\.0\.0\.1:1/);
});
