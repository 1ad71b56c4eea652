#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for streamrec: fetch | start | stop | status.
# Needs Java 17+ and Maven; jars are fetched from Maven Central into ~/.cache/streamrec once.
# Apache Kafka 4.1.1 by default; STREAMREC_KAFKA_VERSION=3.9.1 (or any kafka_2.13 release) picks another.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/kafka/broker-cli.ts "$@"
