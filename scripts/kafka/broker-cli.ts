/**
 * `scripts/kafka.sh fetch|start|stop|status`: manage one background local broker whose
 * address is kept in .streamrec/kafka.json, for people who want to run serve/produce by hand.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKafkaJars, isAlive, startLocalBroker, stopPid } from './local-broker.ts';

const stateDir = join(new URL('../../', import.meta.url).pathname, '.streamrec');
const stateFile = join(stateDir, 'kafka.json');

interface BrokerState {
  pid: number;
  brokers: string;
  dataDir: string;
}

function readState(): BrokerState | null {
  if (!existsSync(stateFile)) return null;
  const s = JSON.parse(readFileSync(stateFile, 'utf8')) as BrokerState;
  return isAlive(s.pid) ? s : null;
}

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'fetch':
      console.log(ensureKafkaJars());
      return 0;
    case 'start': {
      const running = readState();
      if (running) {
        console.log(running.brokers);
        return 0;
      }
      mkdirSync(stateDir, { recursive: true });
      const b = await startLocalBroker({ detached: true, dataDir: join(stateDir, 'kafka-data') });
      writeFileSync(stateFile, JSON.stringify({ pid: b.pid, brokers: b.brokers, dataDir: b.dataDir }));
      console.log(b.brokers);
      console.error(`streamrec: Kafka broker running (pid ${b.pid}); export KAFKA_BROKERS=${b.brokers}`);
      return 0;
    }
    case 'stop': {
      const s = readState();
      if (s) await stopPid(s.pid);
      rmSync(stateFile, { force: true });
      return 0;
    }
    case 'status': {
      const s = readState();
      console.log(s ? `running pid=${s.pid} brokers=${s.brokers}` : 'stopped');
      return s ? 0 : 1;
    }
    default:
      console.error('usage: scripts/kafka.sh fetch|start|stop|status');
      return 2;
  }
}

process.exitCode = await main(process.argv[2]);
