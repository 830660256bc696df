/**
 * @file processor.h
 * @brief What a callback can do while eddy runs it: forward records, return a result, reach a
 *        state store, schedule punctuation. Also the Processor API's processor definition.
 *
 * Every user callback of a topology (streams.h) is called by eddy's runtime with an
 * ::eddy_ctx and the input record. A callback hands its results back through the context,
 * from its own buffers: the runtime copies the bytes before the call returns, so a callback
 * may pass stack buffers and reuse them.
 *
 * | callback kind                        | emits with                                   |
 * |--------------------------------------|----------------------------------------------|
 * | map, flat-map, table group-by        | eddy_forward() (map: once; flat-map: 0..n)   |
 * | map-values, flat-map-values          | eddy_forward_value() (keeps the input key)   |
 * | select-key, group-by, key selectors  | eddy_result() (the new key)                  |
 * | initializer, aggregator, reducer     | eddy_result() (the new aggregate)            |
 * | joiner                               | eddy_result() (the joined value)             |
 * | Processor API process()              | eddy_forward() / eddy_forward_to()           |
 *
 * A map-values or flat-map callback that emits nothing drops the record (to forward a null
 * value, emit a null slice). A joiner, aggregator, initializer or reducer that emits nothing
 * gives null: a joined record with a null value (as a Java joiner returning null), or a null
 * aggregate (which deletes the key, as a null in Kafka Streams).
 *
 * **Provided by the runtime.** The functions declared here are implemented by eddy's runtime
 * (src/runtime), which calls the callbacks; the topology builder only stores the callbacks.
 * A context is valid only during the callback it was passed to, on that thread.
 */
#ifndef EDDY_PROCESSOR_H
#define EDDY_PROCESSOR_H

#include <stdbool.h>

#include "eddy/common.h"
#include "eddy/log.h"
#include "eddy/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The runtime's context for one callback call. Opaque; owned by the runtime; valid during
 *  the call only. */
typedef struct eddy_ctx eddy_ctx;

/* ------------------------------------------------------------------------------------------ */
/* Emitting results (provided by the runtime)                                                 */

/**
 * Forwards a record with key @p key and value @p value to the downstream processors (a
 * map or flat-map result; a Processor API output). The bytes are copied before the call
 * returns. A slice with data == NULL is null (a null key, a tombstone). The output keeps the
 * input record's timestamp and headers.
 */
EDDY_EXPORT void eddy_forward(eddy_ctx *ctx, eddy_slice key, eddy_slice value);

/** Forwards @p value with the input record's key (map-values, flat-map-values). Copied. */
EDDY_EXPORT void eddy_forward_value(eddy_ctx *ctx, eddy_slice value);

/** eddy_forward() with NUL-terminated strings, written without their terminator (the string
 *  serde's bytes); NULL is null. */
EDDY_EXPORT void eddy_forward_str(eddy_ctx *ctx, const char *key, const char *value);

/** eddy_forward_value() with a NUL-terminated string (NULL: null). */
EDDY_EXPORT void eddy_forward_value_str(eddy_ctx *ctx, const char *value);

/** eddy_forward() with an int64 value, written as Kafka's LongSerializer does (8 bytes,
 *  big-endian). */
EDDY_EXPORT void eddy_forward_i64(eddy_ctx *ctx, eddy_slice key, int64_t value);

/** eddy_forward_value() with an int64 value (8 bytes, big-endian). */
EDDY_EXPORT void eddy_forward_value_i64(eddy_ctx *ctx, int64_t value);

/**
 * Forwards to one named child of the current processor only (Processor API; Kafka's
 * `To.child(name)`). An unknown child name is an error that stops the task with a message
 * naming the processor and the child.
 */
EDDY_EXPORT void eddy_forward_to(eddy_ctx *ctx, const char *child, eddy_slice key,
                                 eddy_slice value);

