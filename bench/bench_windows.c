/* Windowed stream processing throughput: eddy applications with windowed aggregations and a
 * stream-stream join (include/eddy/windows.h, run by the runtime of include/eddy/app.h on the
 * embedded log) against hand-written C loops doing the same work over the same input, read
 * from the same log, in the same run. The companion of bench_streams.c, whose conventions it
 * follows (docs/BENCHMARKS.md, "Windows and joins").
 *
 *   bench_windows --dir D [--case all|tumbling|tumbling-cached|hopping|session|join]
 *                 [--scale F] [--only eddy|baseline] [--eddy-first] [--cache-bytes N]
 *                 [--verbose]
 *
 * EDDY_BENCH_SCALE=F (or --scale F) multiplies every record count (0.1 for a quick run; key
 * counts and times stay, so the shape of the windows stays). --verbose prints each side's timed
 * region in CLOCK_MONOTONIC seconds on stderr (for `perf record -k CLOCK_MONOTONIC` and
 * `perf report --time A,B`).
 *
 * Every case writes its input topics once, untimed (acks=1, 1 partition each, in a fresh log
 * under D); then both sides read them, the hand-written loop first, or eddy first with
 * --eddy-first. Both sides write with acks=1. Applications: default.dsl.store=in_memory,
 * commit.interval.ms=30000, acks=1, Kafka Streams' linger.ms=100 and the client seam's
 * batch.size of 1,000,000 bytes, 1 stream thread, poll.ms=100. Every timed run is shorter than
 * the commit interval, so the only commit an application makes is the final one of
 * eddy_app_close(). A loop appends a batch to a topic each time it holds 1,000,000 bytes of
 * keys and values.
 *
 * The record cache. The applications run with statestore.cache.max.bytes=0 (every update
 * forwarded and logged at once, as the loops do), except tumbling-cached, which is the tumbling
 * case with Kafka Streams' default of 10485760; --cache-bytes N sets it for the other cases.
 * Why not the default everywhere: with it, eddy (at commit 0a0b42a) is wrong and, for sessions,
 * unusably slow. Retention deletes expired windows through src/store/expiry.c, which drops
 * their cache entries unwritten, so a window's updates since the last commit never reach the
 * output or the changelog (Kafka's caching window store flushes them); with event time running
 * far ahead of the 30 s commit interval, as here, nearly every window loses its final count.
 * And every range scan of a cached store (each session lookup, each expiry batch) walks and
 * sorts the whole cache (src/store/cached.c: cache_iter_snapshot): the session case took
 * 1.4 ms per record at a tenth of its size (~50 k sessions cached), the hopping case a minute.
 * tumbling-cached keeps the default-cache configuration measured and checked: it fails
 * (eddy_wrong_count > 0, exit status 1) until the expiry bug is fixed. The join's buffers are
 * never cached (Kafka's rule), so the setting does not change it.
 *
 * Record timestamps start at a whole minute one hour before the run (the log's time retention,
 * 7 days for the inputs and a day past the store retention for the changelogs, must not touch
 * them), 1 ms apart, so each case covers a few minutes of event time. Keys are 13 bytes
 * ("user-%08d", scrambled as bench_streams' are), drawn uniformly by a fixed LCG.
 *
 * The cases (record counts at scale 1):
 *
 *   tumbling  1 M records of 10 k keys (87-byte values), timestamps increasing by 1 ms.
 *             group_by_key -> windowed_by_time(60 s, 60 s, grace 0) -> windowed_count -> to.
 *   hopping   the same records with windowed_by_time(60 s, advance 6 s, grace 0): every record
 *             updates 10 windows.
 *             Loop for both: one open-addressing hash map of (key, window start) -> (count,
 *             latest timestamp); for each window of the record (Kafka's windowsFor) it adds 1
 *             and appends the new count to its output topic ([key][start] -> count) and to a
 *             changelog topic ([key][start] -> [latest timestamp][count], the bytes eddy's
 *             window store logs); it drops the windows that have expired (start <= observed
 *             time - retention, retention = size + grace) as often as eddy's store does, each
 *             time the observed time enters a new interval of max(retention / 2, 60 s).
 *   session   1 M records of 10 k keys, timestamps increasing by 1 ms except that every tenth
 *             record (on average) is up to 5 s late; windowed_by_session(gap 7 s, grace 10 s)
 *             -> session_count -> to. A key's records arrive ~10 s apart on average, so about
 *             half of the records extend a session, and a late record sometimes bridges two
 *             sessions, merging them. No record is late enough to be dropped.
 *             Loop: a hash map of keys to each key's live sessions (sorted, pruned of those
 *             ended before observed time - retention, retention = gap + grace); a record
 *             merges the sessions ending at or after t - gap and starting at or before t + gap
 *             (Kafka's findSessions) with [t, t], appends a tombstone for each merged-away
 *             session and the new session's count, to its output and its changelog
 *             ([key][end][start] -> count), as eddy's session store and its changelog do.
 *   join      two topics of 500 k records each, 5 k keys, 50-byte values; left record i at
 *             base + 2i ms, right record i at base + 2i + 1 ms, so each record matches ~3 of
 *             the other side's (join window +-15 s). join_stream(left, right, before = after =
 *             15 s, grace 0) -> to, value = left value ++ right value.
 *             Loop: reads both topics merged by timestamp (as the runtime orders a task's
 *             inputs), keeps each side's records per key for the window store's retention
 *             (before + after + grace), joins each record with the other side's records of its
 *             key within the window, appends the joined records, and appends each buffered
 *             record to a changelog of its side ([key][timestamp][sequence] -> value), as
 *             eddy's join buffers are logged.
 *
 * Timing. eddy runs from eddy_app_start() until its output is complete: for the aggregations,
 * whose record cache forwards each windowed key's count at an eviction or a commit (Kafka's
 * cached window store), until eddy_app_close() has returned (its final commit writes what the
 * cache holds); the time until every record was processed (the last record's window reaching
 * its final count, read with eddy_app_store_get() once a millisecond) is printed too. The join
 * buffers are not cached: until the output topic holds every joined record. A loop runs from
 * opening its reader to its last append, freeing its maps included.
 *
 * Checks: for the aggregations, the last value each windowed key has in each side's output
 * topic (a tombstone removing it) must be exactly the true count of every (key, window) or
 * session, computed from the generated input (for sessions: each key's timestamps sorted and
 * split where they are more than the gap apart); no record may be dropped as late. For the
 * join, both outputs must hold the true number of pairs, and the same key and value bytes
 * (sums). A wrong loop is a bug here and stops the program. A wrong eddy is counted
 * (eddy_wrong_count: windows, sessions or joined records wrong or missing, plus records
 * dropped) and described on stderr; the figures are still printed, and the program exits
 * with status 1 at the end.
 *
 * Output, one line per case, rates in input records per second:
 *   windows case=tumbling records=N keys=K size_ms=... eddy_rps=... base_rps=... ratio=... ...
 * (the join's rates count the records of both inputs). eddy_processed_rps: until the last
 * record was processed (before the close); *_out_count, *_changelog_count: records each side
 * wrote to its output and its changelog(s).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_apps.h"
#include "core/buf.h"
#include "eddy/app.h"
#include "eddy/log.h"
#include "eddy/streams.h"

#define INPUT_VALUE_LEN 87
#define JOIN_VALUE_LEN 50
/* A time-windowed key: [key][start 8]; a session key: [key][end 8][start 8]. */
#define TIME_KEY_LEN (BENCH_KEY_LEN + 8)
#define SESSION_KEY_LEN (BENCH_KEY_LEN + 16)
/* eddy's (Kafka's) window store expiry period: max(retention / 2, this). */
#define SEGMENT_INTERVAL_MIN_MS 60000
/* Kafka's windowstore.changelog.additional.retention.ms, which eddy's changelogs use too. */
#define CHANGELOG_EXTRA_RETENTION_MS 86400000LL

