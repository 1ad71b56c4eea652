import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { parse, stringify } from 'yaml';
import { ConfigError, DEFAULT_TOPOLOGY, loadConfig, namespaced, Secret, validateConfig } from '../../src/config/config.ts';

const raw = () => parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Record<string, any>;
const PASSWORD = 'hunter2-very-secret';

function writeTopology(tree: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'streamrec-cfg-')), 'x.yaml');
  writeFileSync(file, stringify(tree));
  return file;
}

/** The message of the ConfigError `fn` throws (fails the test when it throws anything else). */
function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

test('a bad topology file ends with one line naming the file, the field and the problem', () => {
  const r = raw();
  r.serving.batch.maxSize = -1;
  const file = writeTopology(r);
  assert.equal(
    configErrorOf(() => loadConfig(file, {})),
    `${file}: serving.batch.maxSize: expected an integer in [1, 65536], got -1`,
  );
});

test('error lines: missing sections, unknown keys, wrong types, non-mapping documents', () => {
  const cases: Array<[(r: Record<string, any>) => unknown, string]> = [
    [(r) => delete r.kafka.security, 'config: kafka.security: is required'],
    [(r) => (r.metrics.hostt = 'x'), 'config: metrics.hostt: unknown field (known: host, port, quality, otlp)'],
    [(r) => (r.ingest = 5), 'config: ingest: expected a mapping, got 5'],
    [(r) => (r.topics.deadLetter.maxMessageBytes = 10), 'config: topics.deadLetter.maxMessageBytes: expected an integer in [65536, 104857600], got 10'],
    [(r) => (r.ingest.maxPastMs = 1.5), 'config: ingest.maxPastMs: expected an integer in [0, 9007199254740991], got 1.5'],
    [(r) => (r.metrics.host = ' '), 'config: metrics.host: expected a host name or address, got " "'],
    [(r) => (r.kafka.security.protocol = 'tls'), 'config: kafka.security.protocol: expected one of plaintext | ssl | sasl_plaintext | sasl_ssl, got "tls"'],
  ];
  for (const [mutate, expected] of cases) {
    const r = raw();
    mutate(r);
    assert.equal(
      configErrorOf(() => validateConfig(r)),
      expected,
    );
  }
  assert.equal(
    configErrorOf(() => validateConfig([1, 2])),
    'config: (root): expected a mapping, got [1,2]',
  );
});

test('new fields load with their documented defaults', () => {
  const cfg = loadConfig(DEFAULT_TOPOLOGY, {});
  assert.equal(cfg.metrics.host, '127.0.0.1', 'HTTP endpoints bind to loopback unless configured');
  assert.deepEqual(cfg.ingest, { maxRecordBytes: 1_048_576, maxPastMs: 946_080_000_000, maxFutureMs: 3_600_000 });
  assert.equal(cfg.topics.deadLetter.maxMessageBytes, 1_048_576);
  assert.deepEqual(cfg.kafka.security, { protocol: 'plaintext' });
});

test('registry and continuous-training fields load with their documented defaults', () => {
  const cfg = loadConfig(DEFAULT_TOPOLOGY, {});
  assert.deepEqual(cfg.topics.modelUpdates, { name: 'streamrec-model-updates', partitions: 1 });
  assert.deepEqual(cfg.groups, { serving: 'streamrec-serving', trainer: 'streamrec-trainer', monitor: 'streamrec-monitor' });
  assert.deepEqual(cfg.registry, { path: '.streamrec/registry' });
  assert.deepEqual(cfg.train, {
    windowEvents: 20_000,
    minItemCount: 3,
    itemTtlEvents: 2_000_000,
    gateWindowEvents: 5_000,
    gateMargin: 0,
    checkpointEveryEvents: 20_000,
    preset: 'rsc15-xe-fast',
    metricsPort: 9465,
    sync: { enabled: false, intervalMs: 2000, snapshotEveryDeltas: 30, snapshotEveryMs: 300_000, rollbackWindowEvents: 2000, rollbackMargin: 0.05, pollMs: 200 },
  });
});

