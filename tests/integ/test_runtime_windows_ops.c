/* Windows, joins and suppression through the runtime on the embedded log:
 * tests/runtime_windows_ops.inc. */
#define WOPS_KAFKA 0
#define WOPS_PREFIX runtime
#define WOPS_KNOWN_GAPS NULL
#include "runtime_windows_ops.inc"
