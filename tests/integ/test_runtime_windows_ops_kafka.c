/* Windows, joins and suppression through the runtime on Kafka (a development cluster,
 * librdkafka's mock, in the test's process, or EDDY_TEST_KAFKA's broker):
 * tests/runtime_windows_ops.inc, the same scenarios and assertions as on the embedded log.
 *
 * librdkafka sends a record timestamp of 0 as "now" (rd_kafka_producev: 0 means the current
 * time), so the inputs at timestamp 0 of `tumbling` and `session` cannot be produced as they
 * are. Those two scenarios run shifted in time instead: every input timestamp, expected
 * timestamp and window start and end is the same multiple of every window size later, which
 * changes no window's alignment and no outcome (runtime_windows_ops.inc, "Timestamp 0 on
 * Kafka"). No scenario is left out. */
#define WOPS_KAFKA 1
#define WOPS_PREFIX runtime_kafka
#define WOPS_KNOWN_GAPS NULL
#include "runtime_windows_ops.inc"
