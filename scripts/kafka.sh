#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for streamrec: fetch | start | stop | status.
# Needs Java 17+ and Maven; jars are fetched from Maven Central into ~/.cache/streamrec once.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/kafka/broker-cli.ts "$@"
