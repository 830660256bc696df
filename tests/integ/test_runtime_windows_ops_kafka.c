/* Windows, joins and suppression through the runtime on Kafka (a development cluster,
 * librdkafka's mock, in the test's process): tests/runtime_windows_ops.inc, the same scenarios
 * and assertions as on the embedded log.
 *
 * One difference remains on Kafka: librdkafka sends a record timestamp of 0 as "now"
 * (rd_kafka_producev: 0 means the current time), so the inputs at timestamp 0 of `tumbling` and
 * `session` would arrive at the wall-clock time and every later record would be late. Those two
 * scenarios run on the embedded log only. */
#define WOPS_KAFKA 1
#define WOPS_PREFIX runtime_kafka
#define WOPS_KNOWN_GAPS                                                                            \
    "tumbling", "input at timestamp 0: librdkafka sends 0 as the current time", "session",        \
        "input at timestamp 0: librdkafka sends 0 as the current time", NULL
#include "runtime_windows_ops.inc"
