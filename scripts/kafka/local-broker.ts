/**
 * A real single-node Apache Kafka broker (KRaft mode) on 127.0.0.1 for tests, the demo and
 * benchmarks. The jars come from Maven Central through Maven on first use and are cached,
 * so nothing is installed by hand. Requires Java 17+ and Maven (mvn) on PATH.
 *
 * STREAMREC_KAFKA_VERSION picks the broker (any kafka_2.13 release on Maven Central, cached per
 * version). Kafka 4.0 removed the oldest protocol versions (KIP-896) and ZooKeeper; the broker
 * here was KRaft already, and both clients pass the integration suite against 4.1.1 (kafkajs
 * 2.2.4 negotiates versions 4.x still serves; librdkafka 2.15 is current), so 4.1.1 is the
 * default and 3.9.1 stays selectable.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, openSync, readFileSync, mkdtempSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const KAFKA_VERSION = process.env.STREAMREC_KAFKA_VERSION ?? '4.1.1';

export function cacheDir(): string {
  return process.env.STREAMREC_CACHE ?? join(homedir(), '.cache', 'streamrec');
}

function kafkaHome(): string {
  return join(cacheDir(), `kafka_2.13-${KAFKA_VERSION}`);
}

const POM = (version: string) => `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streamrec</groupId><artifactId>kafka-broker-jars</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`;

const LOG4J = `log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
`;

/** Kafka 4.x logs partly through log4j2, which complains on every start without a configuration. */
const LOG4J2 = `status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
`;

/** Fetches the broker jars into the cache on first use; returns the classpath directory. */
export function ensureKafkaJars(log: (s: string) => void = (s) => process.stderr.write(s + '\n')): string {
  const home = kafkaHome();
  const libs = join(home, 'libs');
  const marker = join(home, '.complete');
  if (existsSync(marker)) return libs;
  for (const tool of ['java', 'mvn']) {
    const r = spawnSync(tool, ['-version'], { stdio: 'ignore' });
    if (r.error) throw new Error(`${tool} is not on PATH: the local Kafka broker needs Java 17+ and Maven (or set KAFKA_BROKERS to an existing cluster)`);
  }
  log(`streamrec: fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${home} (first run only)…`);
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'pom.xml'), POM(KAFKA_VERSION));
  const r = spawnSync('mvn', ['-q', '-B', '-f', join(home, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`mvn could not fetch kafka_2.13:${KAFKA_VERSION} (exit ${r.status})`);
  if (!readdirSync(libs).some((f) => f.startsWith(`kafka_2.13-${KAFKA_VERSION}`))) throw new Error(`kafka jar missing in ${libs} after mvn`);
  writeFileSync(join(home, 'log4j.properties'), LOG4J);
  writeFileSync(marker, new Date().toISOString());
  return libs;
}

/**
 * A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, as Kafka's own
 * `StorageTool random-uuid` prints it (generated here to save starting a JVM for it). Kafka
 * never hands out ids starting with "-" (they read as command-line flags), nor may we.
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface LocalBroker {
  /** host:port of the PLAINTEXT listener. */
  brokers: string;
  /** host:port of the SASL_PLAINTEXT listener, when started with `sasl`. */
  saslBrokers?: string;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * An extra SASL_PLAINTEXT listener on loopback accepting PLAIN and SCRAM-SHA-256, for testing
 * authenticated clients. Each user gets both: PLAIN through the listener's JAAS config, SCRAM
 * through credentials written into the metadata log when the storage is formatted.
 */
export interface SaslListenerOptions {
  /** username → password; letters, digits, `.`, `_` and `-` only (they are spliced into JAAS and tool arguments). */
  users: Record<string, string>;
  port?: number;
}

export interface StartOptions {
  dataDir?: string;
  port?: number;
  /** Keep the JVM running after this process exits (used by `scripts/kafka.sh start`). */
  detached?: boolean;
  heapMb?: number;
  sasl?: SaslListenerOptions;
  log?: (s: string) => void;
}

interface Ports {
  plaintext: number;
  controller: number;
  sasl?: number;
}

const SAFE_CREDENTIAL = /^[A-Za-z0-9._-]+$/;

function saslProperties(users: Record<string, string>): string[] {
  const plainUsers = Object.entries(users)
    .map(([name, password]) => `user_${name}="${password}"`)
    .join(' ');
  return [
    'listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256',
    // PLAIN checks the user_<name> entries of this JAAS line; SCRAM looks credentials up in the metadata log.
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
  ];
}

function serverProperties(dataDir: string, ports: Ports, sasl?: SaslListenerOptions): string {
  const saslListener = ports.sasl === undefined ? '' : `,SASL_PLAINTEXT://127.0.0.1:${ports.sasl}`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${ports.controller}`,
    `listeners=PLAINTEXT://127.0.0.1:${ports.plaintext},CONTROLLER://127.0.0.1:${ports.controller}${saslListener}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${ports.plaintext}${saslListener}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    ...(sasl ? saslProperties(sasl.users) : []),
    `log.dirs=${join(dataDir, 'logs')}`,
    // Single node: internal topics cannot be replicated, and few partitions keep start-up quick.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=5',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=5',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.partitions=1',
    // Compacted changelogs should compact within a test's lifetime too.
    'log.cleaner.backoff.ms=1000',
    'log.segment.bytes=16777216',
    // Kafka 4's group coordinator batches its appends (offset commits, transactional offsets) for
    // up to 10 ms by default; on this one-client-per-group loopback broker that is pure wait: the
    // bare kafkajs at-least-once passthrough ran 19.2k ev/s with it and 41.6k without (3.9.1: 41.0k).
    'group.coordinator.append.linger.ms=0',
    // Extra broker settings for experiments (key=value;key=value), e.g. a coordinator's linger.
    ...(process.env.STREAMREC_BROKER_PROPERTIES ?? '').split(';').filter((line) => line.includes('=')),
  ].join('\n');
}

