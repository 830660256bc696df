/* Helpers shared by the stream processing benchmarks (bench_apps.h). */
#include "bench_apps.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

const char *bench_dir;
char bench_log_dir[4096];
double bench_scale = 1.0;
const char *bench_only;
int bench_eddy_first;
int bench_verbose;
const char *bench_cache_bytes = BENCH_KAFKA_DEFAULT_CACHE_BYTES;
eddy_log *bench_log;
uint8_t *bench_value_pool;
char (*bench_key_table)[16];
int64_t bench_key_count;

/* The --case argument, and the run's own directory that bench_dir points to. */
static const char *selected_case = "all";
static char own_dir[4096];

/* Parses the options into the settings; false when one is unknown or a value is wrong. */
static bool options_parse(int argc, char **argv, const char *const *cases)
{
    static const struct option options[] = {
        {"dir", required_argument, NULL, 'd'},         {"case", required_argument, NULL, 'c'},
        {"scale", required_argument, NULL, 's'},       {"only", required_argument, NULL, 'o'},
        {"eddy-first", no_argument, NULL, 'e'},        {"verbose", no_argument, NULL, 'v'},
        {"cache-bytes", required_argument, NULL, 'b'}, {NULL, 0, NULL, 0},
    };
    const char *env_scale = getenv("EDDY_BENCH_SCALE");
    if (env_scale)
        bench_scale = strtod(env_scale, NULL);
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'd':
            bench_dir = optarg;
            break;
        case 'c':
            selected_case = optarg;
            break;
        case 's':
            bench_scale = strtod(optarg, NULL);
            break;
        case 'o':
            bench_only = optarg;
            break;
        case 'e':
            bench_eddy_first = 1;
            break;
        case 'v':
            bench_verbose = 1;
            break;
        case 'b':
            bench_cache_bytes = optarg;
            break;
        default:
            return false;
        }
    }
    bool known = false;
    for (size_t i = 0; cases[i]; i++)
        known |= strcmp(cases[i], selected_case) == 0;
    return bench_dir && known && bench_scale > 0 && bench_scale <= 100 &&
           (!bench_only || strcmp(bench_only, "eddy") == 0 || strcmp(bench_only, "baseline") == 0);
}

bool bench_apps_open(int argc, char **argv, const char *run_name, const char *const *cases,
                     const char *usage)
{
    if (!options_parse(argc, argv, cases)) {
        fputs(usage, stderr);
        return false;
    }
    bench_apps_init(bench_dir, run_name);
    return true;
}

void bench_apps_init(const char *dir, const char *run_name)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", dir, strerror(errno));
    /* A fresh directory of our own inside D: the log, the applications' state, the databases. */
    snprintf(own_dir, sizeof(own_dir), "%s/%s-%d", dir, run_name, (int)getpid());
    bench_remove_tree(own_dir);
    if (mkdir(own_dir, 0755) != 0)
        bench_die("cannot create %s: %s", own_dir, strerror(errno));
    bench_dir = own_dir;
    snprintf(bench_log_dir, sizeof(bench_log_dir), "%s/log", bench_dir);
    bench_check(eddy_log_open(bench_log_dir, EDDY_LOG_CREATE, &bench_log), "eddy_log_open");
    bench_value_pool = malloc(BENCH_CHUNK_BYTES);
    if (!bench_value_pool)
        bench_die("out of memory");
    bench_fill_pattern(bench_value_pool, BENCH_CHUNK_BYTES, 3);
}

bool bench_apps_case(const char *name)
{
    return strcmp(selected_case, "all") == 0 || strcmp(selected_case, name) == 0;
}

void bench_apps_close(void)
{
    eddy_log_close(bench_log);
    bench_log = NULL;
    bench_remove_tree(own_dir);
    free(bench_key_table);
    bench_key_table = NULL;
    bench_key_count = 0;
    free(bench_value_pool);
    bench_value_pool = NULL;
}

int64_t bench_scaled(int64_t n)
{
    int64_t s = (int64_t)((double)n * bench_scale);
    return s < 1 ? 1 : s;
}

bool bench_run_eddy(void)
{
    return !bench_only || strcmp(bench_only, "eddy") == 0;
}

bool bench_run_base(void)
{
    return !bench_only || strcmp(bench_only, "baseline") == 0;
}

void bench_keys_make(int64_t count)
{
    bench_key_table = malloc((size_t)count * sizeof(*bench_key_table));
    if (!bench_key_table)
        bench_die("out of memory for %" PRId64 " keys", count);
    for (int64_t i = 0; i < count; i++) {
        uint64_t n = ((uint64_t)i * 2654435761u) % 100000000u;
        snprintf(bench_key_table[i], sizeof(bench_key_table[i]), "user-%08" PRIu64, n);
    }
    bench_key_count = count;
}

uint64_t bench_lcg_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 33;
}

