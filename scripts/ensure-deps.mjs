// Installs npm dependencies when missing or stale, so `npm test` and `npm run demo` work on a fresh clone.
// onnxruntime-node's install step would try to download CUDA files; its CPU binaries ship in the package.
import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const lock = 'package-lock.json';
const stamp = 'node_modules/.package-lock.json';
const stale = !existsSync(stamp) || !existsSync('node_modules/tsx') || statSync(lock).mtimeMs > statSync(stamp).mtimeMs + 1000;
if (stale) {
  process.stderr.write('streamrec: installing npm dependencies (npm ci)…\n');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    stdio: 'inherit',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_onnxruntime_node_install: 'skip' },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
