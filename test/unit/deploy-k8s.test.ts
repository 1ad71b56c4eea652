/**
 * The Kubernetes manifests (deploy/k8s) hold together and hold their operating rules: each
 * process's configuration (the topology ConfigMap it mounts plus its environment) loads through
 * the real config loader and agrees with its ports, probes, volumes and secrets; serving's replicas
 * follow the clicks partition count; the trainer and the monitor run exactly once; every container
 * runs unprivileged with resource bounds. (Schema validity: deploy-schemas.test.ts.)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig, type StreamrecConfig } from '../../src/config/config.ts';
import { CONFIGMAP_KEY, PARTITIONS_ANNOTATION } from '../../scripts/deploy/topology-renders.ts';

const root = new URL('../../', import.meta.url).pathname;
const k8sDir = join(root, 'deploy/k8s');
const docs: any[] = readdirSync(k8sDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(k8sDir, f), 'utf8')).map((d) => {
      assert.deepEqual([...d.errors, ...d.warnings].map(String), [], f);
      return d.toJS();
    }),
  )
  .filter((d) => d !== null);
const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
const workloads = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet');
const byName = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const scratch = mkdtempSync(join(tmpdir(), 'streamrec-deploy-k8s-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** What each workload runs, by its app label, and the config field that holds its HTTP port. */
const ROLES: Record<string, { kind: string; command: RegExp; port: (c: StreamrecConfig) => number }> = {
  'streamrec-serving': { kind: 'StatefulSet', command: /\bserve\b/, port: (c) => c.metrics.port },
  'streamrec-trainer': { kind: 'Deployment', command: /\btrain --follow\b/, port: (c) => c.train.metricsPort },
  'streamrec-monitor': { kind: 'Deployment', command: /\bmonitor\b/, port: (c) => c.monitor.metricsPort },
};

test('k8s: serving is a StatefulSet, the trainer and the monitor Deployments, nothing else runs', () => {
  assert.deepEqual(
    workloads.map((w) => `${w.kind}/${w.metadata.name}`).sort(),
    Object.entries(ROLES)
      .map(([name, r]) => `${r.kind}/${name}`)
      .sort(),
  );
  for (const w of workloads) {
    assert.equal(w.spec.template.metadata.labels.app, w.metadata.name, `${w.metadata.name}: pods carry app=${w.metadata.name}`);
    const main = w.spec.template.spec.containers;
    assert.equal(main.length, 1, `${w.metadata.name}: one container`);
    assert.match([...(main[0].command ?? []), ...(main[0].args ?? [])].join(' '), ROLES[w.metadata.name].command, `${w.metadata.name} runs its command`);
  }
});

const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;
/** A CPU or memory quantity in base units (cores, bytes), for comparing requests with limits. */
function quantity(q: string): number {
  const m = QUANTITY.exec(String(q));
  assert.ok(m, `${q} is a Kubernetes quantity`);
  const scale: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * (m[3] ? scale[m[3]] : 1);
}

for (const w of workloads) {
  const pod = w.spec.template.spec;
  const podSec = pod.securityContext ?? {};
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const name = `${w.kind}/${w.metadata.name} container ${c.name}`;
    const sec = c.securityContext ?? {};

    test(`k8s ${name}: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp`, () => {
      assert.equal(sec.runAsNonRoot ?? podSec.runAsNonRoot, true, 'runAsNonRoot');
      assert.notEqual(sec.runAsUser ?? podSec.runAsUser, 0, 'not uid 0');
      assert.equal(sec.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
      assert.equal(sec.allowPrivilegeEscalation, false, 'allowPrivilegeEscalation');
      assert.ok(sec.capabilities?.drop?.includes('ALL'), 'drop ALL capabilities');
      assert.equal(sec.capabilities?.add, undefined, 'adds none back');
      assert.equal(sec.privileged ?? false, false);
      assert.equal((sec.seccompProfile ?? podSec.seccompProfile)?.type, 'RuntimeDefault', 'seccompProfile');
      assert.equal(pod.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
    });

    test(`k8s ${name}: cpu and memory requests and limits, requests within limits`, () => {
      for (const r of ['cpu', 'memory']) {
        const request = c.resources?.requests?.[r];
        const limit = c.resources?.limits?.[r];
        assert.ok(request && limit, `resources.requests.${r} and resources.limits.${r}`);
        assert.ok(quantity(request) <= quantity(limit), `${r}: request ${request} ≤ limit ${limit}`);
      }
    });
  }
}

/** The environment a container gets: literal values, and stand-ins for what the kubelet fills in. */
function containerEnv(c: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) env[e.name] = `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = 'streamrec-serving-0';
    else assert.fail(`${c.name}: env ${e.name} has a source this test does not model`);
  }
  return env;
}

/** The mount (and its volume) a path in the container lies under. */
function mountOf(pod: any, c: any, path: string): { mount: any; volume: any } | null {
  const mount = (c.volumeMounts ?? [])
    .filter((m: any) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
    .sort((a: any, b: any) => b.mountPath.length - a.mountPath.length)[0];
  return mount ? { mount, volume: pod.volumes.find((v: any) => v.name === mount.name) } : null;
}

interface LoadedContainer {
  workload: any;
  container: any;
  env: Record<string, string>;
  configMap: string;
  config: StreamrecConfig;
}

/** Loads a workload's configuration as its process would: the mounted topology file, then the environment. */
function loadContainer(w: any): LoadedContainer {
  const pod = w.spec.template.spec;
  const c = pod.containers[0];
  const env = containerEnv(c);
  const topologyPath = env.STREAMREC_TOPOLOGY;
  assert.ok(topologyPath, `${w.metadata.name}: STREAMREC_TOPOLOGY names the mounted topology`);
  const at = mountOf(pod, c, topologyPath);
  assert.ok(at?.volume?.configMap, `${w.metadata.name}: ${topologyPath} is on a ConfigMap volume`);
  assert.equal(topologyPath, `${at.mount.mountPath}/${CONFIGMAP_KEY}`, `${w.metadata.name}: the file is the ConfigMap's ${CONFIGMAP_KEY}`);
  const cm = byName('ConfigMap', at.volume.configMap.name);
  assert.ok(cm, `ConfigMap ${at.volume.configMap.name} is in deploy/k8s`);
  const file = join(scratch, `${w.metadata.name}-${CONFIGMAP_KEY}`);
  writeFileSync(file, cm.data[CONFIGMAP_KEY]);
  return { workload: w, container: c, env, configMap: cm.metadata.name, config: loadConfig(file, env) };
}

