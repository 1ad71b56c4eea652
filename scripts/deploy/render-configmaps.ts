/**
 * Renders what deploy/ derives from topologies/*.yaml: deploy/k8s/configmap-<name>.yaml (the
 * topology as a ConfigMap) and deploy/compose/topics-<name>.sh (its topics, for the apache/kafka
 * image). Run it after editing a topology:
 *   node --import tsx scripts/deploy/render-configmaps.ts           writes the files
 *   node --import tsx scripts/deploy/render-configmaps.ts --check   exits 1 if any is out of date
 * A topology that does not load through the config loader stops it with the loader's message.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { orphans, REPO_ROOT, renderAll } from './topology-renders.ts';

const check = process.argv.includes('--check');
const rendered = await renderAll(REPO_ROOT);
const current = (path: string): string | null => {
  try {
    return readFileSync(join(REPO_ROOT, path), 'utf8');
  } catch {
    return null;
  }
};
const stale = rendered.filter((f) => current(f.path) !== f.text);
const extra = orphans(REPO_ROOT, rendered);
if (check) {
  for (const f of stale) process.stderr.write(`render-configmaps: ${f.path} is out of date\n`);
  for (const f of extra) process.stderr.write(`render-configmaps: ${f} belongs to no topology\n`);
  if (stale.length + extra.length > 0) {
    process.stderr.write('render-configmaps: run `node --import tsx scripts/deploy/render-configmaps.ts`\n');
    process.exit(1);
  }
  process.stderr.write(`render-configmaps: ${rendered.length} files up to date\n`);
} else {
  for (const f of stale) {
    mkdirSync(dirname(join(REPO_ROOT, f.path)), { recursive: true });
    writeFileSync(join(REPO_ROOT, f.path), f.text);
    process.stderr.write(`render-configmaps: wrote ${f.path}\n`);
  }
  for (const f of extra) {
    rmSync(join(REPO_ROOT, f));
    process.stderr.write(`render-configmaps: removed ${f}\n`);
  }
  if (stale.length + extra.length === 0) process.stderr.write(`render-configmaps: ${rendered.length} files up to date\n`);
}
