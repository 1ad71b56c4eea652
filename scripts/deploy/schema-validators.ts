/**
 * Validators for the deployment files against their published schemas, installed from PyPI on
 * first use (nothing here needs a container runtime or a cluster):
 *  - check-jsonschema, whose built-in `vendor.compose-spec` is the Compose Specification's
 *    schema.json, vendored into each release;
 *  - kubernetes-validate, which bundles the JSON schemas generated from each Kubernetes release's
 *    published OpenAPI definitions (strict variants reject unknown fields, so a typo such as
 *    `readinesProbe` fails instead of being dropped by the API server).
 * They go into a pip --target directory in the streamrec cache (STREAMREC_CACHE, default
 * ~/.cache/streamrec, as the Kafka jars), keyed by the pins and the Python version; needs python3
 * with pip. Used by test/unit/deploy-schemas.test.ts (`npm test -- deploy-schemas`).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Exact versions: a new release of a validator or of its bundled schemas is a deliberate upgrade. */
export const VALIDATOR_PINS = ['check-jsonschema==0.39.0', 'kubernetes-validate==1.37.0'] as const;

/**
 * Kubernetes releases the manifests must be valid for: the oldest still in the major providers'
 * extended support and the newest schema kubernetes-validate bundles.
 */
export const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'] as const;

export interface Validators {
  python: string;
  /** The pip --target directory, put on PYTHONPATH. */
  dir: string;
}

export interface ValidationResult {
  ok: boolean;
  /** Everything the validator printed (its verdict and each violation, with the path in the file). */
  output: string;
}

const PYTHON = process.env.STREAMREC_PYTHON ?? 'python3';

function cacheDir(): string {
  return process.env.STREAMREC_CACHE ?? join(homedir(), '.cache', 'streamrec');
}

function pythonVersion(): string {
  const r = spawnSync(PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`the deployment validators need ${PYTHON} (3.9+ with pip) on PATH: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * The validators, installed if missing. The install goes to a temporary directory renamed into
 * place when complete, so an interrupted install is never taken for a finished one (pip --target
 * trees are relocatable: everything runs as `python -m`).
 */
export function ensureValidators(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Validators {
  const py = pythonVersion();
  const key = createHash('sha256')
    .update(`${VALIDATOR_PINS.join(' ')} python${py}`)
    .digest('hex')
    .slice(0, 12);
  const dir = join(cacheDir(), `deploy-validators-${key}`);
  if (existsSync(join(dir, 'kubernetes_validate')) && existsSync(join(dir, 'check_jsonschema'))) return { python: PYTHON, dir };
  mkdirSync(cacheDir(), { recursive: true });
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  log(`deploy validators: installing ${VALIDATOR_PINS.join(', ')} from PyPI into ${dir} (once)`);
  const r = spawnSync(
    PYTHON,
    ['-m', 'pip', 'install', '--quiet', '--no-input', '--disable-pip-version-check', '--root-user-action=ignore', '--target', staging, ...VALIDATOR_PINS],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 },
  );
  if (r.error || r.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`pip install ${VALIDATOR_PINS.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
  }
  try {
    renameSync(staging, dir);
  } catch (e) {
    // Another process finished the same install first: use its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, 'kubernetes_validate'))) throw e;
  }
  return { python: PYTHON, dir };
}

function runModule(v: Validators, module: string, args: readonly string[]): ValidationResult {
  const r = spawnSync(v.python, ['-m', module, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: v.dir, PYTHONDONTWRITEBYTECODE: '1', NO_COLOR: '1' },
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** docker-compose.yml against the Compose Specification schema. */
export function validateCompose(v: Validators, file: string): ValidationResult {
  return runModule(v, 'check_jsonschema', ['--builtin-schema', 'vendor.compose-spec', '--color', 'never', file]);
}

/** Every document of each manifest against one Kubernetes release's strict schemas. */
export function validateKubernetes(v: Validators, files: readonly string[], version: string): ValidationResult {
  return runModule(v, 'kubernetes_validate', ['--strict', '--kubernetes-version', version, ...files]);
}
