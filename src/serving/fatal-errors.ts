import { BrokerUnavailableError, FencedError, StreamrecError } from '../errors/errors.ts';

/**
 * Which client errors end the process instead of aborting and retrying the batch. A retried
 * batch is the right answer for anything transient (an engine hiccup, a leader moving); for
 * these, retrying can only loop: the producer was fenced or its transaction state is broken,
 * a record can never be written, or the client itself gave up.
 */
const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'INVALID_PRODUCER_ID_MAPPING']);
const UNWRITABLE = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'TOPIC_AUTHORIZATION_FAILED',
  'INVALID_RECORD',
  'CLUSTER_AUTHORIZATION_FAILED',
  'UNKNOWN_TOPIC_OR_PARTITION',
]);

interface KafkaLikeError {
  name?: string;
  type?: string;
  message?: string;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
}

function chain(e: unknown): KafkaLikeError[] {
  const out: KafkaLikeError[] = [];
  let cur = e as KafkaLikeError | undefined;
  for (let i = 0; cur && typeof cur === 'object' && i < 6; i++) {
    out.push(cur);
    cur = (cur.cause ?? cur.originalError) as KafkaLikeError | undefined;
  }
  return out;
}

/** The fatal form of a batch failure, or null when aborting and retrying the batch is right. */
export function fatalFormOf(e: unknown): StreamrecError | null {
  if (e instanceof StreamrecError) return e.retriable ? null : e;
  for (const link of chain(e)) {
    const msg = link.message ?? '';
    if ((link.type && FENCED.has(link.type)) || /fenced|Cannot call \w+ in state|epoch/i.test(msg))
      return new FencedError(`the transactional producer can no longer commit: ${msg}`, { cause: e });
    if (link.type && UNWRITABLE.has(link.type)) return new StreamrecError('broker', `a record cannot be written: ${msg}`, { cause: e, retriable: false });
  }
  return null;
}

/** A consumer crash kafkajs will not restart from is fatal: the process exits for its supervisor. */
export function consumerCrashError(error: Error): StreamrecError {
  return new BrokerUnavailableError(`the Kafka consumer stopped and will not restart: ${error.message}`, { cause: error, retriable: false });
}
