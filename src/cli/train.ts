import { readFileSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import { parse as parseYaml } from 'yaml';
import { gru4recPreset, validateGru4RecConfig, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { trainGru4Rec } from '../train/trainer.ts';
import { initBackend } from '../model/backend.ts';
import { saveModel } from '../registry/model-file.ts';
import { loadDatasetFile } from '../ingest/replay.ts';
import { ConfigError } from '../errors/errors.ts';

export interface TrainCliOptions {
  data: string;
  out: string;
  preset?: string;
  /** YAML/JSON file of Gru4RecConfig fields, applied over the preset. */
  config?: string;
  epochs?: number;
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
  let config: Gru4RecConfig;
  try {
    config = o.preset ? gru4recPreset(o.preset, overrides) : validateGru4RecConfig(overrides);
  } catch (e) {
    throw new ConfigError('--config', (e as Error).message);
  }
  const backend = await initBackend(undefined, (m) => process.stderr.write(m + '\n'));
  const { data, index } = loadDatasetFile(o.data);
  process.stderr.write(
    `train: ${data.items.length} events, ${data.offsets.length - 1} sessions, ${index.size} items; GRU4Rec ${config.loss} layers [${config.layers}] batch ${config.batchSize} n_sample ${config.nSample}, ${config.nEpochs} epochs on ${backend}\n`,
  );
  const bar = new SingleBar(
    { format: 'train |{bar}| epoch {epoch}/{epochs}  {value}/{total} events  loss {loss}  {rate} ev/s  eta {eta}s', hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const { model, stats } = await trainGru4Rec(data, index.size, config, {
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
  await saveModel(o.out, { weights: model.toWeights(), itemIds: index.ids, config, version, metrics: { trainEventsPerSec: stats.eventsPerSec, trainSeconds: stats.seconds } });
  model.dispose();
  process.stderr.write(
    `train: ${stats.epochs} epochs in ${stats.seconds.toFixed(1)} s (${Math.round(stats.eventsPerSec)} events/s)${stats.aborted ? ' — stopped early' : ''}; model ${version} written to ${o.out}\n`,
  );
}
