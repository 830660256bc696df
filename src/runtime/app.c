/* The application runtime (include/eddy/app.h): stream threads running tasks over the client
 * seam, state stores with changelogs, restoration, commits and checkpoints.
 *
 *     eddy_app ── client (embedded log or Kafka)
 *       ├── global thread: global task over every partition of the global topics
 *       └── stream thread × num.stream.threads
 *             consumer (group = application.id, range) ── rebalance: make / close tasks
 *             producer (sinks, repartition topics, changelogs)
 *             tasks (sub-topology, partition) ── stores: cache → changelog → memory | RocksDB
 *
 * Each stream thread loops: poll a batch of records into per-task queues (one per input
 * partition), process each task's records choosing the smallest head timestamp, run wall-clock
 * punctuations, and commit every commit.interval.ms (the commit order is in thread_commit).
 *
 * Local state lives in state.dir/<application.id>/:
 *     .lock                        flock'ed by the running instance
 *     <sub>_<partition>/           a task's directory
 *         rocksdb/<store>/         a RocksDB store
 *         .checkpoint              the changelog offsets its RocksDB stores hold
 *
 * The checkpoint file is Kafka Streams' format (version 0): text lines
 *     0
 *     <count>
 *     <changelog topic> <partition> <offset>     (count lines)
 * where offset is the next changelog offset to restore from. It is written (temp file, fsync,
 * rename) after each commit, and read when the task starts: its stores restore from there.
 * A checkpoint that does not parse, or names an offset past the changelog's end, is ignored
 * with a warning and its stores are wiped and restored from the beginning. In-memory stores
 * are never checkpointed: they restore the whole changelog. */
#include "eddy/app.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/logging.h"
#include "runtime/metadata.h"
#include "runtime/placement.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "store/store.h"
#include "store/window.h"
#include "topology/topology.h"

#define BATCH_RECORDS_MAX 4096
#define SOURCE_TOPICS_MAX 64
/* While a task waits for one of its inputs, the thread polls in steps this long, for at most
 * INPUT_WAIT_MAX_MS under max.task.idle.ms=0 (see input_wait_continues). */
#define INPUT_WAIT_POLL_MS 5
#define INPUT_WAIT_MAX_MS 1000
#define APP_ERROR_MAX 1024

typedef struct stream_thread stream_thread;

/* One input partition's queued records: indices into the thread's batch. */
typedef struct input_queue {
    char topic[256];
    uint32_t *entries;
    uint32_t head, count, capacity;
    bool caught_up; /* found with lag 0 during this batch (task_waits_for_input) */
} input_queue;

typedef struct runtime_task {
    eddy__task *task;
    stream_thread *thread;
    uint32_t subtopology;
    int32_t partition;
    char dir[EDDY__PATH_MAX];
    eddy_kv_store **stores;  /* by store index: what the task uses (outermost decorator) */
    int64_t *changelog_next; /* by store index: next changelog offset (from deliveries) */
    bool *checkpointable;    /* by store index: a RocksDB store with a changelog */
    bool *forwarding;        /* by store index: its cache forwards the owner's changes */
    eddy_kv_store **expiry;  /* by store index: windowed stores' expiry views */
    eddy_kv_store **kept;    /* by store index: changelogged in-memory stores (inner, kept open) */
    bool hand_over;          /* closing after a commit: put the kept stores aside */
    input_queue queues[SOURCE_TOPICS_MAX];
    uint32_t queue_count;
    bool dirty; /* processed records since the last commit */
} runtime_task;

/* A record polled and copied into the thread's batch arena. */
typedef struct batch_entry {
    size_t key_offset, value_offset, headers_offset;
    size_t key_len, value_len;
    bool key_null, value_null;
    size_t header_count;
    int64_t timestamp_ms, offset;
    int64_t order_ms; /* the extracted timestamp: queues are chosen by it */
    int32_t partition;
    uint32_t task;  /* index into thread->tasks */
    uint32_t queue; /* index into the task's queues */
} batch_entry;

struct stream_thread {
    eddy_app *app;
    int index;
    pthread_t thread;
    bool started;
    eddy__consumer *consumer;
    eddy__producer *producer;
    runtime_task **tasks;
    uint32_t task_count, task_capacity;
    batch_entry *batch;
    uint32_t batch_count;
    eddy__buf arena;
    int64_t last_commit_ms;
    int64_t next_member_ms;       /* when to check the consumer's group member id again */
    int64_t current_timestamp_ms; /* of the record in hand: changelog records carry it */
    /* batch_route's answer for the last partition routed; reset when tasks change. */
    const char *route_topic;
    int32_t route_partition;
    uint32_t route_task, route_queue;
    size_t cache_bytes; /* the record caches' use of the thread's budget */
    atomic_bool rebalancing;
    bool failed;
    eddy_err delivery_error;
    pthread_mutex_t lock;       /* held while processing and committing; queries take it */
    atomic_int queries_waiting; /* queries blocked on `lock`: the thread lets them in */
};

/* A source topic of a task sub-topology. */
typedef struct source_entry {
    char topic[256];
    uint32_t subtopology;
} source_entry;

typedef struct standbys standbys;

/* A topic the application uses, for creating the internal ones and for eddy_app_topics(). */
typedef struct topic_need {
    char *name;
    int32_t partitions;  /* -1: not the application's to decide (an output topic) */
    eddy_config *config; /* the topic configuration it is created with; NULL: the defaults */
    const char *role;    /* "input", "output", "repartition", "changelog", "metadata" (static) */
} topic_need;

struct eddy_app {
    eddy_builder *builder;
    source_entry *sources; /* every task source topic (make_name_maps) */
    uint32_t source_count;
    char **changelog_names; /* by store index */
    const eddy__topology *topology;
    eddy_config *config;
    eddy__streams_config sc;
    eddy__client *client;
    char dir[EDDY__PATH_MAX]; /* state.dir/application.id */
    int lock_fd;
    int32_t *sub_partitions;  /* by sub-topology index */
    topic_need *needs;        /* every topic the application reads, writes or creates */
    const char *server;       /* application.server (in config); NULL: unset */
    eddy__metadata *metadata; /* with application.server: the instances and their tasks */
    standbys *standby;        /* with num.standby.replicas > 0: this instance's standby tasks */
    size_t need_count, need_capacity;
    pthread_mutex_t handoff_lock; /* the handoffs */
    struct handoff *handoffs;     /* in-memory stores put aside for the next task (below) */
    uint32_t handoff_count, handoff_capacity;
    pthread_mutex_t state_lock;
    pthread_mutex_t listener_lock; /* serializes state changes with their listener calls */
    pthread_cond_t state_cond;
    eddy_app_state state;
    eddy_app_state_fn listener;
    void *listener_opaque;
    char error[APP_ERROR_MAX];
    eddy_err first_error;
    atomic_bool stopping;
    atomic_uint_fast64_t restored, restore_total;
    _Atomic uint64_t dropped_records; /* Kafka's dropped-records metric, over every task */
    stream_thread *threads;
    int thread_count;
    /* Global tables. */
    eddy_kv_store **global_stores; /* by store index (locked wrappers) */
    eddy__task *global_task;
    eddy__task_host global_host;
    eddy__consumer *global_consumer;
    pthread_t global_thread;
    bool global_started;
    eddy__task_host host; /* for stream tasks: opaque is the task's thread, set per task */
};

static const char *const state_names[] = {"CREATED",          "REBALANCING", "RUNNING",
                                          "PENDING_SHUTDOWN", "NOT_RUNNING", "ERROR"};

const char *eddy_app_state_name(eddy_app_state state)
{
    return (unsigned)state < 6 ? state_names[state] : "UNKNOWN";
}

/* ---- State ---------------------------------------------------------------------------------- */

static void set_state(eddy_app *app, eddy_app_state next)
{
    /* Held through the listener call, so that listeners see the changes in order. */
    pthread_mutex_lock(&app->listener_lock);
    pthread_mutex_lock(&app->state_lock);
    eddy_app_state old = app->state;
    /* ERROR and NOT_RUNNING are final; nothing but PENDING_SHUTDOWN leaves PENDING_SHUTDOWN. */
    bool allowed = old != next && old != EDDY_APP_ERROR && old != EDDY_APP_NOT_RUNNING &&
                   (old != EDDY_APP_PENDING_SHUTDOWN || next == EDDY_APP_NOT_RUNNING ||
                    next == EDDY_APP_ERROR);
    if (allowed)
        app->state = next;
    pthread_cond_broadcast(&app->state_cond);
    pthread_mutex_unlock(&app->state_lock);
    if (allowed) {
        EDDY_INFO("runtime", "application %s: state %s -> %s", app->sc.application_id,
                  eddy_app_state_name(old), eddy_app_state_name(next));
        if (app->listener)
            app->listener(next, old, app->listener_opaque);
    }
    pthread_mutex_unlock(&app->listener_lock);
}

static void app_fail(eddy_app *app, eddy_err err, const char *message)
{
    pthread_mutex_lock(&app->state_lock);
    if (app->first_error == EDDY_OK) {
        app->first_error = err;
        snprintf(app->error, sizeof app->error, "%s", message);
    }
    pthread_mutex_unlock(&app->state_lock);
    EDDY_ERROR("runtime", "application %s: %s", app->sc.application_id, message);
    atomic_store(&app->stopping, true);
    set_state(app, EDDY_APP_ERROR);
}

/* RUNNING once no thread is rebalancing, REBALANCING otherwise. */
static void update_running_state(eddy_app *app)
{
    bool rebalancing = false;
    for (int i = 0; i < app->thread_count; i++)
        rebalancing |= atomic_load(&app->threads[i].rebalancing);
    if (!atomic_load(&app->stopping))
        set_state(app, rebalancing ? EDDY_APP_REBALANCING : EDDY_APP_RUNNING);
}

/* ---- Files ---------------------------------------------------------------------------------- */

