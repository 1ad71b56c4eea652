/**
 * The deployment files hold their security properties: every file under deploy/ and
 * docker-compose.yml parses, the Kubernetes workloads run unprivileged with probes and resource
 * bounds, compose has no anonymous Grafana admin and no default secret, and the image is
 * multi-stage and runs as `node`. (No container runtime here: this is what can be checked statically.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = new URL('../../', import.meta.url).pathname;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Every YAML document of a file (JSON is YAML too); fails on any parse error or warning. */
function documents(file: string): any[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) assert.deepEqual([...d.errors, ...d.warnings].map(String), [], relative(root, file));
  return list.map((d) => d.toJS()).filter((d) => d !== null);
}

const deployFiles = filesUnder(join(root, 'deploy'));

test('deploy: every file under deploy/ and docker-compose.yml parses', () => {
  assert.ok(deployFiles.length >= 5, 'the scrape config, Grafana files and manifests are there');
  for (const f of [...deployFiles, join(root, 'docker-compose.yml')]) assert.ok(documents(f).length > 0, relative(root, f));
});

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);
const k8sDocs = deployFiles.filter((f) => f.includes('/k8s/')).flatMap(documents);
const workloads = k8sDocs.filter((d) => WORKLOADS.has(d.kind));

test('k8s: the serving workload is there', () => {
  assert.ok(
    workloads.some((w) => w.metadata.name === 'streamrec-serving'),
    'streamrec-serving',
  );
});

for (const w of workloads) {
  const pod = w.spec.template.spec;
  for (const c of pod.containers) {
    const name = `${w.kind}/${w.metadata.name} container ${c.name}`;
    const sec = c.securityContext ?? {};
    const podSec = pod.securityContext ?? {};

    test(`k8s ${name}: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp`, () => {
      assert.equal(sec.runAsNonRoot ?? podSec.runAsNonRoot, true, 'runAsNonRoot');
      assert.notEqual(sec.runAsUser ?? podSec.runAsUser, 0, 'not uid 0');
      assert.equal(sec.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
      assert.equal(sec.allowPrivilegeEscalation, false, 'allowPrivilegeEscalation');
      assert.ok(sec.capabilities?.drop?.includes('ALL'), 'drop ALL capabilities');
      assert.equal(sec.capabilities?.add, undefined, 'adds none back');
      assert.equal(sec.privileged ?? false, false);
      assert.equal((sec.seccompProfile ?? podSec.seccompProfile)?.type, 'RuntimeDefault', 'seccompProfile');
    });

    test(`k8s ${name}: cpu and memory requests and limits`, () => {
      for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r], `resources.${kind}.${r}`);
    });

    test(`k8s ${name}: liveness on GET /healthz and readiness on GET /readyz, on the metrics port the server binds beyond loopback`, () => {
      const metricsPort = c.ports.find((p: any) => p.containerPort === 9464);
      assert.ok(metricsPort, 'the metrics port is declared');
      const onMetricsPort = (probe: any) => probe.httpGet.port === metricsPort.name || probe.httpGet.port === metricsPort.containerPort;
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
      assert.ok(onMetricsPort(c.livenessProbe), 'liveness on the metrics port');
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
      assert.ok(onMetricsPort(c.readinessProbe), 'readiness on the metrics port');
      // metrics.host defaults to loopback, which the kubelet cannot reach.
      const host = c.env.find((e: any) => e.name === 'STREAMREC_METRICS__HOST')?.value;
      assert.ok(host !== undefined && host !== '127.0.0.1' && host !== 'localhost', `STREAMREC_METRICS__HOST=${host}`);
    });

    test(`k8s ${name}: secrets come from Secrets, never inline`, () => {
      for (const e of c.env ?? []) {
        if (/PASSWORD|SECRET|TOKEN/.test(e.name) && !e.name.endsWith('_ENV')) assert.ok(e.valueFrom?.secretKeyRef, `${e.name} must come from a secretKeyRef`);
      }
      // A read-only root filesystem needs the writable paths mounted.
      assert.ok(
        c.volumeMounts.some((m: any) => m.mountPath === '/tmp'),
        '/tmp is mounted',
      );
    });
  }
}

const compose = documents(join(root, 'docker-compose.yml'))[0];

test('compose: Grafana has no anonymous admin and no default admin password', () => {
  const env = compose.services.grafana.environment;
  const anonymous = String(env.GF_AUTH_ANONYMOUS_ENABLED ?? 'false') === 'true';
  if (anonymous) assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE ?? 'Viewer', 'Viewer', 'anonymous users are Viewers at most');
  const password = String(env.GF_SECURITY_ADMIN_PASSWORD ?? '');
  assert.match(password, /^\$\{[A-Z_]+:\?[^}]*\}$/, 'the admin password comes from a required variable (NAME:?message), with no default');
});

test('compose: long-running services have healthchecks; streamrec containers run locked down', () => {
  for (const [name, s] of Object.entries<any>(compose.services)) {
    if (s.profiles?.includes('tools')) continue;
    assert.ok(Array.isArray(s.healthcheck?.test) && s.healthcheck.test.length > 1, `${name} has a healthcheck`);
  }
  for (const name of ['serving', 'produce']) {
    const s = compose.services[name];
    assert.equal(s.read_only, true, `${name} read_only`);
    assert.deepEqual(s.cap_drop, ['ALL'], `${name} cap_drop`);
    assert.ok(s.security_opt.includes('no-new-privileges:true'), `${name} no-new-privileges`);
  }
  assert.equal(compose.services.serving.depends_on.kafka.condition, 'service_healthy');
});

test('compose: published ports bind to the host loopback', () => {
  for (const [name, s] of Object.entries<any>(compose.services)) for (const p of s.ports ?? []) assert.match(String(p), /^127\.0\.0\.1:/, `${name} publishes ${p}`);
});

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

test('Dockerfile: a build stage compiles with dev dependencies; the runtime stage has production dependencies only and runs as node', () => {
  const s = stages(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  assert.ok(s.length >= 2, 'multi-stage');
  const build = s.find((x) => x.lines.some((l) => l.includes('npm run build')));
  assert.ok(build, 'a stage runs npm run build');
  assert.ok(
    build.lines.some((l) => /^RUN npm ci(?!.*--omit=dev)/.test(l)),
    'the build stage installs dev dependencies',
  );
  const runtime = s.at(-1)!;
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
  const users = runtime.lines.filter((l) => l.startsWith('USER'));
  assert.deepEqual(users, ['USER node']);
  const last = runtime.lines.findIndex((l) => l.startsWith('USER'));
  assert.ok(
    runtime.lines.slice(last + 1).every((l) => !l.startsWith('RUN')),
    'nothing runs as root after USER',
  );
});

test('.dockerignore keeps local state, dependencies and credentials out of the build context', () => {
  const entries = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const e of ['.git', 'node_modules', 'dist', '.streamrec', '.env', '*.pem', '*.key']) assert.ok(entries.includes(e), e);
});
