/**
 * docker-compose.yml holds together: each streamrec service's configuration (the topology it
 * mounts plus its environment, with compose's ${VAR:-default} interpolation) loads through the
 * real config loader and agrees with its health check, published port and Prometheus target;
 * services start in order through depends_on conditions; Grafana gets the dashboard and the data
 * source; everything runs locked down. No container runtime here: this is what can be checked
 * without one (schema validity: deploy-schemas.test.ts).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig, type StreamrecConfig } from '../../src/config/config.ts';

const root = new URL('../../', import.meta.url).pathname;
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const compose = parseYaml(composeText) as { services: Record<string, any>; volumes?: Record<string, unknown> };
const services = compose.services;
const scrape = parseYaml(readFileSync(join(root, 'deploy/prometheus.yml'), 'utf8')) as {
  scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
};
const scratch = mkdtempSync(join(tmpdir(), 'streamrec-deploy-compose-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Compose's interpolation with every variable unset: ${V:-d} and ${V-d} give d, ${V:?e} is an error. */
function interpolate(text: string): string {
  return text.replace(/\$\{(\w+)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}|\$\$/g, (whole, name?: string, _dash?: string, fallback?: string, q?: string, message?: string) => {
    if (whole === '$$') return '$';
    if (q) throw new Error(`\${${name}} is required: ${message}`);
    return fallback ?? '';
  });
}

