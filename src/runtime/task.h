/* A task: one sub-topology instantiated for one partition, and the code of every DSL operator.
 *
 * The same task code runs inside the runtime (app.c, on a log through the client seam) and
 * inside the test driver (driver.c, with no log), so that both give the same results. What
 * differs is the host, which the task reaches only through eddy__task_host:
 *
 *     host (runtime thread or driver)
 *       │ eddy__task_process(record from a source topic)
 *       ▼
 *     task ── nodes: source → operators → sinks ──> host->send(topic, partition, record)
 *       │                                  └──────> host->open_store(store) (decorated by host)
 *       └── punctuations (stream time, wall clock)
 *
 * A record flows depth-first through the nodes, each node calling its children in order, as in
 * Kafka Streams; callbacks' emissions (eddy_forward, eddy_result) are passed on before the
 * callback returns, so bytes are never copied between operators. Table operators pass changes
 * (new value, old value). Repartition topics carry a table change as the value followed by one
 * flag byte (docs/runtime.md).
 *
 * A task is used by one thread at a time. */
#ifndef EDDY_RUNTIME_TASK_H
#define EDDY_RUNTIME_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "eddy/app.h"
#include "eddy/processor.h"
#include "eddy/store.h"
#include "topology/topology.h"

typedef struct eddy__task eddy__task;

/* default.deserialization.exception.handler (and the dead-letter queue variant). */
typedef enum eddy__deser_handler {
    EDDY__DESER_FAIL = 0,     /* LogAndFailExceptionHandler (Kafka's default) */
    EDDY__DESER_CONTINUE = 1, /* LogAndContinueExceptionHandler: log, skip the record */
    EDDY__DESER_DLQ = 2, /* skip, writing the raw record to errors.dead.letter.queue.topic.name */
} eddy__deser_handler;

/* default.timestamp.extractor: Kafka's built-in extractors. */
typedef enum eddy__timestamp_mode {
    EDDY__TIMESTAMP_FAIL_ON_INVALID = 0, /* FailOnInvalidTimestamp (Kafka's default) */
    EDDY__TIMESTAMP_SKIP_ON_INVALID = 1, /* LogAndSkipOnInvalidTimestamp */
    EDDY__TIMESTAMP_PARTITION_TIME = 2,  /* UsePartitionTimeOnInvalidTimestamp */
    EDDY__TIMESTAMP_WALL_CLOCK = 3,      /* WallclockTimestampExtractor */
} eddy__timestamp_mode;

/* What a task needs from its host. */
typedef struct eddy__task_host {
    void *opaque;
    const char *application_id;
    const eddy__topology *topology;
    /* Sends a record to `topic` (a full name); partition -1: by the key's murmur2 (null key:
     * any). `repartition` says it goes to an internal repartition topic. The record's bytes are
     * borrowed for the call. */
    eddy_err (*send)(void *opaque, eddy__task *task, const char *topic, int32_t partition,
                     const eddy_record *record);
    /* Opens store `store` (index into topology->stores) for the task: a task store decorated
     * as the host wants (changelog, cache), or the shared global store. The host owns it: the
     * task never closes it. */
    eddy_err (*open_store)(void *opaque, eddy__task *task, uint32_t store, eddy_kv_store **out);
    /* Whether the host forwards the changes of `store` itself, when its record cache writes
     * them (eddy__task_store_flushed); then the aggregation or table owning it does not forward
     * on each update. NULL: never. */
    bool (*forwards_on_flush)(void *opaque, eddy__task *task, uint32_t store);
    /* The store retention deletes expired windows through (see store.h's expiry view): one that
     * forwards and logs nothing. NULL (or a NULL result): the task's store itself. */
    eddy_kv_store *(*expiry_store)(void *opaque, eddy__task *task, uint32_t store);
    /* The host's wall-clock time in ms. */
    int64_t (*wall_clock_ms)(void *opaque);
    eddy__deser_handler deser_handler;
    const char *dlq_topic;                 /* DLQ: the dead-letter topic */
    const eddy_serde *default_key_serde;   /* default.key.serde (NULL: bytes) */
    const eddy_serde *default_value_serde; /* default.value.serde */
    bool processing_continue;              /* processing.exception.handler = log-and-continue */
    eddy__timestamp_mode timestamp_mode;   /* without the topology's own extractor */
    _Atomic uint64_t *dropped_records;     /* may be NULL: Kafka's dropped-records total */
} eddy__task_host;