/* Event time: every record's timestamp is at least this (see the file comment). */
static int64_t time_base_ms;
/* Set when eddy's output failed a check: the program still prints every case's figures, then
 * exits with status 1. */
static bool eddy_wrong;

static int64_t max_i64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min_i64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- The applications' changelogs ------------------------------------------------------- */

/* The end offsets of the application's changelogs, summed ("<application.id>-...-changelog"). */
static int64_t changelog_records(const char *application_id)
{
    char **names = NULL;
    size_t count = 0;
    int64_t total = 0;
    size_t id_len = strlen(application_id), suffix_len = strlen("-changelog");
    bench_check(eddy_log_topic_list(bench_log, &names, &count), "eddy_log_topic_list");
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        if (len > id_len + suffix_len && strncmp(names[i], application_id, id_len) == 0 &&
            strcmp(names[i] + len - suffix_len, "-changelog") == 0)
            total += bench_end_offset(names[i]);
    }
    eddy_log_names_free(names, count);
    return total;
}

/* ---- A hand-written hash map of fixed-length keys (up to 32 bytes) --------------------------- */

#define MAP_KEY_MAX 32

typedef struct map_slot {
    uint64_t hash; /* 0: empty (hashes are forced odd) */
    uint8_t key[MAP_KEY_MAX];
    int64_t a, b; /* the payload: counts, timestamps, indices */
} map_slot;

typedef struct hash_map {
    map_slot *slots;
    size_t capacity, used;
    size_t key_len;
} hash_map;

static inline uint64_t map_mix(uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

/* Keys are at least 8 bytes: whole words, then the last 8 bytes (overlapping). */
static inline uint64_t map_hash(const uint8_t *key, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;
    size_t off = 0;
    for (; off + 8 <= len; off += 8) {
        memcpy(&w, key + off, 8);
        h = map_mix(h ^ w, 0xa0761d6478bd642fULL);
    }
    if (off < len) {
        memcpy(&w, key + len - 8, 8);
        h = map_mix(h ^ w, 0xe7037ed1a0b428dbULL);
    }
    return map_mix(h, 0x8ebc6af09c88c6e3ULL) | 1;
}

static void map_init(hash_map *m, size_t key_len, size_t capacity)
{
    if (key_len < 8 || key_len > MAP_KEY_MAX)
        bench_die("map: key length %zu", key_len);
    m->capacity = 16;
    while (m->capacity < capacity)
        m->capacity *= 2;
    m->used = 0;
    m->key_len = key_len;
    m->slots = calloc(m->capacity, sizeof(*m->slots));
    if (!m->slots)
        bench_die("out of memory");
}

static void map_free(hash_map *m)
{
    free(m->slots);
    m->slots = NULL;
}

static void map_grow(hash_map *m)
{
    size_t grown = m->capacity * 2;
    map_slot *bigger = calloc(grown, sizeof(*bigger));
    if (!bigger)
        bench_die("out of memory");
    for (size_t j = 0; j < m->capacity; j++) {
        if (!m->slots[j].hash)
            continue;
        size_t k = m->slots[j].hash & (grown - 1);
        while (bigger[k].hash)
            k = (k + 1) & (grown - 1);
        bigger[k] = m->slots[j];
    }
    free(m->slots);
    m->slots = bigger;
    m->capacity = grown;
}

/* The slot of `key`, or NULL; with insert, a new slot (payload 0) when absent. */
static inline map_slot *map_find(hash_map *m, const void *key, bool insert)
{
    uint64_t hash = map_hash(key, m->key_len);
    size_t mask = m->capacity - 1, i = hash & mask;
    while (m->slots[i].hash &&
           (m->slots[i].hash != hash || memcmp(m->slots[i].key, key, m->key_len) != 0))
        i = (i + 1) & mask;
    if (m->slots[i].hash || !insert)
        return m->slots[i].hash ? &m->slots[i] : NULL;
    if ((m->used + 1) * 4 > m->capacity * 3) {
        map_grow(m);
        mask = m->capacity - 1;
        i = hash & mask;
        while (m->slots[i].hash)
            i = (i + 1) & mask;
    }
    m->slots[i].hash = hash;
    memcpy(m->slots[i].key, key, m->key_len);
    m->slots[i].a = m->slots[i].b = 0;
    m->used++;
    return &m->slots[i];
}

/* Empties slot i by shifting later members of its probe run back (linear probing's delete).
 * The slot may then hold another key, which the caller must look at again. */
static void map_delete_at(hash_map *m, size_t i)
{
    size_t mask = m->capacity - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].hash)
            break;
        size_t home = m->slots[j].hash & mask;
        /* Slot j's key may move to i only when its home is not cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        m->slots[i] = m->slots[j];
        i = j;
    }
    m->slots[i].hash = 0;
    m->used--;
}

/* ---- Running an application ---------------------------------------------------------------- */

/* What an aggregation case measured on the eddy side. */
typedef struct eddy_run {
    double rps, processed_rps;
    int64_t close_ns;
    int64_t out_records, changelog_records;
    int64_t wrong; /* windows (sessions, joined records) eddy got wrong, dropped records */
} eddy_run;

/* Runs an aggregation application (builder b, store `store`, application id) from start to
 * close, timing it; `probe` / `probe_count` tell when every record was processed. */
static eddy_run eddy_aggregation_run(const char *what, eddy_builder *b, const char *app_id,
                                     const char *cache, const char *store, eddy_slice probe,
                                     int64_t probe_count, int64_t records, const char *out)
{
    eddy_run run = {0};
    bench_app_timing timing;
    eddy_app *app = bench_app_run_to_close(what, b, app_id, "in_memory", cache, store, probe,
                                           probe_count, records, NULL, 0, &timing);
    run.rps = timing.rps;
    run.processed_rps = timing.processed_rps;
    run.close_ns = timing.close_ns;
    run.out_records = bench_end_offset(out);
    run.changelog_records = changelog_records(app_id);
    if (eddy_app_dropped_records(app) != 0) {
        fprintf(stderr, "bench: %s: eddy dropped %" PRIu64 " records (none is late)\n", what,
                eddy_app_dropped_records(app));
        run.wrong += (int64_t)eddy_app_dropped_records(app);
    }
    eddy_app_destroy(app);
    return run;
}

/* ---- The true results, from the generated input ---------------------------------------------- */

