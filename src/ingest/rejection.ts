import { type DeadLetterKind, InputError } from '../errors/errors.ts';

/**
 * Why one input record is refused: the dead-letter kind and a reason an operator can read.
 *
 * Returned, not thrown, by the per-record checks: a poison-pill flood would otherwise cost a
 * stack capture per record, and the valid path must not allocate one at all. It is a class so
 * that `result instanceof Rejection` separates it from a decoded value without a wrapper
 * object around every valid result.
 */
export class Rejection {
  constructor(
    readonly kind: DeadLetterKind,
    readonly reason: string,
  ) {}

  /** The same refusal as an exception, for callers that decode one value and stop on failure. */
  toError(): DecodeError {
    return new DecodeError(this.kind, this.reason);
  }
}

/** A record that could not be decoded; carries the dead-letter kind and a human-readable reason. */
export class DecodeError extends InputError {}