uint32_t *bench_draws_make(int64_t count, int64_t range, uint64_t seed)
{
    uint32_t *draws = malloc((size_t)count * sizeof(*draws));
    if (!draws)
        bench_die("out of memory for %" PRId64 " draws", count);
    uint64_t state = seed;
    for (int64_t r = 0; r < count; r++)
        draws[r] = (uint32_t)(bench_lcg_next(&state) % (uint64_t)range);
    return draws;
}

eddy_slice bench_pool_value(int64_t i, size_t len)
{
    size_t slots = (BENCH_CHUNK_BYTES - 256) / len;
    return (eddy_slice){bench_value_pool + (size_t)(i % (int64_t)slots) * len, len};
}

void bench_join_values(const uint8_t *left, size_t left_len, const uint8_t *right, size_t right_len,
                       uint8_t *out)
{
    memcpy(out, left, left_len);
    memcpy(out + left_len, right, right_len);
}

/* ---- The log: topics, batches, digests ----------------------------------------------------- */

void bench_topic_create(const char *topic, const char *policy, int64_t retention_ms)
{
    eddy_config *config = NULL;
    if (policy) {
        config = eddy_config_new();
        if (!config)
            bench_die("out of memory");
        bench_check(eddy_config_set(config, "cleanup.policy", policy), "cleanup.policy");
        if (retention_ms >= 0) {
            char text[32];
            snprintf(text, sizeof(text), "%" PRId64, retention_ms);
            bench_check(eddy_config_set(config, "retention.ms", text), "retention.ms");
        }
    }
    bench_check(eddy_log_topic_create(bench_log, topic, 1, config), topic);
    eddy_config_destroy(config);
}

void bench_topic_delete(const char *topic)
{
    eddy_err err = eddy_log_topic_delete(bench_log, topic);
    if (err != EDDY_OK && err != EDDY_ERR_UNKNOWN_TOPIC)
        bench_check(err, topic);
}

void bench_topics_delete_all(void)
{
    char **names = NULL;
    size_t count = 0;
    bench_check(eddy_log_topic_list(bench_log, &names, &count), "eddy_log_topic_list");
    for (size_t i = 0; i < count; i++)
        bench_check(eddy_log_topic_delete(bench_log, names[i]), names[i]);
    eddy_log_names_free(names, count);
}

int64_t bench_end_offset(const char *topic)
{
    int64_t end = 0;
    if (eddy_log_partition_info(bench_log, topic, 0, NULL, &end, NULL, NULL) != EDDY_OK)
        return 0;
    return end;
}

void bench_writer_open(bench_batch_writer *w, const char *topic)
{
    memset(w, 0, sizeof(*w));
    w->topic = topic;
    w->capacity = BENCH_BATCH_BYTES / 8 + 1;
    w->records = malloc(w->capacity * sizeof(*w->records));
    w->bytes = malloc(BENCH_BATCH_BYTES + 65536);
    if (!w->records || !w->bytes)
        bench_die("out of memory");
}

void bench_writer_flush(bench_batch_writer *w)
{
    if (w->count == 0)
        return;
    bench_check(
        eddy_log_append(bench_log, w->topic, 0, w->records, w->count, EDDY_ACKS_LEADER, NULL, NULL),
        "eddy_log_append");
    w->appended += (int64_t)w->count;
    w->count = 0;
    w->used = 0;
}

void bench_writer_close(bench_batch_writer *w)
{
    bench_writer_flush(w);
    free(w->records);
    free(w->bytes);
}

void bench_topic_scan_open(bench_topic_scan *scan, const char *topic)
{
    scan->left = bench_end_offset(topic);
    bench_check(eddy_log_reader_new(bench_log, topic, 0, EDDY_OFFSET_BEGINNING, &scan->reader),
                topic);
}

bool bench_topic_scan_next(bench_topic_scan *scan, eddy_record *record)
{
    if (scan->left <= 0)
        return false;
    bench_check(eddy_log_reader_next(scan->reader, 0, record), "eddy_log_reader_next");
    scan->left--;
    return true;
}

void bench_topic_scan_close(bench_topic_scan *scan)
{
    eddy_log_reader_destroy(scan->reader);
    scan->reader = NULL;
}

bench_topic_digest bench_topic_digest_of(const char *topic)
{
    bench_topic_digest d = {0};
    bench_topic_scan scan;
    bench_topic_scan_open(&scan, topic);
    eddy_record rec;
    while (bench_topic_scan_next(&scan, &rec)) {
        d.records++;
        d.key_sum += rec.key.data ? bench_sum_bytes(rec.key.data, rec.key.len) : 0;
        d.value_sum += rec.value.data ? bench_sum_bytes(rec.value.data, rec.value.len) : 0;
    }
    bench_topic_scan_close(&scan);
    return d;
}

/* ---- Running an application ---------------------------------------------------------------- */

