/* The JSON serde over jansson: parsing record bytes into json_t values, and writing values as
 * canonical bytes (compact, keys sorted) so that equal values give equal bytes.
 *
 * Parsing accepts one JSON value of any type (JSON_DECODE_ANY: Kafka Connect's JSON
 * deserializer reads any JsonNode, not only objects) and "\u0000" in strings (JSON_ALLOW_NUL,
 * as Jackson does); jansson itself demands valid UTF-8, rejects anything but whitespace after
 * the value and bounds nesting at JSON_PARSER_MAX_DEPTH (2048), so hostile bytes cannot
 * exhaust the stack.
 *
 * Allocation: jansson allocates its values with its own allocator, which is process-global and
 * belongs to the program (json_set_alloc_funcs); values from eddy_json_decode are released
 * with json_decref like any other. eddy only watches that allocator for failures (below). The
 * bytes eddy_json_encode hands out are eddy's: jansson writes through a callback into an eddy
 * buffer. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "eddy/serde.h"
#include "serde/serde_internal.h"

#define SERDE_JSON_DECODE_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)
#define SERDE_JSON_ENCODE_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

/* ------------------------------------------------------------------------------------------ */
/* Watching jansson's allocations                                                             */
/*                                                                                            */
/* jansson 2.14 does not report its allocation failures reliably. Where it cannot allocate its */
/* lexer it fails with an empty message; where it cannot copy a string it reports a syntax    */
/* error ("invalid token"); and where it cannot grow the buffer of the token it is reading it  */
/* drops the byte and succeeds, with a string one character short. The first would misreport  */
/* memory as bad data (and a deserialization-error handler may skip the record); the last     */
/* would corrupt a value silently. Neither is visible from jansson's results.                 */
/*                                                                                            */
/* So at load time eddy puts a watcher in front of jansson's allocator: it calls the allocator */
/* jansson had (malloc, unless the program's own constructor changed it) and notes a NULL in a */
/* thread-local flag; frees are untouched, so memory from before and after stays compatible.  */
/* jansson allocates on the calling thread, so the flag covers exactly one parse or dump.     */
/* A program that installs its own allocator later (json_set_alloc_funcs) replaces the        */
/* watcher; eddy then relies on jansson's own reports, as every jansson user does.            */

static json_malloc_t json_underlying_malloc = malloc;
static _Thread_local int json_allocation_failed;

static void *json_watching_malloc(size_t size)
{
    void *ptr = json_underlying_malloc(size);
    if (!ptr)
        json_allocation_failed = 1;
    return ptr;
}

/* At load, before main and before any thread: jansson's allocator is swapped before anything
 * can be using it. */
__attribute__((constructor)) static void json_watch_allocations(void)
{
    json_malloc_t malloc_fn;
    json_free_t free_fn;
    json_get_alloc_funcs(&malloc_fn, &free_fn);
    if (malloc_fn == json_watching_malloc)
        return;
    json_underlying_malloc = malloc_fn;
    json_set_alloc_funcs(json_watching_malloc, free_fn);
}

void eddy__serde_json_set_malloc(void *(*malloc_fn)(size_t size))
{
    json_underlying_malloc = malloc_fn ? malloc_fn : malloc;
}

/* Starts watching one jansson call on this thread: clears the flag, and says whether the
 * watcher is still jansson's allocator (the program may have replaced it). */
