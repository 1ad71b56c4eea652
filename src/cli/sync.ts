/**
 * `streamrec sync status|pause|resume|rollback`: the operator's override of incremental sync
 * (train.sync). The switch is the registry's sync.json, which every serving process reads at its
 * next poll (train.sync.pollMs): pause stops applying deltas (of every base), resume applies the
 * chain again from where each process stopped, rollback sends every process on a delta back to
 * its snapshot and pauses (recorded in rollbacks.jsonl). Nothing here needs the broker.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type StreamrecConfig } from '../config/config.ts';
import { UsageError } from '../errors/errors.ts';
import { DeltaStore } from '../registry/delta-store.ts';
import { ModelRegistry } from '../registry/model-registry.ts';

const SYNC_USAGE = 'sync needs a subcommand: status | pause | resume | rollback  [--topology F] [--reason TEXT]';

/** `streamrec sync <subcommand> [options]`; `args` are the words after "sync". */
export async function runSyncCommand(args: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { topology: { type: 'string' }, reason: { type: 'string' } }, strict: true });
  if (sub === undefined || !['status', 'pause', 'resume', 'rollback'].includes(sub))
    throw new UsageError(sub === undefined ? SYNC_USAGE : `unknown sync subcommand "${sub}"; ${SYNC_USAGE}`);
  await runSync(loadConfig(values.topology), sub as 'status' | 'pause' | 'resume' | 'rollback', write, values.reason);
}

export async function runSync(config: StreamrecConfig, action: 'status' | 'pause' | 'resume' | 'rollback', write: (text: string) => void, reason?: string): Promise<void> {
  const registry = new ModelRegistry(config.registry.path);
  const store = new DeltaStore(registry);
  const control = await store.control();
  const current = await registry.current();
  const now = Date.now();
  switch (action) {
    case 'status': {
      const seqs = current === null ? [] : await store.seqs(current);
      const rollbacks = await store.rollbacks();
      write(
        `sync ${config.train.sync.enabled ? 'enabled' : 'disabled (train.sync.enabled: false)'}; current version ${current ?? 'none'}, ${seqs.length} deltas (last ${seqs.at(-1) ?? '-'}); ` +
          `${control.paused ? `PAUSED${control.base === undefined ? '' : ` for version ${control.base}`}: ${control.reason}` : 'applying deltas'}; ${rollbacks.length} rollbacks recorded\n`,
      );
      for (const r of rollbacks.slice(-5))
        write(
          `  ${r.at} ${r.trigger} v${r.base}+d${r.fromSeq} → v${r.base}${r.deltaRecall === null ? '' : ` (Recall@20 ${r.deltaRecall.toFixed(4)} vs ${r.snapshotRecall?.toFixed(4)})`} by ${r.instance}\n`,
        );
      return;
    }
    case 'pause':
      await store.setControl({ ...control, paused: true, base: undefined, reason: reason ?? 'paused by streamrec sync pause', at: now });
      write('sync: deltas paused for every version; serving processes stop applying them at their next poll\n');
      return;
    case 'resume':
      await store.setControl({
        paused: false,
        reason: reason ?? 'resumed by streamrec sync resume',
        at: now,
        ...(control.rollbackAt === undefined ? {} : { rollbackAt: control.rollbackAt }),
      });
      write('sync: deltas resumed; serving processes apply the chain from where they stopped\n');
      return;
    case 'rollback': {
      if (current === null) throw new UsageError(`sync rollback: the registry ${registry.root} has no current version`);
      const seqs = await store.seqs(current);
      await store.setControl({ paused: true, base: current, reason: reason ?? 'manual rollback (streamrec sync rollback)', at: now, rollbackAt: now });
      await store.recordRollback({
        at: new Date(now).toISOString(),
        trigger: 'manual',
        base: current,
        fromSeq: seqs.at(-1) ?? 0,
        snapshotRecall: null,
        deltaRecall: null,
        windowTargets: null,
        instance: 'streamrec sync rollback',
      });
      write(`sync: serving processes go back to version ${current} (its snapshot) and pause its deltas; a new snapshot or streamrec sync resume ends the pause\n`);
      return;
    }
  }
}
