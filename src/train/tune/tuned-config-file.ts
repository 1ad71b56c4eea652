import { readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ConfigError } from '../../errors/errors.ts';
import { GRU4REC_PRESETS, type Gru4RecConfig, gru4recPreset, validateGru4RecConfig } from '../../model/gru4rec-config.ts';
import { ItemKnnParamsSchema, SessionKnnParamsSchema, type ItemKnnParams, type SessionKnnParams } from './knn-target.ts';

export const TUNE_MODELS = ['gru4rec', 'sknn', 'iknn'] as const;
export type TuneModel = (typeof TUNE_MODELS)[number];

/** The config type each tunable model is searched over. */
export interface TuneConfigOf {
  gru4rec: Gru4RecConfig;
  sknn: SessionKnnParams;
  iknn: ItemKnnParams;
}

/**
 * The file a tuned config is written to and a start config read from.
 *  - gru4rec: the Gru4RecConfig fields at top level, i.e. exactly what `streamrec train --config`
 *    reads (every field written, so no default can drift in under it);
 *  - sknn / iknn: `model: sknn|iknn` and `params:` (SessionKnnOptions / ItemKnnOptions fields).
 * A `#` comment header says where it came from; YAML readers ignore it.
 */
export function tunedConfigYaml<M extends TuneModel>(model: M, config: TuneConfigOf[M], header: readonly string[]): string {
  const body = model === 'gru4rec' ? stringifyYaml(config) : stringifyYaml({ model, params: config });
  return `${header.map((l) => `# ${l}`).join('\n')}\n${body}`;
}

export function writeTunedConfig<M extends TuneModel>(path: string, model: M, config: TuneConfigOf[M], header: readonly string[]): void {
  writeFileSync(path, tunedConfigYaml(model, config, header));
}

/** A start config: a file as written above, or (gru4rec) a preset name. Errors name the file and field. */
export function readStartConfig<M extends TuneModel>(model: M, source: string): TuneConfigOf[M] {
  if (model === 'gru4rec' && source in GRU4REC_PRESETS) return gru4recPreset(source) as TuneConfigOf[M];
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(source, 'utf8'));
  } catch (e) {
    const known = model === 'gru4rec' ? ` (nor a preset: ${Object.keys(GRU4REC_PRESETS).join(', ')})` : '';
    throw new ConfigError('--from', `cannot read ${source}${known}: ${(e as Error).message}`);
  }
  return parseTunedConfig(model, parsed ?? {}, source);
}

/** Validates a parsed start/tuned config for `model`. */
export function parseTunedConfig<M extends TuneModel>(model: M, parsed: unknown, source: string): TuneConfigOf[M] {
  if (model === 'gru4rec') {
    try {
      return validateGru4RecConfig(parsed as Record<string, unknown>) as TuneConfigOf[M];
    } catch (e) {
      throw new ConfigError('--from', `${source}: ${(e as Error).message}`);
    }
  }
  const file = parsed as { model?: unknown; params?: unknown };
  if (typeof file !== 'object' || file === null || file.model !== model)
    throw new ConfigError('--from', `${source}: expected "model: ${model}" and "params:", got model ${JSON.stringify(file?.model)}`);
  const schema = model === 'sknn' ? SessionKnnParamsSchema : ItemKnnParamsSchema;
  const result = schema.safeParse(file.params ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError('--from', `${source}: params.${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data as TuneConfigOf[M];
}