const isStreamrec = (s: any) => s.build !== undefined || String(s.image ?? '').startsWith('streamrec:');
const isOneShot = (s: any) => s.restart === 'no';
const isTool = (s: any) => (s.profiles ?? []).length > 0;

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  bind: boolean;
}
function mounts(s: any): Mount[] {
  return (s.volumes ?? []).map((v: string) => {
    const parts = interpolate(v).split(':');
    const [source, target, mode] = parts;
    return { source, target, readOnly: mode === 'ro', bind: source.startsWith('.') || source.startsWith('/') };
  });
}
function mountOf(s: any, path: string): Mount | undefined {
  return mounts(s)
    .filter((m) => path === m.target || path.startsWith(`${m.target}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
}

/** A service's config as its process would load it: the bind-mounted topology, then its environment. */
function loadService(name: string): StreamrecConfig {
  const s = services[name];
  const env: Record<string, string> = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
  const topology = env.STREAMREC_TOPOLOGY;
  assert.ok(topology, `${name}: STREAMREC_TOPOLOGY`);
  const m = mountOf(s, topology);
  assert.ok(m?.bind && m.readOnly, `${name}: ${topology} is on a read-only bind mount of the repository`);
  const hostFile = join(root, m.source, posix.relative(m.target, topology));
  return loadConfig(hostFile, env);
}

/** Which config field holds each long-running process's HTTP port. */
const PORT_OF: Record<string, (c: StreamrecConfig) => number> = {
  serving: (c) => c.metrics.port,
  trainer: (c) => c.train.metricsPort,
  monitor: (c) => c.monitor.metricsPort,
};

test('compose: Kafka is the official image in KRaft mode, 3.9.x for kafkajs', () => {
  const k = services.kafka;
  assert.match(k.image, /^apache\/kafka:3\.9\.\d+$/);
  assert.match(k.environment.KAFKA_PROCESS_ROLES, /controller/);
  assert.ok(!Object.keys(k.environment).some((e) => e.includes('ZOOKEEPER')), 'no ZooKeeper');
  assert.equal(String(k.environment.KAFKA_AUTO_CREATE_TOPICS_ENABLE), 'false', 'topics come from the topology, not from typos');
  assert.ok(k.healthcheck?.test, 'the broker has a health check');
});

test('compose: every streamrec service loads its configuration through the config loader, all on the same topology', () => {
  const loaded = Object.keys(services)
    .filter((n) => isStreamrec(services[n]) && services[n].environment?.STREAMREC_TOPOLOGY)
    .map((n) => ({ n, c: loadService(n) }));
  assert.ok(loaded.length >= 5, loaded.map((l) => l.n).join(', '));
  for (const { n, c } of loaded) {
    assert.deepEqual(c.topics, loaded[0].c.topics, `${n} topics`);
    assert.deepEqual(c.kafka.brokers, ['kafka:9092'], `${n} reaches the kafka service`);
  }
  assert.equal(services.kafka.environment.KAFKA_ADVERTISED_LISTENERS, 'PLAINTEXT://kafka:9092');
});

for (const name of Object.keys(PORT_OF)) {
  test(`compose ${name}: health check on /healthz and /readyz of the port it serves, published on loopback, scraped by its job`, () => {
    const s = services[name];
    const c = loadService(name);
    const port = PORT_OF[name](c);
    assert.ok(port > 0);
    assert.ok(!['127.0.0.1', 'localhost', '::1'].includes(c.metrics.host), `metrics.host ${c.metrics.host} reachable from other containers`);
    const check = s.healthcheck.test.join(' ');
    for (const path of ['/healthz', '/readyz']) assert.ok(check.includes(path), `${name} health check asks ${path}`);
    assert.match(check, new RegExp(`127\\.0\\.0\\.1:${port}\\b`), `${name} health check asks port ${port}`);
    assert.deepEqual(s.ports, [`127.0.0.1:${port}:${port}`]);
    const job = scrape.scrape_configs.find((j) => j.job_name === `streamrec-${name}`);
    assert.deepEqual(
      job?.static_configs.flatMap((x) => x.targets),
      [`${name}:${port}`],
      `deploy/prometheus.yml scrapes ${name}:${port} as streamrec-${name}`,
    );
  });
}

test('compose: the registry volume is written by the trainer (and the seed step) and read by serving', () => {
  const serving = loadService('serving');
  const trainer = loadService('trainer');
  assert.equal(serving.model.kind, 'registry');
  assert.equal(serving.registry.path, trainer.registry.path);
  const volume = mountOf(services.trainer, trainer.registry.path);
  assert.ok(volume && !volume.bind && compose.volumes && volume.source in compose.volumes, 'a named volume');
  assert.equal(volume.readOnly, false, 'the trainer writes it');
  assert.equal(mountOf(services.serving, serving.registry.path)?.readOnly, true, 'serving mounts it read-only');
  assert.equal(mountOf(services['wait-for-model'], serving.registry.path)?.source, volume.source, 'wait-for-model watches the same volume');
  assert.match(services['wait-for-model'].command.join(' '), new RegExp(`${serving.registry.path}/CURRENT`));
  assert.equal(mountOf(services['seed-model'], '/var/lib/streamrec/seed')?.source, volume.source, 'the seed lands where the trainer looks');
  assert.match(services.trainer.command.join(' '), /--from-model \/var\/lib\/streamrec\/seed/);
});

test('compose: start order by depends_on conditions: healthy broker, completed one-shots, a promoted model before serving', () => {
  for (const [name, s] of Object.entries<any>(services))
    for (const [dep, d] of Object.entries<any>(s.depends_on ?? {})) {
      const target = services[dep];
      assert.ok(target, `${name} depends on ${dep}, which exists`);
      assert.ok(!isTool(target) || isTool(s), `${name} does not depend on the tool ${dep}`);
      const want = isOneShot(target) ? 'service_completed_successfully' : dep === 'kafka' || dep === 'prometheus' ? 'service_healthy' : null;
      if (want) assert.equal(d.condition, want, `${name} → ${dep}`);
      else assert.ok(['service_started', 'service_healthy'].includes(d.condition), `${name} → ${dep}: ${d.condition}`);
    }
  assert.equal(services.topics.depends_on.kafka.condition, 'service_healthy');
  assert.equal(services.serving.depends_on['wait-for-model'].condition, 'service_completed_successfully');
  assert.equal(services.trainer.depends_on['seed-model'].condition, 'service_completed_successfully');
  for (const n of ['trainer', 'serving', 'monitor', 'replay']) assert.equal(services[n].depends_on.topics.condition, 'service_completed_successfully', `${n} waits for the topics`);
});

test('compose: the topic creation runs the script rendered from the topology the services load', () => {
  const t = services.topics;
  assert.equal(t.image, services.kafka.image, 'the broker image, for its kafka-topics.sh');
  const script = mounts(t).find((m) => m.source.endsWith('.sh'))!;
  assert.equal(script.source, './deploy/compose/topics-default.sh');
  assert.ok(existsSync(join(root, script.source)));
  assert.equal(t.entrypoint.at(-1), script.target);
  assert.ok(readFileSync(join(root, script.source), 'utf8').includes('Generated from topologies/default.yaml'));
  assert.equal(services.serving.environment.STREAMREC_TOPOLOGY, '/etc/streamrec/topologies/default.yaml');
});

test('compose: long-running services have health checks; one-shots run once; streamrec containers run locked down', () => {
  for (const [name, s] of Object.entries<any>(services)) {
    if (isOneShot(s) || isTool(s)) continue;
    assert.ok(Array.isArray(s.healthcheck?.test) && s.healthcheck.test.length > 1, `${name} has a health check`);
  }
  for (const [name, s] of Object.entries<any>(services)) {
    if (!isStreamrec(s)) continue;
    assert.equal(s.read_only, true, `${name} read_only`);
    assert.deepEqual(s.cap_drop, ['ALL'], `${name} cap_drop`);
    assert.ok(s.security_opt.includes('no-new-privileges:true'), `${name} no-new-privileges`);
  }
  assert.equal(Object.values<any>(services).filter((s) => s.build !== undefined).length, 1, 'one service builds the image, the others reuse it');
});

test('compose: Grafana has no anonymous admin and no default admin password', () => {
  const env = services.grafana.environment;
  const anonymous = String(env.GF_AUTH_ANONYMOUS_ENABLED ?? 'false') === 'true';
  if (anonymous) assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE ?? 'Viewer', 'Viewer', 'anonymous users are Viewers at most');
  const password = String(env.GF_SECURITY_ADMIN_PASSWORD ?? '');
  assert.match(password, /^\$\{[A-Z_]+:\?[^}]*\}$/, 'the admin password comes from a required variable (NAME:?message), with no default');
  assert.throws(() => interpolate(password), /required/);
});

test('compose: Grafana is provisioned with the data source and the dashboard; Prometheus with deploy/prometheus.yml', () => {
  const g = mounts(services.grafana);
  const at = (source: string) => g.find((m) => m.source === source);
  const provisioning = at('./deploy/grafana/provisioning.yml');
  const datasource = at('./deploy/grafana/datasource.yml');
  const board = at('./deploy/grafana/streamrec-dashboard.json');
  assert.match(provisioning?.target ?? '', /^\/etc\/grafana\/provisioning\/dashboards\/[^/]+\.ya?ml$/);
  assert.match(datasource?.target ?? '', /^\/etc\/grafana\/provisioning\/datasources\/[^/]+\.ya?ml$/);
  const dir = parseYaml(readFileSync(join(root, 'deploy/grafana/provisioning.yml'), 'utf8')).providers[0].options.path;
  assert.equal(posix.dirname(board?.target ?? ''), dir, 'the dashboard is in the directory the provider reads');
  for (const m of [provisioning, datasource, board]) assert.equal(m?.readOnly, true);
  const ds = parseYaml(readFileSync(join(root, 'deploy/grafana/datasource.yml'), 'utf8')).datasources[0];
  assert.equal(new URL(ds.url).host, 'prometheus:9090', 'the data source is the prometheus service');
  const config = services.prometheus.command.find((a: string) => a.startsWith('--config.file='))?.split('=')[1];
  assert.equal(mounts(services.prometheus).find((m) => m.target === config)?.source, './deploy/prometheus.yml');
  assert.deepEqual(services.prometheus.ports, ['127.0.0.1:9090:9090']);
});

test('compose: published ports bind to the host loopback; bind mounts name files that exist', () => {
  for (const [name, s] of Object.entries<any>(services)) {
    for (const p of s.ports ?? []) assert.match(String(p), /^127\.0\.0\.1:/, `${name} publishes ${p}`);
    for (const m of mounts(s)) if (m.bind && !m.source.includes('shared/data')) assert.ok(existsSync(join(root, m.source)), `${name}: ${m.source} exists`);
  }
});
