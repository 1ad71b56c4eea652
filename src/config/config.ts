import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors/errors.ts';
import { applyEnvOverrides, isMapping, overriddenBy, overrideFromEnv } from './env-overrides.ts';
import { describeIssue } from './issues.ts';
import { configSchema, type StreamrecConfig, type TopicConfig } from './schema.ts';

export { ConfigError, applyEnvOverrides };
export { Secret } from './secret.ts';
export { MODEL_KINDS } from './schema.ts';
export type { DeadLetterTopicConfig, DeliveryMode, KafkaSecurity, ModelKind, SecurityProtocol, StreamrecConfig, TopicConfig, TrainConfig, WireFormat } from './schema.ts';

export interface ValidateOptions {
  /** The topology file the tree came from; error messages start with it. */
  file?: string;
  /** Where `passwordEnv` names are looked up (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Validates an untrusted tree into a StreamrecConfig. The first problem ends it with one line
 * naming the file, the field and what is wrong (`topologies/x.yaml: serving.batch.maxSize:
 * expected an integer in [1, 65536], got -1`): a deployment is fixed one field at a time.
 */
export function validateConfig(raw: unknown, opts: ValidateOptions = {}): StreamrecConfig {
  return parseConfig(raw, opts.env ?? process.env, () => opts.file);
}

/** `origin(field)` names where the first bad field's value came from (a file, a variable). */
function parseConfig(raw: unknown, env: NodeJS.ProcessEnv, origin: (field: string) => string | undefined): StreamrecConfig {
  const result = configSchema(env).safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const { field, problem } = describeIssue(result.error.issues[0]);
  throw new ConfigError(field, problem, { file: origin(field) });
}

export const DEFAULT_TOPOLOGY = new URL('../../topologies/default.yaml', import.meta.url).pathname;

/** Loads a topology YAML, applies env overrides, validates. Throws ConfigError with the file and field. */
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
    // Only the first line: the rest of a YAML error quotes the offending line, which may be a password.
    throw new ConfigError('(file)', `not valid YAML: ${(e as Error).message.split('\n')[0].replace(/:$/, '')}`, { file: path });
  }
  if (!isMapping(raw)) throw new ConfigError('(root)', 'must hold a mapping', { file: path });
  // A bad value set by the environment is blamed on its variable, not on the file that never held it.
  const { tree, setBy } = overrideFromEnv(raw, env);
  return parseConfig(tree, env, (field) => {
    const variable = overriddenBy(setBy, field);
    return variable === undefined ? path : `environment ${variable}`;
  });
}

/**
 * The same topology under a name prefix: its own topics and consumer groups, optionally with
 * another partition count (kept equal for clicks and the changelog). For demo runs, tests and
 * benchmarks that share a cluster with other runs. The registry directory is not renamed: it is
 * on the filesystem, not the cluster, and a run that wants its own sets registry.path.
 */
export function namespaced(base: StreamrecConfig, prefix: string, partitions?: number): StreamrecConfig {
  const t = base.topics;
  const rename = <T extends TopicConfig>(topic: T, p = topic.partitions): T => ({ ...topic, name: `${prefix}-${topic.name}`, partitions: p });
  return {
    ...base,
    topics: {
      clicks: rename(t.clicks, partitions),
      recommendations: rename(t.recommendations, partitions),
      deadLetter: rename(t.deadLetter),
      sessionChangelog: rename(t.sessionChangelog, partitions),
      // One partition whatever the others get: every announcement has the same key.
      modelUpdates: rename(t.modelUpdates),
    },
    groups: { serving: `${prefix}-${base.groups.serving}`, trainer: `${prefix}-${base.groups.trainer}`, monitor: `${prefix}-${base.groups.monitor}` },
  };
}
