#!/bin/sh
# Generated from topologies/high-throughput.yaml by scripts/deploy/render-configmaps.ts: do not edit, re-render.
# Creates the topics `streamrec serve` would create (src/kafka/client.ts ensureTopics), up front, so
# the trainer, the monitor and producers can start before serving does. Idempotent (--if-not-exists).
# For the apache/kafka image: KAFKA_BOOTSTRAP=host:port; KAFKA_COMMAND_CONFIG=client.properties for a secured cluster.
set -eu
: "${KAFKA_BOOTSTRAP:?set KAFKA_BOOTSTRAP to the broker host:port}"
create() {
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$KAFKA_BOOTSTRAP" ${KAFKA_COMMAND_CONFIG:+--command-config "$KAFKA_COMMAND_CONFIG"} --create --if-not-exists "$@"
}
create --topic clicks --partitions 12
create --topic recommendations --partitions 12
create --topic clicks-dead-letter --partitions 3 --config max.message.bytes=1048576
create --topic streamrec-session-changelog --partitions 12 --config cleanup.policy=compact --config min.cleanable.dirty.ratio=0.1
create --topic streamrec-model-updates --partitions 1 --config cleanup.policy=compact
