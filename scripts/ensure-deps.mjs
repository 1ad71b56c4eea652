// Installs npm dependencies when missing or stale, so `npm test` and `npm run demo` work on a fresh clone.
// onnxruntime-node's install step would try to download CUDA files; its CPU binaries ship in the package.
import { existsSync, statSync, writeFileSync } from 'node:fs';
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

// hnswlib-node, the optional ANN library, compiles its addon at install time (node-gyp); an npm
// that skips unapproved install scripts, or --ignore-scripts, leaves it unbuilt. Build it once
// here; a failure is remembered inside node_modules (so the next `npm ci` tries again) and only
// warned about: src/ann finds it missing at run time and its tests skip with the reason.
const hnswlib = 'node_modules/hnswlib-node';
const hnswlibFailed = 'node_modules/.hnswlib-node-build-failed';
if (existsSync(`${hnswlib}/package.json`) && !existsSync(`${hnswlib}/build/Release/addon.node`) && !existsSync(hnswlibFailed)) {
  process.stderr.write('streamrec: building the optional hnswlib-node addon (npm rebuild hnswlib-node)…\n');
  const r = spawnSync('npm', ['rebuild', 'hnswlib-node'], { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(`${hnswlib}/build/Release/addon.node`)) {
    writeFileSync(hnswlibFailed, `npm rebuild hnswlib-node exited with ${r.status}\n`);
    process.stderr.write('streamrec: hnswlib-node did not build (optional; usearch stays the ANN library)\n');
  }
}