/** Starts a KRaft broker on a free port (or `port`), waits until it accepts connections. */
export async function startLocalBroker(opts: StartOptions = {}): Promise<LocalBroker> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const libs = ensureKafkaJars(log);
  const home = kafkaHome();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'streamrec-kafka-'));
  mkdirSync(dataDir, { recursive: true });
  const users = Object.entries(opts.sasl?.users ?? {});
  for (const [name, password] of users)
    if (!SAFE_CREDENTIAL.test(name) || !SAFE_CREDENTIAL.test(password))
      throw new Error(`local broker SASL user ${JSON.stringify(name)}: use letters, digits, ".", "_" and "-" only`);
  const taken = new Set<number>();
  const pick = async (wanted?: number): Promise<number> => {
    let p = wanted ?? (await freePort());
    while (taken.has(p)) p = await freePort();
    taken.add(p);
    return p;
  };
  const ports: Ports = { plaintext: await pick(opts.port), controller: await pick(), sasl: opts.sasl ? await pick(opts.sasl.port) : undefined };
  const props = join(dataDir, 'server.properties');
  writeFileSync(props, serverProperties(dataDir, ports, opts.sasl));
  const cp = `${libs}/*`;
  // Written here rather than with the jars, so caches fetched before it existed get it too.
  const log4j2 = join(home, 'log4j2.properties');
  if (!existsSync(log4j2)) writeFileSync(log4j2, LOG4J2);
  const javaBase = ['-cp', cp, `-Dlog4j.configuration=file:${join(home, 'log4j.properties')}`, `-Dlog4j2.configurationFile=${log4j2}`];
  if (!existsSync(join(dataDir, 'logs', 'meta.properties'))) {
    // SCRAM credentials go into the metadata log at format time, so they exist before the broker serves.
    const scram = users.flatMap(([name, password]) => ['--add-scram', `SCRAM-SHA-256=[name=${name},password=${password}]`]);
    // A short-lived tool: the C1 compiler and the serial GC start it in about half the time.
    const tool = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', ...javaBase, 'kafka.tools.StorageTool'];
    const fmt = spawnSync('java', [...tool, 'format', '-t', clusterId(), '-c', props, ...scram], { encoding: 'utf8' });
    if (fmt.status !== 0) throw new Error(`kafka storage format failed: ${fmt.stderr || fmt.stdout}`);
  }
  const logFile = join(dataDir, 'broker.log');
  const out = openSync(logFile, 'a');
  const heap = opts.heapMb ?? 768;
  const child: ChildProcess = spawn('java', [`-Xmx${heap}m`, `-Xms${Math.min(heap, 256)}m`, '-XX:+UseG1GC', ...javaBase, 'kafka.Kafka', props], {
    stdio: ['ignore', out, out],
    detached: opts.detached ?? false,
  });
  if (opts.detached) child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn java for the Kafka broker');
  let exited = false;
  child.once('exit', () => (exited = true));
  if (!opts.detached) {
    // A broker owned by this process must not outlive it, even when it dies on an uncaught error.
    const reap = () => {
      if (!exited) child.kill('SIGKILL');
    };
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
  }
  const deadline = Date.now() + 90_000;
  for (const port of [ports.plaintext, ports.sasl]) {
    if (port === undefined) continue;
    while (!(await portOpen(port))) {
      if (exited) throw new Error(`Kafka broker exited during start-up; see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Kafka broker did not open 127.0.0.1:${port} within 90 s; see ${logFile}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    brokers: `127.0.0.1:${ports.plaintext}`,
    saslBrokers: ports.sasl === undefined ? undefined : `127.0.0.1:${ports.sasl}`,
    pid,
    dataDir,
    stop: () => stopPid(pid, () => exited),
  };
}

/** SIGTERM (Kafka shuts down cleanly on it), then SIGKILL after 20 s. */
export async function stopPid(pid: number, hasExited: () => boolean = () => !isAlive(pid)): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 20_000;
  while (!hasExited() && isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!hasExited() && isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