const loaded = workloads.map(loadContainer);

for (const l of loaded) {
  const w = l.workload;
  const pod = w.spec.template.spec;
  const c = l.container;
  const cfg = l.config;
  const name = `${w.kind}/${w.metadata.name}`;

  test(`k8s ${name}: serves its HTTP port beyond loopback, probed on /healthz and /readyz, scraped on the same port`, () => {
    const port = ROLES[w.metadata.name].port(cfg);
    assert.ok(port > 0, 'HTTP endpoints enabled');
    assert.ok(!['127.0.0.1', 'localhost', '::1'].includes(cfg.metrics.host), `metrics.host ${cfg.metrics.host} is reachable by the kubelet`);
    const metricsPort = c.ports.find((p: any) => p.name === 'metrics');
    assert.equal(metricsPort?.containerPort, port, 'the container port named metrics is the port the process serves');
    assert.equal(w.spec.template.metadata.annotations['prometheus.io/port'], String(port), 'prometheus.io/port');
    const onMetricsPort = (probe: any) => probe?.httpGet?.port === 'metrics' || probe?.httpGet?.port === port;
    for (const [probe, path] of [
      ['startupProbe', '/healthz'],
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/readyz'],
    ] as const) {
      assert.equal(c[probe]?.httpGet?.path, path, `${probe} on ${path}`);
      assert.ok(onMetricsPort(c[probe]), `${probe} on the metrics port`);
    }
  });

  test(`k8s ${name}: Kafka credentials come from Secrets, files from mounted volumes`, () => {
    for (const e of c.env) if (/PASSWORD|SECRET|TOKEN/.test(e.name) && !e.name.endsWith('_ENV')) assert.ok(e.valueFrom?.secretKeyRef, `${e.name} comes from a secretKeyRef`);
    const sec = cfg.kafka.security;
    assert.ok(sec.protocol.startsWith('sasl_'), 'SASL to the cluster');
    assert.match(sec.sasl!.password.reveal(), /^secret:/, 'the SASL password is the Secret, through passwordEnv');
    for (const f of [sec.ssl?.caFile, sec.ssl?.certFile, sec.ssl?.keyFile].filter((x): x is string => x !== undefined)) {
      const at = mountOf(pod, c, f);
      assert.ok(at?.volume?.secret, `${f} is on a Secret volume`);
    }
    assert.ok(
      c.volumeMounts.some((m: any) => m.mountPath === '/tmp'),
      '/tmp is mounted (read-only root filesystem)',
    );
  });
}

test('k8s: the three processes share one topology ConfigMap and end up with the same topics, groups and wire format', () => {
  assert.equal(new Set(loaded.map((l) => l.configMap)).size, 1, loaded.map((l) => `${l.workload.metadata.name}: ${l.configMap}`).join(', '));
  const [first] = loaded;
  for (const l of loaded) {
    const what = l.workload.metadata.name;
    assert.deepEqual(l.config.topics, first.config.topics, `${what} topics`);
    assert.deepEqual(l.config.groups, first.config.groups, `${what} groups`);
    assert.equal(l.config.wireFormat, first.config.wireFormat, `${what} wireFormat`);
    assert.deepEqual(l.config.kafka.brokers, first.config.kafka.brokers, `${what} brokers`);
  }
});