/* Makes the task of sub-topology `subtopology` (an index into topology->subtopologies, which
 * may be a global one: then `partition` is -1 and the task feeds the global stores) for
 * `partition`: opens its stores through the host and calls every user processor's init.
 * Returns EDDY_OK; an init's error; the host's; EDDY_ERR_NO_MEMORY. */
eddy_err eddy__task_new(const eddy__task_host *host, uint32_t subtopology, int32_t partition,
                        eddy__task **out);

/* Calls the user processors' close callbacks and frees the task. The stores stay the host's.
 * NULL is a no-op. */
void eddy__task_destroy(eddy__task *task);

/* Processes one record read from one of the task's source topics (record->topic is its full
 * name): updates stream time, runs the record through the nodes, then runs the stream-time
 * punctuations that came due. On error the task is failed: the message (eddy_last_error() and
 * eddy__task_error()) names the task, the topic, partition and offset; later calls return
 * EDDY_ERR_STATE. */
eddy_err eddy__task_process(eddy__task *task, const eddy_record *record);

/* Forwards a change of `store` written by its record cache (see forwards_on_flush) from the
 * processor that owns the store, as if it had just been made: key, new value (null: deleted),
 * old value and the timestamp of the record that made it. Fails the task on error. */
eddy_err eddy__task_store_flushed(eddy__task *task, uint32_t store, eddy_slice key,
                                  eddy_slice new_value, eddy_slice old_value, int64_t timestamp_ms);

/* Whether the processor owning `store` forwards old values (so its cache must read them). */
bool eddy__store_owner_sends_old(const eddy__topology *topology, uint32_t store);

/* Whether a processor that forwards its store's changes owns `store` (an aggregation or a
 * table source): the stores whose record cache should forward on flush. */
bool eddy__store_forwards_changes(const eddy__topology *topology, uint32_t store);

/* The timestamp the task's extractor gives `record` (the record's own by default; a built-in
 * extractor's replacement for an invalid one is not applied here): what the host orders a
 * task's input queues by. */
int64_t eddy__task_timestamp_of(const eddy__task *task, const eddy_record *record);

/* Runs the wall-clock punctuations due at `now_ms`. */
eddy_err eddy__task_punctuate_wall_clock(eddy__task *task, int64_t now_ms);

/* The task's stream time (largest timestamp processed; -1 before any). */
int64_t eddy__task_stream_time(const eddy__task *task);

/* "0_3" (sub-topology id, partition), as Kafka names tasks; global tasks are "global". */
const char *eddy__task_id(const eddy__task *task);
uint32_t eddy__task_subtopology(const eddy__task *task);
int32_t eddy__task_partition(const eddy__task *task);

/* The source topics (full names) of a sub-topology: written into `names` (each at most
 * `name_size` bytes), up to `max`; returns how many there are. */
uint32_t eddy__subtopology_source_topics(const eddy__topology *topology, uint32_t subtopology,
                                         const char *application_id, char names[][256],
                                         uint32_t max);

/* The error message of a failed task ("" while healthy). */
const char *eddy__task_error(const eddy__task *task);

/* Counts a task keeps (for tests, metrics and the closing of DLQ/continue decisions). */
typedef struct eddy__task_stats {
    uint64_t processed;           /* records given to eddy__task_process */
    uint64_t skipped_timestamp;   /* dropped for a negative timestamp */
    uint64_t dropped_late;        /* dropped by windowed operators: their window had closed */
    uint64_t skipped_deserialize; /* dropped by log-and-continue or sent to the DLQ */
    uint64_t skipped_processing;  /* dropped by a processing error under log-and-continue */
} eddy__task_stats;
const eddy__task_stats *eddy__task_stats_get(const eddy__task *task);

#endif