/* The last value of every key in `topic` (a: the int64 value, b: 1 when it is a tombstone). */
static void topic_final_state(const char *topic, size_t key_len, hash_map *last)
{
    map_init(last, key_len, 1024);
    bench_topic_scan scan;
    bench_topic_scan_open(&scan, topic);
    eddy_record rec;
    while (bench_topic_scan_next(&scan, &rec)) {
        if (!rec.key.data || rec.key.len != key_len || (rec.value.data && rec.value.len != 8))
            bench_die("%s holds a record that is not (%zu-byte windowed key, count)", topic,
                      key_len);
        map_slot *slot = map_find(last, rec.key.data, true);
        slot->b = !rec.value.data;
        slot->a = rec.value.data ? (int64_t)eddy__be64_get(rec.value.data) : 0;
    }
    bench_topic_scan_close(&scan);
}

/* The index of every key (13 bytes -> a). */
static hash_map key_index;

static int64_t key_index_of(const uint8_t *key)
{
    map_slot *slot = map_find(&key_index, key, false);
    if (!slot)
        bench_die("a key that is not in the input: %.13s", (const char *)key);
    return slot->a;
}

/* True counts of time windows: counts[key * windows + w] for the window starting at
 * first_start + w * advance. */
typedef struct window_truth {
    uint32_t *counts;
    int64_t windows, first_start, advance, size, distinct;
} window_truth;

/* Reports a wrong result of `topic` on stderr (the first few of each check). */
static void wrong_report(int64_t wrong, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void wrong_report(int64_t wrong, const char *fmt, ...)
{
    if (wrong > 3)
        return;
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "bench: check: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n");
    va_end(args);
}

/* The number of windows whose last value in `topic` is not their true count: wrong counts,
 * tombstones, windows missing and windows that should not be there. */
static int64_t time_output_check(const char *topic, const window_truth *truth, int64_t keys)
{
    hash_map last;
    topic_final_state(topic, TIME_KEY_LEN, &last);
    int64_t right = 0, wrong = 0;
    for (size_t i = 0; i < last.capacity; i++) {
        const map_slot *s = &last.slots[i];
        if (!s->hash)
            continue;
        int64_t start = (int64_t)eddy__be64_get(s->key + BENCH_KEY_LEN);
        int64_t k = key_index_of(s->key), w = (start - truth->first_start) / truth->advance;
        bool known = start >= truth->first_start &&
                     (start - truth->first_start) % truth->advance == 0 && w < truth->windows &&
                     k < keys;
        uint32_t true_count = known ? truth->counts[k * truth->windows + w] : 0;
        if (!s->b && known && true_count == s->a) {
            right++;
            continue;
        }
        wrong++;
        wrong_report(wrong,
                     "%s ends with %s %" PRId64 " for key %.13s window %" PRId64
                     ", whose true count is %" PRIu32,
                     topic, s->b ? "a tombstone, not" : "count", s->a, (const char *)s->key, start,
                     true_count);
    }
    if (right < truth->distinct)
        fprintf(stderr, "bench: check: %s lacks %" PRId64 " of the input's %" PRId64 " windows\n",
                topic, truth->distinct - right, truth->distinct);
    map_free(&last);
    return wrong + (truth->distinct - right);
}

/* True sessions: for each key, its sessions in time order. */
typedef struct session {
    int64_t start, end, count;
} session;

typedef struct session_truth {
    session *sessions; /* every key's, key after key */
    int64_t *first;    /* first[k] .. first[k + 1] - 1: key k's */
    int64_t total;
} session_truth;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Each key's timestamps sorted and split where two are more than `gap` apart: the sessions
 * any processing order gives when no record is dropped as late. */
static session_truth session_truth_make(const uint32_t *draws, const int64_t *times,
                                        int64_t records, int64_t keys, int64_t gap)
{
    int64_t *first = calloc((size_t)keys + 1, sizeof(*first));
    int64_t *sorted = malloc((size_t)records * sizeof(*sorted));
    int64_t *fill = calloc((size_t)keys, sizeof(*fill));
    if (!first || !sorted || !fill)
        bench_die("out of memory");
    for (int64_t i = 0; i < records; i++)
        first[draws[i] + 1]++;
    for (int64_t k = 0; k < keys; k++)
        first[k + 1] += first[k];
    for (int64_t i = 0; i < records; i++)
        sorted[first[draws[i]] + fill[draws[i]]++] = times[i];
    session_truth t = {0};
    t.sessions = malloc((size_t)records * sizeof(*t.sessions));
    t.first = calloc((size_t)keys + 1, sizeof(*t.first));
    if (!t.sessions || !t.first)
        bench_die("out of memory");
    for (int64_t k = 0; k < keys; k++) {
        int64_t *ts = sorted + first[k], n = first[k + 1] - first[k];
        qsort(ts, (size_t)n, sizeof(*ts), cmp_i64);
        t.first[k] = t.total;
        for (int64_t j = 0; j < n; j++) {
            if (j > 0 && ts[j] - ts[j - 1] <= gap) {
                t.sessions[t.total - 1].end = ts[j];
                t.sessions[t.total - 1].count++;
            } else {
                t.sessions[t.total++] = (session){ts[j], ts[j], 1};
            }
        }
    }
    t.first[keys] = t.total;
    free(first);
    free(sorted);
    free(fill);
    return t;
}

