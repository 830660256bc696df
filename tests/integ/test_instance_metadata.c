/* Instance metadata on the embedded log: tests/instance_metadata.inc. */
#define META_KAFKA 0
#define META_PREFIX embedded
#include "instance_metadata.inc"
