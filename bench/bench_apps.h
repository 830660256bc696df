/* What the stream processing benchmarks (bench_streams, bench_windows) share: their command
 * line, their own directory and log, the generated keys and values, creating and filling topics,
 * the hand-written loops' batched appends, starting an application and waiting for it, and the
 * timing of both sides.
 *
 * A program calls bench_apps_open() first (it parses the command line, creates the run's
 * directory, opens the log and makes the value pool), runs the cases bench_apps_case() selects,
 * and ends with bench_apps_close(). The settings below are valid in between. */
#ifndef EDDY_BENCH_APPS_H
#define EDDY_BENCH_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench.h"
#include "eddy/app.h"
#include "eddy/log.h"
#include "eddy/streams.h"

/* Every key is "user-%08d": 13 bytes. */
#define BENCH_KEY_LEN 13
/* The application producer's batch.size (the client seam's default); the hand-written loops
 * append when a batch holds this many bytes of keys and values. */
#define BENCH_BATCH_BYTES 1000000
#define BENCH_COMMIT_INTERVAL_MS "30000"
/* Kafka Streams' statestore.cache.max.bytes. */
#define BENCH_KAFKA_DEFAULT_CACHE_BYTES "10485760"
/* An application that has not finished a case after this long has failed (or hangs). */
#define BENCH_WAIT_MAX_NS (600 * 1000000000LL)

/* The settings of the run (from the command line and EDDY_BENCH_SCALE), valid after
 * bench_apps_open(). bench_dir is the run's own directory inside --dir (removed by
 * bench_apps_close()); it holds the log (bench_log_dir), the applications' state and the
 * loops' databases. */
extern const char *bench_dir;
extern char bench_log_dir[4096];
extern double bench_scale;
extern const char *bench_only;
extern int bench_eddy_first;
extern int bench_verbose;
/* statestore.cache.max.bytes of the applications: Kafka Streams' default unless the program
 * sets another before bench_apps_open(), or --cache-bytes does. */
extern const char *bench_cache_bytes;
extern eddy_log *bench_log;

/* 64 KiB of pattern bytes: record values come from here. */
extern uint8_t *bench_value_pool;
/* The keys of bench_keys_make(): bench_key_count of them, NUL-terminated. */
extern char (*bench_key_table)[16];
extern int64_t bench_key_count;

/* Parses the command line of `program` ("bench_streams"): --dir D, --case C (one of `cases`, a
 * NULL-terminated list starting with "all"), --scale F, --only eddy|baseline, --eddy-first,
 * --cache-bytes N, --verbose. When they are wrong, prints `usage` on stderr and returns false
 * (the program exits with status 2). Otherwise creates D and, inside it, the run's own
 * directory "<run_name>-<pid>" (bench_dir), opens the log in it, fills the value pool and
 * returns true; failures exit through bench_die. */
bool bench_apps_open(int argc, char **argv, const char *run_name, const char *const *cases,
                     const char *usage);
/* What bench_apps_open() does once the command line is parsed, for a program with a command
 * line of its own (bench_kafka): creates `dir` and, inside it, the run's own directory
 * "<run_name>-<pid>" (bench_dir), opens the log in it and fills the value pool. Failures exit
 * through bench_die. End with bench_apps_close(). */
void bench_apps_init(const char *dir, const char *run_name);
/* Whether the case `name` runs: --case all or --case name. */
bool bench_apps_case(const char *name);
/* Closes the log, removes the run's directory, frees the keys and the value pool. */
void bench_apps_close(void);

/* n times the scale, at least 1. */
int64_t bench_scaled(int64_t n);
/* Whether --only lets the eddy side (the hand-written loop) run. */
bool bench_run_eddy(void);
bool bench_run_base(void);

/* Makes `count` keys "user-%08d", numbered in a scrambled order (as bench_store's), so that
 * neither side sees sorted inserts. */
void bench_keys_make(int64_t count);

static inline eddy_slice bench_key_at(int64_t index)
{
    return (eddy_slice){bench_key_table[index], BENCH_KEY_LEN};
}

/* A fixed LCG: the same workload every run. Returns the next 31 bits. */
uint64_t bench_lcg_next(uint64_t *state);
/* Uniform draws of `count` indices below `range`, from the LCG seeded with `seed`; the caller
 * frees them. */
uint32_t *bench_draws_make(int64_t count, int64_t range, uint64_t seed);
/* Record i's value of `len` bytes: a window of the pattern pool, so neighbours differ. */
eddy_slice bench_pool_value(int64_t i, size_t len);

/* Joins two values, left then right, into out: the work of both sides of a join (not inlined,
 * so both run the very same code). */
void bench_join_values(const uint8_t *left, size_t left_len, const uint8_t *right, size_t right_len,
                       uint8_t *out) __attribute__((noinline));

/* ---- The log: topics, batches, digests ----------------------------------------------------- */

/* Creates a topic of one partition; with a cleanup policy, and with it retention.ms when
 * retention_ms >= 0. */
void bench_topic_create(const char *topic, const char *policy, int64_t retention_ms);
/* Deletes a topic; a missing one is not an error. */
void bench_topic_delete(const char *topic);
/* Deletes every topic of the log (inputs, outputs, changelogs): the next case starts empty. */
void bench_topics_delete_all(void);
/* The end offset of partition 0 of `topic` (0 when it does not exist). */
int64_t bench_end_offset(const char *topic);

/* Batches of records whose bytes are copied into one buffer, appended with acks=1 once the
 * buffer holds BENCH_BATCH_BYTES (the loops' and the fillers' writing). */
