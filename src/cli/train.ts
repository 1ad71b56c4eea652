import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { parse as parseYaml } from 'yaml';
import { gru4recPreset, REGRESSION_LOSS, validateGru4RecConfig, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { trainGru4Rec } from '../train/trainer.ts';
import { initBackend } from '../model/backend.ts';
import { saveModel } from '../registry/model-file.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { loadDatasetFile } from '../ingest/replay.ts';
import { ingestLimits } from '../ingest/click-decoder.ts';
import { makeCodecs } from '../ingest/codec.ts';
import { loadConfig } from '../config/config.ts';
import { createKafka } from '../kafka/client.ts';
import { ConfigError } from '../errors/errors.ts';
import { readCheckpoint } from '../train/continuous/checkpoint-file.ts';
import { followClicks } from '../train/continuous/click-follower.ts';
import { followOptions } from '../train/continuous/follow-options.ts';
import { RegistryTarget } from '../train/continuous/registry-target.ts';
import { StreamTrainer, type WindowReport } from '../train/continuous/stream-trainer.ts';
import { encodeOptimizerState, OPTIMIZER_BIN } from '../train/optimizer-file.ts';
import { onnxExport, startingModel, trainerSync } from './train-start.ts';
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { serveHttp } from '../metrics/http-server.ts';
import { createTelemetry } from '../metrics/telemetry.ts';
import { createTrainerStats, recordWindow, registerTrainerInstruments } from '../metrics/trainer-instruments.ts';

export interface TrainCliOptions {
  data: string;
  out: string;
  preset?: string;
  /** YAML/JSON file of Gru4RecConfig fields, applied over the preset. */
  config?: string;
  epochs?: number;
  /**
   * --cell, --head, --tastes, --regression-dim: the config fields of the same names, over the preset
   * and --config. `--head regression` sets loss: cosine too, the only loss that head trains with.
   */
  cell?: string;
  head?: string;
  tastes?: number;
  regressionDim?: number;
}

/** `streamrec train`: fits GRU4Rec on a dataset file and writes a model directory (see src/registry/model-file.ts). */
export async function runTrain(o: TrainCliOptions): Promise<void> {
  let overrides: Partial<Gru4RecConfig> = {};
  if (o.config) {
    try {
      overrides = parseYaml(readFileSync(o.config, 'utf8')) as Partial<Gru4RecConfig>;
    } catch (e) {
      throw new ConfigError('--config', `cannot read ${o.config}: ${(e as Error).message}`);
    }
  }
  if (o.epochs !== undefined) overrides = { ...overrides, nEpochs: o.epochs };
  // The model flags are config fields; the schema checks their values like any other field's.
  const flags = { cell: o.cell, head: o.head, tastes: o.tastes, regressionDim: o.regressionDim };
  for (const [field, value] of Object.entries(flags)) if (value !== undefined) overrides = { ...overrides, [field]: value };
  if (o.head === 'regression') overrides = { ...overrides, loss: REGRESSION_LOSS };
  let config: Gru4RecConfig;
  try {
    config = o.preset ? gru4recPreset(o.preset, overrides) : validateGru4RecConfig(overrides);
  } catch (e) {
    const flag = Object.keys(flags).find((f) => flags[f as keyof typeof flags] !== undefined && (e as Error).message.startsWith(`GRU4Rec config: ${f} `));
    throw new ConfigError(flag ? `--${flagName(flag)}` : '--config', (e as Error).message);
  }
  const backend = await initBackend(undefined, (m) => process.stderr.write(m + '\n'));
  const { data, index } = loadDatasetFile(o.data);
  process.stderr.write(
    `train: ${data.items.length} events, ${data.offsets.length - 1} sessions, ${index.size} items; GRU4Rec ${config.cell} ${config.head}${headSize(config)} ${config.loss} layers [${config.layers}] batch ${config.batchSize} n_sample ${config.nSample}, ${config.nEpochs} epochs on ${backend}\n`,
  );
  const bar = new SingleBar(
    { format: 'train |{bar}| epoch {epoch}/{epochs}  {value}/{total} events  loss {loss}  {rate} ev/s  eta {eta}s', hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const { model, stats, optimizer } = await trainGru4Rec(data, index.size, config, {
    keepOptimizerState: true,
    signal: abort.signal,
    onProgress: (p) => {
      const payload = { epoch: p.epoch, epochs: p.nEpochs, loss: p.loss.toFixed(4), rate: Math.round(p.eventsPerSec) };
      if (!started) {
        bar.start(p.epochTotal * p.nEpochs, p.events, payload);
        started = true;
      } else bar.update(p.events, payload);
    },
  });
  bar.stop();
  const version = `gru4rec-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  // The optimizer state goes with the weights: `train --follow --from-model` fine-tunes from it.
  const extra: Record<string, Uint8Array> = optimizer
    ? { [OPTIMIZER_BIN]: encodeOptimizerState({ optimizer: config.optimizer, momentum: config.momentum, state: optimizer }) }
    : {};
  await saveModel(
    o.out,
    { weights: model.toWeights(), itemIds: index.ids, config, version, metrics: { trainEventsPerSec: stats.eventsPerSec, trainSeconds: stats.seconds } },
    extra,
  );
  model.dispose();
  process.stderr.write(
    `train: ${stats.epochs} epochs in ${stats.seconds.toFixed(1)} s (${Math.round(stats.eventsPerSec)} events/s, step kernel ${stats.kernel.engine}${stats.kernel.provider ? ` on ${stats.kernel.provider}` : ''}${stats.kernel.reason ? `: ${stats.kernel.reason}` : ''})${stats.aborted ? ' — stopped early' : ''}; model ${version} written to ${o.out}\n`,
  );
}

/** The CLI flag of a config field: regressionDim → regression-dim. */
function flagName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The head's size in the start line: K tastes for a mixture head, E for the regression head's vectors. */
function headSize(config: Gru4RecConfig): string {
  if (config.head === 'dot') return '';
  return config.head === 'regression' ? ` E=${config.regressionDim} (item2vec targets)` : ` K=${config.tastes}`;
}

export interface TrainFollowCliOptions {
  /** Topology file (default: topologies/default.yaml or STREAMREC_TOPOLOGY). */
  topology?: string;
  /** Start from this model directory instead of the registry's current version (ignored when a checkpoint exists). */
  fromModel?: string;
  /** Checkpoint directory; default `trainer-checkpoint` beside the registry. */
  checkpoint?: string;
  /** Stops like SIGTERM (tests, embedding); SIGTERM and SIGINT always stop it. */
  signal?: AbortSignal;
}

/**
 * `streamrec train --follow`: the continuous trainer. Resumes from its checkpoint when there is
 * one (weights, optimizer, catalogue and the clicks offsets after the last trained event), else
 * starts from --from-model (reading the topic from the beginning) or the registry's promoted
 * version (reading from its trainingOffsets, where its training stopped); then fine-tunes window by window
 * until SIGTERM, when it trains what it has buffered, checkpoints and exits 0. One log line per window.
 */
export async function runTrainFollow(o: TrainFollowCliOptions): Promise<void> {
  const cfg = loadConfig(o.topology);
  const options = followOptions(cfg.train);
  const registry = new ModelRegistry(cfg.registry.path);
  const checkpointDir = resolve(o.checkpoint ?? join(dirname(registry.root), 'trainer-checkpoint'));
  const log = (line: string) => process.stderr.write(`train: ${line}\n`);
  const backend = await initBackend(undefined, log);
  const kafka = createKafka(cfg, '-trainer');
  const target = new RegistryTarget(registry, { kafka, topic: cfg.topics.modelUpdates.name }, onnxExport(cfg));
  // Metrics: the trainer's window reports on its own HTTP port (train.metricsPort) and OTLP if configured.
  const trainerStats = createTrainerStats();
  const telemetry = createTelemetry({ serviceName: 'streamrec-trainer', instanceId: `${hostname()}-${process.pid}`, ...(cfg.metrics.otlp ? { otlp: cfg.metrics.otlp } : {}) });
  registerTrainerInstruments(telemetry.meter, trainerStats);
  const onWindow = (r: WindowReport) => {
    recordWindow(trainerStats, r);
    log(windowLine(r));
  };
  const sync = await trainerSync(cfg, registry, log);
  const trainerOptions = { options, checkpointDir, target, onWindow, ...(sync ? { sync } : {}) };
  const checkpoint = await readCheckpoint(checkpointDir);
  let trainer: StreamTrainer;
  if (checkpoint) {
    trainer = new StreamTrainer(trainerOptions, checkpoint);
    log(`resuming from checkpoint ${checkpointDir}: ${checkpoint.events} events, offsets ${JSON.stringify(checkpoint.offsets)}`);
  } else {
    const start = await startingModel(registry, o.fromModel);
    trainer = new StreamTrainer(trainerOptions, start);
    const at = start.offsets ? `at its training offsets ${JSON.stringify(start.offsets)}` : 'at the beginning of the topic';
    log(`starting from ${start.from} ${at}: ${start.itemIds.length} items, ${trainer.optimizerStart}; checkpoints in ${checkpointDir}`);
  }
  log(
    `following ${cfg.topics.clicks.name} as ${cfg.groups.trainer} on ${backend}: windows of ${options.windowEvents} events, gate ${options.gateWindowEvents} (margin ${options.gateMargin}), preset ${options.preset}`,
  );
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  o.signal?.addEventListener('abort', onSignal, { once: true });
  // Served from here on, so that nothing above (a missing model, a bad checkpoint) can leave the port bound.
  let following = false;
  let endpoints: Server | null = null;
  if (cfg.train.metricsPort > 0) {
    endpoints = await serveHttp({ metrics: telemetry.metricsHandler, ready: () => following, reason: () => 'stopping' }, cfg.train.metricsPort, cfg.metrics.host).catch(
      (e: Error) => {
        trainer.dispose();
        target.dispose();
        throw new ConfigError('train.metricsPort', `cannot serve on ${cfg.metrics.host}:${cfg.train.metricsPort}: ${e.message}`);
      },
    );
    log(`metrics on http://${cfg.metrics.host}:${cfg.train.metricsPort}/metrics, probes /healthz /readyz`);
  }
  const t0 = performance.now();
  const events0 = trainer.eventCount;
  following = true;
  try {
    await followClicks(kafka, {
      topic: cfg.topics.clicks.name,
      groupId: cfg.groups.trainer,
      codecs: makeCodecs(cfg.wireFormat),
      limits: ingestLimits(cfg.ingest),
      trainer,
      signal: stop.signal,
      onFirstOffset: (p, off) => log(`partition ${p}: first offset read ${off}`),
    });
    await trainer.finish();
    const seconds = (performance.now() - t0) / 1000;
    const events = trainer.eventCount - events0;
    log(
      `stopped: ${events} events in ${seconds.toFixed(1)} s (${Math.round(events / Math.max(seconds, 1e-9))} events/s end to end), ${trainer.rejectedCount} rejected records; checkpoint at ${JSON.stringify(trainer.offsets())}`,
    );
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    trainer.dispose();
    target.dispose();
    following = false;
    await new Promise<void>((r) => (endpoints ? endpoints.close(() => r()) : r()));
    await telemetry.shutdown();
  }
}

/** One line per window: events, loss, events/s, the catalogue, and the gate's scores and decision. */
export function windowLine(r: WindowReport): string {
  const c = r.catalogue;
  let line =
    `window ${r.window} (${r.phase}): ${r.events} events, ${r.pairs} pairs, loss ${r.loss.toFixed(4)}, ${Math.round(r.eventsPerSec)} events/s; ` +
    `items ${r.nItems} (admitted ${c.admitted}, pending ${c.pending}, expired ${c.expired}, ${r.pendingEvents} events on pending items)`;
  if (r.gate) {
    const g = r.gate;
    const serving = g.serving ? `serving Recall@20 ${g.serving.recall.toFixed(4)} MRR@20 ${g.serving.mrr.toFixed(4)}` : 'nothing serving';
    line += `; gate on ${g.window} targets: candidate Recall@20 ${g.candidate.recall.toFixed(4)} MRR@20 ${g.candidate.mrr.toFixed(4)} vs ${serving}, margin ${g.margin} → ${g.passed ? `passed, published version ${r.published ?? '(no registry)'}` : 'rejected'}`;
  }
  if (r.checkpoint) line += `; checkpoint ${r.checkpoint}`;
  return line;
}
