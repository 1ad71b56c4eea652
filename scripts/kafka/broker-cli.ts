/**
 * `scripts/kafka.sh fetch|start|stop|status`: manage one background local broker whose
 * address is kept in .streamrec/kafka.json, for people who want to run serve/produce by hand.
 * `start --sasl USER:PASSWORD` (repeatable) adds a SASL_PLAINTEXT listener (PLAIN and
 * SCRAM-SHA-256) for trying kafka.security; it applies when the broker's data is first formatted.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKafkaJars, isAlive, startLocalBroker, stopPid } from './local-broker.ts';

const stateDir = join(new URL('../../', import.meta.url).pathname, '.streamrec');
const stateFile = join(stateDir, 'kafka.json');

interface BrokerState {
  pid: number;
  brokers: string;
  saslBrokers?: string;
  dataDir: string;
}

function saslUsers(args: string[]): Record<string, string> | undefined {
  const users: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '--sasl') throw new Error(`unknown option ${args[i]}`);
    const [name, ...password] = (args[++i] ?? '').split(':');
    if (!name || password.length === 0) throw new Error('--sasl takes USER:PASSWORD');
    users[name] = password.join(':');
  }
  return Object.keys(users).length > 0 ? users : undefined;
}

function readState(): BrokerState | null {
  if (!existsSync(stateFile)) return null;
  const s = JSON.parse(readFileSync(stateFile, 'utf8')) as BrokerState;
  return isAlive(s.pid) ? s : null;
}

async function main(cmd: string | undefined, args: string[]): Promise<number> {
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
      const users = saslUsers(args);
      const b = await startLocalBroker({ detached: true, dataDir: join(stateDir, 'kafka-data'), sasl: users ? { users } : undefined });
      writeFileSync(stateFile, JSON.stringify({ pid: b.pid, brokers: b.brokers, saslBrokers: b.saslBrokers, dataDir: b.dataDir }));
      console.log(b.brokers);
      console.error(`streamrec: Kafka broker running (pid ${b.pid}); export KAFKA_BROKERS=${b.brokers}`);
      if (b.saslBrokers) console.error(`streamrec: SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256) on ${b.saslBrokers}`);
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
      console.log(s ? `running pid=${s.pid} brokers=${s.brokers}${s.saslBrokers ? ` sasl=${s.saslBrokers}` : ''}` : 'stopped');
      return s ? 0 : 1;
    }
    default:
      console.error('usage: scripts/kafka.sh fetch|start [--sasl USER:PASSWORD]...|stop|status');
      return 2;
  }
}

process.exitCode = await main(process.argv[2], process.argv.slice(3));
