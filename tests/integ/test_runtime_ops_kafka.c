/* Operator semantics through the runtime on Kafka (a development cluster, librdkafka's mock, in
 * the test's process, or EDDY_TEST_KAFKA's broker): tests/runtime_ops.inc, the same scenarios and assertions as on the
 * embedded log. */
#define OPS_KAFKA 1
#define OPS_PREFIX runtime_kafka
#include "runtime_ops.inc"
