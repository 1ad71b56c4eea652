/**
 * What deploy/ derives from each topologies/<name>.yaml, so a deployment never restates a
 * topology by hand: a Kubernetes ConfigMap holding the file (deploy/k8s/configmap-<name>.yaml) and
 * a topic-creation script for the apache/kafka image (deploy/compose/topics-<name>.sh).
 * scripts/deploy/render-configmaps.ts writes them; test/unit/deploy-topologies.test.ts checks the
 * committed ones are what this renders now.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ITopicConfig } from 'kafkajs';
import { Document, parse as parseYaml, Scalar } from 'yaml';
import { loadConfig, type StreamrecConfig } from '../../src/config/config.ts';
import { ensureTopics } from '../../src/kafka/client.ts';
import type { ClientAdmin } from '../../src/kafka/kafka-client.ts';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;

/** A file to write, relative to the repository root. */
export interface RenderedFile {
  path: string;
  text: string;
}

export interface Topology {
  /** The file name without .yaml: "default", "high-throughput". */
  name: string;
  /** Relative to the repository root: topologies/<name>.yaml. */
  file: string;
  text: string;
  config: StreamrecConfig;
}

/** Stands in for the secret a topology's `passwordEnv` names: a deployment sets the real one. */
const PLACEHOLDER_SECRET = 'set-at-deploy-time';

/**
 * Every topology under topologies/, loaded through the real config loader. Only the variables
 * its `passwordEnv` names are set (to a placeholder), so the developer's own STREAMREC_* variables
 * cannot leak into what is rendered.
 */
export function readTopologies(root = REPO_ROOT): Topology[] {
  const dir = join(root, 'topologies');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const path = join(dir, f);
      const text = readFileSync(path, 'utf8');
      const passwordEnv = (parseYaml(text) as { kafka?: { security?: { sasl?: { passwordEnv?: unknown } } } })?.kafka?.security?.sasl?.passwordEnv;
      const env = typeof passwordEnv === 'string' ? { [passwordEnv]: PLACEHOLDER_SECRET } : {};
      return { name: basename(f, '.yaml'), file: `topologies/${f}`, text, config: loadConfig(path, env) };
    });
}

export const CONFIGMAP_KEY = 'topology.yaml';
export const PARTITIONS_ANNOTATION = 'streamrec.io/clicks-partitions';
export const configMapName = (topology: string): string => `streamrec-topology-${topology}`;

/**
 * The ConfigMap the workloads mount at /etc/streamrec/topology (STREAMREC_TOPOLOGY points at its
 * key). It carries the file verbatim, comments included, and the clicks partition count as an
 * annotation: the most serving replicas that get work.
 */
export function renderConfigMap(t: Topology): RenderedFile {
  const doc = new Document({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: configMapName(t.name),
      labels: { 'app.kubernetes.io/part-of': 'streamrec', 'app.kubernetes.io/component': 'topology' },
      annotations: { 'streamrec.io/source': t.file, [PARTITIONS_ANNOTATION]: String(t.config.topics.clicks.partitions) },
    },
    data: { [CONFIGMAP_KEY]: t.text },
  });
  const body = doc.getIn(['data', CONFIGMAP_KEY], true) as Scalar;
  body.type = Scalar.BLOCK_LITERAL;
  doc.commentBefore = ` Generated from ${t.file} by scripts/deploy/render-configmaps.ts: do not edit, re-render.`;
  return { path: `deploy/k8s/configmap-${t.name}.yaml`, text: doc.toString({ lineWidth: 0 }) };
}

/**
 * The topics `streamrec serve` creates at start (ensureTopics), with the same partition counts
 * and configs. Taken from ensureTopics itself, by handing it an admin client that only records
 * what it is asked to create, so the script cannot drift from what serving would create.
 */
export async function topicsServingCreates(config: StreamrecConfig): Promise<ITopicConfig[]> {
  const created: ITopicConfig[] = [];
  const partitionsOf = (name: string) => created.find((t) => t.topic === name)?.numPartitions ?? 0;
  const recorder: Pick<ClientAdmin, 'listTopics' | 'createTopics' | 'fetchTopicMetadata'> = {
    listTopics: async () => [],
    createTopics: async (topics) => {
      created.push(...topics);
    },
    fetchTopicMetadata: async (topics) =>
      topics.map((name) => ({
        name,
        partitions: Array.from({ length: partitionsOf(name) }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 })),
      })),
  };
  await ensureTopics(recorder as ClientAdmin, config);
  return created;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;
const CONFIG_ENTRY = /^[a-z0-9.]+=[A-Za-z0-9._-]+$/;

/**
 * A POSIX sh script for the apache/kafka image: creates each topic unless it exists (it never
 * alters one that does; serving checks the changelog's partitioning when it starts). The
 * replication factor is the broker's default.
 */
export async function renderTopicScript(t: Topology): Promise<RenderedFile> {
  const lines = [
    '#!/bin/sh',
    `# Generated from ${t.file} by scripts/deploy/render-configmaps.ts: do not edit, re-render.`,
    '# Creates the topics `streamrec serve` would create (src/kafka/client.ts ensureTopics), up front, so',
    '# the trainer, the monitor and producers can start before serving does. Idempotent (--if-not-exists).',
    '# For the apache/kafka image: KAFKA_BOOTSTRAP=host:port; KAFKA_COMMAND_CONFIG=client.properties for a secured cluster.',
    'set -eu',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: sh parameter expansion in the generated script
    ': "${KAFKA_BOOTSTRAP:?set KAFKA_BOOTSTRAP to the broker host:port}"',
    'create() {',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: sh parameter expansion in the generated script
    '  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$KAFKA_BOOTSTRAP" ${KAFKA_COMMAND_CONFIG:+--command-config "$KAFKA_COMMAND_CONFIG"} --create --if-not-exists "$@"',
    '}',
  ];
  for (const topic of await topicsServingCreates(t.config)) {
    if (!TOPIC_NAME.test(topic.topic)) throw new Error(`${t.file}: topic name ${JSON.stringify(topic.topic)} is not a legal Kafka topic name`);
    const configs = (topic.configEntries ?? []).map((e) => `${e.name}=${e.value}`);
    for (const c of configs) if (!CONFIG_ENTRY.test(c)) throw new Error(`${t.file}: topic config ${JSON.stringify(c)} would need shell quoting`);
    lines.push(`create --topic ${topic.topic} --partitions ${topic.numPartitions}${configs.map((c) => ` --config ${c}`).join('')}`);
  }
  return { path: `deploy/compose/topics-${t.name}.sh`, text: `${lines.join('\n')}\n` };
}

/** Everything generated from topologies/, in a stable order. */
export async function renderAll(root = REPO_ROOT): Promise<RenderedFile[]> {
  const out: RenderedFile[] = [];
  for (const t of readTopologies(root)) out.push(renderConfigMap(t), await renderTopicScript(t));
  return out;
}

/** Generated files that exist on disk but no topology renders any more (a renamed or removed topology). */
export function orphans(root: string, rendered: readonly RenderedFile[]): string[] {
  const wanted = new Set(rendered.map((f) => f.path));
  const found = [
    ...readdirSync(join(root, 'deploy/k8s'))
      .filter((f) => /^configmap-.*\.yaml$/.test(f))
      .map((f) => `deploy/k8s/${f}`),
    ...readdirSync(join(root, 'deploy/compose'))
      .filter((f) => /^topics-.*\.sh$/.test(f))
      .map((f) => `deploy/compose/${f}`),
  ];
  return found.filter((f) => !wanted.has(f)).sort();
}
