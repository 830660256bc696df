/* Operator semantics through the runtime on the embedded log: tests/runtime_ops.inc. */
#define OPS_KAFKA 0
#define OPS_PREFIX runtime
#include "runtime_ops.inc"
