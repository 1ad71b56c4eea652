import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors/errors.ts';

export { ConfigError };

/** One typed configuration for a deployment (see topologies/default.yaml for the documented defaults). */
export interface TopicConfig {
  name: string;
  partitions: number;
}

export type DeliveryMode = 'exactly-once' | 'at-least-once';
export type WireFormat = 'plain' | 'confluent';

export interface StreamrecConfig {
  kafka: { brokers: string[]; clientId: string };
  topics: {
    clicks: TopicConfig;
    recommendations: TopicConfig;
    deadLetter: TopicConfig;
    sessionChangelog: TopicConfig;
    modelUpdates: TopicConfig;
  };
  groups: { serving: string; trainer: string };
  wireFormat: WireFormat;
  serving: {
    delivery: DeliveryMode;
    batch: { maxSize: number; maxWaitMs: number };
    topK: number;
    excludeSeen: boolean;
    unknownItems: 'dead-letter' | 'cold-start';
    sessions: { maxSessions: number; ttlMs: number; historyLength: number };
  };
  model: { kind: 'cooccurrence' | 'gru4rec'; path: string; engine: 'auto' | 'onnx' | 'tfjs' };
  /** Prometheus endpoint of `streamrec serve`; port 0 disables it. */
  metrics: { port: number };
}

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads typed fields out of an untrusted tree, remembering the path so every
 * error names the field (`serving.batch.maxSize: expected an integer >= 1, got "abc"`).
 */
class FieldReader {
  constructor(
    private readonly raw: Raw,
    private readonly path: string,
  ) {}

  private at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  private get(key: string): unknown {
    const v = this.raw[key];
    if (v === undefined || v === null) throw new ConfigError(this.at(key), 'is required');
    return v;
  }

  section(key: string): FieldReader {
    const v = this.get(key);
    if (!isObject(v)) throw new ConfigError(this.at(key), `expected a mapping, got ${JSON.stringify(v)}`);
    return new FieldReader(v, this.at(key));
  }

