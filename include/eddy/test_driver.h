/**
 * @file test_driver.h
 * @brief Runs a topology in-process with no log, deterministically: Kafka Streams'
 *        TopologyTestDriver in C.
 *
 * ```c
 * eddy_test_driver *d;
 * eddy_test_driver_new(builder, NULL, 0, &d);
 * eddy_test_driver_pipe(d, "text-lines", (eddy_slice){0}, eddy_string_slice("a b a"), 1000);
 * eddy_record out;
 * while (eddy_test_driver_read(d, "word-counts", &out) == EDDY_OK) { ... }
 * eddy_test_driver_destroy(d);
 * ```
 *
 * Each sub-topology runs as one task on partition 0, with the same node code as the runtime:
 * a piped record is processed to the end (through repartition topics, which loop back at
 * once) before the call returns, and what the sinks write is kept per topic to be read in
 * order. Stores are in memory; a global table is fed by piping records to its topic. Stream
 * time is the largest timestamp piped so far; wall-clock time starts at @p start_ms and moves
 * only with eddy_test_driver_advance_wall_clock(), which runs wall-clock punctuations.
 * The record cache is off (each update is emitted), as in Kafka's driver with caching disabled.
 *
 * Ownership: the driver borrows the builder (it must outlive the driver, unchanged).
 * Errors: as the runtime; a processing error is returned by the pipe call that caused it, with
 * the message naming task, topic, partition and offset in eddy_last_error().
 */
#ifndef EDDY_TEST_DRIVER_H
#define EDDY_TEST_DRIVER_H

#include <stdint.h>

#include "eddy/common.h"
#include "eddy/config.h"
#include "eddy/store.h"
#include "eddy/streams.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_test_driver eddy_test_driver;

/**
 * A driver for the topology of @p builder. @p config (may be NULL; copied) takes the same keys
 * as the runtime (application.id defaults to "test-driver"; the deserialization handler and
 * default serdes apply). Wall-clock time starts at @p start_ms.
 * @return EDDY_OK; the builder's first error; EDDY_ERR_CONFIG; EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_test_driver_new(eddy_builder *builder, const eddy_config *config,
                                          int64_t start_ms, eddy_test_driver **out);

/** Frees the driver (closing its processors and stores). NULL is a no-op. */
EDDY_EXPORT void eddy_test_driver_destroy(eddy_test_driver *driver);

/**
 * Pipes one record into @p topic (a source topic of the topology, or a global table's) and
 * processes it. Key and value are copied; null slices are null.
 * @return EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC when no source reads @p topic; the error that stopped
 *         processing (the driver then refuses further input with EDDY_ERR_STATE).
 */
EDDY_EXPORT eddy_err eddy_test_driver_pipe(eddy_test_driver *driver, const char *topic,
                                           eddy_slice key, eddy_slice value, int64_t timestamp_ms);

/** As eddy_test_driver_pipe(), with headers (copied). */
EDDY_EXPORT eddy_err eddy_test_driver_pipe_record(eddy_test_driver *driver, const char *topic,
                                                  const eddy_record *record);

/** Advances wall-clock time by @p ms (>= 0) and runs the wall-clock punctuations due. */
EDDY_EXPORT eddy_err eddy_test_driver_advance_wall_clock(eddy_test_driver *driver, int64_t ms);

/**
 * Reads the next record written to @p topic (any topic a sink wrote, internal ones as
 * `<application.id>-<name>`), in write order. The record's pointers are valid until the next
 * read of any topic or the driver's destruction.
 * @return EDDY_OK; EDDY_ERR_END when nothing more was written to it.
 */
EDDY_EXPORT eddy_err eddy_test_driver_read(eddy_test_driver *driver, const char *topic,
                                           eddy_record *out);

/** How many records written to @p topic are still unread. */
EDDY_EXPORT size_t eddy_test_driver_unread(eddy_test_driver *driver, const char *topic);

/** The store @p name (owned by the driver; valid until destroy), or NULL when the topology
 *  has no store of that name. */
EDDY_EXPORT eddy_kv_store *eddy_test_driver_store(eddy_test_driver *driver, const char *name);

#ifdef __cplusplus
}
#endif
#endif
