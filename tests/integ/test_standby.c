/* Standby replicas on the embedded log: tests/standby.inc. */
#define SB_KAFKA 0
#define SB_PREFIX embedded
#include "standby.inc"
