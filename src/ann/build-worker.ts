/**
 * Worker-thread entry of AnnIndexBuilder: builds (or extends) the index on its own thread and the
 * library's native threads, saves a snapshot, and answers with the snapshot's path. The serving
 * thread never waits on a build. Messages are BuildRequest in, BuildReply out.
 */
import { parentPort } from 'node:worker_threads';
import type { AnnSettings } from './ann-settings.ts';
import { type BuildReport, IndexBuildState } from './index-build-state.ts';

export interface BuildRequest {
  job: number;
  settings: AnnSettings;
  /** Backed by SharedArrayBuffers: the builder copies the caller's matrix once, the worker reads it in place. */
  vectors: Float32Array;
  bias?: Float32Array;
  count: number;
  dim: number;
  path: string;
  allowIncremental: boolean;
}

export type BuildReply = ({ ok: true } & BuildReport & { job: number }) | { ok: false; job: number; message: string };

const port = parentPort;
if (!port) throw new Error('ann build worker: must run in a worker thread');
const state = new IndexBuildState();
port.on('message', (req: BuildRequest) => {
  let reply: BuildReply;
  try {
    const report = state.build({ vectors: req.vectors, bias: req.bias, count: req.count, dim: req.dim }, req.settings, req.path, req.allowIncremental);
    reply = { ok: true, job: req.job, ...report };
  } catch (err) {
    reply = { ok: false, job: req.job, message: (err as Error).message };
  }
  port.postMessage(reply);
});
