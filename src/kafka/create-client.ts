import type { StreamrecConfig } from '../config/config.ts';
import { ConfluentClient } from './confluent-client.ts';
import type { KafkaClient, KafkaClientKind } from './kafka-client.ts';
import { KafkajsClient } from './kafkajs-client.ts';

/**
 * The client `kafka.client` names (kafkajs when a hand-built config leaves it out), or `kind`.
 * A confluent client where the package is missing fails here, with the one line saying how to get it.
 */
export function createKafkaClient(
  cfg: { kafka: Omit<StreamrecConfig['kafka'], 'client'> & { client?: KafkaClientKind } },
  clientIdSuffix = '',
  kind: KafkaClientKind = cfg.kafka.client ?? 'kafkajs',
): KafkaClient {
  const c = { kafka: { ...cfg.kafka, client: kind } };
  return kind === 'confluent' ? new ConfluentClient(c, clientIdSuffix) : new KafkajsClient(c, clientIdSuffix);
}
