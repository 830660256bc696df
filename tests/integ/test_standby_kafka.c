/* Standby replicas on Kafka (a 3-broker development cluster in a process of its own, or
 * EDDY_TEST_KAFKA's broker): tests/standby.inc. */
#define SB_KAFKA 1
#define SB_PREFIX kafka
#include "standby.inc"