static int json_watch_begin(void)
{
    json_malloc_t malloc_fn;
    json_free_t free_fn;
    json_get_alloc_funcs(&malloc_fn, &free_fn);
    json_allocation_failed = 0;
    return malloc_fn == json_watching_malloc;
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                    */

/* Parses non-null bytes; on failure writes the reason into errstr. A parse during which an
 * allocation failed is out of memory whatever jansson returned, value included. */
static eddy_err json_parse(eddy_slice bytes, json_t **out, char *errstr, size_t errstr_size)
{
    EDDY_ASSERT(bytes.data != NULL);
    json_error_t error;
    int watched = json_watch_begin();
    json_t *value = json_loadb(bytes.data, bytes.len, SERDE_JSON_DECODE_FLAGS, &error);
    int out_of_memory = watched ? json_allocation_failed
                                : json_error_code(&error) == json_error_out_of_memory ||
                                      (!value && error.text[0] == '\0');
    if (value && !out_of_memory) {
        *out = value;
        return EDDY_OK;
    }
    json_decref(value);
    *out = NULL;
    if (out_of_memory) {
        snprintf(errstr, errstr_size, "out of memory parsing %zu bytes", bytes.len);
        return EDDY_ERR_NO_MEMORY;
    }
    snprintf(errstr, errstr_size, "invalid JSON at line %d, column %d (byte %d): %s", error.line,
             error.column, error.position, error.text);
    return EDDY_ERR_SERIALIZATION;
}

eddy_err eddy__serde_json_check(eddy_slice bytes, char *errstr, size_t errstr_size, void *opaque)
{
    (void)opaque;
    json_t *value;
    eddy_err err = json_parse(bytes, &value, errstr, errstr_size);
    json_decref(value);
    return err;
}

eddy_err eddy_json_decode(eddy_slice bytes, struct json_t **out)
{
    EDDY_ASSERT(out != NULL);
    *out = NULL;
    if (bytes.data == NULL)
        return eddy__serde_null(eddy_serde_name(eddy_serde_json()));
    char errstr[EDDY_ERROR_MESSAGE_MAX];
    eddy_err err = json_parse(bytes, out, errstr, sizeof(errstr));
    if (err != EDDY_OK)
        return eddy__fail(err, "json serde: %s", errstr);
    return EDDY_OK;
}

/* jansson's output callback: appends to an eddy buffer, remembering an allocation failure so
 * that it is told apart from jansson refusing the value. The failure is sticky, and decides
 * the outcome whatever jansson returns: jansson 2.14 ignores the callback's result when it
 * writes an object's key, so after one failed write it would carry on and return success, and
 * a later write that fits would leave text with part of a key missing. */
typedef struct json_sink {
    eddy__buf buf;
    int out_of_memory;
} json_sink;

static int json_sink_write(const char *buffer, size_t size, void *data)
{
    json_sink *sink = data;
    if (sink->out_of_memory)
        return -1;
    if (eddy__buf_append(&sink->buf, buffer, size) != EDDY_OK) {
        sink->out_of_memory = 1;
        return -1;
    }
    return 0;
}

eddy_err eddy_json_encode(const struct json_t *value, char **out, size_t *len)
{
    EDDY_ASSERT(out != NULL && len != NULL);
    *out = NULL;
    *len = 0;
    /* Kafka's serializers write null for a null object: the caller's slice stays null. */
    if (value == NULL)
        return EDDY_OK;
    json_sink sink = {{NULL, 0, 0}, 0};
    int watched = json_watch_begin();
    int rc = json_dump_callback(value, json_sink_write, &sink, SERDE_JSON_ENCODE_FLAGS);
    /* jansson's own allocations (the sorted key list, the cycle check) also count. */
    if (watched && json_allocation_failed)
        sink.out_of_memory = 1;
    /* The terminator is for callers who print the text; it is not part of the bytes. */
    if (rc == 0 && json_sink_write("", 1, &sink) != 0)
        rc = -1;
    if (rc != 0 || sink.out_of_memory) {
        size_t written = sink.buf.len;
        eddy__buf_free(&sink.buf);
        if (sink.out_of_memory)
            return eddy__fail(EDDY_ERR_NO_MEMORY,
                              "json serde: out of memory writing a value (%zu bytes so far)",
                              written);
        return eddy__fail(EDDY_ERR_SERIALIZATION,
                          "json serde: jansson cannot write the value (a string that is not "
                          "valid UTF-8, or a value that contains itself)");
    }
    EDDY_ASSERT(sink.buf.len >= 2); /* the shortest JSON text is one character */
    *out = (char *)sink.buf.data;
    *len = sink.buf.len - 1;
    return EDDY_OK;
}
