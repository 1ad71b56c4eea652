import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors/errors.ts';
import { configSchema } from './schema.ts';

type Raw = Record<string, unknown>;

/** STREAMREC_ variables that configure the tooling around the topology, not a field of it. */
const NOT_FIELDS = new Set(['STREAMREC_TOPOLOGY', 'STREAMREC_CACHE', 'STREAMREC_KAFKA_VERSION']);

export function isMapping(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function camelToEnv(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The schema that parses a field's own value, below optional/default/transform wrappers. */
function core(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else return s;
  }
}

/**
 * An environment value as the field wants it: strings stay strings (a password or topic name of
 * digits must not turn into a number), a string list is a comma list, anything else is parsed as
 * a YAML scalar so "512" is a number and "true" a boolean.
 */
function envValue(field: z.ZodType, text: string): unknown {
  const s = core(field);
  if (s instanceof z.ZodString || s instanceof z.ZodEnum) return text;
  if (s instanceof z.ZodArray && core(s.element as z.ZodType) instanceof z.ZodString)
    return text
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return parseYaml(text) as unknown;
}

export interface Overridden {
  tree: Raw;
  /** Dotted field path → the environment variable that set it, so an error can blame the variable. */
  setBy: Map<string, string>;
}

/**
 * Applies environment overrides onto a raw tree: KAFKA_BROKERS (comma list), KAFKA_CLIENT_ID,
 * and STREAMREC_<PATH> where PATH is the field path in SCREAMING_SNAKE with "__" between levels.
 * Paths are resolved against the schema, not the file, so a section the file leaves out (the
 * SASL credentials of a deployment configured only through its environment) can still be set.
 * An override naming no known field is an error, not a silent no-op.
 */
export function overrideFromEnv(raw: Raw, env: NodeJS.ProcessEnv): Overridden {
  const tree = structuredClone(raw);
  const setBy = new Map<string, string>();
  const root = configSchema({});
  const kafkaNode = (): Raw => (isMapping(tree.kafka) ? tree.kafka : (tree.kafka = {})) as Raw;
  if (env.KAFKA_BROKERS) {
    kafkaNode().brokers = env.KAFKA_BROKERS.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    setBy.set('kafka.brokers', 'KAFKA_BROKERS');
  }
  if (env.KAFKA_CLIENT_ID) {
    kafkaNode().clientId = env.KAFKA_CLIENT_ID;
    setBy.set('kafka.clientId', 'KAFKA_CLIENT_ID');
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('STREAMREC_') || value === undefined || NOT_FIELDS.has(name)) continue;
    const parts = name.slice('STREAMREC_'.length).split('__');
    let node: Raw = tree;
    let schema: z.ZodType = root;
    const path: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const s = core(schema) as z.ZodObject;
      const key = Object.keys(s.shape).find((k) => camelToEnv(k) === parts[i]);
      if (key === undefined) throw new ConfigError(path.concat(parts[i].toLowerCase()).join('.'), `environment variable ${name} names no known field`);
      path.push(key);
      schema = s.shape[key] as z.ZodType;
      if (i === parts.length - 1) node[key] = envValue(schema, value);
      else if (!(core(schema) instanceof z.ZodObject)) throw new ConfigError(path.join('.'), `environment variable ${name} goes below a scalar`);
      else if (node[key] === undefined || node[key] === null) node = node[key] = {};
      else if (isMapping(node[key])) node = node[key] as Raw;
      else throw new ConfigError(path.join('.'), `environment variable ${name} goes below a value that is not a mapping`);
    }
    setBy.set(path.join('.'), name);
  }
  return { tree, setBy };
}

/** overrideFromEnv, the tree only. */
export function applyEnvOverrides(raw: Raw, env: NodeJS.ProcessEnv): Raw {
  return overrideFromEnv(raw, env).tree;
}

/**
 * Where the value of `field` came from: the variable that set it or a section above it
 * (`kafka.brokers.0` was set by KAFKA_BROKERS), else undefined (the file).
 */
export function overriddenBy(setBy: ReadonlyMap<string, string>, field: string): string | undefined {
  for (let at = field; at !== ''; at = at.includes('.') ? at.slice(0, at.lastIndexOf('.')) : '') {
    const name = setBy.get(at);
    if (name !== undefined) return name;
  }
  return undefined;
}
