/**
 * @file app.h
 * @brief Running a topology: Kafka Streams' KafkaStreams in C.
 *
 * ```c
 * int main(int argc, char **argv)
 * {
 *     eddy_builder *b = eddy_builder_new();
 *     ... build the topology (streams.h) ...
 *     eddy_config *defaults = eddy_config_new();
 *     eddy_config_set(defaults, "application.id", "wordcount");
 *     int rc = eddy_main(argc, argv, b, defaults);   // runs until SIGINT/SIGTERM
 *     eddy_config_destroy(defaults);
 *     eddy_builder_destroy(b);
 *     return rc;
 * }
 * ```
 *
 * An application (::eddy_app) runs a built topology as *tasks*: one per sub-topology and input
 * partition, spread over `num.stream.threads` threads of this process and over every process
 * running the same `application.id` (the log's consumer group, range strategy). Each task keeps
 * its state stores in `state.dir/<application.id>/<sub-topology>_<partition>/`, logs every
 * change to the compacted changelog topic `<application.id>-<store>-changelog` and restores the
 * stores from it when the task starts (from the local checkpoint when there is one). Every
 * `commit.interval.ms` a thread flushes its caches and stores, flushes what it produced,
 * commits its input offsets and writes its checkpoints: at-least-once, a crash may repeat
 * records and never loses one. docs/runtime.md has the details and docs/configuration.md the
 * keys.
 *
 * **Backends.** The application reaches its log through eddy's client seam: the embedded log in
 * `log.dir` (default ./eddy-data), or Kafka (through librdkafka) when `bootstrap.servers` is set (docs/kafka.md).
 *
 * **Errors.** Functions return ::eddy_err and leave a message in eddy_last_error(). An error
 * while running (a record that cannot be deserialized under the log-and-fail handler, a store
 * that cannot be written, a callback error) stops the thread and moves the application to
 * ::EDDY_APP_ERROR; eddy_app_error() names the task, topic, partition and offset.
 *
 * **Threads.** The functions of one application are called from one thread (the callbacks of
 * its topology run on its stream threads), except eddy_app_state(), eddy_app_error(),
 * eddy_app_restoration() and eddy_app_store_get(), which any thread may call.
 */
#ifndef EDDY_APP_H
#define EDDY_APP_H

#include <stdint.h>

#include "eddy/common.h"
#include "eddy/config.h"
#include "eddy/streams.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A running (or runnable) application. Opaque. */
typedef struct eddy_app eddy_app;

/** The application's states, as Kafka Streams' KafkaStreams.State. */
typedef enum eddy_app_state {
    EDDY_APP_CREATED = 0,          /**< made, not started */
    EDDY_APP_REBALANCING = 1,      /**< tasks are being assigned or restored */
    EDDY_APP_RUNNING = 2,          /**< every thread is processing its tasks */
    EDDY_APP_PENDING_SHUTDOWN = 3, /**< eddy_app_close() is stopping the threads */
    EDDY_APP_NOT_RUNNING = 4,      /**< stopped cleanly */
    EDDY_APP_ERROR = 5             /**< a thread stopped on an error (eddy_app_error()) */
} eddy_app_state;

/** The state's name as Kafka prints it: "CREATED", "REBALANCING", "RUNNING", ... */
EDDY_EXPORT const char *eddy_app_state_name(eddy_app_state state);

/** Called on every state change, in order and one call at a time, from the thread that caused it (a stream thread, or the
 *  caller of eddy_app_start() / eddy_app_close()). Must not call eddy_app_close(). */
typedef void (*eddy_app_state_fn)(eddy_app_state new_state, eddy_app_state old_state,
                                  void *opaque);

/**
 * Makes an application of the topology of @p builder with @p config (copied; keys are Kafka
 * Streams' names, docs/configuration.md). Builds and checks the topology and the configuration;
 * touches no log or state yet.
 * The builder is borrowed: it must outlive the application and not change while it exists.
 * @return EDDY_OK; the builder's first error (eddy_builder_check()); EDDY_ERR_CONFIG naming the
 *         key for a missing `application.id`, an unknown key or a bad value;
 *         EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_app_new(eddy_builder *builder, const eddy_config *config,
                                  eddy_app **out);

/** Sets the state listener (before eddy_app_start()). */
EDDY_EXPORT void eddy_app_set_state_listener(eddy_app *app, eddy_app_state_fn fn, void *opaque);

