// Installs npm dependencies when missing or stale, so `npm test` and `npm run demo` work on a fresh clone.
// onnxruntime-node's install step would try to download CUDA files; its CPU binaries ship in the package.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

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
  const r = spawnSync('npm', ['rebuild', 'hnswlib-node'], { stdio: 'inherit', env: { ...process.env, ...nodeHeadersDir() } });
  if (r.status !== 0 || !existsSync(`${hnswlib}/build/Release/addon.node`)) {
    writeFileSync(hnswlibFailed, `npm rebuild hnswlib-node exited with ${r.status}\n`);
    process.stderr.write('streamrec: hnswlib-node did not build (optional; usearch stays the ANN library)\n');
  }
}

// @confluentinc/kafka-javascript, the optional librdkafka client (kafka.client: confluent), is not
// in package.json: its install downloads a prebuilt addon, which fails offline and on untested
// platforms, and building it from its bundled librdkafka sources takes minutes, too long for every
// `npm ci`. It is built once here (CKJS_LINKING=dynamic: librdkafka from the package's own
// sources, linked against the system's OpenSSL and zlib) in a scratch directory, pruned to what runs
// and cached under ~/.cache/streamrec keyed by version, Node ABI and platform, then copied into
// node_modules whenever it is missing there. A failed build is remembered in the cache (delete
// the file to try again) and only warned about: src/kafka reports the client unavailable and its
// tests skip with that reason. STREAMREC_SKIP_CONFLUENT=1 skips all of it.
const CKJS_VERSION = '1.10.1';
const ckjsAddon = 'node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node';
if (process.env.STREAMREC_SKIP_CONFLUENT !== '1' && !existsSync(ckjsAddon)) {
  const key = `confluent-kafka-javascript-${CKJS_VERSION}-node${process.versions.modules}-${process.platform}-${process.arch}`;
  const cached = join(process.env.STREAMREC_CACHE ?? join(homedir(), '.cache', 'streamrec'), key);
  const failed = `${cached}.build-failed`;
  if (!existsSync(join(cached, '.complete')) && !existsSync(failed)) buildConfluent(cached, failed);
  if (existsSync(join(cached, '.complete'))) {
    // Its runtime dependencies (bindings and its one dependency) come along; installed packages win.
    for (const entry of readdirSync(join(cached, 'node_modules'))) {
      const target = join('node_modules', entry);
      if (entry.startsWith('@')) {
        for (const sub of readdirSync(join(cached, 'node_modules', entry)))
          if (!existsSync(join(target, sub))) cpSync(join(cached, 'node_modules', entry, sub), join(target, sub), { recursive: true });
      } else if (!existsSync(target)) cpSync(join(cached, 'node_modules', entry), target, { recursive: true });
    }
  } else {
    process.stderr.write(`streamrec: the optional confluent Kafka client is unavailable (${readFileSync(failed, 'utf8').trim()}); kafkajs stays the client\n`);
  }
}

function buildConfluent(cached, failed) {
  const fail = (why) => {
    mkdirSync(dirname(failed), { recursive: true });
    writeFileSync(failed, `${why}; delete ${failed} to try again\n`);
  };
  // The build needs a C/C++ toolchain, python3 for node-gyp and the OpenSSL and zlib headers;
  // Debian/Ubuntu packages them, and a root shell (a container, CI) may install what is missing.
  const missing = ['python3', 'make', 'g++'].filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error);
  const headers = ['/usr/include/openssl/ssl.h', '/usr/include/zlib.h'].filter((h) => !existsSync(h));
  if ((missing.length > 0 || headers.length > 0) && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    process.stderr.write('streamrec: installing build tools for the confluent Kafka client (apt-get)…\n');
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'python3', 'make', 'g++', 'libssl-dev', 'zlib1g-dev'], { stdio: 'inherit' });
  }
  const stillMissing = ['python3', 'make', 'g++'].filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error);
  const headersMissing = ['/usr/include/openssl/ssl.h', '/usr/include/zlib.h'].filter((h) => !existsSync(h));
  if (stillMissing.length > 0 || headersMissing.length > 0) {
    fail(`building it needs ${[...stillMissing, ...headersMissing.map((h) => (h.includes('ssl') ? 'libssl-dev' : 'zlib1g-dev'))].join(', ')}`);
    return;
  }
  const staging = `${cached}.staging`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, 'package.json'), '{"name":"streamrec-confluent-build","private":true}\n');
  process.stderr.write(`streamrec: building @confluentinc/kafka-javascript ${CKJS_VERSION} with its bundled librdkafka (first run only, a few minutes)…\n`);
  const started = Date.now();
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `@confluentinc/kafka-javascript@${CKJS_VERSION}`], {
    cwd: staging,
    stdio: ['ignore', 'ignore', 'inherit'],
    // node-gyp downloads the Node headers unless told where they are; offline that fails. A Node
    // installed from packages ships them beside its binary (<prefix>/include/node).
    env: { ...process.env, CKJS_LINKING: 'dynamic', ...nodeHeadersDir() },
  });
  const pkg = join(staging, 'node_modules', '@confluentinc', 'kafka-javascript');
  if (r.status !== 0 || !existsSync(join(pkg, 'build', 'Release', 'confluent-kafka-javascript.node'))) {
    fail(`npm install @confluentinc/kafka-javascript@${CKJS_VERSION} with CKJS_LINKING=dynamic exited with ${r.status}`);
    rmSync(staging, { recursive: true, force: true });
    return;
  }
  // What runs is the addon and the shared librdkafka it loads through $ORIGIN/../deps, found by
  // `bindings`; the sources, objects and build tools (about 290 MB) are not needed again.
  for (const entry of readdirSync(join(staging, 'node_modules')))
    if (!['@confluentinc', 'bindings', 'file-uri-to-path'].includes(entry)) rmSync(join(staging, 'node_modules', entry), { recursive: true, force: true });
  rmSync(join(pkg, 'deps', 'librdkafka'), { recursive: true, force: true });
  rmSync(join(pkg, 'build', 'Release', 'obj.target'), { recursive: true, force: true });
  for (const f of readdirSync(join(pkg, 'build', 'deps'))) if (!/^librdkafka(\+\+)?\.so\.1$/.test(f)) rmSync(join(pkg, 'build', 'deps', f), { recursive: true, force: true });
  rmSync(cached, { recursive: true, force: true });
  renameSync(staging, cached);
  writeFileSync(join(cached, '.complete'), `built in ${((Date.now() - started) / 1000).toFixed(0)} s on ${new Date().toISOString()}\n`);
}

/** npm_config_nodedir for node-gyp when this Node's own headers are installed (and none is configured). */
function nodeHeadersDir() {
  if (process.env.npm_config_nodedir) return {};
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node.h')) ? { npm_config_nodedir: prefix } : {};
}
