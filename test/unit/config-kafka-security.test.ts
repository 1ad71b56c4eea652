import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_TOPOLOGY, loadConfig } from '../../src/config/config.ts';
import { createKafka, kafkaSecurityOptions } from '../../src/kafka/client.ts';

const secured = (env: Record<string, string>) => loadConfig(DEFAULT_TOPOLOGY, env).kafka.security;

test('plaintext: no ssl, no sasl options', () => {
  assert.deepEqual(kafkaSecurityOptions(secured({})), {});
});

test('ssl without files: TLS against the system CAs', () => {
  assert.deepEqual(kafkaSecurityOptions(secured({ STREAMREC_KAFKA__SECURITY__PROTOCOL: 'ssl' })), { ssl: true });
});

test('ssl with files: the PEM contents are read at start-up and passed with rejectUnauthorized', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-tls-'));
  for (const f of ['ca.pem', 'client.pem', 'client.key']) writeFileSync(join(dir, f), `-----BEGIN ${f}-----\n`);
  const opts = kafkaSecurityOptions(
    secured({
      STREAMREC_KAFKA__SECURITY__PROTOCOL: 'ssl',
      STREAMREC_KAFKA__SECURITY__SSL__CA_FILE: join(dir, 'ca.pem'),
      STREAMREC_KAFKA__SECURITY__SSL__CERT_FILE: join(dir, 'client.pem'),
      STREAMREC_KAFKA__SECURITY__SSL__KEY_FILE: join(dir, 'client.key'),
      STREAMREC_KAFKA__SECURITY__SSL__REJECT_UNAUTHORIZED: 'false',
    }),
  );
  const ssl = opts.ssl as { ca: Buffer[]; cert: Buffer; key: Buffer; rejectUnauthorized: boolean };
  assert.equal(ssl.ca[0].toString(), '-----BEGIN ca.pem-----\n');
  assert.equal(ssl.cert.toString(), '-----BEGIN client.pem-----\n');
  assert.equal(ssl.key.toString(), '-----BEGIN client.key-----\n');
  assert.equal(ssl.rejectUnauthorized, false);
});

test('ssl: a missing file is a ConfigError naming the field and the file, raised by createKafka', () => {
  const missing = join(tmpdir(), 'streamrec-no-such-ca.pem');
  const cfg = loadConfig(DEFAULT_TOPOLOGY, { STREAMREC_KAFKA__SECURITY__PROTOCOL: 'sasl_ssl', STREAMREC_KAFKA__SECURITY__SSL__CA_FILE: missing, ...saslEnv('scram-sha-512') });
  assert.throws(
    () => createKafka(cfg),
    (e: unknown) => e instanceof ConfigError && e.field === 'kafka.security.ssl.caFile' && e.message.includes(missing) && e.exitCode === 78,
  );
});

function saslEnv(mechanism: string): Record<string, string> {
  return {
    STREAMREC_KAFKA__SECURITY__SASL__MECHANISM: mechanism,
    STREAMREC_KAFKA__SECURITY__SASL__USERNAME: 'streamrec',
    STREAMREC_KAFKA__SECURITY__SASL__PASSWORD_ENV: 'KAFKA_SASL_PASSWORD',
    KAFKA_SASL_PASSWORD: 'pw-from-env',
  };
}

test('sasl: mechanism, username and the revealed password go to kafkajs; TLS only with sasl_ssl', () => {
  assert.deepEqual(kafkaSecurityOptions(secured({ STREAMREC_KAFKA__SECURITY__PROTOCOL: 'sasl_plaintext', ...saslEnv('plain') })), {
    sasl: { mechanism: 'plain', username: 'streamrec', password: 'pw-from-env' },
  });
  assert.deepEqual(kafkaSecurityOptions(secured({ STREAMREC_KAFKA__SECURITY__PROTOCOL: 'sasl_ssl', ...saslEnv('scram-sha-256') })), {
    ssl: true,
    sasl: { mechanism: 'scram-sha-256', username: 'streamrec', password: 'pw-from-env' },
  });
});
