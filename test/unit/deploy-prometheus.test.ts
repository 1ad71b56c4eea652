/**
 * The Prometheus scrape configs: deploy/prometheus.yml (compose) and deploy/prometheus-kubernetes.yml
 * (the k8s manifests) pass Prometheus's own `promtool check config` (Debian's package, installed if
 * missing, as test/support/prometheus.ts does for the server), name the same three jobs, and the
 * Kubernetes one discovers exactly the headless Services of deploy/k8s on their metrics port.
 * (That the dashboard's queries find data under these jobs: deploy-dashboard.test.ts.)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ensurePrometheus } from '../support/prometheus.ts';

const root = new URL('../../', import.meta.url).pathname;
const CONFIGS = ['deploy/prometheus.yml', 'deploy/prometheus-kubernetes.yml'];
const read = (f: string) => parseYaml(readFileSync(join(root, f), 'utf8')) as { scrape_configs: any[] };
const JOBS = ['streamrec-monitor', 'streamrec-serving', 'streamrec-trainer'];
const scratch = mkdtempSync(join(tmpdir(), 'streamrec-deploy-promtool-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** promtool from the Prometheus package (it installs both), or why not. */
function promtool(log: (l: string) => void): { bin: string } | { skip: string } {
  const prom = ensurePrometheus(log);
  if ('skip' in prom) return prom;
  const bin = join(dirname(prom.bin), 'promtool');
  return existsSync(bin) ? { bin } : { skip: `${bin} is missing beside ${prom.bin}` };
}

function check(bin: string, file: string): { ok: boolean; output: string } {
  const r = spawnSync(bin, ['check', 'config', file], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

for (const file of CONFIGS) {
  test(`prometheus: ${file} passes promtool check config`, (t) => {
    const tool = promtool((l) => t.diagnostic(l));
    if ('skip' in tool) {
      t.skip(tool.skip);
      return;
    }
    const r = check(tool.bin, join(root, file));
    assert.ok(r.ok, r.output);
    assert.match(r.output, /SUCCESS/);
  });
}

test('prometheus: promtool rejects a scrape config with a misspelt field', (t) => {
  const tool = promtool((l) => t.diagnostic(l));
  if ('skip' in tool) {
    t.skip(tool.skip);
    return;
  }
  const broken = join(scratch, 'prometheus.yml');
  writeFileSync(broken, readFileSync(join(root, CONFIGS[0]), 'utf8').replace('static_configs:', 'static_config:'));
  const r = check(tool.bin, broken);
  assert.equal(r.ok, false, r.output);
  assert.match(r.output, /static_config/);
});

test('prometheus: both configs scrape the same three jobs, the names the dashboard filters on', () => {
  for (const f of CONFIGS)
    assert.deepEqual(
      read(f)
        .scrape_configs.map((c) => c.job_name)
        .sort(),
      JOBS,
      f,
    );
});

test('prometheus (k8s): each job discovers its headless Service by the SRV record of its metrics port; instance is the pod name', () => {
  const docs = readdirSync(join(root, 'deploy/k8s'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(root, 'deploy/k8s', f), 'utf8')).map((d) => d.toJS()))
    .filter((d) => d?.kind === 'Service');
  for (const job of read(CONFIGS[1]).scrape_configs) {
    const names = job.dns_sd_configs.flatMap((d: any) => {
      assert.equal(d.type, 'SRV', job.job_name);
      return d.names;
    });
    assert.equal(names.length, 1, job.job_name);
    const m = /^_([a-z0-9-]+)\._tcp\.([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(names[0]);
    assert.ok(m, `${job.job_name}: ${names[0]} is a Service port's SRV name`);
    const [, portName, service] = m;
    assert.equal(service, job.job_name, 'the job is named like its Service (and the pods app label)');
    const svc = docs.find((d) => d.metadata.name === service);
    assert.ok(svc, `Service ${service} is in deploy/k8s`);
    assert.equal(svc.spec.clusterIP, 'None', `${service} is headless, so its SRV record lists pods`);
    assert.ok(
      svc.spec.ports.some((p: any) => p.name === portName),
      `${service} has a port named ${portName}`,
    );
    // Prometheus anchors relabel regexes at both ends.
    const relabel = job.relabel_configs.find((r: any) => r.target_label === 'instance');
    const pod = `${service === 'streamrec-serving' ? 'streamrec-serving-0' : '10-0-0-7'}.${service}.streamrec.svc.cluster.local:${svc.spec.ports[0].port}`;
    const instance = new RegExp(`^(?:${relabel.regex})$`).exec(pod)?.[1];
    assert.equal(instance, pod.split('.')[0], `instance of ${pod}`);
  }
});