test('k8s: the registry is one ReadWriteMany volume, written by the trainer only', () => {
  const serving = loaded.find((l) => l.workload.metadata.name === 'streamrec-serving')!;
  const trainer = loaded.find((l) => l.workload.metadata.name === 'streamrec-trainer')!;
  assert.equal(serving.config.model.kind, 'registry', 'serving serves the registry CURRENT version, hot-swapped');
  const claimOf = (l: LoadedContainer) => {
    const at = mountOf(l.workload.spec.template.spec, l.container, l.config.registry.path);
    assert.ok(at?.volume?.persistentVolumeClaim, `${l.workload.metadata.name}: registry.path ${l.config.registry.path} is on a PVC`);
    return at;
  };
  assert.equal(serving.config.registry.path, trainer.config.registry.path, 'serving reads the registry the trainer writes');
  const s = claimOf(serving);
  const t = claimOf(trainer);
  assert.equal(s.volume.persistentVolumeClaim.claimName, t.volume.persistentVolumeClaim.claimName, 'the same claim');
  assert.equal(s.mount.readOnly, true, 'serving mounts it read-only');
  assert.ok(s.volume.persistentVolumeClaim.readOnly, 'serving claims it read-only');
  assert.notEqual(t.mount.readOnly, true, 'the trainer writes it');
  const pvc = byName('PersistentVolumeClaim', t.volume.persistentVolumeClaim.claimName);
  assert.ok(pvc, 'the claim is in deploy/k8s');
  assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany'], 'mounted by serving pods on any node');
  for (const w of workloads)
    for (const c of [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers])
      for (const m of c.volumeMounts ?? []) {
        const v = w.spec.template.spec.volumes.find((x: any) => x.name === m.name);
        if (v?.persistentVolumeClaim && w.metadata.name !== 'streamrec-trainer') assert.equal(m.readOnly, true, `${w.metadata.name}/${c.name} mounts ${m.name} read-only`);
      }
});

test('k8s: serving replicas follow the clicks partitions (at most one replica per partition, an even spread)', () => {
  const serving = loaded.find((l) => l.workload.metadata.name === 'streamrec-serving')!;
  const partitions = serving.config.topics.clicks.partitions;
  const cm = byName('ConfigMap', serving.configMap);
  assert.equal(cm.metadata.annotations[PARTITIONS_ANNOTATION], String(partitions), `the ConfigMap's ${PARTITIONS_ANNOTATION} annotation`);
  const replicas = serving.workload.spec.replicas;
  assert.ok(Number.isInteger(replicas) && replicas >= 1 && replicas <= partitions, `1 ≤ replicas ${replicas} ≤ partitions ${partitions}`);
  assert.equal(partitions % replicas, 0, `${partitions} partitions spread evenly over ${replicas} replicas`);
  // The instance id (transactional id) is the pod's stable StatefulSet name.
  const args = serving.container.args.join(' ');
  assert.match(args, /--instance \$\(POD_NAME\)/);
  assert.equal(serving.container.env.find((e: any) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
  const pdb = ofKind('PodDisruptionBudget').find((p) => p.spec.selector.matchLabels.app === 'streamrec-serving');
  assert.equal(pdb?.spec.maxUnavailable, 1, 'drains take one replica at a time');
});

test('k8s: one trainer and one monitor, never two at once (Recreate)', () => {
  for (const name of ['streamrec-trainer', 'streamrec-monitor']) {
    const w = byName('Deployment', name);
    assert.equal(w.spec.replicas, 1, `${name} replicas`);
    assert.equal(w.spec.strategy?.type, 'Recreate', `${name} strategy`);
  }
});

test('k8s: every ConfigMap and claim a pod uses is defined here; the only external objects are the Kafka Secrets', () => {
  const external = new Set<string>();
  for (const w of workloads) {
    for (const v of w.spec.template.spec.volumes) {
      if (v.configMap) assert.ok(byName('ConfigMap', v.configMap.name), `ConfigMap ${v.configMap.name}`);
      if (v.persistentVolumeClaim) assert.ok(byName('PersistentVolumeClaim', v.persistentVolumeClaim.claimName), `PVC ${v.persistentVolumeClaim.claimName}`);
      if (v.secret) external.add(`Secret/${v.secret.secretName}`);
    }
    for (const c of w.spec.template.spec.containers) for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) external.add(`Secret/${e.valueFrom.secretKeyRef.name}`);
  }
  assert.deepEqual([...external].sort(), ['Secret/streamrec-kafka', 'Secret/streamrec-kafka-ca']);
});

test('k8s: each workload has a headless Service on its metrics port (the SRV record Prometheus discovers)', () => {
  for (const w of workloads) {
    const svc = ofKind('Service').find((s) => s.spec.selector?.app === w.metadata.name);
    assert.ok(svc, `a Service selects ${w.metadata.name}`);
    assert.equal(svc.metadata.name, w.metadata.name, 'named like its workload');
    assert.equal(svc.spec.clusterIP, 'None', 'headless');
    const port = svc.spec.ports.find((p: any) => p.name === 'metrics');
    const containerPort = w.spec.template.spec.containers[0].ports.find((p: any) => p.name === 'metrics');
    assert.ok(port && (port.targetPort === 'metrics' || port.targetPort === containerPort.containerPort), `${svc.metadata.name} targets the metrics port`);
    assert.equal(port.port, containerPort.containerPort);
    if (w.kind === 'StatefulSet') assert.equal(w.spec.serviceName, svc.metadata.name, 'the StatefulSet names its governing Service');
  }
});
