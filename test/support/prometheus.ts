/**
 * Test harness for the real Prometheus server (Debian's `prometheus` package) and for reading
 * the text exposition format: install it if missing (apt-get, as root), run it on loopback with
 * a temporary scrape config and storage, query it through its HTTP API (/api/v1/query), and
 * parse a /metrics scrape into samples.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROMETHEUS_BIN = '/usr/bin/prometheus';

/**
 * The prometheus binary, installed from Debian's package when it is missing and this process
 * may install packages (root); otherwise a reason to skip, to print.
 */
export function ensurePrometheus(log: (line: string) => void = () => undefined): { bin: string } | { skip: string } {
  if (existsSync(PROMETHEUS_BIN)) return { bin: PROMETHEUS_BIN };
  if (process.getuid?.() !== 0) return { skip: `prometheus is not installed (${PROMETHEUS_BIN}) and this user cannot install it: run \`apt-get install prometheus\` as root` };
  log('installing Debian prometheus (apt-get) ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update', '-q'], { env, stdio: 'ignore', timeout: 300_000 });
    // --no-install-recommends: the server binary only, not the node exporter and its services.
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'prometheus'], { env, stdio: 'ignore', timeout: 600_000 });
  } catch (e) {
    return { skip: `apt-get install prometheus failed: ${(e as Error).message.split('\n', 1)[0]}` };
  }
  // The package starts a system service on :9090 where an init system runs; the tests use their own server.
  return existsSync(PROMETHEUS_BIN) ? { bin: PROMETHEUS_BIN } : { skip: `apt-get installed prometheus but ${PROMETHEUS_BIN} is missing` };
}

export function prometheusVersion(bin: string): string {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return /version (\S+)/.exec(out)?.[1] ?? 'unknown';
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningPrometheus {
  /** Base URL of its HTTP API, http://127.0.0.1:PORT. */
  url: string;
  /** Last lines of its log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `targets` (host:port) every `scrapeIntervalMs`, storage in a fresh
 * temp dir, listening on a free loopback port; resolves once it reports ready.
 */
export async function startPrometheus(bin: string, targets: readonly string[], o: { scrapeIntervalMs?: number; job?: string } = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-prometheus-'));
  const interval = `${o.scrapeIntervalMs ?? 1000}ms`;
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${o.job ?? 'streamrec'}`,
    `    scrape_interval: ${interval}`,
    `    scrape_timeout: ${interval}`,
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const child: ChildProcess = spawn(
    bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const lines: string[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    lines.push(...d.toString('utf8').split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 40));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${lines.join('\n')}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 60 s: ${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, log: () => lines.join('\n'), stop };
}

export interface VectorSample {
  metric: Record<string, string>;
  value: number;
}

/** An instant query through /api/v1/query; the result must be a vector. */
export async function query(prometheusUrl: string, promql: string): Promise<VectorSample[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success' || !body.data) throw new Error(`query ${promql}: ${body.error ?? res.status}`);
  if (body.data.resultType !== 'vector') throw new Error(`query ${promql}: expected a vector, got ${body.data.resultType}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Health of the scrape targets (/api/v1/targets): "up" once scraped, with the last error if any. */
export async function targets(prometheusUrl: string): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>> {
  const body = (await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> } };
  return body.data.activeTargets;
}

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ExpositionFamily {
  type?: string;
  unit?: string;
  help?: string;
}

/**
 * Parses the Prometheus text format (0.0.4, plus the `# UNIT` lines the OTel exporter writes):
 * samples with unescaped label values, and per family its TYPE, UNIT and HELP. Throws on a line
 * that is neither, so a broken exposition fails the test rather than being skipped.
 */
export function parseExposition(text: string): { samples: ExpositionSample[]; families: Map<string, ExpositionFamily> } {
  const samples: ExpositionSample[] = [];
  const families = new Map<string, ExpositionFamily>();
  const family = (name: string) => families.get(name) ?? families.set(name, {}).get(name)!;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]);
      if (meta[1] === 'HELP') f.help = meta[3];
      else if (meta[1] === 'TYPE') f.type = meta[3];
      else f.unit = meta[3];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels: parseLabels(m[2] ?? '', line), value: m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]) });
  }
  return { samples, families };
}

function parseLabels(s: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) throw new Error(`bad label set in ${JSON.stringify(line)} at ${at}`);
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    at = re.lastIndex;
  }
  return labels;
}