typedef struct bench_batch_writer {
    const char *topic;
    eddy_record *records;
    size_t count, capacity;
    uint8_t *bytes;
    size_t used;
    int64_t appended; /* records appended so far */
} bench_batch_writer;

void bench_writer_open(bench_batch_writer *w, const char *topic);
/* Appends what the batch holds. */
void bench_writer_flush(bench_batch_writer *w);
/* Flushes and frees the batch. */
void bench_writer_close(bench_batch_writer *w);

/* Adds a record; a key or value with data == NULL is left null (a value: a tombstone). Inline:
 * the loops call it for every record they write. */
static inline void bench_writer_add(bench_batch_writer *w, eddy_slice key, eddy_slice value,
                                    int64_t timestamp_ms)
{
    if (w->used + key.len + value.len > BENCH_BATCH_BYTES || w->count == w->capacity)
        bench_writer_flush(w);
    eddy_record *r = &w->records[w->count++];
    memset(r, 0, sizeof(*r));
    r->timestamp_ms = timestamp_ms;
    if (key.data) {
        memcpy(w->bytes + w->used, key.data, key.len);
        r->key = (eddy_slice){w->bytes + w->used, key.len};
        w->used += key.len;
    }
    if (value.data) {
        memcpy(w->bytes + w->used, value.data, value.len);
        r->value = (eddy_slice){w->bytes + w->used, value.len};
        w->used += value.len;
    }
}

/* What a topic holds, to compare both sides' outputs: record count, byte sums of keys and
 * values. */
typedef struct bench_topic_digest {
    int64_t records;
    uint64_t key_sum, value_sum;
} bench_topic_digest;

bench_topic_digest bench_topic_digest_of(const char *topic);

/* Reads every record partition 0 of a topic holds (up to its end offset when the scan opens),
 * in order: open, next until it returns false, close. */
typedef struct bench_topic_scan {
    eddy_log_reader *reader;
    int64_t left; /* records still to read */
} bench_topic_scan;

void bench_topic_scan_open(bench_topic_scan *scan, const char *topic);
/* The next record, valid until the next call (false when every record was read). */
bool bench_topic_scan_next(bench_topic_scan *scan, eddy_record *record);
void bench_topic_scan_close(bench_topic_scan *scan);

/* ---- Running an application ---------------------------------------------------------------- */

/* Creates and starts an application of builder b: application.id, the run's log and state
 * directories, acks=1, statestore.cache.max.bytes=cache_bytes, commit.interval.ms=
 * BENCH_COMMIT_INTERVAL_MS and, unless NULL, default.dsl.store=dsl_store. The builder must
 * outlive the application. */
eddy_app *bench_app_start(eddy_builder *b, const char *application_id, const char *dsl_store,
                          const char *cache_bytes);
/* As bench_app_start, on the log that `backend` names instead of the run's own: its keys
 * (bootstrap.servers and the Kafka consumer's settings, say) are set in place of log.dir.
 * NULL: the run's log, as bench_app_start. */
eddy_app *bench_app_start_on(eddy_builder *b, const char *application_id, const char *dsl_store,
                             const char *cache_bytes, const eddy_config *backend);
/* Closes (a final commit) and destroys the application. */
void bench_app_stop(eddy_app *app);
/* Sleeps `us` microseconds. */
void bench_nap_us(long us);
/* Exits through bench_die when the application failed or has run for BENCH_WAIT_MAX_NS since
 * start_ns. */
void bench_app_check(eddy_app *app, int64_t start_ns);
/* Waits until the store `store` holds `count` (an 8-byte big-endian int64) under `key`, read
 * through the record cache with eddy_app_store_get() (which takes the stream thread's lock
 * between two batches): the last input record's key (window, session) reaching its final
 * count means every record was processed, since one task processes its partition in order. */
void bench_app_wait_store(eddy_app *app, const char *store, eddy_slice key, int64_t count,
                          int64_t start_ns);

/* What bench_app_run_to_close measured. */
typedef struct bench_app_timing {
    double rps;           /* input records per second from start until the close returned */
    double processed_rps; /* ... until every record was processed */
    int64_t close_ns;     /* from processed until the close returned */
    double complete_rps;  /* with an output to wait for: until it was complete (else 0) */
} bench_app_timing;

/* Starts an aggregation application (as bench_app_start), waits until `store` holds
 * probe_count under `probe` (bench_app_wait_store) and closes it, timing all; `what` names the
 * case for bench_timed_region. With `output` (may be NULL), an application whose every record
 * is output (no record cache) also has its output waited for, `output_records` records of the
 * topic: timing->complete_rps then times it until the output was complete, the close after it
 * untimed (the loop's side does no close). Returns the closed application, which the caller
 * destroys. */
eddy_app *bench_app_run_to_close(const char *what, eddy_builder *b, const char *application_id,
                                 const char *dsl_store, const char *cache_bytes, const char *store,
                                 eddy_slice probe, int64_t probe_count, int64_t records,
                                 const char *output, int64_t output_records,
                                 bench_app_timing *timing);

/* ---- Timing ------------------------------------------------------------------------------- */

/* With --verbose, the timed region of a side on stderr, in CLOCK_MONOTONIC seconds (what
 * `perf record -k CLOCK_MONOTONIC` stamps samples with, for `perf report --time A,B`). */
void bench_timed_region(const char *what, const char *side, int64_t start_ns, int64_t end_ns);
/* Records per second (0 when ns is not positive). */
double bench_rate(int64_t records, int64_t ns);

#endif
