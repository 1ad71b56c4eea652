/**
 * The image (Dockerfile, .dockerignore): multi-stage, production dependencies only, runs as
 * `node`, a state directory the unprivileged user owns (the volume mount point of compose and
 * deploy/k8s), and the HTTP ports of the three processes' default topology exposed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TOPOLOGY, loadConfig } from '../../src/config/config.ts';

const root = new URL('../../', import.meta.url).pathname;

/** Dockerfile stages: FROM line and the instructions after it. */
function stages(text: string): Array<{ from: string; lines: string[] }> {
  const out: Array<{ from: string; lines: string[] }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (/^FROM\s/i.test(line)) out.push({ from: line, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

const s = stages(readFileSync(join(root, 'Dockerfile'), 'utf8'));
const runtime = s.at(-1)!;
const userAt = runtime.lines.findIndex((l) => l.startsWith('USER'));

test('Dockerfile: a build stage compiles with dev dependencies; the runtime stage has production dependencies only and runs as node', () => {
  assert.ok(s.length >= 2, 'multi-stage');
  const build = s.find((x) => x.lines.some((l) => l.includes('npm run build')));
  assert.ok(build, 'a stage runs npm run build');
  assert.ok(
    build.lines.some((l) => /^RUN npm ci(?!.*--omit=dev)/.test(l)),
    'the build stage installs dev dependencies',
  );
  assert.notEqual(runtime, build, 'the image is not the build stage');
  assert.ok(
    runtime.lines.some((l) => /^RUN npm ci .*--omit=dev/.test(l)),
    'production dependencies only',
  );
  const copies = runtime.lines.filter((l) => l.startsWith('COPY'));
  assert.ok(
    copies.some((l) => /--from=\S+ \/app\/dist/.test(l)),
    'dist/ comes from the build stage',
  );
  for (const dir of ['schemas', 'topologies', 'bin'])
    assert.ok(
      copies.some((l) => l.startsWith(`COPY ${dir} `)),
      `copies ${dir}/`,
    );
  assert.ok(!copies.some((l) => /^COPY (\.|src)\s/.test(l)), 'no sources or whole context in the image');
  assert.deepEqual(
    runtime.lines.filter((l) => l.startsWith('USER')),
    ['USER node'],
  );
  assert.ok(
    runtime.lines.slice(userAt + 1).every((l) => !l.startsWith('RUN')),
    'nothing runs as root after USER',
  );
});

test('Dockerfile: /var/lib/streamrec (registry, checkpoint, seed) exists and belongs to node, so a fresh volume there is writable', () => {
  const at = runtime.lines.findIndex((l) => /^RUN .*mkdir -p \/var\/lib\/streamrec\b/.test(l) && /chown node:node \/var\/lib\/streamrec\b/.test(l));
  assert.ok(at >= 0 && at < userAt, 'created and chowned before USER node');
});

test('Dockerfile: EXPOSE names the HTTP ports of serve, train --follow and monitor in the default topology', () => {
  const c = loadConfig(DEFAULT_TOPOLOGY, {});
  const exposed = runtime.lines
    .filter((l) => l.startsWith('EXPOSE'))
    .flatMap((l) => l.split(/\s+/).slice(1))
    .map(Number);
  assert.deepEqual(exposed.sort(), [c.metrics.port, c.train.metricsPort, c.monitor.metricsPort].sort());
});

test('.dockerignore keeps local state, dependencies and credentials out of the build context', () => {
  const entries = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const e of ['.git', 'node_modules', 'dist', '.streamrec', '.env', '*.pem', '*.key']) assert.ok(entries.includes(e), e);
});
