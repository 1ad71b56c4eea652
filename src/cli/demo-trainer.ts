/**
 * The demo's continuous trainer: `streamrec train --follow` in a child process. A process of its
 * own because a training window is seconds of synchronous tfjs work that would stall the serving
 * event loop (latency, consumer heartbeats) if both shared one, and so that a trainer failure is
 * reported, not a demo crash. It is the real command, configured the way any deployment is: the
 * topology file plus STREAMREC_* environment overrides for the demo's namespaced topics, trainer
 * group, registry and window sizes. Its log goes to a file; each line is also handed to onLine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { StreamrecConfig } from '../config/config.ts';

/** The `streamrec` launcher: runs dist/ when built, else the sources through tsx. */
const STREAMREC_BIN = fileURLToPath(new URL('../../bin/streamrec.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Niceness of the trainer: on a small machine serving's latency comes first, training takes the spare CPU. */
const TRAINER_NICENESS = 10;
/** runTrainFollow logs this once it has its model and starts consuming. */
const READY_LINE = /^train: following /;

export interface DemoTrainerOptions {
  /** The demo's environment (KAFKA_BROKERS of the local broker included). */
  env: NodeJS.ProcessEnv;
  config: StreamrecConfig;
  topology?: string;
  windowEvents: number;
  gateWindowEvents: number;
  checkpointDir: string;
  logFile: string;
  onLine?: (line: string) => void;
}

/** The overrides that point a `train --follow` process at this demo's topics, group and registry. */
export function trainerEnv(o: Pick<DemoTrainerOptions, 'env' | 'config' | 'topology' | 'windowEvents' | 'gateWindowEvents'>): NodeJS.ProcessEnv {
  const c = o.config;
  return {
    ...o.env,
    ...(o.topology ? { STREAMREC_TOPOLOGY: o.topology } : {}),
    STREAMREC_TOPICS__CLICKS__NAME: c.topics.clicks.name,
    STREAMREC_TOPICS__MODEL_UPDATES__NAME: c.topics.modelUpdates.name,
    STREAMREC_GROUPS__TRAINER: c.groups.trainer,
    STREAMREC_REGISTRY__PATH: c.registry.path,
    STREAMREC_TRAIN__WINDOW_EVENTS: String(o.windowEvents),
    STREAMREC_TRAIN__GATE_WINDOW_EVENTS: String(o.gateWindowEvents),
    // No HTTP port: two demos (or a demo and a test) on one machine would collide on it.
    STREAMREC_TRAIN__METRICS_PORT: '0',
  };
}

export class DemoTrainer {
  private readonly child: ChildProcess;
  private readonly log: WriteStream;
  private readonly exit: Promise<number | null>;
  private exitCode: number | null | undefined = undefined;
  private readyResolve: (() => void) | null = null;
  private isReady = false;
  /** The last lines, for the report when it fails. */
  private readonly tail: string[] = [];

  constructor(o: DemoTrainerOptions) {
    this.log = createWriteStream(o.logFile);
    this.child = spawn(process.execPath, [STREAMREC_BIN, 'train', '--follow', '--checkpoint', o.checkpointDir], {
      cwd: REPO_ROOT,
      env: trainerEnv(o),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      if (this.child.pid !== undefined) setPriority(this.child.pid, TRAINER_NICENESS);
    } catch {
      // Not permitted here (some containers): it trains at serving's priority, only slower to share.
    }
    let buf = '';
    this.child.stderr!.on('data', (d: Buffer) => {
      this.log.write(d);
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.tail.push(line);
        if (this.tail.length > 20) this.tail.shift();
        if (!this.isReady && READY_LINE.test(line)) {
          this.isReady = true;
          this.readyResolve?.();
        }
        o.onLine?.(line);
      }
    });
    this.exit = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : 0);
        this.log.end();
        resolve(this.exitCode);
      });
      // A spawn failure (no node binary, say) never exits: report it as a failed exit.
      this.child.once('error', (e) => {
        this.tail.push(`spawn failed: ${e.message}`);
        this.exitCode = null;
        resolve(null);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Its last log lines (why it stopped, when it did). */
  lastLines(): string {
    return this.tail.join('\n');
  }

  /** Resolves once it consumes; rejects when it exits first or takes longer than timeoutMs. */
  ready(timeoutMs: number): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the trainer did not start within ${timeoutMs / 1000} s:\n${this.lastLines()}`)), timeoutMs);
      this.readyResolve = () => {
        clearTimeout(timer);
        resolve();
      };
      void this.exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the trainer exited (code ${code}) before it started:\n${this.lastLines()}`));
      });
    });
  }

  /**
   * Graceful stop: SIGTERM makes it train what it has buffered, checkpoint and exit 0. After a
   * Ctrl-C in a terminal the child got the same SIGINT and is already stopping, so it is given
   * `graceMs` first (a second signal during its shutdown would only race it). SIGKILL after
   * `killAfterMs` more: the checkpoint is written atomically, a kill cannot tear it.
   */
  async stop(o: { alreadySignalled: boolean; graceMs?: number; killAfterMs?: number }): Promise<number | null> {
    const waitExit = (ms: number) => Promise.race([this.exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (!this.running) return this.exitCode ?? null;
    if (o.alreadySignalled && (await waitExit(o.graceMs ?? 5000))) return this.exitCode ?? null;
    this.child.kill('SIGTERM');
    if (!(await waitExit(o.killAfterMs ?? 30_000))) this.child.kill('SIGKILL');
    return this.exit;
  }
}

/** A gate verdict, as the trainer's window line (windowLine in cli/train.ts) reports it. */
export interface GateVerdict {
  window: number;
  targets: number;
  candidateRecall: number;
  servingRecall: number | null;
  passed: boolean;
}

const GATE_LINE =
  /window (\d+) \(gate\):.*; gate on (\d+) targets: candidate Recall@20 ([\d.]+) MRR@20 [\d.]+ vs (?:serving Recall@20 ([\d.]+)|nothing serving).* → (passed|rejected)/;

/** The gate verdict in a trainer log line, or null for any other line. */
export function parseGateLine(line: string): GateVerdict | null {
  const m = GATE_LINE.exec(line);
  if (!m) return null;
  return { window: Number(m[1]), targets: Number(m[2]), candidateRecall: Number(m[3]), servingRecall: m[4] === undefined ? null : Number(m[4]), passed: m[5] === 'passed' };
}
