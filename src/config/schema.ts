/**
 * The topology schema: what a deployment runs (topics, groups, batch knobs, model, Kafka security),
 * with the bounds of every field. topologies/default.yaml documents the defaults; this file is
 * the one place the shape and the types come from (StreamrecConfig is z.output of it).
 *
 * Every field is required in the topology (a typo or a missing line must not silently fall back
 * to a default); the optional parts are the security sections a plaintext cluster does not need.
 * Messages are written to read after the field's path, and the value that was given is appended
 * by formatIssue (src/config/issues.ts) — except for secrets, whose values are never echoed.
 */
import { z } from 'zod';
import { Secret } from './secret.ts';

/** A mapping that rejects keys it does not know and names the ones it does. */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field (known: ${known})` : iss.code === 'invalid_type' ? 'expected a mapping' : undefined),
  });
}

function intIn(min: number, max = Number.MAX_SAFE_INTEGER) {
  const error = `expected an integer in [${min}, ${max}]`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function numberIn(min: number, max: number) {
  const error = `expected a number in [${min}, ${max}]`;
  return z.number({ error }).min(min, { error }).max(max, { error });
}

function oneOf<const T extends readonly [string, ...string[]]>(choices: T) {
  return z.enum(choices, { error: `expected one of ${choices.join(' | ')}` });
}

const nonEmpty = (error = 'expected a non-empty string') => z.string({ error }).regex(/\S/, { error });
const bool = z.boolean({ error: 'expected true or false' });
const HOST_PORT = /^[^:\s]+:\d{1,5}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const brokerList = z
  .array(z.string({ error: 'expected a string host:port' }), { error: 'expected a non-empty list of strings' })
  .min(1, { error: 'expected a non-empty list of strings' })
  .superRefine((list, ctx) => {
    const bad = list.find((b) => !HOST_PORT.test(b));
    if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad)} is not host:port`, input: list });
  });

const topic = section({ name: nonEmpty(), partitions: intIn(1, 10_000) });

/**
 * The dead-letter topic also sets its own max.message.bytes: a dead letter carries (a clipped copy
 * of) the bad record's bytes plus kind and reason. The floor leaves room for the record's own
 * fields and framing, so a dead letter of any kind fits.
 */
const deadLetterTopic = section({ name: nonEmpty(), partitions: intIn(1, 10_000), maxMessageBytes: intIn(65_536, 104_857_600) });

/** A file the process reads at start-up (certificates, keys); resolved against the working directory. */
const filePath = nonEmpty('expected a file path');