/**
 * Starts the application: opens the log, checks that every input topic exists and that
 * co-partitioned topics have equal partition counts, creates the internal topics (changelogs,
 * repartition topics) when missing, loads the global tables to their ends, and starts the
 * stream threads. Returns once the threads run (state REBALANCING, then RUNNING).
 * With `eddy.create.topics` set to `name:partitions[,name:partitions...]`, those topics are
 * created first when missing (a program's own input and output topics).
 * @return EDDY_OK; EDDY_ERR_STATE when not CREATED; EDDY_ERR_UNKNOWN_TOPIC naming a missing
 *         input topic; EDDY_ERR_CONFIG naming co-partitioned topics whose partition counts
 *         differ; EDDY_ERR_EXISTS naming an internal topic (changelog, repartition topic) that
 *         exists with another partition count;
 *         EDDY_ERR_BUSY when another process uses the same state directory; log errors.
 *         On error nothing keeps running (state ERROR).
 */
EDDY_EXPORT eddy_err eddy_app_start(eddy_app *app);

/** The current state. */
EDDY_EXPORT eddy_app_state eddy_app_state_get(const eddy_app *app);

/** In state ERROR, the message of the error that stopped the application (naming task, topic,
 *  partition and offset where a record caused it); otherwise "". Valid until destroy. */
EDDY_EXPORT const char *eddy_app_error(const eddy_app *app);

/**
 * Waits until the state is RUNNING, NOT_RUNNING or ERROR, or @p timeout_ms passed (-1: no
 * limit). @return EDDY_OK when RUNNING; EDDY_ERR_TIMED_OUT; EDDY_ERR_STATE otherwise.
 */
EDDY_EXPORT eddy_err eddy_app_wait_running(eddy_app *app, int timeout_ms);

/**
 * Stops the application: each thread finishes the record in hand, commits (a final commit:
 * caches, stores, produced records, offsets, checkpoints), closes its tasks and leaves the
 * group. State PENDING_SHUTDOWN, then NOT_RUNNING (or ERROR if a thread had failed).
 * Safe to call in any state, more than once.
 * @return EDDY_OK; the first error of the final commit or of a thread.
 */
EDDY_EXPORT eddy_err eddy_app_close(eddy_app *app);

/** Closes (when not closed yet) and frees the application. NULL is a no-op. */
EDDY_EXPORT void eddy_app_destroy(eddy_app *app);

/**
 * Restoration progress since start: changelog records restored into this instance's stores and
 * the total there were to restore (both grow as tasks are assigned). Any thread.
 */
EDDY_EXPORT void eddy_app_restoration(const eddy_app *app, uint64_t *restored, uint64_t *total);

/**
 * Records dropped since start, over every task of this instance (Kafka's dropped-records
 * metric): late records of closed windows, records skipped by the log-and-continue handlers
 * (deserialization, processing) or sent to the dead-letter topic, and records with an invalid
 * timestamp. Any thread.
 */
EDDY_EXPORT uint64_t eddy_app_dropped_records(const eddy_app *app);

/**
 * Interactive query: the value of @p key in the store @p store_name, when the task owning the
 * key's partition runs in this instance. @p *value receives a copy (free with eddy_free()) and
 * @p *len its length. Any thread.
 * The value is read through the record cache: it includes updates not committed yet.
 * @return EDDY_OK; EDDY_ERR_NOT_FOUND when the key is absent (or its task is not here: the
 *         message says which); EDDY_ERR_INVALID_ARGUMENT for an unknown store name;
 *         EDDY_ERR_STATE when neither RUNNING nor REBALANCING.
 */
EDDY_EXPORT eddy_err eddy_app_store_get(eddy_app *app, const char *store_name, eddy_slice key,
                                        void **value, size_t *len);

/**
 * Which instance hosts @p key of the store @p store_name (Kafka Streams'
 * queryMetadataForKey): @p *active_host receives the application.server ("host:port") of the
 * instance running the key's task, @p *standby_hosts (may be NULL) a comma-separated list of
 * the instances holding standby replicas of it ("" none; num.standby.replicas), both
 * freed with eddy_free(); @p *partition (may be NULL) the key's partition. @p key is the
 * serialized record key (a windowed store's key with its window, as eddy_app_store_get takes).
 * Every instance started with `application.server` publishes its tasks on the topic
 * `<application.id>-eddy-instances` (compacted, created at start), on the embedded log and on
 * Kafka alike, and reads everyone's: the answer is the instance whose latest record claims the
 * task, so it lags a rebalance by the time the new owner takes to publish (as Kafka's). Any
 * thread.
 * @return EDDY_OK; EDDY_ERR_NOT_FOUND when no instance claims the task yet;
 *         EDDY_ERR_INVALID_ARGUMENT for an unknown store or a global table's; EDDY_ERR_STATE
 *         without application.server or when neither RUNNING nor REBALANCING.
 */