test('model.kind registry needs no model.path; the new sections are required and checked field by field', () => {
  const r = raw();
  r.model.kind = 'registry';
  assert.equal(validateConfig(r).model.kind, 'registry');
  const cases: Array<[(r: Record<string, any>) => unknown, string]> = [
    [(r) => delete r.topics.modelUpdates, 'config: topics.modelUpdates: is required'],
    [(r) => delete r.groups.trainer, 'config: groups.trainer: is required'],
    [(r) => delete r.registry, 'config: registry: is required'],
    [(r) => (r.registry.path = ''), 'config: registry.path: expected a directory path, got ""'],
    [(r) => (r.model.kind = 'onnx'), 'config: model.kind: expected one of cooccurrence | gru4rec | registry, got "onnx"'],
    [(r) => (r.train.gateMargin = 2), 'config: train.gateMargin: expected a number in [0, 1], got 2'],
    [(r) => (r.train.windowEvents = 0), 'config: train.windowEvents: expected an integer in [1, 9007199254740991], got 0'],
    [(r) => (r.train.preset = ' '), 'config: train.preset: expected a preset name, got " "'],
    [
      (r) => (r.train.epochs = 3),
      'config: train.epochs: unknown field (known: windowEvents, minItemCount, itemTtlEvents, gateWindowEvents, gateMargin, checkpointEveryEvents, preset, metricsPort, sync)',
    ],
  ];
  for (const [mutate, expected] of cases) {
    const t = raw();
    mutate(t);
    assert.equal(
      configErrorOf(() => validateConfig(t)),
      expected,
    );
  }
});

test('the new fields take environment overrides like the others', () => {
  const cfg = loadConfig(DEFAULT_TOPOLOGY, {
    STREAMREC_MODEL__KIND: 'registry',
    STREAMREC_REGISTRY__PATH: '/var/lib/streamrec/registry',
    STREAMREC_TRAIN__GATE_MARGIN: '0.01',
    STREAMREC_TOPICS__MODEL_UPDATES__NAME: 'updates',
  });
  assert.equal(cfg.model.kind, 'registry');
  assert.equal(cfg.registry.path, '/var/lib/streamrec/registry');
  assert.equal(cfg.train.gateMargin, 0.01);
  assert.equal(cfg.topics.modelUpdates.name, 'updates');
});

const sasl = (extra: Record<string, unknown>) => ({ protocol: 'sasl_plaintext', sasl: { mechanism: 'scram-sha-256', username: 'streamrec', ...extra } });

test('kafka.security: protocol and sections must agree', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ protocol: 'sasl_ssl' }, /kafka\.security\.sasl: is required when protocol is sasl_ssl/],
    [{ protocol: 'plaintext', sasl: sasl({ password: 'x' }).sasl }, /kafka\.security\.sasl: is given but protocol plaintext does not use SASL/],
    [{ protocol: 'sasl_plaintext', sasl: sasl({ password: 'x' }).sasl, ssl: {} }, /kafka\.security\.ssl: is given but protocol sasl_plaintext does not use TLS/],
    [{ protocol: 'ssl', ssl: { certFile: 'client.crt' } }, /kafka\.security\.ssl\.keyFile: certFile and keyFile go together/],
    [sasl({}), /kafka\.security\.sasl\.password: give exactly one of password or passwordEnv/],
    [sasl({ password: 'x', passwordEnv: 'KAFKA_PASSWORD' }), /kafka\.security\.sasl\.password: give exactly one/],
    [sasl({ password: 'x', mechanism: 'gssapi' }), /kafka\.security\.sasl\.mechanism: expected one of plain \| scram-sha-256 \| scram-sha-512/],
    [sasl({ passwordEnv: 'not a name' }), /kafka\.security\.sasl\.passwordEnv: expected an environment variable name/],
  ];
  for (const [security, message] of cases) {
    const r = raw();
    r.kafka.security = security;
    assert.match(
      configErrorOf(() => validateConfig(r, { env: {} })),
      message,
    );
  }
});

