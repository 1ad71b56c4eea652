/**
 * `streamrec model list|promote`: the operator's view of the registry. list shows every version
 * with its lineage and gate scores; promote verifies a version, points CURRENT at it and
 * announces it on topics.modelUpdates, so every serving process swaps to it. Rolling back is
 * promoting an earlier version.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type StreamrecConfig } from '../config/config.ts';
import { BrokerUnavailableError, ConfigError, describeError, UsageError } from '../errors/errors.ts';
import { createKafka, ensureTopics } from '../kafka/client.ts';
import { type ListedVersion, ModelRegistry } from '../registry/model-registry.ts';
import { announceModel } from '../registry/model-updates.ts';

const MODEL_USAGE = 'model needs a subcommand: list [--topology F] | promote --version N [--topology F]';

/** `streamrec model <subcommand> [options]`; `args` are the words after "model". */
export async function runModelCommand(args: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { topology: { type: 'string' }, version: { type: 'string' } }, strict: true });
  switch (sub) {
    case 'list':
      await runModelList(loadConfig(values.topology), write);
      return;
    case 'promote': {
      if (values.version === undefined) throw new UsageError('model promote needs --version N');
      await runModelPromote(loadConfig(values.topology), parseVersion(values.version), write);
      return;
    }
    default:
      throw new UsageError(sub === undefined ? MODEL_USAGE : `unknown model subcommand "${sub}"; ${MODEL_USAGE}`);
  }
}

export function parseVersion(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new ConfigError('--version', `expected a version number (1, 2, …), got "${text}"`);
  return Number(text);
}

export async function runModelList(config: StreamrecConfig, write: (text: string) => void): Promise<void> {
  const registry = new ModelRegistry(config.registry.path);
  const [versions, current] = await Promise.all([registry.list(), registry.current()]);
  write(versions.length === 0 ? `no versions in ${registry.root}\n` : formatVersionTable(versions, current));
}

/** Verifies, writes CURRENT, then announces: a failed announcement leaves CURRENT moved, and running promote again announces it. */
export async function runModelPromote(config: StreamrecConfig, version: number, write: (text: string) => void): Promise<void> {
  const registry = new ModelRegistry(config.registry.path);
  const previous = await registry.current();
  const model = await registry.load(version);
  await registry.promote(version);
  const topic = config.topics.modelUpdates.name;
  try {
    const kafka = createKafka(config, '-model-cli');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, config);
    } finally {
      await admin.disconnect();
    }
    await announceModel(kafka, topic, { version, vocabularyHash: model.vocabularyHash, weightsHash: model.weightsHash, announcedAt: Date.now() });
  } catch (e) {
    throw new BrokerUnavailableError(
      `CURRENT names version ${version} now, but announcing it on ${topic} failed (serving processes keep their model; run the promote again): ${describeError(e)}`,
      {
        cause: e,
      },
    );
  }
  write(`promoted version ${version} (was ${previous ?? 'none'}); announced on ${topic}\n`);
}

const COLUMNS = ['', 'VERSION', 'PARENT', 'CREATED', 'ITEMS', 'GATE R@20 CAND/SERV', 'PASSED'] as const;

/** One line per version, columns aligned; `*` marks the current one, a broken version shows why. */
export function formatVersionTable(versions: readonly ListedVersion[], current: number | null): string {
  const rows = versions.map((v) => {
    if (v.error !== undefined) return [v.version === current ? '*' : '', String(v.version), '', '', '', '', `BROKEN: ${v.error}`];
    const gate = v.gate ? `${v.gate.candidate.recall.toFixed(3)}/${v.gate.serving ? v.gate.serving.recall.toFixed(3) : '-'}` : '-';
    return [
      v.version === current ? '*' : '',
      String(v.version),
      v.parent === null ? '-' : String(v.parent),
      v.createdAt,
      String(v.nItems),
      gate,
      v.gate ? (v.gate.passed ? 'yes' : 'no') : '-',
    ];
  });
  const all = [[...COLUMNS], ...rows];
  // The last column is not padded: it holds the (long) reason of a broken version.
  const widths = COLUMNS.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all
    .map(
      (r) =>
        r
          .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}