static const session *session_truth_find(const session_truth *t, int64_t key, int64_t start)
{
    int64_t lo = t->first[key], hi = t->first[key + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t->sessions[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->first[key + 1] && t->sessions[lo].start == start ? &t->sessions[lo] : NULL;
}

/* The number of sessions whose last value in `topic` is not their true count (as above). */
static int64_t session_output_check(const char *topic, const session_truth *truth)
{
    hash_map last;
    topic_final_state(topic, SESSION_KEY_LEN, &last);
    int64_t right = 0, wrong = 0;
    for (size_t i = 0; i < last.capacity; i++) {
        const map_slot *s = &last.slots[i];
        if (!s->hash || s->b)
            continue;
        int64_t end = (int64_t)eddy__be64_get(s->key + BENCH_KEY_LEN);
        int64_t start = (int64_t)eddy__be64_get(s->key + BENCH_KEY_LEN + 8);
        const session *t = session_truth_find(truth, key_index_of(s->key), start);
        if (t && t->end == end && t->count == s->a) {
            right++;
            continue;
        }
        wrong++;
        wrong_report(wrong,
                     "%s ends with count %" PRId64 " for key %.13s session [%" PRId64 ",%" PRId64
                     "], the true session there is %s [%" PRId64 ",%" PRId64 "] count %" PRId64,
                     topic, s->a, (const char *)s->key, start, end, t ? "" : "(none)",
                     t ? t->start : 0, t ? t->end : 0, t ? t->count : 0);
    }
    if (right < truth->total)
        fprintf(stderr, "bench: check: %s lacks %" PRId64 " of the input's %" PRId64 " sessions\n",
                topic, truth->total - right, truth->total);
    map_free(&last);
    return wrong + (truth->total - right);
}

/* Creates an aggregation case's topics: its input, both sides' outputs and the loop's changelog,
 * which is compacted and kept, as eddy's store changelogs are, for the store's retention plus
 * CHANGELOG_EXTRA_RETENTION_MS. */
static void aggregation_topics_create(const char *in, const char *eddy_out, const char *base_out,
                                      const char *base_changelog, int64_t retention_ms)
{
    bench_topic_create(in, NULL, -1);
    bench_topic_create(eddy_out, NULL, -1);
    bench_topic_create(base_out, NULL, -1);
    bench_topic_create(base_changelog, "compact,delete",
                       retention_ms + CHANGELOG_EXTRA_RETENTION_MS);
}

/* A wrong loop is a bug of this program; a wrong eddy is what the checks are for. */
static void loop_checked(const char *what, int64_t wrong)
{
    if (wrong)
        bench_die("%s: the hand-written loop's output is wrong in %" PRId64 " windows (sessions)",
                  what, wrong);
}

static int64_t eddy_checked(const char *what, int64_t wrong)
{
    if (wrong) {
        fprintf(stderr, "bench: %s: eddy's output is wrong in %" PRId64 " windows (sessions)\n",
                what, wrong);
        eddy_wrong = true;
    }
    return wrong;
}

/* ---- Cases 1 and 2: tumbling and hopping window counts --------------------------------------- */

/* Kafka's TimeWindows.windowsFor: the first window start of a record at ts. */
static int64_t first_window_start(int64_t ts, int64_t size, int64_t advance)
{
    return max_i64(0, ts - size + advance) / advance * advance;
}

/* Drops the windows that started at or before observed - retention (start < before). */
static void time_windows_expire(hash_map *m, int64_t before)
{
    for (size_t i = 0; i < m->capacity; i++)
        while (m->slots[i].hash &&
               (int64_t)eddy__be64_get(m->slots[i].key + BENCH_KEY_LEN) < before)
            map_delete_at(m, i);
}

typedef struct base_run {
    double rps;
    int64_t out_records, changelog_records;
    int64_t merges; /* sessions: records that merged two or more sessions */
} base_run;

/* Ends an aggregation loop's timed region (started at start_ns, its maps already freed): its
 * rate and its output counts into run; stops when it dropped a record (none is late), closes
 * its writers and its reader. */
static base_run aggregation_loop_finish(const char *what, base_run run, int64_t start_ns,
                                        int64_t records, int64_t dropped, bench_batch_writer *out,
                                        bench_batch_writer *changelog, eddy_log_reader *r)
{
    int64_t ns = bench_now_ns() - start_ns;
    bench_timed_region(what, "baseline", start_ns, start_ns + ns);
    if (dropped)
        bench_die("%s: the loop dropped %" PRId64 " late records (none is late)", what, dropped);
    run.rps = bench_rate(records, ns);
    run.out_records = out->appended;
    run.changelog_records = changelog->appended;
    bench_writer_close(out);
    bench_writer_close(changelog);
    eddy_log_reader_destroy(r);
    return run;
}

static base_run time_windows_loop(const char *what, const char *in, const char *out_topic,
                                  const char *changelog_topic, int64_t records, int64_t size,
                                  int64_t advance, int64_t grace)
{
    base_run run = {0};
    const int64_t retention = size + grace;
    const int64_t interval = max_i64(retention / 2, SEGMENT_INTERVAL_MIN_MS);
    int64_t start_ns = bench_now_ns();
    hash_map map;
    map_init(&map, TIME_KEY_LEN, 1024);
    eddy_log_reader *r;
    bench_check(eddy_log_reader_new(bench_log, in, 0, EDDY_OFFSET_BEGINNING, &r), in);
    bench_batch_writer out, changelog;
    bench_writer_open(&out, out_topic);
    bench_writer_open(&changelog, changelog_topic);
    eddy_record rec;
    int64_t observed = INT64_MIN, dropped = 0;
    uint8_t wkey[TIME_KEY_LEN], count_bytes[8], stored[16];
    for (int64_t i = 0; i < records; i++) {
        bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
        if (!rec.key.data || rec.key.len != BENCH_KEY_LEN)
            bench_die("%s: unexpected key", what);
        int64_t ts = rec.timestamp_ms, previous = observed;
        observed = max_i64(observed, ts);
        int64_t close = observed - grace;
        memcpy(wkey, rec.key.data, BENCH_KEY_LEN);
        for (int64_t start = first_window_start(ts, size, advance); start <= ts; start += advance) {
            if (start + size <= close) {
                dropped++;
                continue;
            }
            eddy__be64_put(wkey + BENCH_KEY_LEN, (uint64_t)start);
            map_slot *slot = map_find(&map, wkey, true);
            int64_t count = ++slot->a;
            int64_t latest = slot->b = max_i64(slot->b, ts);
            eddy__be64_put(count_bytes, (uint64_t)count);
            eddy__be64_put(stored, (uint64_t)latest);
            memcpy(stored + 8, count_bytes, 8);
            bench_writer_add(&out, (eddy_slice){wkey, TIME_KEY_LEN}, (eddy_slice){count_bytes, 8},
                             latest);
            bench_writer_add(&changelog, (eddy_slice){wkey, TIME_KEY_LEN}, (eddy_slice){stored, 16},
                             latest);
        }
        if (previous != INT64_MIN && previous / interval != observed / interval)
            time_windows_expire(&map, observed - retention + 1);
    }
    bench_writer_flush(&out);
    bench_writer_flush(&changelog);
    map_free(&map);
    return aggregation_loop_finish(what, run, start_ns, records, dropped, &out, &changelog, r);
}

static void case_time_windows(const char *what, int64_t size, int64_t advance, const char *cache)
{
    const int64_t records = bench_scaled(1000000), keys = 10000, grace = 0;
    const char *in = "tw-in", *eddy_out = "tw-out-eddy", *base_out = "tw-out-base";
    const char *base_changelog = "tw-base-changelog";
    char app_id[64];
    snprintf(app_id, sizeof(app_id), "bench-%s", what);
    aggregation_topics_create(in, eddy_out, base_out, base_changelog, size + grace);

    uint32_t *draws = bench_draws_make(records, keys, 42);
    window_truth truth = {.advance = advance, .size = size};
    int64_t last_ts = time_base_ms + records - 1;
    truth.first_start = first_window_start(time_base_ms, size, advance);
    truth.windows = (last_ts - truth.first_start) / advance + 1;
    truth.counts = calloc((size_t)(keys * truth.windows), sizeof(*truth.counts));
    if (!truth.counts)
        bench_die("out of memory");
    bench_batch_writer fill;
    bench_writer_open(&fill, in);
    for (int64_t i = 0; i < records; i++) {
        int64_t ts = time_base_ms + i;
        for (int64_t s = first_window_start(ts, size, advance); s <= ts; s += advance)
            if (truth.counts[draws[i] * truth.windows + (s - truth.first_start) / advance]++ == 0)
                truth.distinct++;
        bench_writer_add(&fill, bench_key_at(draws[i]), bench_pool_value(i, INPUT_VALUE_LEN), ts);
    }
    bench_writer_close(&fill);
    /* Probe: the last record's newest window. */
    int64_t probe_start = last_ts / advance * advance;
    uint8_t probe[TIME_KEY_LEN];
    memcpy(probe, bench_key_table[draws[records - 1]], BENCH_KEY_LEN);
    eddy__be64_put(probe + BENCH_KEY_LEN, (uint64_t)probe_start);
    int64_t probe_count = truth.counts[draws[records - 1] * truth.windows +
                                       (probe_start - truth.first_start) / advance];

    eddy_run e = {0};
    base_run b = {0};
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (bench_eddy_first != 0);
        if (eddy_turn && bench_run_eddy()) {
            eddy_builder *builder = eddy_builder_new();
            eddy_grouped_stream *g = eddy_group_by_key(eddy_stream_from(builder, in, NULL, NULL));
            eddy_table *counts =
                eddy_windowed_count(eddy_windowed_by_time(g, size, advance, grace), "counts");
            eddy_table_to(counts, eddy_out);
            e = eddy_aggregation_run(what, builder, app_id, cache, "counts",
                                     (eddy_slice){probe, TIME_KEY_LEN}, probe_count, records,
                                     eddy_out);
            eddy_builder_destroy(builder);
            e.wrong = eddy_checked(what, e.wrong + time_output_check(eddy_out, &truth, keys));
        } else if (!eddy_turn && bench_run_base()) {
            b = time_windows_loop(what, in, base_out, base_changelog, records, size, advance,
                                  grace);
            loop_checked(what, time_output_check(base_out, &truth, keys));
        }
    }
    printf("windows case=%s records=%" PRId64 " keys=%" PRId64 " size_ms=%" PRId64
           " advance_ms=%" PRId64 " grace_ms=%" PRId64 " windows=%" PRId64
           " acks=1 cache_bytes=%s eddy_rps=%.0f base_rps=%.0f ratio=%.3f eddy_processed_rps=%.0f"
           " ratio_processed=%.3f eddy_close_us=%" PRId64 " eddy_out_count=%" PRId64
           " eddy_changelog_count=%" PRId64 " base_out_count=%" PRId64
           " base_changelog_count=%" PRId64 " eddy_wrong_count=%" PRId64 "\n",
           strncmp(what, "tumbling", 8) == 0 ? "tumbling" : what, records, keys, size, advance,
           grace, truth.distinct, cache, e.rps, b.rps, b.rps > 0 ? e.rps / b.rps : 0.0,
           e.processed_rps, b.rps > 0 ? e.processed_rps / b.rps : 0.0, e.close_ns / 1000,
           e.out_records, e.changelog_records, b.out_records, b.changelog_records, e.wrong);
    fflush(stdout);
    free(draws);
    free(truth.counts);
    bench_topics_delete_all();
}

/* ---- Case 3: session count ------------------------------------------------------------------- */

/* A key's live sessions, in time order (sessions of a key never overlap). */
typedef struct key_sessions {
    session *items;
    uint32_t count, capacity;
} key_sessions;

static void session_emit(bench_batch_writer *out, bench_batch_writer *changelog, const uint8_t *key,
                         const session *s, bool tombstone)
{
    uint8_t skey[SESSION_KEY_LEN], count_bytes[8];
    memcpy(skey, key, BENCH_KEY_LEN);
    eddy__be64_put(skey + BENCH_KEY_LEN, (uint64_t)s->end);
    eddy__be64_put(skey + BENCH_KEY_LEN + 8, (uint64_t)s->start);
    eddy__be64_put(count_bytes, (uint64_t)s->count);
    eddy_slice k = {skey, SESSION_KEY_LEN};
    eddy_slice v = tombstone ? (eddy_slice){0} : (eddy_slice){count_bytes, 8};
    bench_writer_add(out, k, v, s->end);
    bench_writer_add(changelog, k, v, s->end);
}

static base_run session_loop(const char *what, const char *in, const char *out_topic,
                             const char *changelog_topic, int64_t records, int64_t keys,
                             int64_t gap, int64_t grace)
{
    base_run run = {0};
    const int64_t retention = gap + grace;
    int64_t start_ns = bench_now_ns();
    hash_map map; /* key -> index of its key_sessions */
    map_init(&map, BENCH_KEY_LEN, (size_t)keys * 2);
    key_sessions *states = calloc((size_t)keys, sizeof(*states));
    int64_t state_count = 0;
    if (!states)
        bench_die("out of memory");
    eddy_log_reader *r;
    bench_check(eddy_log_reader_new(bench_log, in, 0, EDDY_OFFSET_BEGINNING, &r), in);
    bench_batch_writer out, changelog;
    bench_writer_open(&out, out_topic);
    bench_writer_open(&changelog, changelog_topic);
    eddy_record rec;
    int64_t observed = INT64_MIN, dropped = 0;
    for (int64_t i = 0; i < records; i++) {
        bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
        if (!rec.key.data || rec.key.len != BENCH_KEY_LEN)
            bench_die("%s: unexpected key", what);
        int64_t ts = rec.timestamp_ms, previous = observed;
        observed = max_i64(observed, ts);
        map_slot *slot = map_find(&map, rec.key.data, true);
        if (slot->b == 0) {
            if (state_count == keys)
                bench_die("%s: more keys than %" PRId64, what, keys);
            slot->a = state_count++;
            slot->b = 1;
        }
        key_sessions *ks = &states[slot->a];
        /* Sessions that ended before previous - retention + 1 have expired (eddy's store hides
         * them from lookups, as Kafka's): drop them. */
        int64_t visible_from = previous == INT64_MIN ? INT64_MIN : previous - retention + 1;
        uint32_t expired = 0;
        while (expired < ks->count && ks->items[expired].end < visible_from)
            expired++;
        if (expired) {
            memmove(ks->items, ks->items + expired, (ks->count - expired) * sizeof(*ks->items));
            ks->count -= expired;
        }
        /* The sessions ending at or after ts - gap and starting at or before ts + gap: a run
         * of the sorted list. */
        uint32_t lo = 0;
        while (lo < ks->count && ks->items[lo].end < ts - gap)
            lo++;
        uint32_t hi = lo;
        while (hi < ks->count && ks->items[hi].start <= ts + gap)
            hi++;
        session merged = {ts, ts, 1};
        for (uint32_t j = lo; j < hi; j++) {
            merged.start = min_i64(merged.start, ks->items[j].start);
            merged.end = max_i64(merged.end, ks->items[j].end);
            merged.count += ks->items[j].count;
        }
        if (merged.end < observed - grace - gap) {
            dropped++;
            continue;
        }
        if (merged.start != ts || merged.end != ts)
            for (uint32_t j = lo; j < hi; j++)
                session_emit(&out, &changelog, rec.key.data, &ks->items[j], true);
        run.merges += hi - lo >= 2;
        /* Replace the run [lo, hi) by the merged session. */
        if (hi == lo) {
            if (ks->count == ks->capacity) {
                ks->capacity = ks->capacity ? ks->capacity * 2 : 8;
                ks->items = realloc(ks->items, ks->capacity * sizeof(*ks->items));
                if (!ks->items)
                    bench_die("out of memory");
            }
            memmove(ks->items + lo + 1, ks->items + lo, (ks->count - lo) * sizeof(*ks->items));
            ks->count++;
        } else if (hi - lo > 1) {
            memmove(ks->items + lo + 1, ks->items + hi, (ks->count - hi) * sizeof(*ks->items));
            ks->count -= hi - lo - 1;
        }
        ks->items[lo] = merged;
        session_emit(&out, &changelog, rec.key.data, &merged, false);
    }
    bench_writer_flush(&out);
    bench_writer_flush(&changelog);
    for (int64_t k = 0; k < state_count; k++)
        free(states[k].items);
    free(states);
    map_free(&map);
    return aggregation_loop_finish(what, run, start_ns, records, dropped, &out, &changelog, r);
}

static void case_session(void)
{
    const char *what = "session";
    const int64_t records = bench_scaled(1000000), keys = 10000, gap = 7000, grace = 10000;
    const int64_t late_max = 5000; /* < grace: no record is dropped, no session hidden */
    const char *in = "ss-in", *eddy_out = "ss-out-eddy", *base_out = "ss-out-base";
    const char *base_changelog = "ss-base-changelog", *app_id = "bench-session";
    aggregation_topics_create(in, eddy_out, base_out, base_changelog, gap + grace);

    uint32_t *draws = bench_draws_make(records, keys, 43);
    int64_t *times = malloc((size_t)records * sizeof(*times));
    if (!times)
        bench_die("out of memory");
    uint64_t state = 4242;
    int64_t late_records = 0;
    bench_batch_writer fill;
    bench_writer_open(&fill, in);
    for (int64_t i = 0; i < records; i++) {
        times[i] = time_base_ms + late_max + i;
        if (bench_lcg_next(&state) % 10 == 0) {
            times[i] -= (int64_t)(bench_lcg_next(&state) % (uint64_t)late_max);
            late_records++;
        }
        bench_writer_add(&fill, bench_key_at(draws[i]), bench_pool_value(i, INPUT_VALUE_LEN),
                         times[i]);
    }
    bench_writer_close(&fill);
    session_truth truth = session_truth_make(draws, times, records, keys, gap);
    /* Probe: the session that holds the last record. */
    int64_t last_key = draws[records - 1], probe_index = truth.first[last_key];
    while (probe_index + 1 < truth.first[last_key + 1] &&
           truth.sessions[probe_index].end < times[records - 1])
        probe_index++;
    const session *p = &truth.sessions[probe_index];
    uint8_t probe[SESSION_KEY_LEN];
    memcpy(probe, bench_key_table[last_key], BENCH_KEY_LEN);
    eddy__be64_put(probe + BENCH_KEY_LEN, (uint64_t)p->end);
    eddy__be64_put(probe + BENCH_KEY_LEN + 8, (uint64_t)p->start);

    eddy_run e = {0};
    base_run b = {0};
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (bench_eddy_first != 0);
        if (eddy_turn && bench_run_eddy()) {
            eddy_builder *builder = eddy_builder_new();
            eddy_grouped_stream *g = eddy_group_by_key(eddy_stream_from(builder, in, NULL, NULL));
            eddy_table *counts =
                eddy_session_count(eddy_windowed_by_session(g, gap, grace), "sessions");
            eddy_table_to(counts, eddy_out);
            e = eddy_aggregation_run(what, builder, app_id, bench_cache_bytes, "sessions",
                                     (eddy_slice){probe, SESSION_KEY_LEN}, p->count, records,
                                     eddy_out);
            eddy_builder_destroy(builder);
            e.wrong = eddy_checked(what, e.wrong + session_output_check(eddy_out, &truth));
        } else if (!eddy_turn && bench_run_base()) {
            b = session_loop(what, in, base_out, base_changelog, records, keys, gap, grace);
            loop_checked(what, session_output_check(base_out, &truth));
        }
    }
    printf("windows case=session records=%" PRId64 " keys=%" PRId64 " gap_ms=%" PRId64
           " grace_ms=%" PRId64 " late=%" PRId64 " sessions=%" PRId64 " merges=%" PRId64
           " acks=1 cache_bytes=%s eddy_rps=%.0f base_rps=%.0f ratio=%.3f eddy_processed_rps=%.0f"
           " ratio_processed=%.3f eddy_close_us=%" PRId64 " eddy_out_count=%" PRId64
           " eddy_changelog_count=%" PRId64 " base_out_count=%" PRId64
           " base_changelog_count=%" PRId64 " eddy_wrong_count=%" PRId64 "\n",
           records, keys, gap, grace, late_records, truth.total, b.merges, bench_cache_bytes, e.rps,
           b.rps, b.rps > 0 ? e.rps / b.rps : 0.0, e.processed_rps,
           b.rps > 0 ? e.processed_rps / b.rps : 0.0, e.close_ns / 1000, e.out_records,
           e.changelog_records, b.out_records, b.changelog_records, e.wrong);
    fflush(stdout);
    free(draws);
    free(times);
    free(truth.sessions);
    free(truth.first);
    bench_topics_delete_all();
}

