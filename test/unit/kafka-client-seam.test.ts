import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, DEFAULT_TOPOLOGY, loadConfig } from '../../src/config/config.ts';
import { ConfluentClient, confluentAvailability, confluentSecurityOptions } from '../../src/kafka/confluent-client.ts';
import { createKafkaClient } from '../../src/kafka/create-client.ts';
import { asKafkaClient, KafkajsClient } from '../../src/kafka/kafkajs-client.ts';

test('kafka.client: kafkajs unless the topology or STREAMREC_KAFKA__CLIENT says confluent; anything else is refused', () => {
  assert.equal(loadConfig(DEFAULT_TOPOLOGY, {}).kafka.client, 'kafkajs');
  assert.equal(loadConfig(DEFAULT_TOPOLOGY, { STREAMREC_KAFKA__CLIENT: 'confluent' }).kafka.client, 'confluent');
  assert.throws(
    () => loadConfig(DEFAULT_TOPOLOGY, { STREAMREC_KAFKA__CLIENT: 'rdkafka' }),
    (e: Error) => e instanceof ConfigError && /kafkajs \| confluent/.test(e.message),
  );
});

test('createKafkaClient builds the configured client, an explicit kind wins, and asKafkaClient wraps a kafkajs instance once', () => {
  const cfg = loadConfig(DEFAULT_TOPOLOGY, {});
  const k = createKafkaClient(cfg, '-unit');
  assert.ok(k instanceof KafkajsClient);
  assert.equal(k.kind, 'kafkajs');
  assert.equal(asKafkaClient(k), k, 'a seam client is passed through');
  const wrapped = asKafkaClient((k as KafkajsClient).kafka);
  assert.ok(wrapped instanceof KafkajsClient);
  assert.equal((wrapped as KafkajsClient).kafka, (k as KafkajsClient).kafka);
  const available = confluentAvailability();
  if (available.available) {
    assert.ok(createKafkaClient(cfg, '-unit', 'confluent') instanceof ConfluentClient);
    assert.match(available.librdkafka, /^\d+\.\d+\.\d+/);
  } else {
    // Unavailable: one line saying how to get it, raised when the client is asked for.
    assert.match(available.reason, /npm run setup/);
    assert.throws(
      () => createKafkaClient(cfg, '-unit', 'confluent'),
      (e: Error) => e.message.includes(available.reason),
    );
  }
});

test('confluent security: plaintext maps to nothing; TLS files become librdkafka locations; SASL goes to kafkaJS with the password revealed', () => {
  assert.deepEqual(confluentSecurityOptions(loadConfig(DEFAULT_TOPOLOGY, {}).kafka.security), { kafkaJS: {}, props: {} });
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-ck-tls-'));
  for (const f of ['ca.pem', 'client.pem', 'client.key']) writeFileSync(join(dir, f), `-----BEGIN ${f}-----\n`);
  const sec = loadConfig(DEFAULT_TOPOLOGY, {
    STREAMREC_KAFKA__SECURITY__PROTOCOL: 'sasl_ssl',
    STREAMREC_KAFKA__SECURITY__SSL__CA_FILE: join(dir, 'ca.pem'),
    STREAMREC_KAFKA__SECURITY__SSL__CERT_FILE: join(dir, 'client.pem'),
    STREAMREC_KAFKA__SECURITY__SSL__KEY_FILE: join(dir, 'client.key'),
    STREAMREC_KAFKA__SECURITY__SSL__REJECT_UNAUTHORIZED: 'false',
    STREAMREC_KAFKA__SECURITY__SASL__MECHANISM: 'scram-sha-512',
    STREAMREC_KAFKA__SECURITY__SASL__USERNAME: 'svc',
    STREAMREC_KAFKA__SECURITY__SASL__PASSWORD: 's3cret',
  }).kafka.security;
  assert.deepEqual(confluentSecurityOptions(sec), {
    kafkaJS: { ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 's3cret' } },
    props: {
      'enable.ssl.certificate.verification': false,
      'ssl.ca.location': join(dir, 'ca.pem'),
      'ssl.certificate.location': join(dir, 'client.pem'),
      'ssl.key.location': join(dir, 'client.key'),
    },
  });
});

test('confluent security: a missing PEM file is a ConfigError naming the field, before anything connects', () => {
  const missing = join(tmpdir(), 'streamrec-no-such-ck-ca.pem');
  const sec = loadConfig(DEFAULT_TOPOLOGY, { STREAMREC_KAFKA__SECURITY__PROTOCOL: 'ssl', STREAMREC_KAFKA__SECURITY__SSL__CA_FILE: missing }).kafka.security;
  assert.throws(
    () => confluentSecurityOptions(sec),
    (e: Error) => e instanceof ConfigError && e.message.includes('kafka.security.ssl.caFile') && e.message.includes(missing),
  );
});
