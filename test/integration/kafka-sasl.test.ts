/**
 * Authenticated clients against a real broker: this file starts its own KRaft broker with a
 * SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-256) next to the shared plaintext one, and goes
 * through the same path as `streamrec serve`: a topology with kafka.security, the password named
 * by passwordEnv, createKafka, ensureTopics, a producer and a consumer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { DEFAULT_TOPOLOGY, loadConfig, namespaced, type StreamrecConfig } from '../../src/config/config.ts';
import { createKafka, ensureTopics } from '../../src/kafka/client.ts';
import { confluentAvailability } from '../../src/kafka/confluent-client.ts';
import { createKafkaClient } from '../../src/kafka/create-client.ts';
import { removeDataDir, startLocalBroker, type LocalBroker } from '../../scripts/kafka/local-broker.ts';
import { collect } from '../support/kafka.ts';

const USER = 'streamrec-test';
const PASSWORD = 'pw-Kx81-never-logged';
let broker: LocalBroker;

before(async () => {
  broker = await startLocalBroker({ sasl: { users: { [USER]: PASSWORD } }, heapMb: 384 });
});
after(async () => {
  await broker?.stop();
  if (broker) removeDataDir(broker.dataDir);
});

let counter = 0;

/** The default topology on the SASL listener, the password read from the environment at load. */
function saslConfig(mechanism: string, password = PASSWORD): StreamrecConfig {
  const base = loadConfig(DEFAULT_TOPOLOGY, {
    KAFKA_BROKERS: broker.saslBrokers,
    STREAMREC_KAFKA__SECURITY__PROTOCOL: 'sasl_plaintext',
    STREAMREC_KAFKA__SECURITY__SASL__MECHANISM: mechanism,
    STREAMREC_KAFKA__SECURITY__SASL__USERNAME: USER,
    STREAMREC_KAFKA__SECURITY__SASL__PASSWORD_ENV: 'TEST_KAFKA_PASSWORD',
    TEST_KAFKA_PASSWORD: password,
  });
  return namespaced(base, `t-sasl-${mechanism}-${process.pid}-${counter++}`, 1);
}

/** Runs `fn` with everything written to stderr (where kafkajs logs) captured. */
async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ result: T | undefined; error: unknown; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderr += String(chunk);
    return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { result: await fn(), error: undefined, stderr };
  } catch (error) {
    return { result: undefined, error, stderr };
  } finally {
    process.stderr.write = original;
  }
}

for (const mechanism of ['plain', 'scram-sha-256']) {
  test(`SASL ${mechanism}: topics are created, records produced and consumed through createKafka`, async () => {
    const cfg = saslConfig(mechanism);
    const kafka = createKafka(cfg, '-test-sasl');
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, cfg);
    const described = await admin.describeConfigs({
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: cfg.topics.deadLetter.name, configNames: ['max.message.bytes'] }],
      includeSynonyms: false,
    });
    await admin.disconnect();
    assert.equal(described.resources[0].configEntries[0].configValue, String(cfg.topics.deadLetter.maxMessageBytes), 'the dead-letter topic gets its own size cap');

    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 20 }, (_, i) => `${mechanism}-${i}`);
    await producer.send({ topic: cfg.topics.clicks.name, messages: values.map((v) => ({ key: v, value: v })) });
    await producer.disconnect();
    const got = await collect(cfg, cfg.topics.clicks.name, values.length, { settleMs: 300, timeoutMs: 30_000 });
    assert.deepEqual(got.map((c) => c.message.value?.toString()).sort(), [...values].sort());
  });
}

for (const mechanism of ['plain', 'scram-sha-256']) {
  test(`SASL ${mechanism}: a wrong password is refused with an authentication error, quickly and without logging it`, async () => {
    const wrong = `${PASSWORD}-wrong`;
    const admin = createKafka(saslConfig(mechanism, wrong), '-test-sasl-wrong').admin();
    const started = Date.now();
    const { error, stderr } = await capturingStderr(() => admin.connect());
    const elapsed = Date.now() - started;
    await admin.disconnect();
    assert.ok(error instanceof Error, 'connect must fail');
    assert.equal(error.name, 'KafkaJSSASLAuthenticationError', `${error.name}: ${error.message}`);
    assert.match(error.message, /authentication failed/i);
    assert.ok(elapsed < 10_000, `refused in ${elapsed} ms, not after a retry loop`);
    assert.match(stderr, /authentication failed/i, 'kafkajs logged the refusal, so the check below looks at real log lines');
    for (const text of [stderr, error.message, String(error.stack)]) {
      assert.equal(text.includes(wrong), false, 'the password never appears in logs or errors');
      assert.equal(text.includes(PASSWORD), false);
    }
  });
}

test('SASL: the plaintext listener of the same broker still takes unauthenticated clients, the SASL one does not', async () => {
  const plain = namespaced(loadConfig(DEFAULT_TOPOLOGY, { KAFKA_BROKERS: broker.brokers }), `t-sasl-open-${process.pid}`, 1);
  const open = createKafka(plain, '-test-open').admin();
  await open.connect();
  assert.ok(Array.isArray(await open.listTopics()));
  await open.disconnect();
  // Without credentials, the SASL listener closes the connection instead of answering.
  const anonymous = createKafka({ kafka: { ...plain.kafka, brokers: [broker.saslBrokers as string] } }, '-test-anon');
  const admin = anonymous.admin();
  const outcome = await Promise.race([
    (async () => {
      await admin.connect();
      await admin.listTopics();
      return 'answered';
    })().catch((e: Error) => e.name),
    new Promise((r) => setTimeout(() => r('no answer'), 5_000).unref()),
  ]);
  await admin.disconnect();
  assert.notEqual(outcome, 'answered', `an unauthenticated client got ${outcome}`);
});

const confluent = confluentAvailability();
for (const mechanism of ['plain', 'scram-sha-256']) {
  test(`SASL ${mechanism} on the confluent client: topics created, records produced and read back`, {
    skip: confluent.available ? false : `confluent client unavailable: ${confluent.reason}`,
  }, async () => {
    const cfg = saslConfig(mechanism);
    const client = createKafkaClient(cfg, '-test-sasl-ck', 'confluent');
    const admin = client.admin();
    await admin.connect();
    await ensureTopics(admin, cfg);
    await admin.disconnect();
    const producer = client.producer();
    await producer.connect();
    const values = Array.from({ length: 20 }, (_, i) => `ck-${mechanism}-${i}`);
    await producer.sendBatch([{ topic: cfg.topics.clicks.name, messages: values.map((v) => ({ key: v, value: v })) }]);
    await producer.disconnect();
    const got: string[] = [];
    await client.readToEnd(cfg.topics.clicks.name, (_p, ms) => got.push(...ms.map((m) => String(m.value))), { timeoutMs: 30_000 });
    assert.deepEqual(got.sort(), [...values].sort());
  });
}