/** What `streamrec serve` recommends with. */
export const MODEL_KINDS = ['cooccurrence', 'gru4rec', 'registry'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** kafkajs (pure JavaScript) or @confluentinc/kafka-javascript (librdkafka, an optional build). */
export const KAFKA_CLIENTS = ['kafkajs', 'confluent'] as const;
const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
const SECURITY_PROTOCOLS = ['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

/**
 * SASL credentials. The password is either in the topology (`password`, for development) or named
 * by `passwordEnv` and read from the environment when the config is loaded, so a deployment's
 * YAML and its ConfigMap never hold it. Either way it ends up a Secret.
 */
function saslSection(env: NodeJS.ProcessEnv) {
  return section({
    mechanism: oneOf(SASL_MECHANISMS),
    username: nonEmpty(),
    password: nonEmpty().optional(),
    passwordEnv: z.string({ error: 'expected an environment variable name' }).regex(ENV_NAME, { error: 'expected an environment variable name' }).optional(),
  }).transform(({ password, passwordEnv, ...rest }, ctx) => {
    if ((password === undefined) === (passwordEnv === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'give exactly one of password or passwordEnv', input: undefined });
      return z.NEVER;
    }
    const value = password ?? env[passwordEnv as string];
    if (value === undefined || value === '') {
      ctx.addIssue({ code: 'custom', path: ['passwordEnv'], message: `environment variable ${passwordEnv} is not set`, input: undefined });
      return z.NEVER;
    }
    return { ...rest, password: new Secret(value) };
  });
}

const sslSection = section({
  /** PEM file of the CA that signed the brokers' certificates; the system CAs when absent. */
  caFile: filePath.optional(),
  /** Client certificate and key (PEM) for mutual TLS; both or neither. */
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
  rejectUnauthorized: bool.default(true),
}).superRefine((s, ctx) => {
  if ((s.certFile === undefined) !== (s.keyFile === undefined))
    ctx.addIssue({
      code: 'custom',
      path: [s.certFile === undefined ? 'certFile' : 'keyFile'],
      message: 'certFile and keyFile go together (mutual TLS needs both)',
      input: undefined,
    });
});

function securitySection(env: NodeJS.ProcessEnv) {
  return section({ protocol: oneOf(SECURITY_PROTOCOLS), sasl: saslSection(env).optional(), ssl: sslSection.optional() }).superRefine((s, ctx) => {
    const usesSasl = s.protocol.startsWith('sasl_');
    const usesTls = s.protocol === 'ssl' || s.protocol === 'sasl_ssl';
    // A section the protocol ignores is a deployment mistake (credentials that are never sent).
    if (usesSasl && s.sasl === undefined) ctx.addIssue({ code: 'custom', path: ['sasl'], message: `is required when protocol is ${s.protocol}`, input: undefined });
    if (!usesSasl && s.sasl !== undefined) ctx.addIssue({ code: 'custom', path: ['sasl'], message: `is given but protocol ${s.protocol} does not use SASL`, input: undefined });
    if (!usesTls && s.ssl !== undefined) ctx.addIssue({ code: 'custom', path: ['ssl'], message: `is given but protocol ${s.protocol} does not use TLS`, input: undefined });
  });
}

/** The whole topology. `env` is where `passwordEnv` names are looked up (the process's, at start-up). */
export function configSchema(env: NodeJS.ProcessEnv = process.env) {
  return section({
    kafka: section({
      brokers: brokerList,
      clientId: nonEmpty(),
      /** Which library talks to Kafka (src/kafka/kafka-client.ts); STREAMREC_KAFKA__CLIENT overrides it. */
      client: oneOf(KAFKA_CLIENTS).default('kafkajs'),
      security: securitySection(env),
    }),
    topics: section({ clicks: topic, recommendations: topic, deadLetter: deadLetterTopic, sessionChangelog: topic, modelUpdates: topic }),
    groups: section({ serving: nonEmpty(), trainer: nonEmpty(), monitor: nonEmpty() }),
    wireFormat: oneOf(['plain', 'confluent']),
    ingest: section({
      /** Records larger than this are dead-lettered (TOO_LARGE) before any decoding is attempted. */
      maxRecordBytes: intIn(1, 104_857_600),
      /** Event timestamps further than this in the past or the future are implausible (INVALID_FIELD). */
      maxPastMs: intIn(0),
      maxFutureMs: intIn(0),
    }),
    serving: section({
      delivery: oneOf(['exactly-once', 'at-least-once']),
      batch: section({ maxSize: intIn(1, 65_536), maxWaitMs: intIn(0, 60_000) }),
      /**
       * When outputs and offsets become durable (src/serving/commit-span.ts): one transaction
       * (exactly-once) or offset commit (at-least-once) spans micro-batches and commits once
       * intervalMs has passed since it opened, once it holds maxRecords input records, or as soon
       * as no input is waiting; intervalMs 0 commits every micro-batch. Defaulted (100 ms, as
       * Kafka Streams' commit.interval.ms under exactly-once), so older topologies still load.
       */
      commit: section({ intervalMs: intIn(0, 600_000).default(100), maxRecords: intIn(1, 10_000_000).default(10_000) }).default({ intervalMs: 100, maxRecords: 10_000 }),
      topK: intIn(1, 1000),
      excludeSeen: bool,
      unknownItems: oneOf(['dead-letter', 'cold-start']),
      sessions: section({
        maxSessions: intIn(1, 100_000_000),
        ttlMs: intIn(1),
        historyLength: intIn(1, 1000),
        /**
         * What a changelog record carries: full = hidden state + history; history = the history alone
         * where re-encoding it reproduces the state exactly (a session within historyLength), the
         * full record otherwise (src/session/session-store.ts). Defaulted, unlike the other fields,
         * so that topologies written before it still load.
         */
        changelogRecord: oneOf(['full', 'history']).default('history'),
      }),
      /**
       * exact: every item scored (the catalogue product + top-K in the engine graph); ann: an
       * approximate nearest-neighbour index over the item embeddings (src/ann, bench:ann), built
       * off the hot path for each model version, for catalogues of 10^5–10^6 items. Defaulted, so
       * topologies written before it still load.
       */
      scoring: oneOf(['exact', 'ann']).default('exact'),
      /** Index settings for scoring: ann (each absent field: src/ann/ann-settings.ts DEFAULT_ANN_SETTINGS). */
      ann: section({
        library: oneOf(['usearch', 'hnswlib']),
        connectivity: intIn(2, 1024),
        expansionAdd: intIn(1, 65_536),
        expansionSearch: intIn(1, 65_536),
      })
        .partial()
        .optional(),
    }),
    /**
     * gru4rec serves the model directory at `path`, frozen; registry serves the registry's CURRENT
     * version and follows topics.modelUpdates (path is not used then).
     */
    model: section({ kind: oneOf(MODEL_KINDS), path: z.string({ error: 'expected a string' }), engine: oneOf(['auto', 'onnx', 'tfjs']) }),
    /** The versioned model store (src/registry/model-registry.ts); resolved against the working directory. */
    registry: section({ path: nonEmpty('expected a directory path') }),
    /** The continuous trainer's knobs (src/train); counts are click events. */
    train: section({
      /** Events of recent history the candidate is trained on. */
      windowEvents: intIn(1),
      /** Clicks an unseen item needs before it gets a row in the next version. */
      minItemCount: intIn(1),
      /** An item not clicked for this many events expires: it stops being trained and its row is reused for a new item. */
      itemTtlEvents: intIn(1),
      /** Held-out newest events the promotion gate scores candidate and serving model on. */
      gateWindowEvents: intIn(1),
      /** How much worse than the serving model (Recall@20 on that window) a candidate may score and still be promoted (0: at least as good). */
      gateMargin: numberIn(0, 1),
      /** How often (in events) the trainer checkpoints its progress. */
      checkpointEveryEvents: intIn(1),
      /** A GRU4Rec preset name (src/model/gru4rec-config.ts); checked by the trainer, which knows the list. */
      preset: nonEmpty('expected a preset name'),
      /** Port of `streamrec train --follow`'s HTTP endpoints (/metrics, /healthz, /readyz) on metrics.host; 0 disables them. */
      metricsPort: intIn(0, 65_535),
      /**
       * Incremental weight sync between full versions: the trainer writes a delta (changed item
       * rows + dense tensors) every intervalMs and a gated snapshot every snapshotEveryDeltas
       * deltas or snapshotEveryMs; serving applies them in order and rolls back to the snapshot
       * when the deltas' online Recall@20 falls below the snapshot's by more than rollbackMargin
       * over rollbackWindowEvents targets. Defaulted (off), so topologies written before it load
       * and behave as before: full versions only.
       */
      sync: section({
        enabled: bool,
        intervalMs: intIn(100, 3_600_000),
        snapshotEveryDeltas: intIn(1),
        snapshotEveryMs: intIn(1000),
        rollbackWindowEvents: intIn(1, 10_000_000),
        rollbackMargin: numberIn(0, 1),
        /** How often serving looks for new deltas in the registry. */
        pollMs: intIn(10, 60_000),
      }).default({ enabled: false, intervalMs: 2000, snapshotEveryDeltas: 30, snapshotEveryMs: 300_000, rollbackWindowEvents: 2000, rollbackMargin: 0.05, pollMs: 200 }),
    }),
    /** `streamrec monitor`: prequential quality of any recommender, joined from the clicks and recommendations topics (src/monitor). */
    monitor: section({
      /** How long a click waits for its list: in click time (record timestamps) of its partition, in wall time where nothing is answered. */
      joinWindowMs: intIn(0, 86_400_000),
      /** Sessions whose latest list is held (least recently emitted-to forgotten beyond it); serving's own metric holds serving.sessions.maxSessions. */
      maxSessions: intIn(1, 100_000_000),
      /** Most clicks waiting for their list, and most lists waiting for their click (each); the oldest gives way. */
      maxPending: intIn(1, 100_000_000),
      /** Port of the monitor's HTTP endpoints (/metrics, /healthz, /readyz) on metrics.host; 0 disables them. */
      metricsPort: intIn(0, 65_535),
    }),
    /** HTTP endpoints of `streamrec serve` (/metrics, /healthz, /readyz); port 0 disables them. */
    metrics: section({
      host: nonEmpty('expected a host name or address'),
      port: intIn(0, 65_535),
      /** Online Recall@k / MRR@k (src/metrics/online-quality.ts). */
      quality: section({
        /** Targets in each model version's sliding window. */
        slidingTargets: intIn(1, 10_000_000),
        /** Model versions exported at once; the one that emitted least recently is retired beyond it. */
        maxVersions: intIn(1, 1000),
      }),
      /** Push metrics to an OpenTelemetry collector over OTLP/HTTP as well; absent: Prometheus pull only. */
      otlp: section({
        endpoint: z.url({ error: 'expected an http(s) URL', protocol: /^https?$/ }),
        intervalMs: intIn(1000, 3_600_000),
      }).optional(),
    }),
  }).superRefine((c, ctx) => {
    if (c.topics.sessionChangelog.partitions !== c.topics.clicks.partitions)
      ctx.addIssue({
        code: 'custom',
        path: ['topics', 'sessionChangelog', 'partitions'],
        message: `must equal topics.clicks.partitions (${c.topics.clicks.partitions}) so session state moves with its partition`,
        input: undefined,
      });
    if (c.model.kind === 'gru4rec' && c.model.path === '')
      ctx.addIssue({ code: 'custom', path: ['model', 'path'], message: 'is required when model.kind is gru4rec', input: undefined });
  });
}

export type StreamrecConfig = z.output<ReturnType<typeof configSchema>>;
export type TopicConfig = StreamrecConfig['topics']['clicks'];
export type DeadLetterTopicConfig = StreamrecConfig['topics']['deadLetter'];
export type KafkaSecurity = StreamrecConfig['kafka']['security'];
export type TrainConfig = StreamrecConfig['train'];
export type SyncConfig = TrainConfig['sync'];
export type DeliveryMode = StreamrecConfig['serving']['delivery'];
export type WireFormat = StreamrecConfig['wireFormat'];

/** Fields holding credentials: no value given at or below them is repeated in an error message. */
export const REDACTED_FIELDS: ReadonlySet<string> = new Set(['sasl', 'password']);
