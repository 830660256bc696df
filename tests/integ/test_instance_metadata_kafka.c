/* Instance metadata on Kafka (a development cluster in process, or EDDY_TEST_KAFKA's broker):
 * tests/instance_metadata.inc. */
#define META_KAFKA 1
#define META_PREFIX kafka
#include "instance_metadata.inc"
