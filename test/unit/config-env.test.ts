import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { applyEnvOverrides, ConfigError, DEFAULT_TOPOLOGY, loadConfig } from '../../src/config/config.ts';

const raw = () => parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Record<string, any>;

test('env: a section the file leaves out can be set field by field (SASL from a pod spec)', () => {
  const cfg = loadConfig(DEFAULT_TOPOLOGY, {
    STREAMREC_KAFKA__SECURITY__PROTOCOL: 'sasl_ssl',
    STREAMREC_KAFKA__SECURITY__SASL__MECHANISM: 'scram-sha-512',
    STREAMREC_KAFKA__SECURITY__SASL__USERNAME: 'streamrec',
    STREAMREC_KAFKA__SECURITY__SASL__PASSWORD_ENV: 'KAFKA_SASL_PASSWORD',
    STREAMREC_KAFKA__SECURITY__SSL__CA_FILE: '/etc/kafka-ca/ca.crt',
    KAFKA_SASL_PASSWORD: 's3cret',
  });
  assert.equal(cfg.kafka.security.protocol, 'sasl_ssl');
  assert.equal(cfg.kafka.security.sasl?.mechanism, 'scram-sha-512');
  assert.equal(cfg.kafka.security.sasl?.username, 'streamrec');
  assert.equal(cfg.kafka.security.sasl?.password.reveal(), 's3cret');
  assert.deepEqual(cfg.kafka.security.ssl, { caFile: '/etc/kafka-ca/ca.crt', rejectUnauthorized: true });
});

test('env: string fields stay strings, booleans and numbers parse, string lists split on commas', () => {
  const tree = applyEnvOverrides(raw(), {
    STREAMREC_KAFKA__SECURITY__SASL__PASSWORD: '000123',
    STREAMREC_TOPICS__CLICKS__NAME: '2024',
    STREAMREC_METRICS__PORT: '0',
    STREAMREC_KAFKA__SECURITY__SSL__REJECT_UNAUTHORIZED: 'false',
    STREAMREC_KAFKA__BROKERS: 'a:1, b:2',
  }) as Record<string, any>;
  assert.equal(tree.kafka.security.sasl.password, '000123', 'a password of digits keeps its leading zeros');
  assert.equal(tree.topics.clicks.name, '2024');
  assert.equal(tree.metrics.port, 0);
  assert.equal(tree.kafka.security.ssl.rejectUnauthorized, false);
  assert.deepEqual(tree.kafka.brokers, ['a:1', 'b:2']);
});

test('env: tooling variables are not fields; unknown paths and paths below a value are refused', () => {
  assert.doesNotThrow(() => loadConfig(DEFAULT_TOPOLOGY, { STREAMREC_KAFKA_VERSION: '3.9.1', STREAMREC_CACHE: '/tmp/x', STREAMREC_TOPOLOGY: DEFAULT_TOPOLOGY }));
  assert.throws(
    () => applyEnvOverrides(raw(), { STREAMREC_TOPICS__MODEL_DELTAS__NAME: 'x' }),
    (e: unknown) => e instanceof ConfigError && /topics\.model_deltas: environment variable STREAMREC_TOPICS__MODEL_DELTAS__NAME names no known field/.test(e.message),
  );
  assert.throws(
    () => applyEnvOverrides(raw(), { STREAMREC_SERVING__TOP_K__VALUE: '1' }),
    (e: unknown) => e instanceof ConfigError && /serving\.topK: environment variable STREAMREC_SERVING__TOP_K__VALUE goes below a scalar/.test(e.message),
  );
  const r = raw();
  r.kafka.security = 'plaintext';
  assert.throws(
    () => applyEnvOverrides(r, { STREAMREC_KAFKA__SECURITY__PROTOCOL: 'ssl' }),
    (e: unknown) => e instanceof ConfigError && /kafka\.security: .* goes below a value that is not a mapping/.test(e.message),
  );
});

test('env: overrides do not modify the tree they are given', () => {
  const r = raw();
  applyEnvOverrides(r, { STREAMREC_KAFKA__SECURITY__SASL__USERNAME: 'u', KAFKA_BROKERS: 'x:1' });
  assert.equal(r.kafka.security.sasl, undefined);
  assert.deepEqual(r.kafka.brokers, ['127.0.0.1:9092']);
});

test('env: a bad value set by a variable is blamed on the variable, one set by the file on the file', () => {
  assert.throws(
    () => loadConfig(DEFAULT_TOPOLOGY, { STREAMREC_SERVING__BATCH__MAX_SIZE: '-1' }),
    (e: unknown) => e instanceof ConfigError && e.message === 'environment STREAMREC_SERVING__BATCH__MAX_SIZE: serving.batch.maxSize: expected an integer in [1, 65536], got -1',
  );
  assert.throws(
    () => loadConfig(DEFAULT_TOPOLOGY, { KAFKA_BROKERS: '127.0.0.1:9092,localhost' }),
    (e: unknown) => e instanceof ConfigError && e.message === 'environment KAFKA_BROKERS: kafka.brokers: "localhost" is not host:port',
  );
  // A cross-field check fails on the field the file holds.
  assert.throws(
    () => loadConfig(DEFAULT_TOPOLOGY, { STREAMREC_TOPICS__CLICKS__PARTITIONS: '5' }),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${DEFAULT_TOPOLOGY}: topics.sessionChangelog.partitions: must equal topics.clicks.partitions (5)`),
  );
});
