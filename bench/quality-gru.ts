import { Presets, SingleBar } from 'cli-progress';
import type { SessionData } from '../src/data/sessions.ts';
import type { SessionScorer } from '../src/eval/scorer.ts';
import { initBackend } from '../src/model/backend.ts';
import { Gru4RecScorer } from '../src/eval/gru4rec-scorer.ts';
import { gru4recPreset } from '../src/model/gru4rec-config.ts';
import { trainGru4Rec } from '../src/train/trainer.ts';

export interface TrainedModel {
  scorer: SessionScorer;
  trainSeconds: number;
  trainEventsPerSec: number;
  /** What the run used, for the JSON record. */
  details: Record<string, unknown>;
}

export interface GruModel {
  key: string;
  train(dataset: string, train: SessionData, nItems: number, opts: { quick: boolean; epochs?: number }): Promise<TrainedModel>;
}

/**
 * GRU4Rec with the 100-unit presets of the official parameter files (RSC15 rows). amazon-video has
 * no published preset; it gets the same ones, so its GRU4Rec numbers are untuned.
 */
function gruModel(key: string, preset: string, name: string): GruModel {
  return {
    key,
    async train(dataset, train, nItems, opts) {
      const backend = await initBackend();
      const nEpochs = opts.epochs ?? (opts.quick ? 1 : undefined);
      const config = gru4recPreset(preset, nEpochs !== undefined ? { nEpochs } : {});
      const bar = new SingleBar(
        {
          format: `  ${name.padEnd(18)} {bar} epoch {epoch}/{nEpochs} | loss {loss} | {rate} ev/s | eta {eta}s`,
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stderr,
          noTTYOutput: true,
          notTTYSchedule: 15_000,
        },
        Presets.shades_classic,
      );
      let started = false;
      try {
        const { model, stats } = await trainGru4Rec(train, nItems, config, {
          onProgress: (p) => {
            const payload = { epoch: p.epoch, nEpochs: p.nEpochs, loss: p.loss.toFixed(4), rate: p.eventsPerSec.toFixed(0) };
            const total = p.epochTotal * p.nEpochs;
            if (!started) {
              bar.start(total, 0, payload);
              started = true;
            }
            bar.update(p.events, payload);
          },
        });
        return {
          scorer: new Gru4RecScorer(model, { name }),
          trainSeconds: stats.seconds,
          trainEventsPerSec: stats.eventsPerSec,
          details: { dataset, preset, config, backend, epochs: stats.epochs, lossHistory: stats.lossHistory, timing: stats.timing },
        };
      } finally {
        if (started) bar.stop();
      }
    },
  };
}

export const GRU_MODELS: GruModel[] = [
  gruModel('gru-xe', 'rsc15-xe-fast', 'GRU4Rec XE'),
  gruModel('gru-bprmax', 'rsc15-bprmax-fast', 'GRU4Rec BPR-max'),
  // Not in the default --models list: the mixture heads (rsc15-xe-fast but the head) and the adaptive hinge (dot head).
  gruModel('gru-mot', 'rsc15-mot-fast', 'GRU XE MoT K=4'),
  gruModel('gru-moc', 'rsc15-moc-fast', 'GRU XE MoC K=4'),
  gruModel('gru-hinge', 'rsc15-hinge-fast', 'GRU adaptive hinge'),
];