EDDY_EXPORT eddy_err eddy_app_key_metadata(eddy_app *app, const char *store_name, eddy_slice key,
                                           char **active_host, char **standby_hosts,
                                           int32_t *partition);

/**
 * Every live instance of the application, as text: one line per instance in server order,
 * `<host:port> active=<task>,<task>... standby=<task>,... members=<id>,...` (tasks as
 * "<sub-topology>_<partition>"; ids: the group member ids of its stream threads). An instance
 * killed without closing is listed until its tasks are claimed by others. Freed with
 * eddy_free(). Errors as eddy_app_key_metadata(). Any thread.
 */
EDDY_EXPORT eddy_err eddy_app_instances(eddy_app *app, char **text);

/**
 * Waits until this instance's current tasks are published and read back, at most
 * @p timeout_ms, so that answers include them. EDDY_OK; EDDY_ERR_TIMED_OUT; errors as
 * eddy_app_key_metadata(). Any thread.
 */
EDDY_EXPORT eddy_err eddy_app_metadata_sync(eddy_app *app, int timeout_ms);

/**
 * The topics the application uses, as text for operators who create topics by hand (a
 * locked-down Kafka cluster): one line per topic, `NAME PARTITIONS ROLE CONFIGS`, in the
 * topology's topic order and then the changelogs in store order. ROLE is `input` (must exist;
 * its partition count read from the log), `output` (written, never created: PARTITIONS is `-`),
 * `repartition`, `changelog` or `metadata` (with application.server: the instances' topic;
 * created by the application at start when missing, with exactly these partitions and
 * configurations; CONFIGS is `key=value,...` or `-`). Reads the input
 * topics' partition counts from the log @p app is configured for (it connects for this call
 * only). Only in state CREATED. @p *out receives the text (free with eddy_free()).
 * @return EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC naming a missing input topic; EDDY_ERR_CONFIG for
 *         co-partitioned inputs with different partition counts; EDDY_ERR_STATE when not
 *         CREATED; log errors.
 */
EDDY_EXPORT eddy_err eddy_app_topics(eddy_app *app, char **out);

/**
 * Creates @p topic with @p partitions partitions on the log @p config names (log.dir or
 * bootstrap.servers) unless it exists. For programs that make their own input topics.
 * @return EDDY_OK (created, or already there with any partition count); log errors.
 */
EDDY_EXPORT eddy_err eddy_topic_ensure(const eddy_config *config, const char *topic,
                                       int32_t partitions);

/**
 * The standard command line of an eddy program: parses @p argv, then runs the application
 * until SIGINT or SIGTERM, then closes it gracefully (a final commit). Flags:
 *
 *     --config FILE     read a properties file (Kafka Streams keys)
 *     --set KEY=VALUE   set one key (repeatable; after --config)
 *     --data DIR        the embedded log's directory (log.dir)
 *     --describe        print the topology (Kafka's TopologyDescription text) and exit
 *     --dot             print the topology as Graphviz DOT and exit
 *     --bootstrap-servers HOST:PORT[,...]   run on Kafka (bootstrap.servers)
 *     --print-topics    print the topics it needs (eddy_app_topics()) and exit
 *     --help            usage
 *
 * @p defaults (may be NULL) is applied first; flags override it. An error that stops the
 * program is one line `<program>: ...` on stderr. While it runs, the runtime logs at INFO
 * (state changes, tasks, restoration) unless the environment variable EDDY_LOG_LEVEL says
 * otherwise.
 * @return the process exit code: 0 after a clean shutdown; 1 when the application failed
 *         (ERROR) or could not start; 2 for a usage error.
 */
EDDY_EXPORT int eddy_main(int argc, char **argv, eddy_builder *builder,
                          const eddy_config *defaults);

#ifdef __cplusplus
}
#endif
#endif