/* ---- Case 4: stream-stream inner join ---------------------------------------------------------
 */

static void join_fn(eddy_ctx *ctx, const eddy_record *record, eddy_slice left, eddy_slice right,
                    void *opaque)
{
    (void)record, (void)opaque;
    uint8_t out[2 * JOIN_VALUE_LEN];
    if (left.len + right.len > sizeof(out))
        return;
    bench_join_values(left.data, left.len, right.data, right.len, out);
    eddy_result(ctx, (eddy_slice){out, left.len + right.len});
}

/* One buffered record of a join side. */
typedef struct join_entry {
    int64_t ts;
    uint8_t value[JOIN_VALUE_LEN];
} join_entry;

/* A key's buffered records of one side, oldest first: entries[head .. count). */
typedef struct join_list {
    join_entry *entries;
    uint32_t head, count, capacity;
} join_list;

static void join_list_push(join_list *l, int64_t ts, const uint8_t *value)
{
    if (l->count == l->capacity) {
        if (l->head > 0) {
            memmove(l->entries, l->entries + l->head, (l->count - l->head) * sizeof(*l->entries));
            l->count -= l->head;
            l->head = 0;
        }
        if (l->count == l->capacity) {
            l->capacity = l->capacity ? l->capacity * 2 : 8;
            l->entries = realloc(l->entries, l->capacity * sizeof(*l->entries));
            if (!l->entries)
                bench_die("out of memory");
        }
    }
    l->entries[l->count].ts = ts;
    memcpy(l->entries[l->count].value, value, JOIN_VALUE_LEN);
    l->count++;
}

