import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The Kafka Streams anchor of streamrec's passthrough benchmark: a stateless topology that copies
 * every record of the input topic to the output topic (same key, same value bytes) under
 * processing.guarantee=exactly_once_v2 with one stream thread, everything else at Kafka Streams'
 * defaults, i.e. what a JVM user gets out of the box.
 *
 * The figure is input records / (time the last input offset is committed - time the first record
 * is processed): start-up and the group join are left out, as they are in the kafkajs rows. The
 * commit is observed through the group's committed offsets, which under EOS become visible only
 * when the transaction that carries them commits, so the last outputs are visible downstream
 * (read_committed) at that moment. Prints one JSON line on stdout.
 *
 *   java -cp classes:libs/* KafkaStreamsPassthrough --bootstrap HOST:PORT --input T --output T
 *        --application-id ID --state-dir DIR [--commit-interval-ms 100] [--timeout-ms 300000]
 */
public final class KafkaStreamsPassthrough {
  private static final long POLL_MS = 2;

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = parseArgs(argv);
    String bootstrap = required(args, "bootstrap");
    String input = required(args, "input");
    String output = required(args, "output");
    String applicationId = required(args, "application-id");
    String stateDir = required(args, "state-dir");
    long commitIntervalMs = Long.parseLong(args.getOrDefault("commit-interval-ms", "100"));
    long timeoutMs = Long.parseLong(args.getOrDefault("timeout-ms", "300000"));
    long startNs = System.nanoTime();

    Properties adminProps = new Properties();
    adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(adminProps)) {
      Map<TopicPartition, Long> ends = endOffsets(admin, input);
      long expected = ends.values().stream().mapToLong(Long::longValue).sum() - startOffsetsSum(admin, ends);

      AtomicLong processed = new AtomicLong();
      AtomicLong firstNs = new AtomicLong();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      StreamsBuilder builder = new StreamsBuilder();
      builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
          .peek((k, v) -> {
            // Runs on the stream thread for every record; the first call starts the clock.
            if (processed.getAndIncrement() == 0) firstNs.set(System.nanoTime());
          })
          .to(output, Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));

      Properties props = new Properties();
      props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
      props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
      props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
      props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
      props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
      props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

      try (KafkaStreams streams = new KafkaStreams(builder.build(), props)) {
        streams.setUncaughtExceptionHandler(e -> {
          failure.set(e);
          return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        long deadline = startNs + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (processed.get() < expected) {
          checkAlive(failure, deadline, "processing " + processed.get() + " of " + expected + " records");
          Thread.sleep(POLL_MS);
        }
        long lastProcessedNs = System.nanoTime();
        while (!committedUpTo(admin, applicationId, ends)) {
          checkAlive(failure, deadline, "the commit of input offsets " + ends);
          Thread.sleep(POLL_MS);
        }
        long committedNs = System.nanoTime();
        double seconds = (committedNs - firstNs.get()) / 1e9;
        double commits = streams.metrics().entrySet().stream()
            .filter(e -> e.getKey().group().equals("stream-thread-metrics") && e.getKey().name().equals("commit-total"))
            .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue())
            .sum();
        System.out.println(
            "{\"events\":" + expected
                + ",\"processed\":" + processed.get()
                + ",\"seconds\":" + seconds
                + ",\"eventsPerSec\":" + (expected / seconds)
                + ",\"startupMs\":" + (firstNs.get() - startNs) / 1e6
                + ",\"lastProcessedToCommittedMs\":" + (committedNs - lastProcessedNs) / 1e6
                + ",\"commitIntervalMs\":" + commitIntervalMs
                + ",\"commits\":" + (long) commits
                + ",\"kafkaStreamsVersion\":\"" + AppInfoParser.getVersion() + "\""
                + ",\"javaVersion\":\"" + System.getProperty("java.version") + "\"}");
        System.out.flush();
        streams.close(Duration.ofSeconds(30));
        streams.cleanUp();
      }
    }
    // Kafka's client threads are non-daemon in places; the measurement is done.
    System.exit(0);
  }

  private static void checkAlive(AtomicReference<Throwable> failure, long deadlineNs, String waitingFor) {
    Throwable t = failure.get();
    if (t != null) fail("the stream thread died while waiting for " + waitingFor + ": " + t);
    if (System.nanoTime() > deadlineNs) fail("timed out waiting for " + waitingFor);
  }

  private static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) throws Exception {
    int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
    Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
    for (int p = 0; p < partitions; p++) specs.put(new TopicPartition(topic, p), OffsetSpec.latest());
    return admin.listOffsets(specs).all().get().entrySet().stream()
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
  }

  private static long startOffsetsSum(Admin admin, Map<TopicPartition, Long> ends) throws Exception {
    Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
    for (TopicPartition tp : ends.keySet()) specs.put(tp, OffsetSpec.earliest());
    return admin.listOffsets(specs).all().get().values().stream().mapToLong(r -> r.offset()).sum();
  }

  /** True once the group's committed offset of every input partition has reached its end offset. */
  private static boolean committedUpTo(Admin admin, String groupId, Map<TopicPartition, Long> ends) throws Exception {
    Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata().get();
    for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
      if (e.getValue() == 0) continue;
      OffsetAndMetadata c = committed.get(e.getKey());
      if (c == null || c.offset() < e.getValue()) return false;
    }
    return true;
  }

  private static Map<String, String> parseArgs(String[] argv) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < argv.length; i += 2) {
      if (!argv[i].startsWith("--") || i + 1 >= argv.length) fail("expected --name value pairs, got " + String.join(" ", argv));
      out.put(argv[i].substring(2), argv[i + 1]);
    }
    return out;
  }

  private static String required(Map<String, String> args, String name) {
    String v = args.get(name);
    if (v == null) fail("missing --" + name);
    return v;
  }

  private static void fail(String message) {
    System.err.println("KafkaStreamsPassthrough: " + message);
    System.exit(2);
  }
}
