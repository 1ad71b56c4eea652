/**
 * The Kafka Streams anchor row of the passthrough benchmark: fetches kafka-streams 3.9.1 (pinned
 * below, independent of the broker version) from Maven Central, compiles KafkaStreamsPassthrough.java
 * once with the machine's JDK, runs it against a broker and returns its figure.
 *
 * Compiled classes are cached under the streamrec cache by Kafka version and source hash, so a
 * changed program or another Kafka version compiles again and nothing stale is ever run.
 *
 * rocksdbjni (a 50+ MB jar with native libraries, a compile-scope dependency of kafka-streams)
 * is excluded: the passthrough is stateless, so no state store is built and Kafka Streams never
 * loads RocksDB; the integration test runs the topology on this exact classpath.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamrecError } from '../../src/errors/errors.ts';
import { cacheDir } from '../../scripts/kafka/local-broker.ts';

/**
 * The anchor stays on Kafka Streams 3.9.1 whatever the broker (4.1.1 by default since the client
 * seam work): its figures are the ones the README and issue 12 compare against, and 3.9 clients
 * speak every protocol version a 4.x broker still serves.
 */
const KAFKA_VERSION = '3.9.1';

const MAIN_CLASS = 'KafkaStreamsPassthrough';
const SOURCE = new URL(`./${MAIN_CLASS}.java`, import.meta.url).pathname;
const SLF4J_VERSION = '1.7.36';

const POM = (version: string) => `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streamrec</groupId><artifactId>kafka-streams-jars</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-streams</artifactId><version>${version}</version>
      <exclusions><exclusion><groupId>org.rocksdb</groupId><artifactId>rocksdbjni</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>${SLF4J_VERSION}</version></dependency>
  </dependencies>
</project>
`;

type Log = (s: string) => void;
const stderrLog: Log = (s) => process.stderr.write(s + '\n');

function onPath(tool: string): boolean {
  return !spawnSync(tool, ['-version'], { stdio: 'ignore' }).error;
}

function streamsHome(): string {
  return join(cacheDir(), `kafka-streams-${KAFKA_VERSION}`);
}

/**
 * Why the Kafka Streams anchor cannot run on this machine (a line for the skip message), or null
 * when it can. Maven is needed only until the jars are cached.
 */
export function kafkaStreamsUnavailable(): string | null {
  const missing = ['java', 'javac'].filter((t) => !onPath(t));
  if (!existsSync(join(streamsHome(), '.complete')) && !onPath('mvn')) missing.push('mvn');
  if (missing.length === 0) return null;
  return `Kafka Streams anchor skipped: ${missing.join(', ')} not on PATH (it needs a JDK 17+, and Maven to fetch kafka-streams ${KAFKA_VERSION} once)`;
}