test('kafka.security.ssl: rejectUnauthorized defaults to true; files are kept as given', () => {
  const r = raw();
  r.kafka.security = { protocol: 'ssl', ssl: { caFile: '/etc/ca.pem' } };
  assert.deepEqual(validateConfig(r).kafka.security.ssl, { caFile: '/etc/ca.pem', rejectUnauthorized: true });
  r.kafka.security.ssl.rejectUnauthorized = false;
  assert.equal(validateConfig(r).kafka.security.ssl?.rejectUnauthorized, false);
});

test('passwordEnv: the password is read from the environment when the config is loaded', () => {
  const r = raw();
  r.kafka.security = sasl({ passwordEnv: 'KAFKA_SASL_PASSWORD' });
  const cfg = validateConfig(r, { env: { KAFKA_SASL_PASSWORD: PASSWORD } });
  assert.ok(cfg.kafka.security.sasl?.password instanceof Secret);
  assert.equal(cfg.kafka.security.sasl?.password.reveal(), PASSWORD);
  assert.equal('passwordEnv' in (cfg.kafka.security.sasl ?? {}), false, 'only the resolved secret is kept');
  assert.equal(
    configErrorOf(() => validateConfig(r, { env: {} })),
    'config: kafka.security.sasl.passwordEnv: environment variable KAFKA_SASL_PASSWORD is not set',
  );
  assert.match(
    configErrorOf(() => validateConfig(r, { env: { KAFKA_SASL_PASSWORD: '' } })),
    /KAFKA_SASL_PASSWORD is not set/,
  );
});

test('secrets: a logged config never shows the password', () => {
  const r = raw();
  r.kafka.security = sasl({ password: PASSWORD });
  const cfg = namespaced(validateConfig(r), 'run1');
  for (const shown of [JSON.stringify(cfg), inspect(cfg, { depth: null }), `${cfg.kafka.security.sasl?.password}`, String(cfg.kafka.security.sasl?.password)]) {
    assert.equal(shown.includes(PASSWORD), false, shown);
    assert.match(shown, /\[redacted\]/);
  }
  assert.equal(cfg.kafka.security.sasl?.password.reveal(), PASSWORD, 'the client still gets it');
});

test('secrets: config errors never repeat the password, whatever is wrong with it', () => {
  const badPasswords: Array<(r: Record<string, any>) => void> = [
    (r) => (r.kafka.security = sasl({ password: 123456789 })),
    (r) => (r.kafka.security = sasl({ password: [PASSWORD] })),
    (r) => (r.kafka.security = { protocol: 'sasl_plaintext', sasl: PASSWORD }),
    (r) => (r.kafka.security = sasl({ password: PASSWORD, passwordEnv: 'X' })),
    (r) => (r.kafka.security = { protocol: 'plaintext', sasl: sasl({ password: PASSWORD }).sasl }),
    (r) => (r.kafka.security = { ...sasl({ password: PASSWORD }), typo: 1 }),
    (r) => {
      r.kafka.security = sasl({ password: PASSWORD });
      r.serving.batch.maxSize = 0;
    },
  ];
  for (const mutate of badPasswords) {
    const r = raw();
    mutate(r);
    const message = configErrorOf(() => validateConfig(r));
    assert.equal(message.includes(PASSWORD) || message.includes('123456789'), false, message);
  }
});

test('secrets: a topology that is not valid YAML is reported without quoting its lines', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'streamrec-cfg-')), 'bad.yaml');
  writeFileSync(file, `kafka:\n  security:\n    sasl: { password: "${PASSWORD}\n`);
  const message = configErrorOf(() => loadConfig(file, {}));
  assert.match(message, /bad\.yaml: \(file\): not valid YAML: /);
  assert.equal(message.includes(PASSWORD), false, message);
  assert.equal(message.includes('\n'), false, 'one line');
});
