/**
 * streamrec command line. One binary, a few verbs:
 *   streamrec demo     [--rate N] [--limit N]                 local broker + replay + serving, live metrics
 *   streamrec serve    [--topology file] [--instance id]      run the serving topology against KAFKA_BROKERS
 *   streamrec produce  --data file|--synthetic N [--rate N]   replay a dataset (or synthetic clicks) to the clicks topic
 *   streamrec model    list | promote --version N             the model registry's versions; promote (or roll back) one
 *   streamrec monitor  [--metrics-port N]                     online Recall@k / MRR@k of any recommender, from the topics
 *   streamrec tune     --data dir [--model M] [--budget 10m]   hyperparameter search on a validation split, best config as YAML
 * Configuration: topologies/default.yaml (or --topology / STREAMREC_TOPOLOGY), overridden by env
 * (KAFKA_BROKERS, STREAMREC_<PATH>); a bad config stops here with the field's name.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import { ConfigError, describeError, EXIT_CODES, StreamrecError, UsageError } from '../errors/errors.ts';
import { runDemo } from './demo.ts';
import { runProduce } from './produce.ts';
import { runServe } from './serve.ts';
import { runTrain, runTrainFollow } from './train.ts';
import { runEval } from './eval.ts';
import { runModelCommand } from './model.ts';
import { runSyncCommand } from './sync.ts';
import { runMonitor } from './monitor.ts';
import { runTune } from './tune.ts';

const USAGE = `usage: streamrec <command> [options]

commands:
  demo      local Kafka broker; rsc15-100k training days published, GRU4Rec trained from the topic,
            the test day replayed live and served; online Recall@20 printed live
            --rate <events/s> (default 300; 0 = full speed)  --limit <events>  --out <summary.json>
            --model gru4rec|cooccurrence (default gru4rec)  --epochs N (default 1)  --preset NAME (default rsc15-xe-fast)
            the continuous trainer runs beside serving (--no-trainer: frozen model; --follow-window N events)
  serve     serving topology on KAFKA_BROKERS (Ctrl-C stops gracefully)
            --instance <id> (default 0; keep stable per process for exactly-once fencing)
  train     fit GRU4Rec on a dataset file and write a model directory
            --data <file.tsv|sequences.txt>  --out <dir>  [--preset rsc15-xe-fast|rsc15-bprmax-fast|rsc15-xe|rsc15-bprmax]
            [--config <gru4rec.yaml>] [--epochs N] [--cell gru|lstm|mlstm]
            [--head dot|mixture-of-tastes|mixture-of-cosines|regression] [--tastes K] [--regression-dim E]
  train --follow  continuous training from the clicks topic: windows of train.windowEvents, a
            held-out gate window, publish + promote + announce when the gate passes; checkpoints
            [--from-model DIR] (else the registry's current version) [--checkpoint DIR]
  eval      offline evaluation (GRU4Rec protocol, or leave-one-out) of trained models and baselines
            --train <train.tsv> --test <test.tsv> | --data <sequences.txt>
            [--model <dir>]... [--baselines pop,iknn,sknn,i2v] [--out result.json] [--png recall.png]
  tune      hyperparameter search on a validation split (train_tr/train_valid, leave-one-out's
            validation item, or the last day of the training data), with a progress bar; prints every
            trial's params, Recall@20, MRR@20 and seconds, writes the best config as YAML
            --data <dir|file> | --train <file> --valid <file>  [--model gru4rec|sknn|iknn] [--budget 10m]
            [--trials N] [--trial-time 150s] [--search random|bayes] [--seed N] [--out best.yaml]
            [--from <config.yaml>|<preset>] [--epochs N]
  export    write the serving graph (one GRU step + scoring + top-K) of a model as ONNX
            --model <dir>  --out <file.onnx>  [--topk 20]
  produce   replay clicks to the clicks topic with a progress bar
            --data <file.tsv|sequences.txt> | --synthetic <sessions> [--items N]  --rate <events/s>  --limit N
  model list
            the registry's versions (registry.path): parent, created, items, gate Recall@20
            candidate/serving, passed; * marks the current one
  model promote --version N
            verify version N, make it CURRENT and announce it on topics.modelUpdates (every
            serving process with model.kind registry swaps to it); rollback = promote an earlier N
  sync      status | pause | resume | rollback  [--reason TEXT]
            incremental sync's override (train.sync): pause/resume applying deltas, or send
            serving back to the current snapshot and pause (recorded in rollbacks.jsonl)
  monitor   online Recall@k / MRR@k (k = 5, 10, 20) per model version of whatever writes the
            recommendations topic: joins each click with the list emitted for it (group groups.monitor,
            read_committed), exports the same series as serving, plus missing recommendations
            --metrics-port <N> (default monitor.metricsPort; 0 = no HTTP endpoints)

global options:
  --topology <file.yaml>   deployment config (default topologies/default.yaml)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (cmd === 'model') {
    await runModelCommand(rest);
    return EXIT_CODES.ok;
  }
  if (cmd === 'sync') {
    await runSyncCommand(rest);
    return EXIT_CODES.ok;
  }

  const { values } = parseArgs({
    args: rest,
    options: {
      topology: { type: 'string' },
      rate: { type: 'string' },
      limit: { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string' },
      synthetic: { type: 'string' },
      items: { type: 'string' },
      instance: { type: 'string' },
      preset: { type: 'string' },
      model: { type: 'string', multiple: true },
      train: { type: 'string' },
      test: { type: 'string' },
      baselines: { type: 'string' },
      png: { type: 'string' },
      config: { type: 'string' },
      epochs: { type: 'string' },
      topk: { type: 'string' },
      follow: { type: 'boolean' },
      'no-trainer': { type: 'boolean' },
      'follow-window': { type: 'string' },
      'from-model': { type: 'string' },
      checkpoint: { type: 'string' },
      'metrics-port': { type: 'string' },
      valid: { type: 'string' },
      budget: { type: 'string' },
      trials: { type: 'string' },
      'trial-time': { type: 'string' },
      search: { type: 'string' },
      seed: { type: 'string' },
      from: { type: 'string' },
      cell: { type: 'string' },
      head: { type: 'string' },
      tastes: { type: 'string' },
      'regression-dim': { type: 'string' },
    },
    strict: true,
  });
  const num = (name: string, v: string | undefined, dflt?: number): number | undefined => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new ConfigError(`--${name}`, `expected a non-negative number, got "${v}"`);
    return n;
  };
  switch (cmd) {
    case 'demo': {
      const model = values.model?.[0] ?? 'gru4rec';
      if (model !== 'gru4rec' && model !== 'cooccurrence') throw new ConfigError('--model', `expected gru4rec or cooccurrence, got "${model}"`);
      const summary = await runDemo({
        // 300/s: slow enough for the continuous trainer beside serving on a small machine to keep
        // up, so its promotions swap in while the stream still runs.
        rate: num('rate', values.rate, 300)!,
        limit: num('limit', values.limit),
        topology: values.topology,
        model,
        epochs: num('epochs', values.epochs, 1)!,
        preset: values.preset ?? 'rsc15-xe-fast',
        trainer: !values['no-trainer'],
        followWindow: num('follow-window', values['follow-window']),
      });
      if (values.out) (await import('node:fs')).writeFileSync(values.out, JSON.stringify(summary, null, 2));
      return 0;
    }
    case 'serve':
      await runServe(loadConfig(values.topology), values.instance ?? '0');
      return 0;
    case 'train':
      if (values.follow) {
        await runTrainFollow({ topology: values.topology, fromModel: values['from-model'], checkpoint: values.checkpoint });
        return EXIT_CODES.ok;
      }
      if (!values.data || !values.out) throw new UsageError('train needs --data <file> and --out <dir>');
      await runTrain({
        data: values.data,
        out: values.out,
        preset: values.preset,
        config: values.config,
        epochs: num('epochs', values.epochs),
        cell: values.cell,
        head: values.head,
        tastes: num('tastes', values.tastes),
        regressionDim: num('regression-dim', values['regression-dim']),
      });
      return 0;
    case 'eval':
      await runEval({
        train: values.train,
        test: values.test,
        data: values.data,
        models: values.model ?? [],
        baselines: (values.baselines ?? (values.model ? '' : 'pop,iknn,sknn')).split(',').filter(Boolean),
        out: values.out,
        png: values.png,
      });
      return 0;
    case 'tune':
      await runTune({
        data: values.data,
        train: values.train,
        valid: values.valid,
        model: values.model?.[0],
        budget: values.budget,
        trials: num('trials', values.trials),
        trialTime: values['trial-time'],
        search: values.search,
        seed: num('seed', values.seed),
        out: values.out,
        from: values.from,
        epochs: num('epochs', values.epochs),
      });
      return EXIT_CODES.ok;
    case 'export': {
      const modelDir = values.model?.[0];
      if (!modelDir || !values.out) throw new UsageError('export needs --model <dir> and --out <file.onnx>');
      const { loadModel } = await import('../registry/model-file.ts');
      const { exportOnnx } = await import('../engine/onnx/graph-builder.ts');
      const m = await loadModel(modelDir);
      const bytes = exportOnnx(m.weights, { topK: Math.min(num('topk', values.topk, 20)!, m.weights.arch.nItems) });
      (await import('node:fs')).writeFileSync(values.out, bytes);
      process.stderr.write(
        `export: ${values.out} (${(bytes.length / 1e6).toFixed(1)} MB; inputs item int64[batch], h0..h${m.weights.arch.hiddenSizes.length - 1}; outputs h*_next, topk_scores, topk_indices)\n`,
      );
      return 0;
    }
    case 'monitor': {
      const port = num('metrics-port', values['metrics-port']);
      if (port !== undefined && (!Number.isInteger(port) || port > 65_535))
        throw new ConfigError('--metrics-port', `expected a port in [0, 65535], got "${values['metrics-port']}"`);
      await runMonitor(loadConfig(values.topology), { metricsPort: port });
      return EXIT_CODES.ok;
    }
    case 'produce':
      await runProduce(loadConfig(values.topology), {
        data: values.data,
        synthetic: num('synthetic', values.synthetic),
        items: num('items', values.items, 10_000)!,
        rate: num('rate', values.rate, 1000)!,
        limit: num('limit', values.limit),
      });
      return 0;
    default:
      process.stderr.write(`streamrec: unknown command "${cmd}"\n\n${USAGE}`);
      return EXIT_CODES.usage;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  // Known failures end with one line naming the file, field or peer, and an exit code a
  // supervisor can act on (README: Exit codes); anything else is a bug and keeps its stack.
  if (e instanceof StreamrecError) {
    process.stderr.write(`streamrec: ${describeError(e)}\n`);
    process.exitCode = e.exitCode;
  } else if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`streamrec: ${(e as Error).message}\n`);
    process.exitCode = EXIT_CODES.usage;
  } else {
    process.stderr.write(`streamrec: ${(e as Error).stack ?? e}\n`);
    process.exitCode = EXIT_CODES.internal;
  }
}
// A client that does not close its sockets must not keep a finished command alive (a serving
// process that stopped on a fatal error has to exit for its supervisor to restart it).
setTimeout(() => process.exit(), 3000).unref();