typedef struct join_side_state {
    const char *topic;
    eddy_log_reader *reader;
    eddy_record rec;
    int64_t left_to_read;
    bool has;
    int64_t observed; /* the largest timestamp buffered (the window store's) */
    uint32_t sequence;
    bench_batch_writer changelog;
} join_side_state;

static void join_side_advance(join_side_state *s)
{
    s->has = s->left_to_read > 0;
    if (s->has) {
        bench_check(eddy_log_reader_next(s->reader, 0, &s->rec), "eddy_log_reader_next");
        s->left_to_read--;
        if (!s->rec.key.data || s->rec.key.len != BENCH_KEY_LEN || !s->rec.value.data ||
            s->rec.value.len != JOIN_VALUE_LEN)
            bench_die("join: unexpected record");
    }
}

static base_run join_loop(const char *left_topic, const char *right_topic, const char *out_topic,
                          const char *left_changelog, const char *right_changelog, int64_t records,
                          int64_t keys, int64_t window, int64_t grace)
{
    base_run run = {0};
    const int64_t retention = 2 * window + grace;
    int64_t start_ns = bench_now_ns();
    hash_map map; /* key -> index of its pair of lists */
    map_init(&map, BENCH_KEY_LEN, (size_t)keys * 2);
    join_list(*lists)[2] = calloc((size_t)keys, sizeof(*lists));
    int64_t list_count = 0;
    if (!lists)
        bench_die("out of memory");
    join_side_state sides[2] = {{.topic = left_topic}, {.topic = right_topic}};
    const char *changelogs[2] = {left_changelog, right_changelog};
    for (int s = 0; s < 2; s++) {
        bench_check(eddy_log_reader_new(bench_log, sides[s].topic, 0, EDDY_OFFSET_BEGINNING,
                                        &sides[s].reader),
                    sides[s].topic);
        sides[s].left_to_read = records;
        sides[s].observed = INT64_MIN;
        bench_writer_open(&sides[s].changelog, changelogs[s]);
        join_side_advance(&sides[s]);
    }
    bench_batch_writer out;
    bench_writer_open(&out, out_topic);
    uint8_t joined[2 * JOIN_VALUE_LEN], store_key[BENCH_KEY_LEN + 12];
    while (sides[0].has || sides[1].has) {
        /* The smaller timestamp first, as the runtime orders a task's input queues. */
        int s = !sides[0].has ||
                (sides[1].has && sides[1].rec.timestamp_ms < sides[0].rec.timestamp_ms);
        join_side_state *self = &sides[s], *other = &sides[!s];
        const eddy_record *rec = &self->rec;
        int64_t ts = rec->timestamp_ms;
        map_slot *slot = map_find(&map, rec->key.data, true);
        if (slot->b == 0) {
            if (list_count == keys)
                bench_die("join: more keys than %" PRId64, keys);
            slot->a = list_count++;
            slot->b = 1;
        }
        /* Join with the other side's records of the key within [ts - window, ts + window] that
         * its store still holds (after its observed time - retention). */
        join_list *peer = &lists[slot->a][!s];
        int64_t live_from = other->observed == INT64_MIN ? INT64_MIN : other->observed - retention;
        while (peer->head < peer->count && peer->entries[peer->head].ts <= live_from)
            peer->head++;
        for (uint32_t j = peer->head; j < peer->count; j++) {
            const join_entry *e = &peer->entries[j];
            if (e->ts < ts - window || e->ts > ts + window)
                continue;
            if (s == 0)
                bench_join_values(rec->value.data, JOIN_VALUE_LEN, e->value, JOIN_VALUE_LEN,
                                  joined);
            else
                bench_join_values(e->value, JOIN_VALUE_LEN, rec->value.data, JOIN_VALUE_LEN,
                                  joined);
            bench_writer_add(&out, rec->key, (eddy_slice){joined, sizeof(joined)},
                             max_i64(ts, e->ts));
        }
        /* Then buffer the record and log it, unless it is already past retention. */
        if (self->observed == INT64_MIN || ts > self->observed - retention) {
            join_list_push(&lists[slot->a][s], ts, rec->value.data);
            self->observed = max_i64(self->observed, ts);
            memcpy(store_key, rec->key.data, BENCH_KEY_LEN);
            eddy__be64_put(store_key + BENCH_KEY_LEN, (uint64_t)ts);
            eddy__be32_put(store_key + BENCH_KEY_LEN + 8, self->sequence++);
            bench_writer_add(&self->changelog, (eddy_slice){store_key, sizeof(store_key)},
                             rec->value, ts);
        }
        join_side_advance(self);
    }
    bench_writer_flush(&out);
    for (int s = 0; s < 2; s++) {
        bench_writer_flush(&sides[s].changelog);
        run.changelog_records += sides[s].changelog.appended;
    }
    for (int64_t k = 0; k < list_count; k++) {
        free(lists[k][0].entries);
        free(lists[k][1].entries);
    }
    free(lists);
    map_free(&map);
    int64_t ns = bench_now_ns() - start_ns;
    bench_timed_region("join", "baseline", start_ns, start_ns + ns);
    run.rps = bench_rate(2 * records, ns);
    run.out_records = out.appended;
    bench_writer_close(&out);
    for (int s = 0; s < 2; s++) {
        bench_writer_close(&sides[s].changelog);
        eddy_log_reader_destroy(sides[s].reader);
    }
    return run;
}