/**
 * Sets the callback's single result: the new key (select-key, group-by, a global-table key
 * selector), the new aggregate (initializer, aggregator, reducer, adder, subtractor) or the
 * joined value (joiner). Copied. The last call wins; no call means null.
 */
EDDY_EXPORT void eddy_result(eddy_ctx *ctx, eddy_slice result);

/** eddy_result() with a NUL-terminated string (NULL: null). */
EDDY_EXPORT void eddy_result_str(eddy_ctx *ctx, const char *result);

/** eddy_result() with an int64, 8 bytes big-endian (Kafka's LongSerializer). */
EDDY_EXPORT void eddy_result_i64(eddy_ctx *ctx, int64_t result);

/* ------------------------------------------------------------------------------------------ */
/* State and time (provided by the runtime)                                                   */

/**
 * The state store @p name of the current task, for a processor that was connected to it
 * (eddy_process() with the store's name). NULL when the processor is not connected to a store
 * of that name. Owned by the runtime; valid until the processor's close callback returns.
 */
EDDY_EXPORT eddy_kv_store *eddy_ctx_store(eddy_ctx *ctx, const char *name);

/** The application id of the running application (`application.id`); valid for the
 *  callback's duration. */
EDDY_EXPORT const char *eddy_ctx_application_id(eddy_ctx *ctx);

/** What drives a punctuation, as Kafka's PunctuationType. */
typedef enum eddy_punctuation_type {
    EDDY_PUNCTUATE_STREAM_TIME = 0,    /**< the task's stream time (record timestamps) */
    EDDY_PUNCTUATE_WALL_CLOCK_TIME = 1 /**< the system clock */
} eddy_punctuation_type;

/** A punctuation callback: @p timestamp_ms is the stream or wall-clock time that fired it. */
typedef void (*eddy_punctuate_fn)(eddy_ctx *ctx, int64_t timestamp_ms, void *state);

/**
 * Schedules @p fn every @p interval_ms (> 0) of stream or wall-clock time, for the current
 * task; called from a processor's init callback. @p state is passed to @p fn.
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT for a non-positive interval or a NULL @p fn.
 */
EDDY_EXPORT eddy_err eddy_schedule(eddy_ctx *ctx, int64_t interval_ms, eddy_punctuation_type type,
                                   eddy_punctuate_fn fn, void *state);

/* ------------------------------------------------------------------------------------------ */
/* Processor API: a user processor                                                            */

/**
 * Called once per task (a sub-topology on one partition) before any record, to make the
 * task's own state. Set @p *state (it starts as the definition's opaque); it is passed to
 * process and close. Stores are reached with eddy_ctx_store(), punctuation scheduled with
 * eddy_schedule(). A non-OK return fails the task with that error.
 */
typedef eddy_err (*eddy_processor_init_fn)(eddy_ctx *ctx, void *opaque, void **state);

/** Called for each input record; forwards with eddy_forward() / eddy_forward_to(). */
typedef void (*eddy_processor_process_fn)(eddy_ctx *ctx, const eddy_record *record, void *state);

/** Called once when the task closes, to free what init made. */
typedef void (*eddy_processor_close_fn)(void *state, void *opaque);

/**
 * A user processor (Kafka's ProcessorSupplier and Processor in one). eddy_process() copies
 * the struct and the name; @p opaque is borrowed and must outlive the running application.
 * Several tasks run the same definition at once on different threads: per-task state belongs
 * in the @p state that init makes, not in @p opaque.
 */
typedef struct eddy_processor_def {
    const char *name;                  /**< processor name; NULL: KSTREAM-PROCESSOR-<n> */
    eddy_processor_init_fn init;       /**< may be NULL: state = opaque */
    eddy_processor_process_fn process; /**< required */
    eddy_processor_close_fn close;     /**< may be NULL */
    void *opaque;                      /**< passed to init and close */
} eddy_processor_def;

#ifdef __cplusplus
}
#endif
#endif
