/**
 * Builds approximate indexes off the serving thread. The caller's item matrix is copied into
 * shared memory in slices (the serving thread yields between slices, so a 1M × 100 catalogue
 * costs a few short pauses, never one long one); a worker thread builds or extends its own native
 * index on the library's threads and saves a snapshot; the snapshot is opened read-only here and
 * returned as a new AnnIndex, to be swapped in whole. Builds run one at a time, in call order.
 *
 * The returned index keeps a reference to the caller's item matrix (to rescore candidates
 * exactly): the caller must not change that matrix afterwards; model weights never are.
 */
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { EngineError } from '../errors/errors.ts';
import type { AnnIndex, ItemMatrix } from './ann-index.ts';
import { checkItemMatrix } from './ann-index.ts';
import { type AnnSettings, resolveAnnSettings } from './ann-settings.ts';
import type { BuildReply, BuildRequest } from './build-worker.ts';
import { HnswlibIndex, hnswlibAvailability } from './hnswlib-index.ts';
import type { SearchSpace } from './search-space.ts';
import { UsearchIndex } from './usearch-index.ts';

export interface BuiltIndex {
  index: AnnIndex;
  mode: 'full' | 'incremental';
  added: number;
  /** Copying the matrix into shared memory (serving thread, in slices). */
  copyMs: number;
  /** Worker: building or extending the native index. */
  buildMs: number;
  /** Worker: writing the snapshot. */
  saveMs: number;
  /** Serving thread: opening the snapshot (memory-mapping for usearch). */
  openMs: number;
  totalMs: number;
  /** Snapshot size in bytes (≈ the index's memory). */
  bytes: number;
  /** The snapshot file and its search space, when the build was asked to keep it (benchmarks reopen it with other search settings). */
  snapshot?: { path: string; space: SearchSpace };
}

export interface AnnIndexBuilderOptions {
  /** Where snapshots are written (default: a fresh folder under the OS temp dir, removed by close()). */
  dir?: string;
}

/** Floats copied per slice before yielding to the event loop (16 MB: a few ms). */
const COPY_SLICE = 4 << 20;

async function toShared(src: Float32Array, length: number): Promise<Float32Array> {
  const dst = new Float32Array(new SharedArrayBuffer(length * 4));
  for (let start = 0; start < length; start += COPY_SLICE) {
    const end = Math.min(length, start + COPY_SLICE);
    dst.set(src.subarray(start, end), start);
    if (end < length) await new Promise((resolve) => setImmediate(resolve));
  }
  return dst;
}

/**
 * The production build runs build-worker.js beside this file. Under tsx (development, tests,
 * benchmarks) this file is .ts and Node 20 does not carry tsx's loader into worker threads, so
 * the worker first registers it, then imports the .ts entry.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./build-worker.js', import.meta.url));
  const entry = new URL('./build-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true });
}

export class AnnIndexBuilder {
  readonly settings: AnnSettings;
  private readonly dir: string;
  private readonly ownsDir: boolean;
  private worker: Worker | null = null;
  private pending: { job: number; resolve: (r: BuildReply) => void; reject: (e: Error) => void } | null = null;
  private jobs = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(settings: Partial<AnnSettings> = {}, opts: AnnIndexBuilderOptions = {}) {
    this.settings = resolveAnnSettings(settings);
    if (this.settings.library === 'hnswlib') {
      const a = hnswlibAvailability();
      if (!a.available) throw new Error(a.reason);
    }
    this.ownsDir = opts.dir === undefined;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'streamrec-ann-'));
  }

  /**
   * An index over items. With incremental (default true) and items that only append rows to the
   * previous build's matrix, the worker adds just those rows; otherwise it rebuilds.
   */
  build(items: ItemMatrix, opts: { incremental?: boolean; keepSnapshot?: boolean } = {}): Promise<BuiltIndex> {
    if (this.closed) return Promise.reject(new Error('ann builder: build() after close()'));
    checkItemMatrix(items, this.settings.metric);
    const run = this.queue.then(() => this.runBuild(items, opts.incremental ?? true, opts.keepSnapshot ?? false));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runBuild(items: ItemMatrix, allowIncremental: boolean, keepSnapshot: boolean): Promise<BuiltIndex> {
    const t0 = performance.now();
    const vectors = await toShared(items.vectors, items.count * items.dim);
    const bias = items.bias ? await toShared(items.bias, items.count) : undefined;
    const copyMs = performance.now() - t0;
    const job = ++this.jobs;
    const path = join(this.dir, `index-${process.pid}-${job}.bin`);
    const request: BuildRequest = { job, settings: this.settings, vectors, bias, count: items.count, dim: items.dim, path, allowIncremental };
    const reply = await this.send(request);
    if (!reply.ok) throw new EngineError(`ann builder: ${this.settings.library} build failed: ${reply.message}`);
    const t1 = performance.now();
    let index: AnnIndex;
    try {
      index =
        this.settings.library === 'usearch'
          ? UsearchIndex.open(reply.path, reply.space, items, this.settings, 'view')
          : await HnswlibIndex.open(reply.path, reply.space, items, this.settings);
    } finally {
      // A memory-mapped file stays readable after unlink; the space is freed when the index is.
      if (!keepSnapshot) unlinkSync(reply.path);
    }
    const openMs = performance.now() - t1;
    return {
      index,
      mode: reply.mode,
      added: reply.added,
      copyMs,
      buildMs: reply.buildMs,
      saveMs: reply.saveMs,
      openMs,
      totalMs: performance.now() - t0,
      bytes: reply.bytes,
      snapshot: keepSnapshot ? { path: reply.path, space: reply.space } : undefined,
    };
  }

  private send(request: BuildRequest): Promise<BuildReply> {
    const worker = this.ensureWorker();
    worker.ref();
    return new Promise<BuildReply>((resolve, reject) => {
      this.pending = { job: request.job, resolve, reject };
      worker.postMessage(request);
    }).finally(() => {
      this.pending = null;
      this.worker?.unref();
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker();
    worker.on('message', (reply: BuildReply) => {
      if (this.pending?.job === reply.job) this.pending.resolve(reply);
    });
    const fail = (err: Error) => {
      // The worker's native index is lost with it: the next build starts a fresh worker and rebuilds fully.
      if (this.worker === worker) this.worker = null;
      this.pending?.reject(new EngineError(`ann builder: build worker failed: ${err.message}`, { cause: err }));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Stops the worker and removes the snapshot folder (when this builder made it). Built indexes stay usable. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
