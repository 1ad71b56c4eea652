/**
 * `npm test`: unit tests, then integration tests against a real Kafka broker (started here from
 * the cached jars unless KAFKA_BROKERS names one). Node's test runner prints the summary CI reads.
 * Filters: `npm test -- unit` or `npm test -- integration` or a file name fragment.
 */
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startLocalBroker, type LocalBroker } from './kafka/local-broker.ts';

const root = new URL('../', import.meta.url).pathname;
const filter = process.argv.slice(2);
const files = ['unit', 'integration']
  .flatMap((dir) =>
    readdirSync(join(root, 'test', dir))
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => join('test', dir, f)),
  )
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
const needsKafka = files.some((f) => f.includes('/integration/'));
let broker: LocalBroker | null = null;
const env = { ...process.env };
if (needsKafka && !env.KAFKA_BROKERS) {
  broker = await startLocalBroker({ log: (s) => process.stderr.write(s + '\n') });
  env.KAFKA_BROKERS = broker.brokers;
  process.stderr.write(`tests: Kafka broker ${broker.brokers} (pid ${broker.pid})\n`);
}
const code: number = await new Promise((resolve) => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], { stdio: 'inherit', env, cwd: root });
  child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
});
if (broker) await broker.stop();
process.exit(code);