  string(key: string, opts: { allowEmpty?: boolean } = {}): string {
    const v = this.get(key);
    if (typeof v !== 'string' || (!opts.allowEmpty && v.trim() === '')) throw new ConfigError(this.at(key), `expected a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  int(key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new ConfigError(this.at(key), `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.get(key);
    if (typeof v !== 'boolean') throw new ConfigError(this.at(key), `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[]): T {
    const v = this.get(key);
    if (typeof v !== 'string' || !choices.includes(v as T)) throw new ConfigError(this.at(key), `expected one of ${choices.join(' | ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  stringList(key: string): string[] {
    const v = this.get(key);
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x.trim() === ''))
      throw new ConfigError(this.at(key), `expected a non-empty list of strings, got ${JSON.stringify(v)}`);
    return v as string[];
  }

  /** Rejects keys the schema does not know: a typo must not silently fall back to a default. */
  only(keys: string[]): void {
    for (const k of Object.keys(this.raw)) {
      if (!keys.includes(k)) throw new ConfigError(this.at(k), `unknown field (known: ${keys.join(', ')})`);
    }
  }
}

function topic(r: FieldReader, key: string): TopicConfig {
  const t = r.section(key);
  t.only(['name', 'partitions']);
  return { name: t.string('name'), partitions: t.int('partitions', 1, 10_000) };
}

/** Validates an untrusted tree into a StreamrecConfig; throws ConfigError naming the first bad field. */
export function validateConfig(raw: unknown): StreamrecConfig {
  if (!isObject(raw)) throw new ConfigError('(root)', 'expected a mapping');
  const r = new FieldReader(raw, '');
  r.only(['kafka', 'topics', 'groups', 'wireFormat', 'serving', 'model', 'metrics']);
  const kafka = r.section('kafka');
  kafka.only(['brokers', 'clientId']);
  const brokers = kafka.stringList('brokers');
  for (const b of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(b)) throw new ConfigError('kafka.brokers', `"${b}" is not host:port`);
  }
  const topics = r.section('topics');
  topics.only(['clicks', 'recommendations', 'deadLetter', 'sessionChangelog', 'modelUpdates']);
  const groups = r.section('groups');
  groups.only(['serving', 'trainer']);
  const serving = r.section('serving');
  serving.only(['delivery', 'batch', 'topK', 'excludeSeen', 'unknownItems', 'sessions']);
  const batch = serving.section('batch');
  batch.only(['maxSize', 'maxWaitMs']);
  const sessions = serving.section('sessions');
  sessions.only(['maxSessions', 'ttlMs', 'historyLength']);
  const model = r.section('model');
  model.only(['kind', 'path', 'engine']);
  const metrics = r.section('metrics');
  metrics.only(['port']);

  const cfg: StreamrecConfig = {
    kafka: { brokers, clientId: kafka.string('clientId') },
    topics: {
      clicks: topic(topics, 'clicks'),
      recommendations: topic(topics, 'recommendations'),
      deadLetter: topic(topics, 'deadLetter'),
      sessionChangelog: topic(topics, 'sessionChangelog'),
      modelUpdates: topic(topics, 'modelUpdates'),
    },
    groups: { serving: groups.string('serving'), trainer: groups.string('trainer') },
    wireFormat: r.oneOf('wireFormat', ['plain', 'confluent'] as const),
    serving: {
      delivery: serving.oneOf('delivery', ['exactly-once', 'at-least-once'] as const),
      batch: { maxSize: batch.int('maxSize', 1, 65_536), maxWaitMs: batch.int('maxWaitMs', 0, 60_000) },
      topK: serving.int('topK', 1, 1000),
      excludeSeen: serving.bool('excludeSeen'),
      unknownItems: serving.oneOf('unknownItems', ['dead-letter', 'cold-start'] as const),
      sessions: {
        maxSessions: sessions.int('maxSessions', 1, 100_000_000),
        ttlMs: sessions.int('ttlMs', 1),
        historyLength: sessions.int('historyLength', 1, 1000),
      },
    },
    model: {
      kind: model.oneOf('kind', ['cooccurrence', 'gru4rec'] as const),
      path: model.string('path', { allowEmpty: true }),
      engine: model.oneOf('engine', ['auto', 'onnx', 'tfjs'] as const),
    },
    metrics: { port: metrics.int('port', 0, 65_535) },
  };
  if (cfg.topics.sessionChangelog.partitions !== cfg.topics.clicks.partitions)
    throw new ConfigError('topics.sessionChangelog.partitions', `must equal topics.clicks.partitions (${cfg.topics.clicks.partitions}) so session state moves with its partition`);
  if (cfg.model.kind === 'gru4rec' && cfg.model.path === '') throw new ConfigError('model.path', 'is required when model.kind is gru4rec');
  return cfg;
}

function camelToEnv(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Parses an env value the way YAML would parse a scalar, so "512" is a number and "true" a boolean. */
function envScalar(v: string): unknown {
  return parseYaml(v) as unknown;
}

/**
 * Applies environment overrides onto a raw tree: KAFKA_BROKERS (comma list), KAFKA_CLIENT_ID,
 * and STREAMREC_<PATH> where PATH is the field path in SCREAMING_SNAKE with "__" between levels.
 * An override naming no known field is an error, not a silent no-op.
 */
export function applyEnvOverrides(raw: Raw, env: NodeJS.ProcessEnv): Raw {
  const tree = structuredClone(raw);
  if (env.KAFKA_BROKERS) {
    const kafka = (isObject(tree.kafka) ? tree.kafka : (tree.kafka = {})) as Raw;
    kafka.brokers = env.KAFKA_BROKERS.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  if (env.KAFKA_CLIENT_ID) {
    const kafka = (isObject(tree.kafka) ? tree.kafka : (tree.kafka = {})) as Raw;
    kafka.clientId = env.KAFKA_CLIENT_ID;
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('STREAMREC_') || value === undefined) continue;
    if (name === 'STREAMREC_TOPOLOGY' || name === 'STREAMREC_CACHE') continue;
    const parts = name.slice('STREAMREC_'.length).split('__');
    let node: Raw = tree;
    const path: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const key = Object.keys(node).find((k) => camelToEnv(k) === parts[i]);
      if (key === undefined) throw new ConfigError(path.concat(parts[i].toLowerCase()).join('.'), `environment variable ${name} names no known field`);
      path.push(key);
      if (i === parts.length - 1) node[key] = envScalar(value);
      else if (isObject(node[key])) node = node[key] as Raw;
      else throw new ConfigError(path.join('.'), `environment variable ${name} goes below a scalar`);
    }
  }
  return tree;
}

export const DEFAULT_TOPOLOGY = new URL('../../topologies/default.yaml', import.meta.url).pathname;

/** Loads a topology YAML, applies env overrides, validates. Throws ConfigError with the field name. */
export function loadConfig(path = process.env.STREAMREC_TOPOLOGY ?? DEFAULT_TOPOLOGY, env: NodeJS.ProcessEnv = process.env): StreamrecConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('(file)', `cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError('(file)', `${path} is not valid YAML: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw new ConfigError('(root)', `${path} must hold a mapping`);
  return validateConfig(applyEnvOverrides(raw, env));
}

/**
 * The same topology under a name prefix: its own topics and consumer groups, optionally with
 * another partition count (kept equal for clicks and the changelog). For demo runs, tests and
 * benchmarks that share a cluster with other runs.
 */
export function namespaced(base: StreamrecConfig, prefix: string, partitions?: number): StreamrecConfig {
  const t = base.topics;
  const rename = (topic: TopicConfig, p = topic.partitions): TopicConfig => ({ name: `${prefix}-${topic.name}`, partitions: p });
  return {
    ...base,
    topics: {
      clicks: rename(t.clicks, partitions),
      recommendations: rename(t.recommendations, partitions),
      deadLetter: rename(t.deadLetter),
      sessionChangelog: rename(t.sessionChangelog, partitions),
      modelUpdates: rename(t.modelUpdates),
    },
    groups: { serving: `${prefix}-${base.groups.serving}`, trainer: `${prefix}-${base.groups.trainer}` },
  };
}
