/**
 * `npm run drills`: fault drills on a real local broker (started here unless KAFKA_BROKERS is
 * set), full size. Prints one row per fault and exits non-zero on any violation (a lost or
 * duplicated recommendation, a list that differs from the uninterrupted run, a dead letter
 * missing or extra, a failed check). Writes results/drills.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { startLocalBroker } from '../scripts/kafka/local-broker.ts';
import {
  brokerOutageDrill,
  type DrillResult,
  engineFailureDrill,
  poisonPillDrill,
  repeatedKillDrill,
  rollingRestartDrill,
  slowInstanceDrill,
  violations,
  zombieFencingDrill,
} from '../test/support/drills.ts';

const broker = process.env.KAFKA_BROKERS ? null : await startLocalBroker();
if (broker) process.env.KAFKA_BROKERS = broker.brokers;
const results: DrillResult[] = [];
const only = process.argv.slice(2).map(Number).filter(Number.isInteger);
let failed = 0;
try {
  const drills = [
    () => engineFailureDrill(100, 40, 5),
    () => poisonPillDrill(100, 40),
    () => zombieFencingDrill(100, 40),
    () => repeatedKillDrill(100, 40, 3),
    () => rollingRestartDrill(100, 40),
    () => slowInstanceDrill(100, 40),
    () => brokerOutageDrill(100, 40, 8000),
    () => brokerOutageDrill(100, 40, 60_000),
  ];
  for (const [i, drill] of drills.entries()) {
    if (only.length > 0 && !only.includes(i)) continue;
    const r = await drill();
    results.push(r);
    const v = violations(r);
    if (v.length > 0) failed++;
    process.stderr.write(`drill: ${r.fault}: ${v.length === 0 ? 'ok' : v.join('; ')}\n`);
  }
} finally {
  await broker?.stop();
}
const cols = ['fault', 'events in', 'expected recs', 'recs out', 'duplicates', 'lost', 'differing', 'dead letters', 'recovery ms', 'verdict'];
const rows = results.map((r) => [
  r.fault,
  r.eventsIn,
  r.expected,
  r.recommendationsOut,
  r.duplicates,
  r.lost,
  r.differing,
  `${r.deadLetters}/${r.expectedDeadLetters}`,
  r.recoveryMs,
  violations(r).length === 0 ? 'ok' : 'VIOLATION',
]);
process.stdout.write(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
mkdirSync('results', { recursive: true });
// A run of selected drills must not replace the full run's table.
writeFileSync(only.length > 0 ? 'results/drills-selected.json' : 'results/drills.json', JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
process.exit(failed > 0 ? 1 : 0);