static eddy_err make_dirs(const char *path)
{
    char buf[EDDY__PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return eddy__fail_errno(errno, "creating directory %s", buf);
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return eddy__fail_errno(errno, "creating directory %s", buf);
    return EDDY_OK;
}

typedef struct checkpoint_entry {
    char topic[256];
    int32_t partition;
    int64_t offset;
} checkpoint_entry;

/* Reads a task's checkpoint: EDDY_OK (count 0 when there is no file); EDDY_ERR_CORRUPT with a
 * message when it does not parse. */
static eddy_err checkpoint_read(const char *dir, checkpoint_entry *entries, uint32_t max,
                                uint32_t *count)
{
    char path[EDDY__PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.checkpoint", dir);
    *count = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? EDDY_OK : eddy__fail_errno(errno, "reading %s", path);
    int version = -1;
    long n = -1;
    eddy_err err = EDDY_OK;
    if (fscanf(f, "%d %ld", &version, &n) != 2 || version != 0 || n < 0 || (unsigned long)n > max)
        err = eddy__fail(EDDY_ERR_CORRUPT, "checkpoint %s: bad header", path);
    for (long i = 0; err == EDDY_OK && i < n; i++) {
        checkpoint_entry *e = &entries[i];
        if (fscanf(f, "%255s %" SCNd32 " %" SCNd64, e->topic, &e->partition, &e->offset) != 3 ||
            e->offset < 0 || e->partition < 0)
            err =
                eddy__fail(EDDY_ERR_CORRUPT, "checkpoint %s: line %ld does not parse", path, i + 3);
    }
    char extra[2];
    if (err == EDDY_OK && fscanf(f, "%1s", extra) == 1)
        err = eddy__fail(EDDY_ERR_CORRUPT, "checkpoint %s: unexpected text after %ld entries", path,
                         n);
    fclose(f);
    if (err == EDDY_OK)
        *count = (uint32_t)n;
    return err;
}

static eddy_err checkpoint_write(const char *dir, const checkpoint_entry *entries, uint32_t count)
{
    char path[EDDY__PATH_MAX + 16], tmp[EDDY__PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.checkpoint", dir);
    snprintf(tmp, sizeof tmp, "%s/.checkpoint.tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return eddy__fail_errno(errno, "writing %s", tmp);
    fprintf(f, "0\n%" PRIu32 "\n", count);
    for (uint32_t i = 0; i < count; i++)
        fprintf(f, "%s %" PRId32 " %" PRId64 "\n", entries[i].topic, entries[i].partition,
                entries[i].offset);
    bool ok = fflush(f) == 0 && fdatasync(fileno(f)) == 0;
    int saved = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        return eddy__fail_errno(ok ? errno : saved, "writing %s", path);
    return EDDY_OK;
}

/* ---- Stores and restoration ----------------------------------------------------------------- */

static eddy_store_kind store_kind(const eddy_app *app, uint32_t store)
{
    eddy_store_kind kind = app->topology->stores[store].kind;
    return kind == EDDY_STORE_DEFAULT ? app->sc.default_store : kind;
}

static void changelog_name(const eddy_app *app, uint32_t store, char *buf, size_t size)
{
    eddy__store_changelog_name(&app->topology->stores[store], app->sc.application_id, buf, size);
}

/* Opens a task's inner store; a RocksDB store that cannot be read is wiped and made again. */
static eddy_err open_inner_store(eddy_app *app, const char *dir, uint32_t store, bool wipe,
                                 bool *wiped, eddy_kv_store **out)
{
    if (wiped)
        *wiped = wipe;
    const char *name = app->topology->stores[store].name;
    const eddy__store *def = &app->topology->stores[store];
    /* Session stores and join buffers, scanned per record: store/windowed.c. */
    bool session = def->type == EDDY__STORE_SESSION;
    if (store_kind(app, store) == EDDY_STORE_MEMORY && (session || def->retain_duplicates))
        return eddy__kv_store_open_memory_windowed(
            name, eddy__window_suffix_bytes(session, def->retain_duplicates), out);
    if (store_kind(app, store) == EDDY_STORE_MEMORY)
        return eddy_kv_store_open_memory(name, out);
    char rocks[EDDY__PATH_MAX + 16];
    snprintf(rocks, sizeof rocks, "%s/rocksdb", dir);
    if (wipe) {
        eddy_err err = eddy_kv_store_wipe_rocksdb(rocks, name);
        if (err != EDDY_OK)
            return err;
    }
    eddy_err err = eddy_kv_store_open_rocksdb(name, rocks, app->config, out);
    if (err == EDDY_ERR_CORRUPT) {
        EDDY_WARN("runtime",
                  "store %s in %s cannot be read (%s): wiping it; it is restored from "
                  "its changelog",
                  name, rocks, eddy_last_error());
        err = eddy_kv_store_wipe_rocksdb(rocks, name);
        if (err == EDDY_OK)
            err = eddy_kv_store_open_rocksdb(name, rocks, app->config, out);
        if (wiped)
            *wiped = true;
    }
    return err;
}

/* Restores `store` from its changelog partition, from `from` (an offset or
 * EDDY_OFFSET_BEGINNING) to the end. Returns the next offset through *next. */
static eddy_err restore_store(eddy_app *app, const char *task_id, eddy_kv_store *store,
                              const char *topic, int32_t partition, int64_t from, int64_t *next)
{
    int64_t low = 0, high = 0;
    eddy_err err = eddy__client_watermarks(app->client, topic, partition, &low, &high);
    if (err != EDDY_OK)
        return err;
    int64_t start = from < 0 ? low : (from < low ? low : from);
    *next = high;
    if (start >= high)
        return EDDY_OK;
    uint64_t total = (uint64_t)(high - start);
    atomic_fetch_add(&app->restore_total, total);
    eddy__consumer *consumer = NULL;
    eddy_config *cc = eddy_config_new();
    if (!cc || eddy_config_set(cc, "auto.offset.reset", "earliest") != EDDY_OK)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory restoring %s", topic);
    if (err == EDDY_OK)
        err = eddy__consumer_new(app->client, NULL, cc, &consumer);
    eddy__topic_partition_offset tp = {topic, partition, start};
    if (err == EDDY_OK)
        err = eddy__consumer_assign(consumer, &tp, 1);
    uint64_t restored = 0;
    int64_t position = start;
    int64_t next_report_ms = eddy__now_ms() + 1000;
    while (err == EDDY_OK && position < high && !atomic_load(&app->stopping)) {
        if (eddy__now_ms() >= next_report_ms) { /* a long restoration says how far it is */
            EDDY_INFO("runtime", "task %s: restoring store %s: %" PRIu64 " of %" PRIu64 " records",
                      task_id, eddy_kv_store_name(store), restored, total);
            next_report_ms += 1000;
        }
        eddy_record rec;
        err = eddy__consumer_poll(consumer, 1000, &rec);
        if (err == EDDY_ERR_TIMED_OUT) {
            err = EDDY_OK;
            continue;
        }
        if (err != EDDY_OK)
            break;
        if (rec.key.data)
            err = rec.value.data ? eddy_kv_put(store, rec.key, rec.value)
                                 : eddy_kv_delete(store, rec.key);
        position = rec.offset + 1;
        restored++;
        atomic_fetch_add(&app->restored, 1);
    }
    if (err == EDDY_OK)
        err = eddy_kv_flush(store);
    eddy__consumer_destroy(consumer);
    eddy_config_destroy(cc);
    if (err == EDDY_OK)
        EDDY_INFO("runtime",
                  "task %s: restored %" PRIu64 " of %" PRIu64 " records into store %s "
                  "from %s partition %" PRId32 " (offsets %" PRId64 "..%" PRId64 ")",
                  task_id, restored, total, eddy_kv_store_name(store), topic, partition, start,
                  high);
    /* Nothing changed the changelog's end while we read it: the task's records are written only
     * by this task, which does not run yet. */
    return err;
}

/* The changelog callback of a task's store: a record to the store's changelog partition. */
typedef struct changelog_target {
    runtime_task *task;
    uint32_t store;
} changelog_target;

static eddy_err log_change(void *opaque, eddy_slice key, eddy_slice value)
{
    changelog_target *target = opaque;
    runtime_task *rt = target->task;
    const char *topic = rt->thread->app->changelog_names[target->store];
    eddy_record rec = {
        .key = key, .value = value, .timestamp_ms = rt->thread->current_timestamp_ms};
    eddy_err err;
    while ((err = eddy__producer_send(rt->thread->producer, topic, rt->partition, &rec,
                                      &rt->changelog_next[target->store])) == EDDY_ERR_BUSY)
        eddy__producer_poll(rt->thread->producer, 10);
    return err;
}

/* A cached change of a store written to the store under it: forwarded by the task. */
static eddy_err forward_flushed(void *opaque, eddy_slice key, eddy_slice new_value,
                                eddy_slice old_value, int64_t context_ms)
{
    changelog_target *target = opaque;
    if (!target->task->task)
        return EDDY_OK; /* not made yet: nothing was written through the cache */
    return eddy__task_store_flushed(target->task->task, target->store, key, new_value, old_value,
                                    context_ms);
}

/* The record cache budget of one stream thread, shared by all its tasks' stores (Kafka's
 * statestore.cache.max.bytes split over the threads). */
static size_t cache_budget(eddy_app *app)
{
    return (size_t)(app->sc.cache_max_bytes / app->sc.num_stream_threads);
}

/* Whether a store gets a record cache: the builder says (key-value, windowed and session
 * stores do; the buffers of stream-stream joins and of suppression do not, as in Kafka). */
static bool store_cached(const eddy__store *s)
{
    return s->caching;
}

/* ---- Handoffs of in-memory stores ----------------------------------------------------------
 *
 * An in-memory store dies with its task, and a new task of the partition would restore it from
 * the whole changelog. But a task is often closed only to be opened again here at once: on
 * Kafka every rebalance revokes every partition (the range assignor's eager protocol) and
 * assigns most of them back; and a standby closes when its task becomes active here. So a
 * closing task whose commit succeeded, and a claimed standby, put their in-memory stores aside
 * with the changelog offset they hold up to; the next task of the partition on this instance
 * (any stream thread) takes them and restores only the changelog past that offset, as Kafka
 * Streams keeps suspended tasks' stores across an eager rebalance. What no task takes within
 * HANDOFF_KEEP_MS is closed. */
#define HANDOFF_KEEP_MS 60000

struct handoff {
    uint32_t sub, store;
    int32_t partition;
    eddy_kv_store *kv;
    int64_t next;     /* the next changelog offset the store needs */
    int64_t since_ms; /* when it was put aside */
};

/* Closes the handoffs put aside before `before_ms` (all: INT64_MAX). */
static void handoffs_expire(eddy_app *app, int64_t before_ms)
{
    pthread_mutex_lock(&app->handoff_lock);
    for (uint32_t i = 0; i < app->handoff_count;) {
        if (app->handoffs[i].since_ms < before_ms) {
            eddy_kv_store_close(app->handoffs[i].kv); /* not kept open: handoff_put cleared it */
            app->handoffs[i] = app->handoffs[--app->handoff_count];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&app->handoff_lock);
}

/* Puts store `kv` (store index `store` of task sub/partition, holding the changelog up to
 * `next`) aside; it now belongs to the pool (closed at once when there is no room). */
static void handoff_put(eddy_app *app, uint32_t sub, int32_t partition, uint32_t store,
                        eddy_kv_store *kv, int64_t next)
{
    handoffs_expire(app, eddy__now_ms() - HANDOFF_KEEP_MS);
    eddy__kv_store_keep_open(kv, false);
    pthread_mutex_lock(&app->handoff_lock);
    /* One per store: of two copies (a task's and its standby's), the one further along. */
    for (uint32_t i = 0; i < app->handoff_count; i++) {
        struct handoff *h = &app->handoffs[i];
        if (h->sub != sub || h->partition != partition || h->store != store)
            continue;
        eddy_kv_store *older = h->next >= next ? kv : h->kv;
        if (older == h->kv) {
            h->kv = kv;
            h->next = next;
            h->since_ms = eddy__now_ms();
        }
        pthread_mutex_unlock(&app->handoff_lock);
        eddy_kv_store_close(older);
        return;
    }
    if (app->handoff_count == app->handoff_capacity) {
        uint32_t capacity = app->handoff_capacity ? 2 * app->handoff_capacity : 8;
        struct handoff *grown = eddy__realloc(app->handoffs, capacity * sizeof *grown);
        if (grown) {
            app->handoffs = grown;
            app->handoff_capacity = capacity;
        }
    }
    bool room = app->handoff_count < app->handoff_capacity;
    if (room)
        app->handoffs[app->handoff_count++] =
            (struct handoff){sub, store, partition, kv, next, eddy__now_ms()};
    pthread_mutex_unlock(&app->handoff_lock);
    if (!room)
        eddy_kv_store_close(kv); /* the next task restores it whole */
}

/* Takes the store put aside for store `store` of task sub/partition, and the next changelog
 * offset it needs; false when there is none. */
static bool handoff_take(eddy_app *app, uint32_t sub, int32_t partition, uint32_t store,
                         eddy_kv_store **kv, int64_t *next)
{
    pthread_mutex_lock(&app->handoff_lock);
    bool found = false;
    for (uint32_t i = 0; i < app->handoff_count && !found; i++) {
        struct handoff *h = &app->handoffs[i];
        if (h->sub != sub || h->partition != partition || h->store != store)
            continue;
        *kv = h->kv;
        *next = h->next;
        *h = app->handoffs[--app->handoff_count];
        found = true;
    }
    pthread_mutex_unlock(&app->handoff_lock);
    return found;
}

/* Closes what was put aside for task sub/partition and not taken by its new task (which failed
 * to start). */
static void handoffs_drop(eddy_app *app, uint32_t sub, int32_t partition)
{
    pthread_mutex_lock(&app->handoff_lock);
    for (uint32_t i = 0; i < app->handoff_count;) {
        struct handoff *h = &app->handoffs[i];
        if (h->sub == sub && h->partition == partition) {
            eddy_kv_store_close(h->kv);
            *h = app->handoffs[--app->handoff_count];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&app->handoff_lock);
}

/* The in-memory store of a new task's store `store`: one put aside for it, restored from its
 * offset, when its changelog still reaches that far; else a new, empty one. */
static eddy_err task_memory_store(runtime_task *rt, uint32_t store, const char *topic,
                                  eddy_kv_store **inner, int64_t *from)
{
    eddy_app *app = rt->thread->app;
    int64_t next = 0, high = -1;
    if (handoff_take(app, rt->subtopology, rt->partition, store, inner, &next)) {
        if (eddy__client_watermarks(app->client, topic, rt->partition, NULL, &high) == EDDY_OK &&
            next <= high) {
            *from = next;
            EDDY_INFO("runtime",
                      "task %" PRId32 "_%" PRId32 ": store %s kept in memory, restoring from "
                      "offset %" PRId64,
                      app->topology->subtopologies[rt->subtopology].id, rt->partition,
                      app->topology->stores[store].name, next);
            return EDDY_OK;
        }
        eddy_kv_store_close(*inner); /* the changelog was truncated or recreated */
        *inner = NULL;
    }
    *from = EDDY_OFFSET_BEGINNING;
    return open_inner_store(app, rt->dir, store, false, NULL, inner);
}

/* Opens, restores and decorates one store of a new task. */
static eddy_err task_store_open(runtime_task *rt, uint32_t store, const checkpoint_entry *cp,
                                uint32_t cp_count, bool checkpoint_bad, changelog_target *targets)
{
    eddy_app *app = rt->thread->app;
    const eddy__store *s = &app->topology->stores[store];
    char topic[512], task_id[32];
    changelog_name(app, store, topic, sizeof topic);
    snprintf(task_id, sizeof task_id, "%" PRId32 "_%" PRId32,
             app->topology->subtopologies[rt->subtopology].id, rt->partition);
    bool persistent = store_kind(app, store) == EDDY_STORE_ROCKSDB;
    int64_t from = EDDY_OFFSET_BEGINNING;
    for (uint32_t i = 0; i < cp_count && persistent && s->changelog; i++)
        if (strcmp(cp[i].topic, topic) == 0 && cp[i].partition == rt->partition)
            from = cp[i].offset;
    if (persistent && s->changelog && from >= 0) {
        int64_t high = 0;
        if (eddy__client_watermarks(app->client, topic, rt->partition, NULL, &high) == EDDY_OK &&
            from > high) {
            EDDY_WARN("runtime",
                      "task %s: checkpoint offset %" PRId64 " of store %s is past the "
                      "end of %s (%" PRId64 "): wiping the store and restoring it all",
                      task_id, from, s->name, topic, high);
            from = EDDY_OFFSET_BEGINNING;
        }
    }
    /* Without a checkpoint a persistent store may hold anything: start it empty. */
    bool wipe = persistent && (checkpoint_bad || from < 0);
    eddy_kv_store *inner = NULL;
    bool wiped = false;
    eddy_err err = !persistent && s->changelog
                       ? task_memory_store(rt, store, topic, &inner, &from)
                       : open_inner_store(app, rt->dir, store, wipe, &wiped, &inner);
    if (err != EDDY_OK)
        return err;
    if (!persistent && s->changelog) { /* kept open under its decorators, to be put aside */
        eddy__kv_store_keep_open(inner, true);
        rt->kept[store] = inner;
    }
    if (wiped) /* empty now, whatever the checkpoint said */
        from = EDDY_OFFSET_BEGINNING;
    rt->checkpointable[store] = persistent && s->changelog;
    targets[store] = (changelog_target){rt, store};
    eddy_kv_store *logged = inner, *cached = NULL;
    if (s->changelog) {
        int64_t next = 0;
        err = restore_store(app, task_id, inner, topic, rt->partition, from, &next);
        rt->changelog_next[store] = next;
        if (err == EDDY_OK)
            err = eddy__kv_store_logged(inner, log_change, &targets[store], &logged);
        if (err != EDDY_OK) {
            eddy_kv_store_close(inner);
            return err;
        }
    }
    /* Join buffers and suppression buffers are not cached (Kafka's): a budget of 0 writes
     * through, and still reports each write to the listener. */
    err = eddy__kv_store_cached(logged, store_cached(s) ? cache_budget(app) : 0, &cached);
    if (err != EDDY_OK) {
        eddy_kv_store_close(logged);
        return err;
    }
    eddy__kv_store_cached_share(cached, &rt->thread->cache_bytes);
    /* An aggregation's or a table's changes go downstream when its cache writes them, as in
     * Kafka Streams: once per key per commit with the cache on, at once with it off. */
    if (eddy__store_forwards_changes(app->topology, store)) {
        eddy__kv_store_cached_listen(cached, forward_flushed, &targets[store],
                                     &rt->thread->current_timestamp_ms,
                                     eddy__store_owner_sends_old(app->topology, store));
        rt->forwarding[store] = true;
    }
    rt->stores[store] = cached;
    if (s->type == EDDY__STORE_WINDOW || s->type == EDDY__STORE_SESSION)
        return eddy__kv_store_expiry_view(cached, true, inner, &rt->expiry[store]);
    return EDDY_OK;
}

/* ---- Standby replicas ----------------------------------------------------------------------- *
 *
 * With num.standby.replicas = N, an instance keeps warm copies of the changelogged stores of
 * tasks it does not run, by reading their changelogs: RocksDB stores in the task's own directory,
 * checkpointing what they applied (the same .checkpoint an active task writes); in-memory stores
 * in memory, as Kafka Streams does. When such a task is then assigned to this instance, the
 * active task opens the RocksDB stores and restores only the changelog past the checkpoint, and
 * takes the in-memory stores over with the offsets they reached (the handoff below).
 *
 * Placement, computed alike by every instance from the instance metadata: see placement.h (the
 * first standby of a task goes where the range assignor moves it when its owner dies). The
 * standby thread re-reads the placement every STANDBY_PLAN_MS and publishes its standbys in the
 * metadata.
 *
 * A stream thread about to run a task as active first claims it (standby_claim): the standby
 * is closed (flushed, checkpointed; its in-memory stores put aside for the task) and not
 * reopened while the task is active here, so the RocksDB directory has one user at a time. */
#define STANDBY_PLAN_MS 200
#define STANDBY_POLL_MS 50

typedef struct standby_task {
    uint32_t sub;
    int32_t partition;
    char id[32];
    char dir[EDDY__PATH_MAX];
    eddy_kv_store **stores; /* by store index: the persistent changelogged ones, else NULL */
    int64_t *next;          /* by store index: the next changelog offset to apply */
    bool dirty;
} standby_task;

/* A task: a sub-topology and a partition. */
typedef struct task_ref {
    uint32_t sub;
    int32_t partition;
} task_ref;

struct standbys {
    eddy_app *app;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* the tasks, the claims, `stop` and `reassign` */
    bool stop, reassign;
    standby_task **tasks;
    uint32_t count;
    task_ref *claims; /* tasks active in this instance */
    uint32_t claim_count, claim_capacity;
    eddy__consumer *consumer; /* of the changelogs; the standby thread's alone */
};

/* Whether store `s` of sub-topology `sub` is one a standby keeps. */
static bool standby_store(const eddy_app *app, uint32_t sub, uint32_t s)
{
    const eddy__topology *t = app->topology;
    return eddy__ids_contains(&t->subtopologies[sub].stores, s) && t->stores[s].changelog &&
           !t->stores[s].global;
}

static bool sub_has_standby_stores(const eddy_app *app, uint32_t sub)
{
    for (uint32_t s = 0; s < app->topology->store_count; s++)
        if (standby_store(app, sub, s))
            return true;
    return false;
}

/* The checkpoint entries of a standby task's stores into cp (at most 256), each store flushed
 * first (a store whose flush failed is left out: its old checkpoint entry is lost, and the next
 * active task restores it from the start). */
static uint32_t standby_checkpoint_entries(eddy_app *app, standby_task *st, checkpoint_entry *cp)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < app->topology->store_count && n < 256; s++) {
        if (!st->stores[s] || st->next[s] < 0 || store_kind(app, s) != EDDY_STORE_ROCKSDB ||
            eddy_kv_flush(st->stores[s]) != EDDY_OK)
            continue;
        changelog_name(app, s, cp[n].topic, sizeof cp[n].topic);
        cp[n].partition = st->partition;
        cp[n].offset = st->next[s];
        n++;
    }
    return n;
}

static void standby_task_close(eddy_app *app, standby_task *st)
{
    checkpoint_entry cp[256];
    uint32_t n = standby_checkpoint_entries(app, st, cp);
    if (n > 0 && checkpoint_write(st->dir, cp, n) != EDDY_OK)
        EDDY_WARN("runtime", "standby task %s: %s", st->id, eddy_last_error());
    for (uint32_t s = 0; s < app->topology->store_count; s++)
        eddy_kv_store_close(st->stores[s]);
    EDDY_INFO("runtime", "standby task %s closed", st->id);
    eddy__free(st->stores);
    eddy__free(st->next);
    eddy__free(st);
}

/* Opens a standby task's persistent stores at its checkpoint (wiped, without one). */
static eddy_err standby_task_open(eddy_app *app, uint32_t sub, int32_t partition,
                                  standby_task **out)
{
    const eddy__topology *t = app->topology;
    uint32_t stores = t->store_count ? t->store_count : 1;
    standby_task *st = eddy__calloc(1, sizeof *st);
    if (st) {
        st->stores = eddy__calloc(stores, sizeof *st->stores);
        st->next = eddy__calloc(stores, sizeof *st->next);
    }
    if (!st || !st->stores || !st->next) {
        if (st) {
            eddy__free(st->stores);
            eddy__free(st->next);
        }
        eddy__free(st);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making a standby task");
    }
    st->sub = sub;
    st->partition = partition;
    snprintf(st->id, sizeof st->id, "%" PRId32 "_%" PRId32, t->subtopologies[sub].id, partition);
    snprintf(st->dir, sizeof st->dir, "%s/%s", app->dir, st->id);
    checkpoint_entry cp[256];
    uint32_t cp_count = 0;
    eddy_err err = make_dirs(st->dir);
    bool bad = err == EDDY_OK && checkpoint_read(st->dir, cp, 256, &cp_count) != EDDY_OK;
    for (uint32_t s = 0; s < t->store_count && err == EDDY_OK; s++) {
        if (!standby_store(app, sub, s))
            continue;
        char topic[512];
        changelog_name(app, s, topic, sizeof topic);
        int64_t from = EDDY_OFFSET_BEGINNING;
        for (uint32_t i = 0; i < cp_count && !bad; i++)
            if (strcmp(cp[i].topic, topic) == 0 && cp[i].partition == partition)
                from = cp[i].offset;
        if (store_kind(app, s) != EDDY_STORE_ROCKSDB)
            from = EDDY_OFFSET_BEGINNING; /* an in-memory store starts empty */
        bool wiped = false;
        err = open_inner_store(app, st->dir, s, from < 0, &wiped, &st->stores[s]);
        st->next[s] = wiped || from < 0 ? EDDY_OFFSET_BEGINNING : from;
    }
    if (err != EDDY_OK) {
        standby_task_close(app, st);
        return err;
    }
    EDDY_INFO("runtime", "standby task %s started", st->id);
    *out = st;
    return EDDY_OK;
}

static bool task_listed(const task_ref *list, uint32_t count, uint32_t sub, int32_t partition)
{
    for (uint32_t i = 0; i < count; i++)
        if (list[i].sub == sub && list[i].partition == partition)
            return true;
    return false;
}

/* Puts the in-memory stores of standby task `st` aside for its active task (handoff_put): they
 * leave the standby, which then closes without them. */
static void standby_hand_over(eddy_app *app, standby_task *st)
{
    for (uint32_t s = 0; s < app->topology->store_count; s++) {
        if (!st->stores[s] || store_kind(app, s) == EDDY_STORE_ROCKSDB)
            continue;
        handoff_put(app, st->sub, st->partition, s, st->stores[s], st->next[s]);
        st->stores[s] = NULL;
    }
}

/* A stream thread is about to run (sub, partition) as active: its standby, when there is one,
 * is closed (checkpointed; its in-memory stores handed over), and none is opened while the
 * claim holds. */
static eddy_err standby_claim(eddy_app *app, uint32_t sub, int32_t partition)
{
    standbys *sb = app->standby;
    if (!sb)
        return EDDY_OK;
    pthread_mutex_lock(&sb->lock);
    eddy_err err = EDDY_OK;
    if (!task_listed(sb->claims, sb->claim_count, sub, partition)) {
        if (sb->claim_count == sb->claim_capacity) {
            uint32_t capacity = sb->claim_capacity ? 2 * sb->claim_capacity : 16;
            task_ref *grown = eddy__realloc(sb->claims, capacity * sizeof *grown);
            if (grown) {
                sb->claims = grown;
                sb->claim_capacity = capacity;
            }
        }
        if (sb->claim_count < sb->claim_capacity)
            sb->claims[sb->claim_count++] = (task_ref){sub, partition};
        else
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory claiming a task");
    }
    for (uint32_t i = 0; i < sb->count; i++) {
        if (sb->tasks[i]->sub != sub || sb->tasks[i]->partition != partition)
            continue;
        standby_hand_over(app, sb->tasks[i]);
        standby_task_close(app, sb->tasks[i]);
        sb->tasks[i] = sb->tasks[--sb->count];
        sb->reassign = true;
        break;
    }
    pthread_mutex_unlock(&sb->lock);
    return err;
}

/* The active task of (sub, partition) closed here: a standby may hold it again. */
static void standby_unclaim(eddy_app *app, uint32_t sub, int32_t partition)
{
    standbys *sb = app->standby;
    if (!sb)
        return;
    pthread_mutex_lock(&sb->lock);
    for (uint32_t i = 0; i < sb->claim_count; i++)
        if (sb->claims[i].sub == sub && sb->claims[i].partition == partition) {
            sb->claims[i] = sb->claims[--sb->claim_count];
            break;
        }
    pthread_mutex_unlock(&sb->lock);
}

/* The live instances as the metadata lists them, for placement: servers[i] with members[i]
 * split at its commas (in place) into ids (an array of pointers into it). */
typedef struct placement_view {
    char **servers, **members;
    size_t count;
    eddy__placement_instance *instances;
    const char **ids;
    size_t *chosen; /* room for one placement's answer */
} placement_view;

static void placement_view_free(placement_view *v)
{
    eddy__client_names_free(v->servers, v->count);
    eddy__client_names_free(v->members, v->count);
    eddy__free(v->instances);
    eddy__free(v->ids);
    eddy__free(v->chosen);
}

static eddy_err placement_view_load(eddy__metadata *metadata, placement_view *v)
{
    memset(v, 0, sizeof *v);
    eddy_err err = eddy__metadata_servers(metadata, &v->servers, &v->members, &v->count);
    if (err != EDDY_OK)
        return err;
    size_t ids = 0;
    for (size_t i = 0; i < v->count; i++)
        for (const char *p = v->members[i]; *p; p++)
            ids += *p == ',';
    ids += v->count;
    v->instances = eddy__calloc(v->count ? v->count : 1, sizeof *v->instances);
    v->ids = eddy__calloc(ids ? ids : 1, sizeof *v->ids);
    v->chosen = eddy__calloc(v->count ? v->count : 1, sizeof *v->chosen);
    if (!v->instances || !v->ids || !v->chosen) {
        placement_view_free(v);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory placing standbys");
    }
    size_t at = 0;
    for (size_t i = 0; i < v->count; i++) {
        v->instances[i] = (eddy__placement_instance){v->servers[i], v->ids + at, 0};
        for (char *p = v->members[i]; *p;) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            if (*p)
                v->ids[at + v->instances[i].member_count++] = p;
            p = comma ? comma + 1 : p + strlen(p);
        }
        at += v->instances[i].member_count;
    }
    return EDDY_OK;
}

enum { PLACED_NOT, PLACED_HERE, PLACED_UNOWNED };

/* Whether this instance should hold a standby of task `id` (partition p of sub-topology s):
 * PLACED_HERE or PLACED_NOT, or PLACED_UNOWNED while no live instance claims the task (in a
 * rebalance: on Kafka every owner gives its tasks up first), when a standby held stays. */
static int standby_placed_here(const eddy_app *app, const placement_view *v, uint32_t s, int32_t p,
                               const char *id)
{
    char *owner = NULL;
    if (eddy__metadata_owner(app->metadata, id, &owner) != EDDY_OK)
        return PLACED_NOT;
    size_t owner_at = SIZE_MAX;
    for (size_t i = 0; owner && i < v->count; i++)
        if (strcmp(v->servers[i], owner) == 0)
            owner_at = i;
    eddy__free(owner);
    if (owner_at == SIZE_MAX)
        return PLACED_UNOWNED;
    if (strcmp(v->servers[owner_at], app->server) == 0)
        return PLACED_NOT;
    size_t n =
        eddy__standby_placement(v->instances, v->count, owner_at, id, p, app->sub_partitions[s],
                                (size_t)app->sc.num_standby_replicas, v->chosen);
    bool here = false;
    for (size_t i = 0; i < n; i++)
        here |= strcmp(v->servers[v->chosen[i]], app->server) == 0;
    return here ? PLACED_HERE : PLACED_NOT;
}

/* The standby tasks this instance should hold now, into plan (at most max), and those it keeps
 * if it holds them (no live owner), into keep (*keep_count, at most max). */
static uint32_t standby_plan(standbys *sb, task_ref *plan, uint32_t max, task_ref *keep,
                             uint32_t *keep_count)
{
    *keep_count = 0;
    eddy_app *app = sb->app;
    placement_view v;
    if (placement_view_load(app->metadata, &v) != EDDY_OK)
        return 0;
    uint32_t n = 0;
    const eddy__topology *t = app->topology;
    for (uint32_t s = 0; s < t->subtopology_count; s++) {
        if (t->subtopologies[s].global || !sub_has_standby_stores(app, s))
            continue;
        for (int32_t p = 0; p < app->sub_partitions[s] && n < max; p++) {
            char id[32];
            snprintf(id, sizeof id, "%" PRId32 "_%" PRId32, t->subtopologies[s].id, p);
            int placed = standby_placed_here(app, &v, s, p, id);
            if (placed == PLACED_HERE)
                plan[n++] = (task_ref){s, p};
            else if (placed == PLACED_UNOWNED && *keep_count < max)
                keep[(*keep_count)++] = (task_ref){s, p};
        }
    }
    placement_view_free(&v);
    return n;
}

/* Opens the planned standbys not held yet (and not active here) and closes the ones neither
 * planned nor kept; publishes the result. Under the lock. */
static void standby_apply_plan(standbys *sb, const task_ref *plan, uint32_t n, const task_ref *keep,
                               uint32_t keep_count)
{
    eddy_app *app = sb->app;
    for (uint32_t i = 0; i < sb->count;) {
        if (task_listed(plan, n, sb->tasks[i]->sub, sb->tasks[i]->partition) ||
            task_listed(keep, keep_count, sb->tasks[i]->sub, sb->tasks[i]->partition)) {
            i++;
            continue;
        }
        standby_task_close(app, sb->tasks[i]);
        sb->tasks[i] = sb->tasks[--sb->count];
        sb->reassign = true;
    }
    for (uint32_t i = 0; i < n; i++) {
        bool held = task_listed(sb->claims, sb->claim_count, plan[i].sub, plan[i].partition);
        for (uint32_t k = 0; k < sb->count && !held; k++)
            held = sb->tasks[k]->sub == plan[i].sub && sb->tasks[k]->partition == plan[i].partition;
        if (held)
            continue;
        standby_task **grown = eddy__realloc(sb->tasks, (sb->count + 1) * sizeof *grown);
        standby_task *st = NULL;
        if (!grown)
            continue;
        sb->tasks = grown;
        if (standby_task_open(app, plan[i].sub, plan[i].partition, &st) != EDDY_OK) {
            EDDY_WARN("runtime", "standby task: %s", eddy_last_error());
            continue;
        }
        sb->tasks[sb->count++] = st;
        sb->reassign = true;
    }
    const char *ids[256];
    uint32_t k = 0;
    for (uint32_t i = 0; i < sb->count && k < 256; i++)
        ids[k++] = sb->tasks[i]->id;
    eddy__metadata_set_standbys(app->metadata, ids, k);
}

/* Assigns the standby consumer every changelog partition of the standby tasks, at the next
 * offsets to apply. Under the lock. */
static eddy_err standby_assign(standbys *sb)
{
    eddy_app *app = sb->app;
    eddy__topic_partition_offset tps[256];
    size_t n = 0;
    for (uint32_t i = 0; i < sb->count; i++)
        for (uint32_t s = 0; s < app->topology->store_count && n < 256; s++)
            if (sb->tasks[i]->stores[s])
                tps[n++] = (eddy__topic_partition_offset){
                    app->changelog_names[s], sb->tasks[i]->partition, sb->tasks[i]->next[s]};
    sb->reassign = false;
    return eddy__consumer_assign(sb->consumer, n ? tps : NULL, n);
}

/* Applies one changelog record to the standby store it belongs to. Under the lock. */
static eddy_err standby_apply(standbys *sb, const eddy_record *rec)
{
    eddy_app *app = sb->app;
    for (uint32_t i = 0; i < sb->count; i++) {
        standby_task *st = sb->tasks[i];
        if (st->partition != rec->partition)
            continue;
        for (uint32_t s = 0; s < app->topology->store_count; s++) {
            if (!st->stores[s] || strcmp(app->changelog_names[s], rec->topic) != 0)
                continue;
            eddy_err err = EDDY_OK;
            if (rec->key.data)
                err = rec->value.data ? eddy_kv_put(st->stores[s], rec->key, rec->value)
                                      : eddy_kv_delete(st->stores[s], rec->key);
            st->next[s] = rec->offset + 1;
            st->dirty = true;
            return err;
        }
    }
    return EDDY_OK; /* of a task just closed */
}

/* Flushes and checkpoints the standby tasks that applied records. Under the lock. */
static void standby_checkpoint(standbys *sb)
{
    for (uint32_t i = 0; i < sb->count; i++) {
        standby_task *st = sb->tasks[i];
        if (!st->dirty)
            continue;
        checkpoint_entry cp[256];
        uint32_t n = standby_checkpoint_entries(sb->app, st, cp);
        if (n > 0 && checkpoint_write(st->dir, cp, n) != EDDY_OK)
            EDDY_WARN("runtime", "standby task %s: %s", st->id, eddy_last_error());
        st->dirty = false;
    }
}

/* One round of the standby thread: re-plan when due, reassign, apply what the changelogs
 * bring, checkpoint when due. */
static void standby_round(standbys *sb, int64_t *next_plan_ms, int64_t *next_checkpoint_ms)
{
    static _Thread_local task_ref plan[256], keep[256];
    eddy_app *app = sb->app;
    if (eddy__now_ms() >= *next_plan_ms) {
        uint32_t keep_count = 0;
        uint32_t n = standby_plan(sb, plan, 256, keep, &keep_count);
        pthread_mutex_lock(&sb->lock);
        standby_apply_plan(sb, plan, n, keep, keep_count);
        pthread_mutex_unlock(&sb->lock);
        *next_plan_ms = eddy__now_ms() + STANDBY_PLAN_MS;
    }
    pthread_mutex_lock(&sb->lock);
    eddy_err err = sb->reassign ? standby_assign(sb) : EDDY_OK;
    pthread_mutex_unlock(&sb->lock);
    eddy_record rec;
    int timeout = STANDBY_POLL_MS;
    while (err == EDDY_OK && (err = eddy__consumer_poll(sb->consumer, timeout, &rec)) == EDDY_OK) {
        pthread_mutex_lock(&sb->lock);
        if (!sb->reassign) /* else the record may be of a task just closed */
            err = standby_apply(sb, &rec);
        pthread_mutex_unlock(&sb->lock);
        timeout = 0;
    }
    if (err != EDDY_OK && err != EDDY_ERR_TIMED_OUT)
        EDDY_WARN("runtime", "standby tasks: %s", eddy_last_error());
    if (eddy__now_ms() >= *next_checkpoint_ms) {
        pthread_mutex_lock(&sb->lock);
        standby_checkpoint(sb);
        pthread_mutex_unlock(&sb->lock);
        *next_checkpoint_ms = eddy__now_ms() + app->sc.commit_interval_ms;
    }
}

static void *standby_main(void *arg)
{
    standbys *sb = arg;
    int64_t next_plan_ms = 0, next_checkpoint_ms = eddy__now_ms() + sb->app->sc.commit_interval_ms;
    for (;;) {
        pthread_mutex_lock(&sb->lock);
        bool stop = sb->stop;
        pthread_mutex_unlock(&sb->lock);
        if (stop)
            return NULL;
        standby_round(sb, &next_plan_ms, &next_checkpoint_ms);
    }
}

static void standbys_stop(eddy_app *app)
{
    standbys *sb = app->standby;
    if (!sb)
        return;
    if (sb->started) {
        pthread_mutex_lock(&sb->lock);
        sb->stop = true;
        pthread_mutex_unlock(&sb->lock);
        pthread_join(sb->thread, NULL);
    }
    while (sb->count > 0)
        standby_task_close(app, sb->tasks[--sb->count]);
    eddy__consumer_destroy(sb->consumer);
    eddy__free(sb->tasks);
    eddy__free(sb->claims);
    pthread_mutex_destroy(&sb->lock);
    eddy__free(sb);
    app->standby = NULL;
}

static eddy_err standbys_start(eddy_app *app)
{
    standbys *sb = eddy__calloc(1, sizeof *sb);
    if (!sb)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory starting standby tasks");
    sb->app = app;
    pthread_mutex_init(&sb->lock, NULL);
    app->standby = sb;
    eddy_config *cc = eddy_config_new();
    eddy_err err = cc ? eddy_config_set(cc, "auto.offset.reset", "earliest") : EDDY_ERR_NO_MEMORY;
    if (err == EDDY_OK)
        err = eddy__consumer_new(app->client, NULL, cc, &sb->consumer);
    eddy_config_destroy(cc);
    if (err == EDDY_OK && pthread_create(&sb->thread, NULL, standby_main, sb) != 0)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "cannot start the standby thread");
    sb->started = err == EDDY_OK;
    if (err != EDDY_OK)
        standbys_stop(app);
    return err;
}

/* ---- Hosts ---------------------------------------------------------------------------------- */

static eddy_err send_with_retry(eddy__producer *producer, const char *topic, int32_t partition,
                                const eddy_record *rec, void *opaque)
{
    eddy_err err;
    while ((err = eddy__producer_send(producer, topic, partition, rec, opaque)) == EDDY_ERR_BUSY)
        eddy__producer_poll(producer, 10);
    return err;
}

static eddy_err host_send(void *opaque, eddy__task *task, const char *topic, int32_t partition,
                          const eddy_record *record)
{
    (void)task;
    stream_thread *thread = opaque;
    eddy_err err = send_with_retry(thread->producer, topic, partition, record, NULL);
    if (err != EDDY_OK && thread->app->sc.production_continue && err != EDDY_ERR_NO_MEMORY) {
        EDDY_WARN("runtime", "skipping a record that could not be sent to %s: %s", topic,
                  eddy_last_error());
        return EDDY_OK;
    }
    return err;
}

static eddy_err host_open_store(void *opaque, eddy__task *task, uint32_t store, eddy_kv_store **out)
{
    (void)task;
    stream_thread *thread = opaque;
    eddy_app *app = thread->app;
    if (app->topology->stores[store].global) {
        *out = app->global_stores[store];
        return *out ? EDDY_OK
                    : eddy__fail(EDDY_ERR_STATE, "global store %s is not open",
                                 app->topology->stores[store].name);
    }
    return eddy__fail(EDDY_ERR_STATE, "store %s was not opened for its task",
                      app->topology->stores[store].name);
}

static int64_t host_wall_clock(void *opaque)
{
    (void)opaque;
    return eddy__now_ms();
}

/* ---- Tasks ---------------------------------------------------------------------------------- */

/* The task sub-topology reading `topic` (a full name), from the map made at start. */
static uint32_t subtopology_of_topic(const eddy_app *app, const char *topic)
{
    for (uint32_t i = 0; i < app->source_count; i++)
        if (strcmp(app->sources[i].topic, topic) == 0)
            return app->sources[i].subtopology;
    return EDDY__NONE;
}

/* Maps every source topic of the task sub-topologies to its sub-topology, and names every
 * store's changelog, once, so that no record needs a name formatted. */
static eddy_err make_name_maps(eddy_app *app)
{
    const eddy__topology *t = app->topology;
    app->changelog_names = eddy__calloc(t->store_count ? t->store_count : 1, sizeof(char *));
    if (!app->changelog_names)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    for (uint32_t s = 0; s < t->store_count; s++) {
        char name[512];
        eddy__store_changelog_name(&t->stores[s], app->sc.application_id, name, sizeof name);
        app->changelog_names[s] = eddy__strdup(name);
        if (!app->changelog_names[s])
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    }
    for (uint32_t s = 0; s < t->subtopology_count; s++) {
        if (t->subtopologies[s].global)
            continue;
        char names[SOURCE_TOPICS_MAX][256];
        uint32_t n =
            eddy__subtopology_source_topics(t, s, app->sc.application_id, names, SOURCE_TOPICS_MAX);
        for (uint32_t i = 0; i < n && i < SOURCE_TOPICS_MAX; i++) {
            source_entry *grown =
                eddy__realloc(app->sources, (app->source_count + 1) * sizeof *grown);
            if (!grown)
                return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
            app->sources = grown;
            snprintf(app->sources[app->source_count].topic, 256, "%s", names[i]);
            app->sources[app->source_count++].subtopology = s;
        }
    }
    return EDDY_OK;
}

static runtime_task *thread_find_task(stream_thread *thread, uint32_t sub, int32_t partition,
                                      uint32_t *index)
{
    for (uint32_t i = 0; i < thread->task_count; i++) {
        runtime_task *rt = thread->tasks[i];
        if (rt->subtopology == sub && rt->partition == partition) {
            if (index)
                *index = i;
            return rt;
        }
    }
    return NULL;
}

/* A per-task host: the shared host with the task's stores reachable. */
typedef struct task_host {
    eddy__task_host host;
    runtime_task *rt;
    changelog_target *targets;
} task_host;

static eddy_err task_host_open_store(void *opaque, eddy__task *task, uint32_t store,
                                     eddy_kv_store **out)
{
    task_host *th = opaque;
    if (th->rt->stores[store]) {
        *out = th->rt->stores[store];
        return EDDY_OK;
    }
    return host_open_store(th->rt->thread, task, store, out);
}

static eddy_kv_store *task_host_expiry_store(void *opaque, eddy__task *task, uint32_t store)
{
    (void)task;
    return ((task_host *)opaque)->rt->expiry[store];
}

static bool task_host_forwards_on_flush(void *opaque, eddy__task *task, uint32_t store)
{
    (void)task;
    return ((task_host *)opaque)->rt->forwarding[store];
}

static eddy_err task_host_send(void *opaque, eddy__task *task, const char *topic, int32_t partition,
                               const eddy_record *record)
{
    return host_send(((task_host *)opaque)->rt->thread, task, topic, partition, record);
}

static void runtime_task_free(runtime_task *rt)
{
    if (!rt)
        return;
    eddy_app *app = rt->thread->app;
    eddy__task_destroy(rt->task);
    if (rt->expiry)
        for (uint32_t s = 0; s < app->topology->store_count; s++)
            eddy_kv_store_close(rt->expiry[s]);
    if (rt->stores)
        for (uint32_t s = 0; s < app->topology->store_count; s++)
            if (!app->topology->stores[s].global)
                eddy_kv_store_close(rt->stores[s]);
    for (uint32_t s = 0; rt->kept && s < app->topology->store_count; s++) {
        if (!rt->kept[s])
            continue;
        if (rt->hand_over) {
            handoff_put(app, rt->subtopology, rt->partition, s, rt->kept[s], rt->changelog_next[s]);
        } else {
            eddy__kv_store_keep_open(rt->kept[s], false);
            eddy_kv_store_close(rt->kept[s]);
        }
    }
    for (uint32_t q = 0; q < rt->queue_count; q++)
        eddy__free(rt->queues[q].entries);
    /* The host and targets were allocated with the task (see task_make). */
    eddy__free(rt->stores);
    eddy__free(rt->changelog_next);
    eddy__free(rt->checkpointable);
    eddy__free(rt->forwarding);
    eddy__free(rt->expiry);
    eddy__free(rt->kept);
    eddy__free(rt);
}

static eddy_err task_make_stores(runtime_task *rt, changelog_target *targets)
{
    eddy_app *app = rt->thread->app;
    const eddy__subtopology *sub = &app->topology->subtopologies[rt->subtopology];
    checkpoint_entry cp[256];
    uint32_t cp_count = 0;
    bool bad = false;
    eddy_err err = checkpoint_read(rt->dir, cp, 256, &cp_count);
    if (err == EDDY_ERR_CORRUPT) {
        EDDY_WARN("runtime",
                  "%s: wiping the task's stores and restoring them from their "
                  "changelogs",
                  eddy_last_error());
        bad = true;
        cp_count = 0;
    } else if (err != EDDY_OK) {
        return err;
    }
    for (uint32_t i = 0; i < sub->stores.count; i++) {
        uint32_t store = sub->stores.items[i];
        if (app->topology->stores[store].global || rt->stores[store])
            continue;
        err = task_store_open(rt, store, cp, cp_count, bad, targets);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

/* Makes the task (sub, partition) on `thread`: directory, stores restored, processors. */
static eddy_err task_make(stream_thread *thread, uint32_t sub, int32_t partition,
                          runtime_task **out)
{
    eddy_app *app = thread->app;
    const eddy__topology *t = app->topology;
    uint32_t stores = t->store_count ? t->store_count : 1;
    /* The task, its host and its changelog targets in one allocation, freed with rt. */
    runtime_task *rt = eddy__calloc(1, sizeof *rt);
    task_host *th = eddy__calloc(1, sizeof *th + stores * sizeof(changelog_target));
    if (rt) {
        rt->stores = eddy__calloc(stores, sizeof *rt->stores);
        rt->changelog_next = eddy__calloc(stores, sizeof *rt->changelog_next);
        rt->checkpointable = eddy__calloc(stores, sizeof *rt->checkpointable);
        rt->forwarding = eddy__calloc(stores, sizeof *rt->forwarding);
        rt->expiry = eddy__calloc(stores, sizeof *rt->expiry);
        rt->kept = eddy__calloc(stores, sizeof *rt->kept);
    }
    if (!rt || !th || !rt->stores || !rt->changelog_next || !rt->checkpointable ||
        !rt->forwarding || !rt->expiry || !rt->kept) {
        eddy__free(th);
        if (rt)
            rt->thread = thread;
        runtime_task_free(rt);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making a task");
    }
    rt->thread = thread;
    rt->subtopology = sub;
    rt->partition = partition;
    snprintf(rt->dir, sizeof rt->dir, "%s/%" PRId32 "_%" PRId32, app->dir, t->subtopologies[sub].id,
             partition);
    th->rt = rt;
    th->targets = (changelog_target *)(th + 1);
    th->host = app->host;
    th->host.opaque = th;
    th->host.send = task_host_send;
    th->host.open_store = task_host_open_store;
    th->host.forwards_on_flush = task_host_forwards_on_flush;
    th->host.expiry_store = task_host_expiry_store;
    /* A standby of this task here gives its stores and checkpoint to the active task. */
    eddy_err err = standby_claim(app, sub, partition);
    if (err == EDDY_OK)
        err = make_dirs(rt->dir);
    if (err == EDDY_OK)
        err = task_make_stores(rt, th->targets);
    handoffs_drop(app, sub, partition);
    if (err == EDDY_OK)
        err = eddy__task_new(&th->host, sub, partition, &rt->task);
    if (err != EDDY_OK) {
        runtime_task_free(rt);
        eddy__free(th);
        standby_unclaim(app, sub, partition);
        return err;
    }
    /* The host lives as long as the task: keep it reachable through the queue array's spare
     * pointer (freed in thread_close_task). */
    rt->queues[SOURCE_TOPICS_MAX - 1].entries = (uint32_t *)th;
    char names[SOURCE_TOPICS_MAX][256];
    uint32_t n = eddy__subtopology_source_topics(t, sub, app->sc.application_id, names,
                                                 SOURCE_TOPICS_MAX - 1);
    for (uint32_t i = 0; i < n && i < SOURCE_TOPICS_MAX - 1; i++)
        snprintf(rt->queues[i].topic, sizeof rt->queues[i].topic, "%s", names[i]);
    rt->queue_count = n < SOURCE_TOPICS_MAX - 1 ? n : SOURCE_TOPICS_MAX - 1;
    *out = rt;
    return EDDY_OK;
}

static void task_destroy_with_host(runtime_task *rt)
{
    task_host *th = (task_host *)rt->queues[SOURCE_TOPICS_MAX - 1].entries;
    rt->queues[SOURCE_TOPICS_MAX - 1].entries = NULL;
    eddy_app *app = rt->thread->app;
    uint32_t sub = rt->subtopology;
    int32_t partition = rt->partition;
    runtime_task_free(rt);
    eddy__free(th);
    standby_unclaim(app, sub, partition); /* its stores are closed: a standby may take them */
}

static eddy_err thread_add_task(stream_thread *thread, uint32_t sub, int32_t partition)
{
    if (thread_find_task(thread, sub, partition, NULL))
        return EDDY_OK;
    if (thread->task_count == thread->task_capacity) {
        uint32_t capacity = thread->task_capacity ? thread->task_capacity * 2 : 8;
        runtime_task **grown = eddy__realloc(thread->tasks, capacity * sizeof *grown);
        if (!grown)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory adding a task");
        thread->tasks = grown;
        thread->task_capacity = capacity;
    }
    runtime_task *rt = NULL;
    eddy_err err = task_make(thread, sub, partition, &rt);
    if (err != EDDY_OK)
        return err;
    thread->tasks[thread->task_count++] = rt;
    thread->route_topic = NULL;
    EDDY_INFO("runtime", "thread %d: task %s started", thread->index, eddy__task_id(rt->task));
    return EDDY_OK;
}

/* ---- Commit --------------------------------------------------------------------------------- */

static void on_delivery(eddy__producer *producer, const eddy__delivery *d, void *opaque)
{
    (void)producer;
    stream_thread *thread = opaque;
    if (d->err == EDDY_OK) {
        if (d->record_opaque) {
            int64_t *next = d->record_opaque;
            if (d->offset + 1 > *next)
                *next = d->offset + 1;
        }
        return;
    }
    bool changelog = d->record_opaque != NULL;
    if (!changelog && thread->app->sc.production_continue) {
        EDDY_WARN("runtime", "a record to %s partition %" PRId32 " was not written: %s", d->topic,
                  d->partition, eddy_last_error());
        return;
    }
    if (thread->delivery_error == EDDY_OK) {
        thread->delivery_error = d->err;
        char message[APP_ERROR_MAX];
        snprintf(message, sizeof message,
                 "thread %d: writing to %s partition %" PRId32 " failed: %s", thread->index,
                 d->topic, d->partition, eddy_last_error());
        app_fail(thread->app, d->err, message);
    }
}

/* The commit (Kafka's at-least-once order): flush caches and stores, which writes changelog
 * records; flush the producer, so every output and changelog record is durable; commit the
 * input offsets; then write the checkpoints with the changelog offsets now durable (also when
 * the group refused the input offsets). */
static eddy_err tasks_commit(stream_thread *thread, runtime_task **tasks, uint32_t count)
{
    eddy_app *app = thread->app;
    eddy_err err = EDDY_OK;
    for (uint32_t i = 0; i < count && err == EDDY_OK; i++)
        for (uint32_t s = 0; s < app->topology->store_count && err == EDDY_OK; s++)
            if (tasks[i]->stores[s] && !app->topology->stores[s].global)
                err = eddy_kv_flush(tasks[i]->stores[s]);
    if (err == EDDY_OK)
        err = eddy__producer_flush(thread->producer, -1);
    if (err == EDDY_OK && thread->delivery_error != EDDY_OK)
        err = thread->delivery_error;
    eddy_err commit_err = err == EDDY_OK ? eddy__consumer_commit(thread->consumer, NULL, 0) : err;
    /* The checkpoints say which changelog offsets the stores hold, which the flushes made true
     * whether or not the group took the input offsets: a refused commit only means that the
     * records since the last one are processed again (at least once), as after a crash. */
    for (uint32_t i = 0; i < count && err == EDDY_OK; i++) {
        runtime_task *rt = tasks[i];
        checkpoint_entry cp[256];
        uint32_t n = 0;
        for (uint32_t s = 0; s < app->topology->store_count && n < 256; s++) {
            if (!rt->checkpointable[s])
                continue;
            changelog_name(app, s, cp[n].topic, sizeof cp[n].topic);
            cp[n].partition = rt->partition;
            cp[n].offset = rt->changelog_next[s];
            n++;
        }
        if (n > 0)
            err = checkpoint_write(rt->dir, cp, n);
        rt->dirty = rt->dirty && commit_err != EDDY_OK;
    }
    return err != EDDY_OK ? err : commit_err;
}

static eddy_err thread_commit(stream_thread *thread)
{
    thread->last_commit_ms = eddy__now_ms();
    return tasks_commit(thread, thread->tasks, thread->task_count);
}

/* Whether a failed commit means that the group no longer gives this member its partitions
 * (EDDY_ERR_STATE: on Kafka the session expired, a rebalance is in progress or the generation
 * moved on; on the embedded log a partition is no longer assigned), that the group is
 * rebalancing (EDDY_ERR_BUSY) or that its coordinator cannot be reached for now
 * (EDDY_ERR_TIMED_OUT). Kafka Streams treats the first as "task migrated" (close the tasks
 * without committing, rejoin) and the others as "commit later"; under
 * at-least-once neither loses anything: what was processed since the last commit is processed
 * again by the partition's next owner. */
static bool commit_refused(eddy_err err)
{
    return err == EDDY_ERR_STATE || err == EDDY_ERR_BUSY || err == EDDY_ERR_TIMED_OUT;
}

static eddy_err thread_subscribe(stream_thread *thread);
static void thread_publish_tasks(stream_thread *thread);

/* After a commit the group refused: keeps going when the group was rebalancing or its
 * coordinator out of reach (the next commit tries again), otherwise closes every task without
 * committing and rejoins the group, whose assignment then makes the tasks again from the committed
 * offsets. */
static eddy_err thread_commit_refused(stream_thread *thread, eddy_err err)
{
    if (err != EDDY_ERR_STATE) {
        EDDY_WARN("runtime", "thread %d: commit not done (%s): trying again at the next commit",
                  thread->index, eddy_last_error());
        return EDDY_OK;
    }
    EDDY_WARN("runtime",
              "thread %d: the group refused the commit (%s): closing the thread's tasks without "
              "committing and rejoining the group",
              thread->index, eddy_last_error());
    while (thread->task_count > 0) {
        runtime_task *rt = thread->tasks[--thread->task_count];
        EDDY_INFO("runtime", "thread %d: task %s closed", thread->index, eddy__task_id(rt->task));
        task_destroy_with_host(rt);
    }
    thread->route_topic = NULL;
    thread_publish_tasks(thread);
    err = eddy__consumer_unsubscribe(thread->consumer);
    return err == EDDY_OK ? thread_subscribe(thread) : err;
}

static void thread_error(stream_thread *thread, eddy_err err, const char *what)
{
    char message[APP_ERROR_MAX];
    snprintf(message, sizeof message, "thread %d: %s: %s", thread->index, what, eddy_last_error());
    thread->failed = true;
    app_fail(thread->app, err, message);
}

/* ---- Rebalance ------------------------------------------------------------------------------ */

static void thread_close_tasks_for(stream_thread *thread, const eddy_topic_partition *parts,
                                   size_t count, bool commit)
{
    eddy_app *app = thread->app;
    runtime_task *closing[256];
    uint32_t n = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t sub = subtopology_of_topic(app, parts[i].topic);
        uint32_t index;
        runtime_task *rt =
            sub == EDDY__NONE ? NULL : thread_find_task(thread, sub, parts[i].partition, &index);
        bool listed = false;
        for (uint32_t k = 0; k < n; k++)
            listed |= closing[k] == rt;
        if (rt && !listed && n < 256)
            closing[n++] = rt;
    }
    bool delivered = false;
    if (commit && n > 0 && !thread->failed) {
        eddy_err err = tasks_commit(thread, closing, n);
        /* The stores hold exactly the changelog up to their next offsets once every change was
         * delivered, whether or not the group took the offsets (a refusal only means their
         * records are processed again, by whichever task comes next). */
        delivered = (err == EDDY_OK || commit_refused(err)) && thread->delivery_error == EDDY_OK &&
                    eddy__producer_outstanding(thread->producer) == 0;
        if (commit_refused(err))
            EDDY_WARN("runtime",
                      "thread %d: the group refused the commit of the revoked tasks (%s): their "
                      "records since the last commit will be processed again by their next owner",
                      thread->index, eddy_last_error());
        else if (err != EDDY_OK)
            thread_error(thread, err, "committing revoked tasks");
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t index;
        if (!thread_find_task(thread, closing[k]->subtopology, closing[k]->partition, &index))
            continue;
        EDDY_INFO("runtime", "thread %d: task %s closed", thread->index,
                  eddy__task_id(closing[k]->task));
        closing[k]->hand_over = delivered; /* its in-memory stores match the changelog */
        task_destroy_with_host(closing[k]);
        thread->tasks[index] = thread->tasks[--thread->task_count];
        thread->route_topic = NULL;
    }
}

static eddy_err thread_process_batch(stream_thread *thread);

/* Tells the instance metadata this thread's tasks (after every change of them). */
static void thread_publish_tasks(stream_thread *thread)
{
    if (!thread->app->metadata)
        return;
    const char *ids[256];
    size_t n = 0;
    for (uint32_t i = 0; i < thread->task_count && n < 256; i++)
        ids[n++] = eddy__task_id(thread->tasks[i]->task);
    eddy__metadata_set_tasks(thread->app->metadata, thread->index, ids, n);
}

/* How often a stream thread checks its group member id: a member that was given no partition
 * gets no rebalance callback, yet its id changes the range assignment, which standby placement
 * predicts. */
#define MEMBER_CHECK_MS 250

/* Tells the instance metadata this thread's group member id, and closes the in-memory stores
 * put aside too long ago, when it is due (or `now`). */
static void thread_publish_member(stream_thread *thread, bool now)
{
    int64_t ms = eddy__now_ms();
    if (!now && ms < thread->next_member_ms)
        return;
    thread->next_member_ms = ms + MEMBER_CHECK_MS;
    handoffs_expire(thread->app, ms - HANDOFF_KEEP_MS);
    if (!thread->app->metadata)
        return;
    char id[256];
    if (eddy__consumer_member_id(thread->consumer, id, sizeof id) == EDDY_OK)
        eddy__metadata_set_member(thread->app->metadata, thread->index, id);
}

static void on_rebalance(eddy__consumer *consumer, eddy__rebalance_event event,
                         const eddy_topic_partition *parts, size_t count, void *opaque)
{
    (void)consumer;
    stream_thread *thread = opaque;
    eddy_app *app = thread->app;
    atomic_store(&thread->rebalancing, true);
    set_state(app, EDDY_APP_REBALANCING);
    if (event != EDDY__REBALANCE_ASSIGN) {
        /* Records polled before this callback are in the batch: process them now, so that the
         * positions committed for the revoked partitions are what was processed, and the batch
         * does not outlive the tasks it points to. */
        if (thread->batch_count > 0 && !thread->failed)
            thread_process_batch(thread);
        thread_close_tasks_for(thread, parts, count, event == EDDY__REBALANCE_REVOKE);
        thread_publish_tasks(thread);
        return;
    }
    for (size_t i = 0; i < count && !thread->failed; i++) {
        uint32_t sub = subtopology_of_topic(app, parts[i].topic);
        if (sub == EDDY__NONE)
            continue;
        eddy_err err = thread_add_task(thread, sub, parts[i].partition);
        if (err != EDDY_OK) {
            char what[512];
            snprintf(what, sizeof what, "starting task %" PRId32 "_%" PRId32,
                     app->topology->subtopologies[sub].id, parts[i].partition);
            thread_error(thread, err, what);
        }
    }
    thread_publish_member(thread, true);
    thread_publish_tasks(thread);
}

/* ---- The processing loop -------------------------------------------------------------------- */

static eddy_err arena_copy(eddy__buf *arena, eddy_slice s, size_t *offset)
{
    *offset = arena->len;
    return s.len ? eddy__buf_append(arena, s.data, s.len) : EDDY_OK;
}

/* Copies a polled record into the batch (its pointers die at the next poll). */
/* Finds the task and queue of a polled record's partition: by name, or, for the partition of the
 * previous record (the usual case), from the remembered answer. */
static eddy_err batch_route(stream_thread *thread, const eddy_record *rec, uint32_t *task,
                            uint32_t *queue)
{
    if (rec->topic == thread->route_topic && rec->partition == thread->route_partition) {
        *task = thread->route_task;
        *queue = thread->route_queue;
        return EDDY_OK;
    }
    *task = *queue = EDDY__NONE;
    uint32_t sub = subtopology_of_topic(thread->app, rec->topic);
    if (sub == EDDY__NONE)
        return EDDY_OK;
    uint32_t index;
    runtime_task *rt = thread_find_task(thread, sub, rec->partition, &index);
    if (!rt) {
        eddy_err err = thread_add_task(thread, sub, rec->partition);
        if (err != EDDY_OK)
            return err;
        rt = thread_find_task(thread, sub, rec->partition, &index);
    }
    uint32_t q = 0;
    while (q < rt->queue_count && strcmp(rt->queues[q].topic, rec->topic) != 0)
        q++;
    if (q == rt->queue_count)
        return EDDY_OK;
    *task = index;
    *queue = q;
    thread->route_topic = rec->topic; /* the consumer's string: stable while assigned */
    thread->route_partition = rec->partition;
    thread->route_task = index;
    thread->route_queue = q;
    return EDDY_OK;
}

/* Processes a record at once, from the consumer's memory: for a task with one input partition,
 * whose records need no ordering against another queue. */
static eddy_err process_now(stream_thread *thread, runtime_task *rt, const eddy_record *rec)
{
    thread->current_timestamp_ms = rec->timestamp_ms;
    rt->dirty = true;
    eddy_err err = eddy__task_process(rt->task, rec);
    if (err != EDDY_OK) {
        char message[APP_ERROR_MAX];
        snprintf(message, sizeof message, "%s", eddy_last_error());
        thread->failed = true;
        app_fail(thread->app, err, message);
    }
    return err;
}

static eddy_err batch_add(stream_thread *thread, const eddy_record *rec)
{
    uint32_t index, q;
    eddy_err route = batch_route(thread, rec, &index, &q);
    if (route != EDDY_OK)
        return route;
    if (index == EDDY__NONE)
        return EDDY_OK;
    runtime_task *rt = thread->tasks[index];
    if (rt->queue_count == 1)
        return process_now(thread, rt, rec);
    input_queue *queue = &rt->queues[q];
    if (queue->count == queue->capacity) {
        uint32_t capacity = queue->capacity ? queue->capacity * 2 : 64;
        uint32_t *grown = eddy__realloc(queue->entries, capacity * sizeof *grown);
        if (!grown)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory queueing a record");
        queue->entries = grown;
        queue->capacity = capacity;
    }
    batch_entry *e = &thread->batch[thread->batch_count];
    memset(e, 0, sizeof *e);
    eddy_err err = arena_copy(&thread->arena, rec->key, &e->key_offset);
    if (err == EDDY_OK)
        err = arena_copy(&thread->arena, rec->value, &e->value_offset);
    e->headers_offset = thread->arena.len;
    for (size_t h = 0; h < rec->header_count && err == EDDY_OK; h++) {
        uint8_t lens[16];
        eddy__be64_put(lens, rec->headers[h].key.data ? rec->headers[h].key.len : UINT64_MAX);
        eddy__be64_put(lens + 8,
                       rec->headers[h].value.data ? rec->headers[h].value.len : UINT64_MAX);
        err = eddy__buf_append(&thread->arena, lens, 16);
        if (err == EDDY_OK && rec->headers[h].key.len)
            err =
                eddy__buf_append(&thread->arena, rec->headers[h].key.data, rec->headers[h].key.len);
        if (err == EDDY_OK && rec->headers[h].value.len)
            err = eddy__buf_append(&thread->arena, rec->headers[h].value.data,
                                   rec->headers[h].value.len);
    }
    if (err != EDDY_OK)
        return err;
    e->key_len = rec->key.len;
    e->value_len = rec->value.len;
    e->key_null = !rec->key.data;
    e->value_null = !rec->value.data;
    e->header_count = rec->header_count;
    e->timestamp_ms = rec->timestamp_ms;
    e->order_ms = eddy__task_timestamp_of(rt->task, rec);
    e->offset = rec->offset;
    e->partition = rec->partition;
    e->task = index;
    e->queue = q;
    queue->entries[queue->count++] = thread->batch_count++;
    return EDDY_OK;
}

static const uint8_t empty_bytes[1];

static eddy_slice arena_slice(const stream_thread *thread, size_t offset, size_t len, bool null)
{
    if (null)
        return (eddy_slice){0};
    return (eddy_slice){len ? thread->arena.data + offset : empty_bytes, len};
}

/* Rebuilds a batch entry as a record; headers go into `headers` (at most max). */
static void batch_record(const stream_thread *thread, const batch_entry *e, const char *topic,
                         eddy_header *headers, size_t max, eddy_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->key = arena_slice(thread, e->key_offset, e->key_len, e->key_null);
    rec->value = arena_slice(thread, e->value_offset, e->value_len, e->value_null);
    rec->timestamp_ms = e->timestamp_ms;
    rec->offset = e->offset;
    rec->partition = e->partition;
    rec->topic = topic;
    size_t at = e->headers_offset;
    for (size_t h = 0; h < e->header_count && h < max; h++) {
        uint64_t klen = eddy__be64_get(thread->arena.data + at);
        uint64_t vlen = eddy__be64_get(thread->arena.data + at + 8);
        at += 16;
        bool knull = klen == UINT64_MAX, vnull = vlen == UINT64_MAX;
        headers[h].key = arena_slice(thread, at, knull ? 0 : klen, knull);
        at += knull ? 0 : klen;
        headers[h].value = arena_slice(thread, at, vnull ? 0 : vlen, vnull);
        at += vnull ? 0 : vlen;
        rec->header_count = h + 1;
    }
    rec->headers = rec->header_count ? headers : NULL;
}

/* Whether a task reading several partitions must wait before taking its next record (Kafka
 * Streams' max.task.idle.ms, KIP-695): one input has records queued while another has none and,
 * unless `any_empty`, is not known to be caught up (lag > 0, or unknown: on Kafka before the
 * partition's first fetch response). Choosing by timestamp without that input would process
 * out of order what a fetch is about to bring. An input found caught up stays so for the rest
 * of the batch (`caught_up`), so that a quiet table costs one lag query per batch, not one per
 * record of the stream it is joined with. */
static bool task_waits_for_input(stream_thread *thread, runtime_task *rt, bool any_empty)
{
    bool queued = false;
    for (uint32_t q = 0; q < rt->queue_count && !queued; q++)
        queued = rt->queues[q].head < rt->queues[q].count;
    for (uint32_t q = 0; q < rt->queue_count && queued; q++) {
        input_queue *queue = &rt->queues[q];
        if (queue->head < queue->count || (queue->caught_up && !any_empty))
            continue;
        int64_t lag = -1;
        if (any_empty ||
            eddy__consumer_lag(thread->consumer, queue->topic, rt->partition, &lag) != EDDY_OK ||
            lag != 0)
            return true;
        queue->caught_up = true;
    }
    return false;
}

/* Processes a task's queued records, always taking the queue whose head has the smallest
 * timestamp (Kafka's PartitionGroup), until they are all processed or, unless `force`, the
 * task must wait for an input (task_waits_for_input: *waiting is set). */
static eddy_err task_drain(stream_thread *thread, runtime_task *rt, bool force, bool any_empty,
                           bool *waiting)
{
    for (;;) {
        if (!force && rt->queue_count > 1 && task_waits_for_input(thread, rt, any_empty)) {
            *waiting = true;
            return EDDY_OK;
        }
        input_queue *best = NULL;
        int64_t best_ts = 0;
        for (uint32_t q = 0; q < rt->queue_count; q++) {
            input_queue *queue = &rt->queues[q];
            if (queue->head == queue->count)
                continue;
            int64_t ts = thread->batch[queue->entries[queue->head]].order_ms;
            if (!best || ts < best_ts) {
                best = queue;
                best_ts = ts;
            }
        }
        if (!best)
            return EDDY_OK;
        const batch_entry *e = &thread->batch[best->entries[best->head++]];
        eddy_header headers[64];
        eddy_record rec;
        batch_record(thread, e, best->topic, headers, 64, &rec);
        thread->current_timestamp_ms = rec.timestamp_ms;
        rt->dirty = true;
        eddy_err err = eddy__task_process(rt->task, &rec);
        if (err != EDDY_OK)
            return err;
    }
}

/* Whether a task waiting for an input may wait longer (`*idle_until_ms`: the end of the wait,
 * set at the first call of a batch). As Kafka's max.task.idle.ms: 0 (the default) waits for
 * inputs with records known, or not known not, to be coming, which Kafka does without limit and
 * eddy for at most INPUT_WAIT_MAX_MS, as a batch is processed before the thread commits; above
 * 0 waits that long for any empty input. Past the end (or with the batch full) the queued
 * records are processed anyway: Kafka's enforced processing. */
static bool input_wait_continues(stream_thread *thread, int64_t *idle_until_ms)
{
    int64_t idle_ms = thread->app->sc.max_task_idle_ms;
    if (atomic_load(&thread->app->stopping) || thread->batch_count >= BATCH_RECORDS_MAX)
        return false;
    int64_t now = eddy__now_ms();
    if (*idle_until_ms < 0)
        *idle_until_ms = now + (idle_ms > 0 ? idle_ms : INPUT_WAIT_MAX_MS);
    if (now < *idle_until_ms)
        return true;
    EDDY_DEBUG("runtime",
               "thread %d: processing without waiting longer for an input partition "
               "(max.task.idle.ms)",
               thread->index);
    return false;
}

static eddy_err thread_poll_more(stream_thread *thread);

/* Processes the polled batch. With `may_wait` (not from a rebalance callback, which must not
 * poll), a task that must wait for one of its inputs stops, the thread polls more into the same
 * batch, and processing resumes where it stopped (input_wait_continues bounds the wait). */
static eddy_err thread_process_batch_waiting(stream_thread *thread, bool may_wait)
{
    int64_t idle_ms = thread->app->sc.max_task_idle_ms, idle_until_ms = -1;
    bool force = !may_wait || idle_ms < 0;
    for (uint32_t i = 0; i < thread->task_count; i++)
        for (uint32_t q = 0; q < thread->tasks[i]->queue_count; q++)
            thread->tasks[i]->queues[q].caught_up = false;
    eddy_err err = EDDY_OK;
    for (;;) {
        bool waiting = false;
        for (uint32_t i = 0; i < thread->task_count && err == EDDY_OK; i++)
            err = task_drain(thread, thread->tasks[i], force, idle_ms > 0, &waiting);
        if (err != EDDY_OK || !waiting)
            break;
        if (!input_wait_continues(thread, &idle_until_ms))
            force = true;
        else
            err = thread_poll_more(thread); /* a rebalance in it may process and reset the batch */
    }
    if (err != EDDY_OK && !thread->failed) {
        char message[APP_ERROR_MAX];
        snprintf(message, sizeof message, "%s", eddy_last_error());
        thread->failed = true;
        app_fail(thread->app, err, message);
    }
    for (uint32_t i = 0; i < thread->task_count; i++)
        for (uint32_t q = 0; q < thread->tasks[i]->queue_count; q++)
            thread->tasks[i]->queues[q].head = thread->tasks[i]->queues[q].count = 0;
    thread->batch_count = 0;
    thread->arena.len = 0;
    return err;
}

static eddy_err thread_process_batch(stream_thread *thread)
{
    return thread_process_batch_waiting(thread, false);
}

/* Polls more records into the batch for a task waiting for an input: waits up to
 * INPUT_WAIT_POLL_MS for the first, then takes what is there, within the batch's room. */
static eddy_err thread_poll_more(stream_thread *thread)
{
    int timeout = INPUT_WAIT_POLL_MS;
    for (uint32_t polled = 0;
         polled < BATCH_RECORDS_MAX && !thread->failed && thread->batch_count < BATCH_RECORDS_MAX;
         polled++) {
        eddy_record rec;
        eddy_err err = eddy__consumer_poll(thread->consumer, timeout, &rec);
        if (err == EDDY_ERR_TIMED_OUT)
            return EDDY_OK;
        if (err == EDDY_OK)
            err = batch_add(thread, &rec);
        if (err != EDDY_OK)
            return err;
        timeout = 0;
    }
    return EDDY_OK;
}

/* Polls up to a batch: waits up to poll.ms for the first record, then takes what is there. */
static eddy_err thread_poll_batch(stream_thread *thread)
{
    /* First a look without waiting: when the inputs are caught up, what the producer holds for
     * linger.ms has nothing left to be batched with, so it is written before the thread waits
     * (outputs do not sit out linger.ms plus poll.ms when the input stops). */
    int timeout = 0;
    bool waited = false;
    /* Bounded by records polled, processed at once or queued, so that commits and
     * punctuations come around under a steady input. */
    for (uint32_t polled = 0; polled < BATCH_RECORDS_MAX && !thread->failed; polled++) {
        eddy_record rec;
        eddy_err err = eddy__consumer_poll(thread->consumer, timeout, &rec);
        if (err == EDDY_ERR_TIMED_OUT && !waited && polled == 0) {
            if (eddy__producer_outstanding(thread->producer) > 0) {
                err = eddy__producer_flush(thread->producer, -1);
                if (err != EDDY_OK)
                    return err;
            }
            timeout = (int)thread->app->sc.poll_ms;
            waited = true;
            continue;
        }
        if (err == EDDY_ERR_TIMED_OUT)
            return EDDY_OK;
        if (err != EDDY_OK)
            return err;
        err = batch_add(thread, &rec);
        if (err != EDDY_OK)
            return err;
        timeout = 0;
    }
    return EDDY_OK;
}

static eddy_err thread_punctuate(stream_thread *thread)
{
    int64_t now = eddy__now_ms();
    for (uint32_t i = 0; i < thread->task_count; i++) {
        eddy_err err = eddy__task_punctuate_wall_clock(thread->tasks[i]->task, now);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

static eddy_err thread_subscribe(stream_thread *thread)
{
    eddy_app *app = thread->app;
    const eddy__topology *t = app->topology;
    static char names[SOURCE_TOPICS_MAX * 4][256];
    const char *topics[SOURCE_TOPICS_MAX * 4];
    size_t count = 0;
    pthread_mutex_lock(&app->state_lock); /* `names` is shared by the threads */
    for (uint32_t s = 0; s < t->subtopology_count; s++) {
        if (t->subtopologies[s].global)
            continue;
        char sub_names[SOURCE_TOPICS_MAX][256];
        uint32_t n = eddy__subtopology_source_topics(t, s, app->sc.application_id, sub_names,
                                                     SOURCE_TOPICS_MAX);
        for (uint32_t i = 0; i < n && count < SOURCE_TOPICS_MAX; i++) {
            snprintf(names[count], 256, "%s", sub_names[i]);
            topics[count] = names[count];
            count++;
        }
    }
    eddy_err err = eddy__consumer_subscribe(thread->consumer, topics, count, on_rebalance, thread);
    pthread_mutex_unlock(&app->state_lock);
    return err;
}

static void *stream_thread_main(void *arg)
{
    stream_thread *thread = arg;
    eddy_app *app = thread->app;
    eddy_err err = thread_subscribe(thread);
    if (err != EDDY_OK)
        thread_error(thread, err, "subscribing");
    thread->last_commit_ms = eddy__now_ms();
    while (!atomic_load(&app->stopping) && !thread->failed) {
        pthread_mutex_lock(&thread->lock);
        err = thread_poll_batch(thread);
        atomic_store(&thread->rebalancing, false);
        if (err != EDDY_OK) {
            thread_error(thread, err, "polling");
        } else {
            err = thread_process_batch_waiting(thread, true);
            if (err == EDDY_OK)
                err = thread_punctuate(thread);
            if (err == EDDY_OK)
                eddy__producer_poll(thread->producer, 0);
            if (err == EDDY_OK &&
                eddy__now_ms() - thread->last_commit_ms >= app->sc.commit_interval_ms) {
                err = thread_commit(thread);
                if (commit_refused(err))
                    err = thread_commit_refused(thread, err);
                if (err != EDDY_OK)
                    thread_error(thread, err, "committing");
            } else if (err != EDDY_OK && !thread->failed) {
                thread_error(thread, err, "punctuating");
            }
        }
        thread_publish_member(thread, false);
        pthread_mutex_unlock(&thread->lock);
        /* A mutex is not fair: the loop would take it back at once and starve the queries
         * waiting for it. Let them in first. */
        while (atomic_load(&thread->queries_waiting) > 0)
            sched_yield();
        update_running_state(app);
    }
    pthread_mutex_lock(&thread->lock);
    if (!thread->failed) {
        err = thread_commit(thread);
        if (commit_refused(err)) /* leaving anyway: the next owner processes the rest again */
            EDDY_WARN("runtime", "thread %d: the final commit was refused (%s)", thread->index,
                      eddy_last_error());
        else if (err != EDDY_OK)
            thread_error(thread, err, "the final commit");
        eddy__consumer_close(thread->consumer); /* revokes: commits again, closes the tasks */
    }
    while (thread->task_count > 0)
        task_destroy_with_host(thread->tasks[--thread->task_count]);
    pthread_mutex_unlock(&thread->lock);
    return NULL;
}

/* ---- Global tables -------------------------------------------------------------------------- */

static eddy_err global_open_store(void *opaque, eddy__task *task, uint32_t store,
                                  eddy_kv_store **out)
{
    (void)task;
    eddy_app *app = opaque;
    *out = app->global_stores[store];
    return *out ? EDDY_OK
                : eddy__fail(EDDY_ERR_STATE, "global store %s is not open",
                             app->topology->stores[store].name);
}

static eddy_err global_send(void *opaque, eddy__task *task, const char *topic, int32_t partition,
                            const eddy_record *record)
{
    (void)opaque, (void)task, (void)partition, (void)record;
    return eddy__fail(EDDY_ERR_STATE, "a global table cannot write to %s", topic);
}

/* Records how far the global consumer has read a partition; positions[] follows the
 * consumer's assignment order (the order globals_start assigned them). */
static void global_note_position(eddy_app *app, const eddy_record *rec, uint32_t count,
                                 int64_t *positions)
{
    const eddy_topic_partition *parts;
    size_t assigned;
    if (eddy__consumer_assignment(app->global_consumer, &parts, &assigned) != EDDY_OK)
        return;
    for (size_t i = 0; i < assigned && i < count; i++)
        if (strcmp(parts[i].topic, rec->topic) == 0 && parts[i].partition == rec->partition)
            positions[i] = rec->offset + 1;
}

/* Reads the global topics' new records into the global stores; returns after `timeout_ms`
 * without a record, or, when `to_end`, once every partition is read to its end (or at stop). */
static eddy_err global_poll(eddy_app *app, int timeout_ms, bool to_end, const int64_t *ends,
                            uint32_t end_count, int64_t *positions)
{
    for (;;) {
        if (to_end) {
            bool done = true;
            for (uint32_t i = 0; i < end_count; i++)
                done &= positions[i] >= ends[i];
            if (done)
                return EDDY_OK;
        }
        eddy_record rec;
        eddy_err err = eddy__consumer_poll(app->global_consumer, timeout_ms, &rec);
        if (err == EDDY_ERR_TIMED_OUT && to_end && !atomic_load(&app->stopping))
            continue; /* not at every end yet: keep loading */
        if (err == EDDY_ERR_TIMED_OUT)
            return EDDY_OK;
        if (err != EDDY_OK)
            return err;
        if (to_end)
            global_note_position(app, &rec, end_count, positions);
        err = eddy__task_process(app->global_task, &rec);
        if (err != EDDY_OK)
            return err;
        if (!to_end)
            timeout_ms = 0;
        if (atomic_load(&app->stopping))
            return EDDY_OK;
    }
}

static void *global_thread_main(void *arg)
{
    eddy_app *app = arg;
    while (!atomic_load(&app->stopping)) {
        eddy_err err = global_poll(app, (int)app->sc.poll_ms, false, NULL, 0, NULL);
        if (err != EDDY_OK) {
            char message[APP_ERROR_MAX];
            snprintf(message, sizeof message, "global thread: %s", eddy_last_error());
            app_fail(app, err, message);
            break;
        }
    }
    return NULL;
}

/* Opens the global stores, reads their topics to the end, and starts the global thread. */
static eddy_err globals_start(eddy_app *app)
{
    const eddy__topology *t = app->topology;
    uint32_t global_sub = EDDY__NONE;
    for (uint32_t s = 0; s < t->subtopology_count; s++)
        if (t->subtopologies[s].global)
            global_sub = s; /* every global table is read by one global task per subtopology */
    bool any = false;
    for (uint32_t s = 0; s < t->store_count; s++)
        any |= t->stores[s].global;
    if (!any)
        return EDDY_OK;
    app->global_stores = eddy__calloc(t->store_count, sizeof *app->global_stores);
    if (!app->global_stores)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory opening global stores");
    char dir[EDDY__PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/global", app->dir);
    eddy_err err = make_dirs(dir);
    for (uint32_t s = 0; s < t->store_count && err == EDDY_OK; s++) {
        if (!t->stores[s].global)
            continue;
        eddy_kv_store *inner = NULL;
        /* Global stores have no checkpoint here: they are read from the beginning each start. */
        err = open_inner_store(app, dir, s, true, NULL, &inner);
        if (err == EDDY_OK) {
            err = eddy__kv_store_locked(inner, &app->global_stores[s]);
            if (err != EDDY_OK)
                eddy_kv_store_close(inner);
        }
    }
    if (err != EDDY_OK)
        return err;
    app->global_host = app->host;
    app->global_host.opaque = app;
    app->global_host.open_store = global_open_store;
    app->global_host.send = global_send;
    /* One global task per global sub-topology; eddy's builder makes one per global table. */
    eddy__topic_partition_offset parts[1024];
    int64_t ends[1024], positions[1024];
    uint32_t count = 0;
    for (uint32_t s = 0; s < t->subtopology_count && err == EDDY_OK; s++) {
        if (!t->subtopologies[s].global)
            continue;
        if (s != global_sub) {
            err = eddy__fail(EDDY_ERR_STATE, "this eddy runs one global table per application");
            break;
        }
        err = eddy__task_new(&app->global_host, s, -1, &app->global_task);
        const eddy__subtopology *sub = &t->subtopologies[s];
        for (uint32_t i = 0; i < sub->source_topics.count && err == EDDY_OK; i++) {
            const char *topic = t->topics[sub->source_topics.items[i]].name;
            int32_t partitions = 0;
            err = eddy__client_topic_partitions(app->client, topic, &partitions);
            for (int32_t p = 0; p < partitions && err == EDDY_OK && count < 1024; p++) {
                parts[count] = (eddy__topic_partition_offset){topic, p, EDDY_OFFSET_BEGINNING};
                err =
                    eddy__client_watermarks(app->client, topic, p, &positions[count], &ends[count]);
                count++;
            }
        }
    }
    eddy_config *cc = eddy_config_new();
    if (err == EDDY_OK && (!cc || eddy_config_set(cc, "auto.offset.reset", "earliest") != EDDY_OK))
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    if (err == EDDY_OK)
        err = eddy__consumer_new(app->client, NULL, cc, &app->global_consumer);
    eddy_config_destroy(cc);
    if (err == EDDY_OK)
        err = eddy__consumer_assign(app->global_consumer, parts, count);
    if (err == EDDY_OK)
        err = global_poll(app, 1000, true, ends, count, positions);
    if (err == EDDY_OK) {
        EDDY_INFO("runtime", "application %s: global tables loaded", app->sc.application_id);
        if (pthread_create(&app->global_thread, NULL, global_thread_main, app) != 0)
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "cannot start the global thread");
        else
            app->global_started = true;
    }
    return err;
}

/* ---- Topics --------------------------------------------------------------------------------- */

/* Kafka's CopartitionedTopicsEnforcer for the internal topics (without a requested count) of
 * each co-partition group: with input topics in the group, they take the inputs' count and are
 * pinned to it (`pinned`: no writer raises it; a foreign-key join's registration topic so gets
 * the right table's count, its response topic the left table's); in a group of internal topics
 * only, they take the count one of them was given, else the largest. Returns whether a count
 * changed. */
static bool enforce_copartitioning(const eddy__topology *t, int32_t *topic_partitions, bool *pinned)
{
    bool changed = false;
    for (uint32_t g = 0; g < t->copartition_group_count; g++) {
        const eddy__ids *group = &t->copartition_groups[g];
        int32_t external = 0, requested = 0, largest = 0;
        for (uint32_t i = 0; i < group->count; i++) {
            const eddy__topic *topic = &t->topics[group->items[i]];
            int32_t count = topic_partitions[group->items[i]];
            if (!topic->internal && external == 0)
                external = count;
            if (topic->internal && topic->partitions > 0 && requested == 0)
                requested = topic->partitions;
            largest = count > largest ? count : largest;
        }
        int32_t target = external > 0 ? external : requested > 0 ? requested : largest;
        for (uint32_t i = 0; i < group->count && target > 0; i++) {
            uint32_t topic = group->items[i];
            if (!t->topics[topic].internal || t->topics[topic].partitions > 0)
                continue;
            changed |= topic_partitions[topic] != target;
            topic_partitions[topic] = target;
            pinned[topic] = pinned[topic] || external > 0;
        }
    }
    return changed;
}

/* Records a topic the application uses; takes `config` (also on failure). */
static eddy_err need_add(eddy_app *app, const char *name, int32_t partitions, eddy_config *config,
                         const char *role)
{
    if (app->need_count == app->need_capacity) {
        size_t capacity = app->need_capacity ? 2 * app->need_capacity : 16;
        topic_need *needs = eddy__realloc(app->needs, capacity * sizeof *needs);
        if (!needs) {
            eddy_config_destroy(config);
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory listing topics");
        }
        app->needs = needs;
        app->need_capacity = capacity;
    }
    char *copy = eddy__strdup(name);
    if (!copy) {
        eddy_config_destroy(config);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory listing topics");
    }
    app->needs[app->need_count++] = (topic_need){copy, partitions, config, role};
    return EDDY_OK;
}

static void needs_free(eddy_app *app)
{
    for (size_t i = 0; i < app->need_count; i++) {
        eddy__free(app->needs[i].name);
        eddy_config_destroy(app->needs[i].config);
    }
    eddy__free(app->needs);
    app->needs = NULL;
    app->need_count = app->need_capacity = 0;
}

/* The partition count of each task sub-topology: its external inputs', and for repartition
 * topics, the writing sub-topology's (or the count the user gave), then as co-partitioning
 * requires (enforce_copartitioning). */
static eddy_err compute_partitions(eddy_app *app)
{
    const eddy__topology *t = app->topology;
    app->sub_partitions =
        eddy__calloc(t->subtopology_count ? t->subtopology_count : 1, sizeof(int32_t));
    int32_t *topic_partitions = eddy__calloc(t->topic_count ? t->topic_count : 1, sizeof(int32_t));
    bool *pinned = eddy__calloc(t->topic_count ? t->topic_count : 1, sizeof(bool));
    if (!app->sub_partitions || !topic_partitions || !pinned) {
        eddy__free(topic_partitions);
        eddy__free(pinned);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    }
    eddy_err err = EDDY_OK;
    for (uint32_t i = 0; i < t->topic_count && err == EDDY_OK; i++) {
        if (t->topics[i].internal) {
            topic_partitions[i] = t->topics[i].partitions;
            continue;
        }
        bool read = false;
        for (uint32_t s = 0; s < t->subtopology_count; s++)
            read |= eddy__ids_contains(&t->subtopologies[s].source_topics, i);
        if (!read)
            continue;
        err = eddy__client_topic_partitions(app->client, t->topics[i].name, &topic_partitions[i]);
        if (err == EDDY_ERR_UNKNOWN_TOPIC)
            err = eddy__fail(EDDY_ERR_UNKNOWN_TOPIC,
                             "input topic %s does not exist (create it "
                             "first: eddy topic create %s -p N)",
                             t->topics[i].name, t->topics[i].name);
    }
    /* Repartition topics take their writer's count unless co-partitioning decides it; iterate
     * to a fixed point (counts only grow, except where pinned to inputs' at the start). */
    if (err == EDDY_OK)
        enforce_copartitioning(t, topic_partitions, pinned);
    for (uint32_t round = 0; round <= t->subtopology_count + t->topic_count && err == EDDY_OK;
         round++) {
        bool changed = false;
        for (uint32_t s = 0; s < t->subtopology_count; s++) {
            const eddy__subtopology *sub = &t->subtopologies[s];
            int32_t count = 0;
            for (uint32_t i = 0; i < sub->source_topics.count; i++) {
                int32_t c = topic_partitions[sub->source_topics.items[i]];
                count = c > count ? c : count;
            }
            app->sub_partitions[s] = count;
            for (uint32_t i = 0; i < sub->sink_topics.count; i++) {
                uint32_t topic = sub->sink_topics.items[i];
                if (t->topics[topic].internal && t->topics[topic].partitions == 0 &&
                    !pinned[topic] && count > topic_partitions[topic]) {
                    topic_partitions[topic] = count;
                    changed = true;
                }
            }
        }
        changed |= enforce_copartitioning(t, topic_partitions, pinned);
        if (!changed)
            break;
    }
    /* Every input of a task sub-topology must have its partition count (co-partitioning). */
    for (uint32_t s = 0; s < t->subtopology_count && err == EDDY_OK; s++) {
        const eddy__subtopology *sub = &t->subtopologies[s];
        if (sub->global)
            continue;
        for (uint32_t i = 0; i < sub->source_topics.count && err == EDDY_OK; i++) {
            uint32_t topic = sub->source_topics.items[i];
            if (topic_partitions[topic] == 0 && t->topics[topic].internal)
                topic_partitions[topic] = app->sub_partitions[s];
            if (topic_partitions[topic] != app->sub_partitions[s]) {
                char a[512], b[512];
                eddy__topic_full_name(&t->topics[topic], app->sc.application_id, a, sizeof a);
                uint32_t widest = sub->source_topics.items[0];
                for (uint32_t k = 0; k < sub->source_topics.count; k++)
                    if (topic_partitions[sub->source_topics.items[k]] == app->sub_partitions[s])
                        widest = sub->source_topics.items[k];
                eddy__topic_full_name(&t->topics[widest], app->sc.application_id, b, sizeof b);
                err = eddy__fail(EDDY_ERR_CONFIG,
                                 "co-partitioned topics %s (%" PRId32 " partitions) and %s "
                                 "(%" PRId32 " partitions) must have the same number of "
                                 "partitions (sub-topology %" PRId32 ")",
                                 a, topic_partitions[topic], b, app->sub_partitions[s], sub->id);
            }
        }
    }
    /* The topics it reads and writes, the repartition topics among them. */
    for (uint32_t i = 0; i < t->topic_count && err == EDDY_OK; i++) {
        char name[512];
        eddy__topic_full_name(&t->topics[i], app->sc.application_id, name, sizeof name);
        if (t->topics[i].internal && topic_partitions[i] > 0)
            err = need_add(app, name, topic_partitions[i], NULL, "repartition");
        else if (!t->topics[i].internal)
            err = need_add(app, name, topic_partitions[i] > 0 ? topic_partitions[i] : -1, NULL,
                           topic_partitions[i] > 0 ? "input" : "output");
    }
    eddy__free(topic_partitions);
    eddy__free(pinned);
    return err;
}

/* Kafka's windowstore.changelog.additional.retention.ms: a windowed changelog keeps a day more
 * than its store, so that a restoring task finds every window the store still holds. */
#define WINDOW_CHANGELOG_EXTRA_RETENTION_MS 86400000LL

/* A changelog's topic configuration: compacted; windowed stores' also deleted after their
 * retention (Kafka's compact,delete), and those keeping duplicates (join buffers, whose keys
 * are never rewritten) deleted only. */
static eddy_config *changelog_config(const eddy__store *store)
{
    eddy_config *tc = eddy_config_new();
    bool windowed = store->type == EDDY__STORE_WINDOW || store->type == EDDY__STORE_SESSION;
    const char *policy = store->retain_duplicates ? "delete"
                         : windowed               ? "compact,delete"
                                                  : "compact";
    char retention[32];
    snprintf(retention, sizeof retention, "%lld",
             (long long)(store->retention_ms + WINDOW_CHANGELOG_EXTRA_RETENTION_MS));
    if (!tc || eddy_config_set(tc, "cleanup.policy", policy) ||
        (windowed && store->retention_ms >= 0 &&
         eddy_config_set(tc, "retention.ms", retention) != EDDY_OK)) {
        eddy_config_destroy(tc);
        return NULL;
    }
    return tc;
}

static eddy_err plan_changelogs(eddy_app *app)
{
    const eddy__topology *t = app->topology;
    eddy_err err = EDDY_OK;
    for (uint32_t s = 0; s < t->store_count && err == EDDY_OK; s++) {
        const eddy__store *store = &t->stores[s];
        if (store->global || !store->changelog)
            continue;
        int32_t partitions = 0;
        for (uint32_t k = 0; k < t->subtopology_count; k++)
            if (eddy__ids_contains(&t->subtopologies[k].stores, s))
                partitions = app->sub_partitions[k];
        if (partitions <= 0)
            continue;
        char name[512];
        changelog_name(app, s, name, sizeof name);
        eddy_config *tc = changelog_config(store);
        if (!tc)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory configuring %s", name);
        err = need_add(app, name, partitions, tc, "changelog");
    }
    if (err == EDDY_OK && app->server) {
        char name[512];
        eddy__metadata_topic(app->sc.application_id, name, sizeof name);
        eddy_config *tc = eddy__metadata_topic_config();
        err = tc ? need_add(app, name, 1, tc, "metadata")
                 : eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory configuring %s", name);
    }
    return err;
}

/* Creates the internal topics (repartition topics and changelogs) that do not exist yet. A
 * broker that creates no topics (a locked-down cluster) fails here: the message says how to
 * list every topic the application needs. */
static eddy_err create_internal_topics(eddy_app *app)
{
    for (size_t i = 0; i < app->need_count; i++) {
        const topic_need *n = &app->needs[i];
        if (strcmp(n->role, "input") == 0 || strcmp(n->role, "output") == 0)
            continue;
        eddy_err err = eddy__client_topic_create(app->client, n->name, n->partitions, n->config,
                                                 EDDY__TOPIC_IF_NOT_EXISTS);
        if (err != EDDY_OK)
            return eddy__fail(err,
                              "%s (the application's %s topic; --print-topics lists every topic "
                              "it needs)",
                              eddy_last_error(), n->role);
    }
    return EDDY_OK;
}

/* eddy.create.topics: "name:partitions,..." topics the application creates when missing (its
 * own input and output topics, for programs that set up their own log). */
static eddy_err create_requested_topics(eddy_app *app)
{
    const char *list = eddy_config_get(app->config, "eddy.create.topics");
    if (!list)
        return EDDY_OK;
    char buf[4096];
    if (strlen(list) >= sizeof buf)
        return eddy__fail(EDDY_ERR_CONFIG, "config eddy.create.topics: too long");
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(item, ':');
        char *end = NULL;
        long partitions = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || colon == item || !end || *end || partitions < 1 || partitions > 100000)
            return eddy__fail(EDDY_ERR_CONFIG,
                              "config eddy.create.topics: '%s' is not name:partitions", item);
        *colon = '\0';
        eddy_err err = eddy__client_topic_create(app->client, item, (int32_t)partitions, NULL, 0);
        if (err != EDDY_OK && err != EDDY_ERR_EXISTS)
            return err;
    }
    return EDDY_OK;
}

/* ---- Public API ----------------------------------------------------------------------------- */

/* application.server, when set, is where this instance answers queries: "host:port" (Kafka
 * Streams' format), port 1 to 65535, and at most 255 bytes (it keys the instance's record). */
static eddy_err server_check(eddy_app *app)
{
    const char *server = eddy_config_get(app->config, "application.server");
    if ((!server || !server[0]) && app->sc.num_standby_replicas > 0)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config num.standby.replicas=%d needs application.server (host:port): "
                          "standbys are placed through the instances' metadata",
                          (int)app->sc.num_standby_replicas);
    if (!server || !server[0])
        return EDDY_OK;
    const char *colon = strrchr(server, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == server || !end || *end || end == colon + 1 || port < 1 || port > 65535 ||
        strlen(server) > 255)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config application.server: '%s' is not host:port (port 1 to 65535)",
                          server);
    app->server = server;
    return EDDY_OK;
}

eddy_err eddy_app_new(eddy_builder *builder, const eddy_config *config, eddy_app **out)
{
    if (!builder || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_app_new: NULL argument");
    *out = NULL;
    const eddy__topology *topology;
    eddy_err err = eddy__builder_build(builder, &topology);
    if (err != EDDY_OK)
        return err;
    eddy_app *app = eddy__calloc(1, sizeof *app);
    if (!app)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making an application");
    app->builder = builder;
    app->topology = topology;
    app->lock_fd = -1;
    pthread_mutex_init(&app->state_lock, NULL);
    pthread_mutex_init(&app->handoff_lock, NULL);
    pthread_mutex_init(&app->listener_lock, NULL);
    pthread_cond_init(&app->state_cond, NULL);
    app->config = config ? eddy_config_copy(config) : eddy_config_new();
    if (!app->config)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory copying the configuration");
    if (err == EDDY_OK)
        err = eddy__streams_config_parse(app->config, NULL, &app->sc);
    if (err == EDDY_OK)
        err = server_check(app);
    if (err != EDDY_OK) {
        eddy_app_destroy(app);
        return err;
    }
    snprintf(app->dir, sizeof app->dir, "%s/%s", app->sc.state_dir, app->sc.application_id);
    app->host = (eddy__task_host){
        .application_id = app->sc.application_id,
        .topology = topology,
        .wall_clock_ms = host_wall_clock,
        .deser_handler = app->sc.deser_handler,
        .dlq_topic = app->sc.dlq_topic,
        .default_key_serde = app->sc.default_key_serde,
        .default_value_serde = app->sc.default_value_serde,
        .processing_continue = app->sc.processing_continue,
        .timestamp_mode = app->sc.timestamp_mode,
        .dropped_records = &app->dropped_records,
    };
    *out = app;
    return EDDY_OK;
}

void eddy_app_set_state_listener(eddy_app *app, eddy_app_state_fn fn, void *opaque)
{
    if (!app)
        return;
    app->listener = fn;
    app->listener_opaque = opaque;
}

static eddy_err lock_state_dir(eddy_app *app)
{
    eddy_err err = make_dirs(app->dir);
    if (err != EDDY_OK)
        return err;
    char path[EDDY__PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.lock", app->dir);
    app->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (app->lock_fd < 0)
        return eddy__fail_errno(errno, "opening %s", path);
    if (flock(app->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return eddy__fail(EDDY_ERR_BUSY,
                          "state directory %s is in use by another instance (each instance of an "
                          "application needs its own state.dir)",
                          app->dir);
    return EDDY_OK;
}

/* The client configuration for the producer or the consumer: eddy's defaults, the plain keys,
 * then the prefixed ones. */
static eddy_config *client_config(const eddy_app *app, const char *const *prefixes,
                                  const char *const *defaults)
{
    eddy_config *c = eddy_config_new();
    if (!c)
        return NULL;
    for (size_t i = 0; defaults[i]; i += 2)
        if (eddy_config_set(c, defaults[i], defaults[i + 1]) != EDDY_OK)
            goto fail;
    static const char *const plain[] = {"acks",
                                        "linger.ms",
                                        "batch.size",
                                        "queue.buffering.max.messages",
                                        "auto.offset.reset",
                                        "session.timeout.ms",
                                        NULL};
    for (size_t i = 0; plain[i]; i++) {
        const char *v = eddy_config_get(app->config, plain[i]);
        if (v && eddy_config_set(c, plain[i], v) != EDDY_OK)
            goto fail;
    }
    for (size_t i = 0; i < eddy_config_count(app->config); i++) {
        const char *key, *value;
        eddy_config_at(app->config, i, &key, &value);
        for (size_t p = 0; prefixes[p]; p++) {
            size_t len = strlen(prefixes[p]);
            if (strncmp(key, prefixes[p], len) == 0 &&
                eddy_config_set(c, key + len, value) != EDDY_OK)
                goto fail;
        }
    }
    return c;
fail:
    eddy_config_destroy(c);
    return NULL;
}

static eddy_err threads_start(eddy_app *app)
{
    app->thread_count = app->sc.num_stream_threads;
    app->threads = eddy__calloc((size_t)app->thread_count, sizeof *app->threads);
    if (!app->threads)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory starting threads");
    static const char *const producer_prefixes[] = {"producer.", NULL};
    static const char *const consumer_prefixes[] = {"consumer.", "main.consumer.", NULL};
    /* Kafka Streams' producer and consumer overrides. */
    static const char *const producer_defaults[] = {"linger.ms", "100", NULL};
    static const char *const consumer_defaults[] = {"auto.offset.reset", "earliest",
                                                    "enable.auto.commit", "false", NULL};
    eddy_config *pc = client_config(app, producer_prefixes, producer_defaults);
    eddy_config *cc = client_config(app, consumer_prefixes, consumer_defaults);
    eddy_err err = pc && cc ? EDDY_OK : eddy__fail(EDDY_ERR_CONFIG, "%s", eddy_last_error());
    for (int i = 0; i < app->thread_count && err == EDDY_OK; i++) {
        stream_thread *thread = &app->threads[i];
        thread->app = app;
        thread->index = i;
        atomic_store(&thread->rebalancing, true);
        pthread_mutex_init(&thread->lock, NULL);
        thread->batch = eddy__calloc(BATCH_RECORDS_MAX, sizeof *thread->batch);
        if (!thread->batch)
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory starting threads");
        if (err == EDDY_OK)
            err = eddy__producer_new(app->client, pc, on_delivery, thread, &thread->producer);
        if (err == EDDY_OK)
            err = eddy__consumer_new(app->client, app->sc.application_id, cc, &thread->consumer);
    }
    eddy_config_destroy(pc);
    eddy_config_destroy(cc);
    for (int i = 0; i < app->thread_count && err == EDDY_OK; i++) {
        if (pthread_create(&app->threads[i].thread, NULL, stream_thread_main, &app->threads[i]) !=
            0)
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "cannot start stream thread %d", i);
        else
            app->threads[i].started = true;
    }
    return err;
}

static void threads_stop(eddy_app *app)
{
    atomic_store(&app->stopping, true);
    for (int i = 0; i < app->thread_count; i++) {
        stream_thread *thread = &app->threads[i];
        if (thread->started)
            pthread_join(thread->thread, NULL);
        thread->started = false;
    }
    if (app->global_started)
        pthread_join(app->global_thread, NULL);
    app->global_started = false;
}

eddy_err eddy_app_start(eddy_app *app)
{
    if (!app)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_app_start: NULL application");
    if (app->state != EDDY_APP_CREATED)
        return eddy__fail(EDDY_ERR_STATE, "application %s: start in state %s (only CREATED)",
                          app->sc.application_id, eddy_app_state_name(app->state));
    set_state(app, EDDY_APP_REBALANCING);
    eddy_err err = eddy__client_new(app->config, &app->client);
    if (err == EDDY_OK)
        err = lock_state_dir(app);
    if (err == EDDY_OK)
        err = make_name_maps(app);
    if (err == EDDY_OK)
        err = create_requested_topics(app);
    if (err == EDDY_OK)
        err = compute_partitions(app);
    if (err == EDDY_OK)
        err = plan_changelogs(app);
    if (err == EDDY_OK)
        err = create_internal_topics(app);
    if (err == EDDY_OK && app->server)
        err = eddy__metadata_start(app->client, app->sc.application_id, app->server,
                                   app->sc.num_stream_threads, &app->metadata);
    if (err == EDDY_OK && app->sc.num_standby_replicas > 0)
        err = standbys_start(app);
    if (err == EDDY_OK)
        err = globals_start(app);
    if (err == EDDY_OK)
        err = threads_start(app);
    if (err != EDDY_OK) {
        char message[APP_ERROR_MAX];
        snprintf(message, sizeof message, "%s", eddy_last_error());
        threads_stop(app);
        app_fail(app, err, message);
        return eddy__fail(err, "%s", message);
    }
    return EDDY_OK;
}

static eddy_err text_appendf(eddy__buf *text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends formatted text; pieces longer than a topic name and its configs are cut. */
static eddy_err text_appendf(eddy__buf *text, const char *fmt, ...)
{
    char piece[1024];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(piece, sizeof piece, fmt, args);
    va_end(args);
    if (n < 0)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "formatting a topic line failed");
    size_t len = (size_t)n < sizeof piece ? (size_t)n : sizeof piece - 1;
    return eddy__buf_append(text, piece, len) == EDDY_OK
               ? EDDY_OK
               : eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory listing topics");
}

/* One topic_need as a line of eddy_app_topics(). */
static eddy_err need_format(const topic_need *n, eddy__buf *text)
{
    char partitions[16] = "-";
    if (n->partitions > 0)
        snprintf(partitions, sizeof partitions, "%" PRId32, n->partitions);
    eddy_err err = text_appendf(text, "%s %s %s ", n->name, partitions, n->role);
    size_t count = n->config ? eddy_config_count(n->config) : 0;
    for (size_t i = 0; i < count && err == EDDY_OK; i++) {
        const char *key, *value;
        eddy_config_at(n->config, i, &key, &value);
        err = text_appendf(text, "%s%s=%s", i ? "," : "", key, value);
    }
    return err == EDDY_OK ? text_appendf(text, "%s\n", count ? "" : "-") : err;
}

eddy_err eddy_app_topics(eddy_app *app, char **out)
{
    if (!app || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_app_topics: NULL argument");
    *out = NULL;
    if (app->state != EDDY_APP_CREATED)
        return eddy__fail(EDDY_ERR_STATE, "application %s: topics asked in state %s (only CREATED)",
                          app->sc.application_id, eddy_app_state_name(app->state));
    eddy_err err = eddy__client_new(app->config, &app->client);
    if (err == EDDY_OK)
        err = compute_partitions(app);
    if (err == EDDY_OK)
        err = plan_changelogs(app);
    eddy__buf text = {0};
    for (size_t i = 0; i < app->need_count && err == EDDY_OK; i++)
        err = need_format(&app->needs[i], &text);
    if (err == EDDY_OK && eddy__buf_append(&text, "", 1) != EDDY_OK)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory listing topics");
    if (err == EDDY_OK) {
        *out = (char *)text.data; /* the caller's now, freed with eddy_free() */
        text = (eddy__buf){0};
    }
    eddy__buf_free(&text);
    /* Back to a fresh CREATED application: start plans again with its own client. */
    needs_free(app);
    eddy__free(app->sub_partitions);
    app->sub_partitions = NULL;
    eddy__client_destroy(app->client);
    app->client = NULL;
    return err;
}

eddy_app_state eddy_app_state_get(const eddy_app *app)
{
    if (!app)
        return EDDY_APP_NOT_RUNNING;
    pthread_mutex_lock((pthread_mutex_t *)&app->state_lock);
    eddy_app_state state = app->state;
    pthread_mutex_unlock((pthread_mutex_t *)&app->state_lock);
    return state;
}

const char *eddy_app_error(const eddy_app *app)
{
    return app ? app->error : "";
}

eddy_err eddy_app_wait_running(eddy_app *app, int timeout_ms)
{
    int64_t deadline = eddy__now_ms() + timeout_ms;
    pthread_mutex_lock(&app->state_lock);
    eddy_err err = EDDY_OK;
    while (app->state == EDDY_APP_REBALANCING || app->state == EDDY_APP_CREATED) {
        int64_t left = deadline - eddy__now_ms();
        if (timeout_ms >= 0 && left <= 0) {
            err = EDDY_ERR_TIMED_OUT;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = timeout_ms < 0 || left > 100 ? 100 : left;
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&app->state_cond, &app->state_lock, &ts);
    }
    eddy_app_state state = app->state;
    pthread_mutex_unlock(&app->state_lock);
    if (err != EDDY_OK)
        return eddy__fail(err, "application %s: not running after %d ms (state %s)",
                          app->sc.application_id, timeout_ms, eddy_app_state_name(state));
    if (state != EDDY_APP_RUNNING)
        return eddy__fail(EDDY_ERR_STATE, "application %s: state %s", app->sc.application_id,
                          eddy_app_state_name(state));
    return EDDY_OK;
}

eddy_err eddy_app_close(eddy_app *app)
{
    if (!app)
        return EDDY_OK;
    eddy_app_state state = eddy_app_state_get(app);
    if (state == EDDY_APP_CREATED) {
        set_state(app, EDDY_APP_NOT_RUNNING);
        return EDDY_OK;
    }
    if (state != EDDY_APP_NOT_RUNNING && state != EDDY_APP_ERROR)
        set_state(app, EDDY_APP_PENDING_SHUTDOWN);
    threads_stop(app);
    standbys_stop(app); /* checkpoints what the standbys applied */
    handoffs_expire(app, INT64_MAX);
    eddy__metadata_stop(app->metadata); /* publishes the instance's departure */
    app->metadata = NULL;
    for (int i = 0; i < app->thread_count; i++) {
        stream_thread *thread = &app->threads[i];
        if (thread->producer && eddy__producer_flush(thread->producer, -1) != EDDY_OK &&
            app->first_error == EDDY_OK)
            app_fail(app, EDDY_ERR_IO, eddy_last_error());
        eddy__producer_destroy(thread->producer);
        eddy__consumer_destroy(thread->consumer);
        thread->producer = NULL;
        thread->consumer = NULL;
        eddy__free(thread->batch);
        thread->batch = NULL;
        eddy__buf_free(&thread->arena);
        eddy__free(thread->tasks);
        thread->tasks = NULL;
        pthread_mutex_destroy(&thread->lock);
    }
    eddy__free(app->threads);
    app->threads = NULL;
    app->thread_count = 0;
    eddy__task_destroy(app->global_task);
    app->global_task = NULL;
    eddy__consumer_destroy(app->global_consumer);
    app->global_consumer = NULL;
    if (app->global_stores)
        for (uint32_t s = 0; s < app->topology->store_count; s++)
            eddy_kv_store_close(app->global_stores[s]);
    eddy__free(app->global_stores);
    app->global_stores = NULL;
    eddy__client_destroy(app->client);
    app->client = NULL;
    if (app->lock_fd >= 0)
        close(app->lock_fd);
    app->lock_fd = -1;
    set_state(app, EDDY_APP_NOT_RUNNING);
    if (app->first_error != EDDY_OK)
        return eddy__fail(app->first_error, "%s", app->error);
    return EDDY_OK;
}

void eddy_app_destroy(eddy_app *app)
{
    if (!app)
        return;
    eddy_app_close(app);
    eddy_config_destroy(app->config);
    eddy__free(app->sub_partitions);
    needs_free(app);
    if (app->changelog_names)
        for (uint32_t s = 0; s < app->topology->store_count; s++)
            eddy__free(app->changelog_names[s]);
    eddy__free(app->changelog_names);
    eddy__free(app->sources);
    pthread_mutex_destroy(&app->state_lock);
    eddy__free(app->handoffs); /* empty since eddy_app_close */
    pthread_mutex_destroy(&app->handoff_lock);
    pthread_mutex_destroy(&app->listener_lock);
    pthread_cond_destroy(&app->state_cond);
    eddy__free(app);
}

void eddy_app_restoration(const eddy_app *app, uint64_t *restored, uint64_t *total)
{
    if (restored)
        *restored = app ? atomic_load(&app->restored) : 0;
    if (total)
        *total = app ? atomic_load(&app->restore_total) : 0;
}

uint64_t eddy_app_dropped_records(const eddy_app *app)
{
    return app ? atomic_load(&((eddy_app *)app)->dropped_records) : 0;
}

/* The index of the store named `store_name`; EDDY_ERR_INVALID_ARGUMENT naming it otherwise. */
static eddy_err store_named(const eddy_app *app, const char *store_name, uint32_t *store)
{
    const eddy__topology *t = app->topology;
    *store = EDDY__NONE;
    for (uint32_t s = 0; s < t->store_count; s++)
        if (strcmp(t->stores[s].name, store_name) == 0)
            *store = s;
    if (*store == EDDY__NONE)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "application %s has no store %s",
                          app->sc.application_id, store_name);
    return EDDY_OK;
}

/* The task (sub-topology and partition) holding `key` of a task store: Kafka's partitioner over
 * the record key (a windowed store's key without its window). EDDY_ERR_NOT_FOUND when the
 * store's sub-topology has no partitions yet; EDDY_ERR_INVALID_ARGUMENT for a windowed key too
 * short. */
static eddy_err key_task(const eddy_app *app, uint32_t store, eddy_slice key, uint32_t *sub,
                         int32_t *partition)
{
    const eddy__topology *t = app->topology;
    const char *store_name = t->stores[store].name;
    *sub = EDDY__NONE;
    for (uint32_t k = 0; k < t->subtopology_count; k++)
        if (eddy__ids_contains(&t->subtopologies[k].stores, store))
            *sub = k;
    if (*sub == EDDY__NONE || !app->sub_partitions || app->sub_partitions[*sub] <= 0)
        return eddy__fail(EDDY_ERR_NOT_FOUND, "store %s: no task holds it yet", store_name);
    size_t suffix = t->stores[store].type == EDDY__STORE_WINDOW    ? EDDY__WINDOW_SUFFIX_BYTES
                    : t->stores[store].type == EDDY__STORE_SESSION ? EDDY__SESSION_SUFFIX_BYTES
                                                                   : 0;
    if (key.len < suffix)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "store %s: a windowed key has at least %zu bytes (got %zu)", store_name,
                          suffix, key.len);
    *partition = eddy__partition_for_key(key.data, key.len - suffix, app->sub_partitions[*sub]);
    return EDDY_OK;
}

eddy_err eddy_app_store_get(eddy_app *app, const char *store_name, eddy_slice key, void **value,
                            size_t *len)
{
    if (!app || !store_name || !key.data || !value || !len)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_app_store_get: NULL argument");
    *value = NULL;
    *len = 0;
    const eddy__topology *t = app->topology;
    uint32_t store;
    eddy_err err = store_named(app, store_name, &store);
    if (err != EDDY_OK)
        return err;
    eddy_app_state state = eddy_app_state_get(app);
    if (state != EDDY_APP_RUNNING && state != EDDY_APP_REBALANCING)
        return eddy__fail(EDDY_ERR_STATE, "store %s: the application is %s", store_name,
                          eddy_app_state_name(state));
    if (t->stores[store].global) {
        eddy_slice v;
        err = eddy_kv_get(app->global_stores[store], key, &v);
        if (err == EDDY_OK && (*value = eddy__malloc(v.len ? v.len : 1)) != NULL) {
            memcpy(*value, v.data, v.len);
            *len = v.len;
        }
        return err;
    }
    uint32_t sub;
    int32_t partition;
    err = key_task(app, store, key, &sub, &partition);
    if (err != EDDY_OK)
        return err;
    err = eddy__fail(EDDY_ERR_NOT_FOUND,
                     "store %s: the task holding this key is not in this instance", store_name);
    for (int i = 0; i < app->thread_count; i++) {
        stream_thread *thread = &app->threads[i];
        atomic_fetch_add(&thread->queries_waiting, 1);
        pthread_mutex_lock(&thread->lock);
        atomic_fetch_sub(&thread->queries_waiting, 1);
        runtime_task *rt = thread_find_task(thread, sub, partition, NULL);
        if (rt && rt->stores[store]) {
            eddy_slice v;
            err = eddy_kv_get(rt->stores[store], key, &v);
            if (err == EDDY_OK && t->stores[store].type == EDDY__STORE_WINDOW &&
                !t->stores[store].retain_duplicates) {
                /* A windowed aggregation's value is [latest timestamp][aggregate]. */
                int64_t time_ms;
                err = eddy_window_store_value(v, &v, &time_ms);
            }
            if (err == EDDY_OK) {
                *value = eddy__malloc(v.len ? v.len : 1);
                if (!*value)
                    err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
                else {
                    memcpy(*value, v.data, v.len);
                    *len = v.len;
                }
            } else if (err == EDDY_ERR_NOT_FOUND) {
                eddy__fail(err, "store %s: no such key", store_name);
            }
        }
        pthread_mutex_unlock(&thread->lock);
        if (rt)
            break;
    }
    return err;
}

/* The shared part of the metadata queries: the application runs and shares its metadata. */
static eddy_err metadata_usable(eddy_app *app, const char *what)
{
    if (!app->server)
        return eddy__fail(EDDY_ERR_STATE,
                          "%s: application %s shares no instance metadata (set application.server)",
                          what, app->sc.application_id);
    eddy_app_state state = eddy_app_state_get(app);
    if ((state != EDDY_APP_RUNNING && state != EDDY_APP_REBALANCING) || !app->metadata)
        return eddy__fail(EDDY_ERR_STATE, "%s: the application is %s", what,
                          eddy_app_state_name(state));
    return EDDY_OK;
}

eddy_err eddy_app_key_metadata(eddy_app *app, const char *store_name, eddy_slice key,
                               char **active_host, char **standby_hosts, int32_t *partition)
{
    if (!app || !store_name || !key.data || !active_host)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_app_key_metadata: NULL argument");
    *active_host = NULL;
    if (standby_hosts)
        *standby_hosts = NULL;
    uint32_t store, sub;
    int32_t part = -1;
    eddy_err err = store_named(app, store_name, &store);
    if (err == EDDY_OK && app->topology->stores[store].global)
        err =
            eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                       "store %s is a global table's: every instance holds all of it", store_name);
    if (err == EDDY_OK)
        err = metadata_usable(app, "eddy_app_key_metadata");
    if (err == EDDY_OK)
        err = key_task(app, store, key, &sub, &part);
    char task_id[32];
    snprintf(task_id, sizeof task_id, "%" PRId32 "_%" PRId32,
             err == EDDY_OK ? app->topology->subtopologies[sub].id : 0, part);
    if (err == EDDY_OK)
        err = eddy__metadata_owner(app->metadata, task_id, active_host);
    if (err == EDDY_OK && !*active_host)
        err = eddy__fail(EDDY_ERR_NOT_FOUND, "store %s: no instance hosts task %s yet", store_name,
                         task_id);
    if (err == EDDY_OK && standby_hosts)
        err = eddy__metadata_standbys(app->metadata, task_id, standby_hosts);
    if (err != EDDY_OK) {
        eddy__free(*active_host);
        *active_host = NULL;
    }
    if (partition)
        *partition = err == EDDY_OK ? part : -1;
    return err;
}

eddy_err eddy_app_instances(eddy_app *app, char **text)
{
    if (!app || !text)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_app_instances: NULL argument");
    *text = NULL;
    eddy_err err = metadata_usable(app, "eddy_app_instances");
    return err == EDDY_OK ? eddy__metadata_describe(app->metadata, text) : err;
}

eddy_err eddy_app_metadata_sync(eddy_app *app, int timeout_ms)
{
    if (!app)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_app_metadata_sync: NULL application");
    eddy_err err = metadata_usable(app, "eddy_app_metadata_sync");
    return err == EDDY_OK ? eddy__metadata_sync(app->metadata, timeout_ms) : err;
}

eddy_err eddy_topic_ensure(const eddy_config *config, const char *topic, int32_t partitions)
{
    eddy__client *client = NULL;
    eddy_err err = eddy__client_new(config, &client);
    if (err != EDDY_OK)
        return err;
    err = eddy__client_topic_create(client, topic, partitions, NULL, 0);
    if (err == EDDY_ERR_EXISTS)
        err = EDDY_OK;
    eddy__client_destroy(client);
    return err;
}