eddy_app *bench_app_start(eddy_builder *b, const char *application_id, const char *dsl_store,
                          const char *cache_bytes)
{
    return bench_app_start_on(b, application_id, dsl_store, cache_bytes, NULL);
}

eddy_app *bench_app_start_on(eddy_builder *b, const char *application_id, const char *dsl_store,
                             const char *cache_bytes, const eddy_config *backend)
{
    char state[4200];
    snprintf(state, sizeof(state), "%s/state", bench_dir);
    eddy_config *c = eddy_config_new();
    if (!c)
        bench_die("out of memory");
    bench_check(eddy_config_set(c, "application.id", application_id), "application.id");
    size_t backend_keys = backend ? eddy_config_count(backend) : 0;
    for (size_t i = 0; i < backend_keys; i++) {
        const char *key, *value;
        eddy_config_at(backend, i, &key, &value);
        bench_check(eddy_config_set(c, key, value), key);
    }
    if (!backend)
        bench_check(eddy_config_set(c, "log.dir", bench_log_dir), "log.dir");
    bench_check(eddy_config_set(c, "state.dir", state), "state.dir");
    bench_check(eddy_config_set(c, "acks", "1"), "acks");
    bench_check(eddy_config_set(c, "statestore.cache.max.bytes", cache_bytes), "cache");
    bench_check(eddy_config_set(c, "commit.interval.ms", BENCH_COMMIT_INTERVAL_MS), "commit");
    if (dsl_store)
        bench_check(eddy_config_set(c, "default.dsl.store", dsl_store), "default.dsl.store");
    eddy_app *app;
    bench_check(eddy_app_new(b, c, &app), "eddy_app_new");
    eddy_config_destroy(c);
    bench_check(eddy_app_start(app), "eddy_app_start");
    return app;
}

void bench_app_stop(eddy_app *app)
{
    bench_check(eddy_app_close(app), "eddy_app_close");
    eddy_app_destroy(app);
}

void bench_nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

void bench_app_check(eddy_app *app, int64_t start_ns)
{
    if (eddy_app_state_get(app) == EDDY_APP_ERROR)
        bench_die("the application failed: %s", eddy_app_error(app));
    if (bench_now_ns() - start_ns > BENCH_WAIT_MAX_NS)
        bench_die("the application has not finished after %lld s",
                  BENCH_WAIT_MAX_NS / 1000000000LL);
}

void bench_app_wait_store(eddy_app *app, const char *store, eddy_slice key, int64_t count,
                          int64_t start_ns)
{
    for (;;) {
        void *value = NULL;
        size_t len = 0;
        eddy_err err = eddy_app_store_get(app, store, key, &value, &len);
        bool done = err == EDDY_OK && len == 8 && (int64_t)eddy__be64_get(value) == count;
        eddy_free(value);
        if (done)
            return;
        bench_app_check(app, start_ns);
        bench_nap_us(1000);
    }
}

eddy_app *bench_app_run_to_close(const char *what, eddy_builder *b, const char *application_id,
                                 const char *dsl_store, const char *cache_bytes, const char *store,
                                 eddy_slice probe, int64_t probe_count, int64_t records,
                                 const char *output, int64_t output_records,
                                 bench_app_timing *timing)
{
    int64_t start = bench_now_ns();
    eddy_app *app = bench_app_start(b, application_id, dsl_store, cache_bytes);
    bench_app_wait_store(app, store, probe, probe_count, start);
    int64_t processed = bench_now_ns();
    timing->complete_rps = 0;
    if (output) {
        while (bench_end_offset(output) < output_records) {
            bench_app_check(app, start);
            bench_nap_us(200);
        }
        int64_t complete = bench_now_ns();
        bench_timed_region(what, "eddy (until the output was complete)", start, complete);
        timing->complete_rps = bench_rate(records, complete - start);
    }
    /* The cache holds the last writes of up to statestore.cache.max.bytes of keys (windows,
     * sessions): the final commit of eddy_app_close() writes them (store, changelog, output)
     * and flushes the store, so the time runs until it returns. */
    bench_check(eddy_app_close(app), "eddy_app_close");
    int64_t closed = bench_now_ns();
    bench_timed_region(what, "eddy (until processed)", start, processed);
    bench_timed_region(what, "eddy", start, closed);
    timing->rps = bench_rate(records, closed - start);
    timing->processed_rps = bench_rate(records, processed - start);
    timing->close_ns = closed - processed;
    return app;
}

/* ---- Timing ------------------------------------------------------------------------------- */

void bench_timed_region(const char *what, const char *side, int64_t start_ns, int64_t end_ns)
{
    if (bench_verbose)
        fprintf(stderr, "%s %s: timed %.6f,%.6f (%.3f s)\n", what, side, (double)start_ns / 1e9,
                (double)end_ns / 1e9, (double)(end_ns - start_ns) / 1e9);
}

double bench_rate(int64_t records, int64_t ns)
{
    return ns > 0 ? (double)records * 1e9 / (double)ns : 0.0;
}
