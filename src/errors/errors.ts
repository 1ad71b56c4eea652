/**
 * One error hierarchy for the whole process (as kafkajs has KafkaJSError): every failure that
 * reaches a boundary says what kind it is, whether trying again can help, and what caused it.
 * The CLI maps the kind to an exit code (sysexits.h, so supervisors can tell a bad deployment
 * from a transient outage); the serving loop maps input errors to dead-letter kinds.
 */

/** Exit codes of `streamrec` (sysexits.h values where one fits). */
export const EXIT_CODES = {
  ok: 0,
  /** An unexpected failure: a bug, or an error without a kind. */
  internal: 1,
  /** Bad command line. */
  usage: 64,
  /** A data file or model directory exists but is malformed. */
  dataFile: 65,
  /** An input file (data, model directory) is missing or unreadable. */
  noInput: 66,
  /** The Kafka cluster cannot be reached or stays unavailable. */
  brokerUnavailable: 69,
  /** The process lost its right to write (fenced by a newer instance): the supervisor restarts it. */
  fenced: 75,
  /** A bad topology or environment override: fix the deployment, do not retry. */
  config: 78,
} as const;

/**
 * Why a record went to the dead-letter topic (the errorKind field of schemas/dead-letter.avsc).
 * Input errors carry one of these; the serving loop never crashes on them.
 */
export const DEAD_LETTER_KINDS = ['MALFORMED', 'UNKNOWN_SCHEMA', 'INVALID_FIELD', 'UNKNOWN_ITEM', 'TOO_LARGE', 'KEY_MISMATCH'] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_KINDS)[number];

export type ErrorKind = 'internal' | 'usage' | 'config' | 'model-file' | 'data-file' | 'no-input' | 'broker' | 'fenced' | 'engine' | 'input';

export interface StreamrecErrorOptions {
  cause?: unknown;
  /** Whether repeating the operation can succeed (a broker that comes back, an engine hiccup). */
  retriable?: boolean;
}

export class StreamrecError extends Error {
  readonly kind: ErrorKind;
  readonly retriable: boolean;

  constructor(kind: ErrorKind, message: string, opts: StreamrecErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.retriable = opts.retriable ?? false;
  }

  get exitCode(): number {
    return exitCodeOf(this.kind);
  }
}

/** A topology, environment override or command-line value is wrong; names the field. */
export class ConfigError extends StreamrecError {
  constructor(
    readonly field: string,
    message: string,
    opts: StreamrecErrorOptions & { file?: string } = {},
  ) {
    super('config', `${opts.file ? `${opts.file}: ` : 'config: '}${field}: ${message}`, opts);
  }
}

/** Bad command-line usage (a missing required flag). */
export class UsageError extends StreamrecError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** A model directory that cannot be used; the message names the file and the problem. */
export class ModelFileError extends StreamrecError {
  constructor(
    readonly file: string,
    problem: string,
    opts: StreamrecErrorOptions = {},
  ) {
    super('model-file', `${file}: ${problem}`, opts);
  }
}

/** A dataset file that is missing (kind no-input) or malformed (kind data-file). */
export class DataFileError extends StreamrecError {
  constructor(
    readonly file: string,
    problem: string,
    opts: StreamrecErrorOptions & { missing?: boolean } = {},
  ) {
    super(opts.missing ? 'no-input' : 'data-file', `${file}: ${problem}`, opts);
  }
}

/** The Kafka cluster could not be reached (or stayed away longer than we ride out). */
export class BrokerUnavailableError extends StreamrecError {
  constructor(message: string, opts: StreamrecErrorOptions = {}) {
    super('broker', message, { retriable: true, ...opts });
  }
}

/** Another instance with our transactional id took over: this one must stop writing. */
export class FencedError extends StreamrecError {
  constructor(message: string, opts: StreamrecErrorOptions = {}) {
    super('fenced', message, { ...opts, retriable: false });
  }
}

/** A record that cannot be served: it goes to the dead-letter topic with this kind and reason. */
export class InputError extends StreamrecError {
  constructor(
    readonly deadLetterKind: DeadLetterKind,
    message: string,
    opts: StreamrecErrorOptions = {},
  ) {
    super('input', message, opts);
  }
}

/** The inference engine failed on a batch; the batch is aborted and retried. */
export class EngineError extends StreamrecError {
  constructor(message: string, opts: StreamrecErrorOptions = {}) {
    super('engine', message, { retriable: true, ...opts });
  }
}

export function exitCodeOf(kind: ErrorKind): number {
  switch (kind) {
    case 'usage':
      return EXIT_CODES.usage;
    case 'config':
      return EXIT_CODES.config;
    case 'data-file':
    case 'model-file':
      return EXIT_CODES.dataFile;
    case 'no-input':
      return EXIT_CODES.noInput;
    case 'broker':
      return EXIT_CODES.brokerUnavailable;
    case 'fenced':
      return EXIT_CODES.fenced;
    default:
      return EXIT_CODES.internal;
  }
}

/** The message chain of an error and its causes, for one log line. */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (!parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ');
}