/* The number of (left, right) pairs of a key within `window` of each other. */
static int64_t join_truth(const uint32_t *left_draws, const uint32_t *right_draws, int64_t records,
                          int64_t keys, int64_t window)
{
    /* Each side's timestamps by key (they are increasing, so each key's list is sorted). */
    int64_t *first[2], *times[2], *fill = calloc((size_t)keys, sizeof(*fill));
    const uint32_t *draws[2] = {left_draws, right_draws};
    if (!fill)
        bench_die("out of memory");
    for (int s = 0; s < 2; s++) {
        first[s] = calloc((size_t)keys + 1, sizeof(*first[s]));
        times[s] = malloc((size_t)records * sizeof(*times[s]));
        if (!first[s] || !times[s])
            bench_die("out of memory");
        for (int64_t i = 0; i < records; i++)
            first[s][draws[s][i] + 1]++;
        for (int64_t k = 0; k < keys; k++)
            first[s][k + 1] += first[s][k];
        memset(fill, 0, (size_t)keys * sizeof(*fill));
        for (int64_t i = 0; i < records; i++)
            times[s][first[s][draws[s][i]] + fill[draws[s][i]]++] = time_base_ms + 2 * i + s;
    }
    int64_t pairs = 0;
    for (int64_t k = 0; k < keys; k++) {
        const int64_t *l = times[0] + first[0][k], *r = times[1] + first[1][k];
        int64_t nl = first[0][k + 1] - first[0][k], nr = first[1][k + 1] - first[1][k];
        int64_t lo = 0, hi = 0;
        for (int64_t i = 0; i < nl; i++) {
            while (lo < nr && r[lo] < l[i] - window)
                lo++;
            while (hi < nr && r[hi] <= l[i] + window)
                hi++;
            pairs += hi - lo;
        }
    }
    for (int s = 0; s < 2; s++) {
        free(first[s]);
        free(times[s]);
    }
    free(fill);
    return pairs;
}

/* An output that has not grown for this long while short of its expected count is taken as
 * complete (and wrong): well beyond linger.ms and poll.ms. */
#define OUTPUT_STALL_NS (5 * 1000000000LL)

/* Waits until `topic` holds `expected` records, or stops growing short of them; returns its
 * end offset. */
