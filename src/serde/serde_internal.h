/* What the serde files share: the JSON serde's check (json.c) for the built-in descriptor
 * (serde.c), the message for a null slice handed to a typed decoder, and a test hook. */
#ifndef EDDY_SERDE_INTERNAL_H
#define EDDY_SERDE_INTERNAL_H

#include "eddy/serde.h"

/* The JSON serde's check (an eddy_serde_check_fn): parses the bytes with the same flags as
 * eddy_json_decode and frees the value. EDDY_ERR_SERIALIZATION or EDDY_ERR_NO_MEMORY, with
 * the reason in errstr, when they are not JSON. */
eddy_err eddy__serde_json_check(eddy_slice bytes, char *errstr, size_t errstr_size, void *opaque);

/* For tests: the allocator eddy's watcher in front of jansson's allocator calls (NULL: malloc),
 * so that a test can fail jansson's allocations and see them reported. Not thread-safe. */
void eddy__serde_json_set_malloc(void *(*malloc_fn)(size_t size));

/* Fails with EDDY_ERR_NOT_FOUND: "<name> serde: null (...) has no <name> value". */
eddy_err eddy__serde_null(const char *name);

#endif