/** kafka-streams and its runtime dependencies (minus RocksDB) in the cache; returns the jar directory. */
export function ensureKafkaStreamsJars(log: Log = stderrLog): string {
  const home = streamsHome();
  const libs = join(home, 'libs');
  const marker = join(home, '.complete');
  if (existsSync(marker)) return libs;
  log(`kbench: fetching kafka-streams ${KAFKA_VERSION} jars from Maven Central into ${home} (first run only)…`);
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'pom.xml'), POM(KAFKA_VERSION));
  const r = spawnSync('mvn', ['-q', '-B', '-f', join(home, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new StreamrecError('internal', `mvn could not fetch org.apache.kafka:kafka-streams:${KAFKA_VERSION} (exit ${r.status})`);
  if (!readdirSync(libs).includes(`kafka-streams-${KAFKA_VERSION}.jar`)) throw new StreamrecError('internal', `kafka-streams-${KAFKA_VERSION}.jar missing in ${libs} after mvn`);
  writeFileSync(marker, new Date().toISOString());
  return libs;
}

/** The directory holding the compiled passthrough, compiling it when this source and Kafka version have not been compiled yet. */
export function ensureCompiledPassthrough(log: Log = stderrLog): { classes: string; libs: string } {
  const libs = ensureKafkaStreamsJars(log);
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(KAFKA_VERSION).update('\0').update(source).digest('hex').slice(0, 16);
  const classes = join(cacheDir(), 'kstreams-passthrough', `${KAFKA_VERSION}-${hash}`);
  if (existsSync(join(classes, `${MAIN_CLASS}.class`))) return { classes, libs };
  log(`kbench: compiling ${MAIN_CLASS}.java against kafka-streams ${KAFKA_VERSION}…`);
  mkdirSync(join(cacheDir(), 'kstreams-passthrough'), { recursive: true });
  // Compiled into a scratch directory and renamed, so an interrupted javac never leaves a half-filled cache entry.
  const scratch = mkdtempSync(join(cacheDir(), 'kstreams-passthrough', '.javac-'));
  const r = spawnSync('javac', ['--release', '17', '-Xlint:all', '-cp', `${libs}/*`, '-d', scratch, SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(scratch, { recursive: true, force: true });
    throw new StreamrecError('internal', `javac failed on ${SOURCE}:\n${r.stderr || r.stdout}`);
  }
  try {
    renameSync(scratch, classes);
  } catch (e) {
    // Another process compiled the same source meanwhile; its result is identical.
    rmSync(scratch, { recursive: true, force: true });
    if (!existsSync(join(classes, `${MAIN_CLASS}.class`))) throw e;
  }
  return { classes, libs };
}

export interface KafkaStreamsPassthroughOptions {
  brokers: string;
  input: string;
  output: string;
  /** A fresh id per run: it is the consumer group and the transactional id prefix. */
  applicationId: string;
  commitIntervalMs?: number;
  timeoutMs?: number;
  log?: Log;
}

/** What KafkaStreamsPassthrough prints (see its header for how the time is taken). */
export interface KafkaStreamsPassthroughResult {
  /** Input records, all of which were committed. */
  events: number;
  /** Records the topology processed (more than `events` only if a task was replayed after an abort). */
  processed: number;
  seconds: number;
  eventsPerSec: number;
  /** JVM start to the first record, left out of `seconds`. */
  startupMs: number;
  /** Last record processed to its offset committed: the tail of the commit interval. */
  lastProcessedToCommittedMs: number;
  commitIntervalMs: number;
  /** The stream thread's commit-total at the end: its transactions over the whole run. */
  commits: number;
  kafkaStreamsVersion: string;
  javaVersion: string;
}

/** Runs the compiled passthrough once on `input`, as a child JVM, and returns its figure. */
export async function runKafkaStreamsPassthrough(o: KafkaStreamsPassthroughOptions): Promise<KafkaStreamsPassthroughResult> {
  const log = o.log ?? stderrLog;
  const { classes, libs } = ensureCompiledPassthrough(log);
  const stateDir = mkdtempSync(join(tmpdir(), 'streamrec-kstreams-'));
  const args = [
    '-Xms256m',
    '-Xmx1g',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-Dorg.slf4j.simpleLogger.logFile=System.err',
    '-cp',
    `${classes}:${libs}/*`,
    MAIN_CLASS,
    ...['--bootstrap', o.brokers, '--input', o.input, '--output', o.output, '--application-id', o.applicationId, '--state-dir', stateDir],
    ...['--commit-interval-ms', String(o.commitIntervalMs ?? 100), '--timeout-ms', String(o.timeoutMs ?? 300_000)],
  ];
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('error', reject);
      child.once('close', (c) => resolve({ code: c, stdout, stderr }));
    });
    const line = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !line.startsWith('{')) throw new StreamrecError('internal', `${MAIN_CLASS} exited with ${code}:\n${stderr.slice(-3000) || stdout.slice(-3000)}`);
    return JSON.parse(line) as KafkaStreamsPassthroughResult;
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