static int64_t app_wait_output(eddy_app *app, const char *topic, int64_t expected, int64_t start_ns)
{
    int64_t last = -1, last_change_ns = bench_now_ns();
    for (;;) {
        int64_t end = bench_end_offset(topic), now = bench_now_ns();
        if (end >= expected)
            return end;
        if (end != last) {
            last = end;
            last_change_ns = now;
        } else if (now - last_change_ns > OUTPUT_STALL_NS) {
            return end;
        }
        bench_app_check(app, start_ns);
        bench_nap_us(500);
    }
}

static void case_join(void)
{
    const char *what = "join";
    const int64_t records = bench_scaled(500000), keys = 5000, window = 15000, grace = 0;
    const char *left = "jn-left", *right = "jn-right";
    const char *eddy_out = "jn-out-eddy", *base_out = "jn-out-base", *app_id = "bench-join";
    const char *base_left_changelog = "jn-base-left-changelog";
    const char *base_right_changelog = "jn-base-right-changelog";
    bench_topic_create(left, NULL, -1);
    bench_topic_create(right, NULL, -1);
    bench_topic_create(eddy_out, NULL, -1);
    bench_topic_create(base_out, NULL, -1);
    int64_t changelog_retention = 2 * window + grace + CHANGELOG_EXTRA_RETENTION_MS;
    bench_topic_create(base_left_changelog, "delete", changelog_retention);
    bench_topic_create(base_right_changelog, "delete", changelog_retention);
    uint32_t *draws[2] = {bench_draws_make(records, keys, 44), bench_draws_make(records, keys, 45)};
    const char *topics[2] = {left, right};
    for (int s = 0; s < 2; s++) {
        bench_batch_writer fill;
        bench_writer_open(&fill, topics[s]);
        for (int64_t i = 0; i < records; i++)
            bench_writer_add(&fill, bench_key_at(draws[s][i]),
                             bench_pool_value(2 * i + s, JOIN_VALUE_LEN), time_base_ms + 2 * i + s);
        bench_writer_close(&fill);
    }
    int64_t expected = join_truth(draws[0], draws[1], records, keys, window);

    double eddy_rps = 0;
    int64_t eddy_changelog = 0, eddy_wrong_records = 0;
    base_run b = {0};
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (bench_eddy_first != 0);
        if (eddy_turn && bench_run_eddy()) {
            eddy_builder *builder = eddy_builder_new();
            eddy_stream *l = eddy_stream_from(builder, left, NULL, NULL);
            eddy_stream *r = eddy_stream_from(builder, right, NULL, NULL);
            eddy_to(eddy_join_stream(l, r, join_fn, NULL, window, window, grace), eddy_out);
            int64_t start = bench_now_ns();
            eddy_app *app = bench_app_start(builder, app_id, "in_memory", bench_cache_bytes);
            int64_t end = app_wait_output(app, eddy_out, expected, start);
            int64_t done = bench_now_ns();
            if (end != expected) {
                fprintf(stderr,
                        "bench: join: eddy wrote %" PRId64 " joined records, not %" PRId64 "\n",
                        end, expected);
                eddy_wrong_records = end > expected ? end - expected : expected - end;
            }
            bench_timed_region(what, "eddy", start, done);
            eddy_rps = bench_rate(2 * records, done - start);
            bench_check(eddy_app_close(app), "eddy_app_close");
            eddy_changelog = changelog_records(app_id);
            eddy_app_destroy(app);
            eddy_builder_destroy(builder);
        } else if (!eddy_turn && bench_run_base()) {
            b = join_loop(left, right, base_out, base_left_changelog, base_right_changelog, records,
                          keys, window, grace);
            if (b.out_records != expected)
                bench_die("join: the loop wrote %" PRId64 " records, not %" PRId64, b.out_records,
                          expected);
        }
    }
    if (bench_run_eddy() && bench_run_base()) {
        bench_topic_digest de = bench_topic_digest_of(eddy_out),
                           db = bench_topic_digest_of(base_out);
        if (de.records != db.records || de.key_sum != db.key_sum || de.value_sum != db.value_sum) {
            fprintf(stderr,
                    "bench: join: eddy wrote %" PRId64 " records (key sum %" PRIu64
                    ", value sum %" PRIu64 "), the loop %" PRId64 " (%" PRIu64 ", %" PRIu64 ")\n",
                    de.records, de.key_sum, de.value_sum, db.records, db.key_sum, db.value_sum);
            if (eddy_wrong_records == 0)
                eddy_wrong_records = 1;
        }
    }
    if (eddy_wrong_records)
        eddy_wrong = true;
    printf("windows case=join records=%" PRId64 " keys=%" PRId64 " window_ms=%" PRId64
           " grace_ms=%" PRId64 " out=%" PRId64 " acks=1 cache_bytes=%s eddy_rps=%.0f"
           " base_rps=%.0f ratio=%.3f"
           " eddy_changelog_count=%" PRId64 " base_changelog_count=%" PRId64
           " eddy_wrong_count=%" PRId64 "\n",
           2 * records, keys, window, grace, expected, bench_cache_bytes, eddy_rps, b.rps,
           b.rps > 0 ? eddy_rps / b.rps : 0.0, eddy_changelog, b.changelog_records,
           eddy_wrong_records);
    fflush(stdout);
    free(draws[0]);
    free(draws[1]);
    bench_topics_delete_all();
}

int main(int argc, char **argv)
{
    static const char *const cases[] = {"all",  "tumbling", "tumbling-cached", "hopping", "session",
                                        "join", NULL};
    /* statestore.cache.max.bytes of the applications (--cache-bytes): 0 unless told otherwise,
     * see the file comment; tumbling-cached always runs with Kafka Streams' default. */
    bench_cache_bytes = "0";
    if (!bench_apps_open(argc, argv, "windows", cases,
                         "usage: bench_windows --dir D [--case all|tumbling|tumbling-cached|"
                         "hopping|session|join]"
                         " [--scale F] [--only eddy|baseline] [--eddy-first] [--cache-bytes N]"
                         " [--verbose]\n       (EDDY_BENCH_SCALE=F also sets the scale)\n"))
        return 2;

    /* Event time: from a whole minute an hour ago (see the file comment). */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    time_base_ms = ((int64_t)now.tv_sec * 1000 - 3600000) / 60000 * 60000;

    bench_keys_make(10000);
    map_init(&key_index, BENCH_KEY_LEN, 2 * (size_t)bench_key_count);
    for (int64_t k = 0; k < bench_key_count; k++)
        map_find(&key_index, bench_key_table[k], true)->a = k;

    if (bench_apps_case("tumbling"))
        case_time_windows("tumbling", 60000, 60000, bench_cache_bytes);
    if (bench_apps_case("tumbling-cached"))
        case_time_windows("tumbling-cached", 60000, 60000, BENCH_KAFKA_DEFAULT_CACHE_BYTES);
    if (bench_apps_case("hopping"))
        case_time_windows("hopping", 60000, 6000, bench_cache_bytes);
    if (bench_apps_case("session"))
        case_session();
    if (bench_apps_case("join"))
        case_join();

    map_free(&key_index);
    bench_apps_close();
    if (eddy_wrong) {
        fprintf(stderr, "bench: eddy's output was wrong (eddy_wrong_count above): failing\n");
        return 1;
    }
    return 0;
}
