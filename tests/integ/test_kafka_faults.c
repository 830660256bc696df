/* Fault tests of the runtime on Kafka: a count per key, with a changelogged store, runs on a
 * three-broker development cluster (librdkafka's mock, in this process) while faults are
 * injected through the mock mid-stream:
 *
 *   - the group coordinator, which also leads an input and an output partition, goes down for
 *     ~2 s and comes back;
 *   - Produce requests, then Fetch requests, fail with retriable errors;
 *   - the leaders of the input, output and changelog partitions move to other brokers;
 *   - connections are cut (librdkafka's _TRANSPORT) under Produce and Fetch requests.
 *
 * Each test produces keyed records, injects the fault, produces more, restores the cluster and
 * waits until the application's group has committed every input partition to its end. Then it
 * checks what at-least-once promises: every record the test produced is in the input topic (the
 * test's own producer lost nothing), and every key's last count in the output topic equals the
 * number of its records in the input topic (at least that number when the group rebalanced, as
 * records processed since the last commit are then processed again); the application never
 * failed and was RUNNING again after the fault.
 *
 * That the fault did hit is checked, not assumed: librdkafka's log lines (its `debug` contexts
 * turned on for the clients, through eddy's log sink) are counted while the fault lasts, e.g.
 * failed connections to the downed broker, or Produce and Fetch responses carrying the injected
 * error. A fault that no request met fails the test.
 *
 * The mock's limits (../shared/notes/kafka-mock.md): a 6 s session timeout and 500 ms heartbeats
 * in every member, a 10 ms fetch wait, a first group join of ~3 s. It does not de-duplicate an
 * idempotent producer's retries, so the input topic may hold a record twice after a connection
 * is cut under a Produce request: the true count of a key is read back from the input topic. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eddy/app.h"
#include "eddy/config.h"
#include "eddy/logging.h"
#include "test.h"

#include "test_log.inc"

/* The faults are injected through the mock, in this process: against EDDY_TEST_KAFKA's broker
 * (make test-kafka) there is nothing to inject them with. */
TEST_KAFKA_MOCK_ONLY("faults injected through the mock in this process")

#define BROKERS 3
#define PARTITIONS 3
#define KEYS 24
#define INPUT "fault-events"
#define OUTPUT "fault-counts"
#define STORE "counts"
/* Records produced before the fault, during it, and after it is restored. */
#define RECORDS_BEFORE 1500
#define RECORDS_DURING 1500
#define RECORDS_AFTER 300
#define RECORDS_TOTAL (RECORDS_BEFORE + RECORDS_DURING + RECORDS_AFTER)
/* How long the application may take to commit all input once the fault is over. */
#define CATCH_UP_MS 40000

/* Kafka API keys and error codes (Kafka's protocol numbers, as the mock takes them). */
#define API_PRODUCE 0
#define API_FETCH 1
#define KAFKA_NOT_LEADER_FOR_PARTITION 6
#define KAFKA_REQUEST_TIMED_OUT 7
#define KAFKA_TRANSPORT (-195) /* librdkafka's _TRANSPORT: the mock closes the connection */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- librdkafka's log, counted ----------------------------------------------------------- */

/* Lines of eddy's log (librdkafka's lines come through src/kafka/kafka.c, its debug lines at
 * DEBUG) that contain every needle of a pattern ("a&b&c"), counted per pattern while counting
 * is on. Client names tell the clients apart: librdkafka names a handle "<client.id>#<kind>-<n>",
 * and the test's clients use client.id TEST_CLIENT, the application's APP_CLIENT. */
#define PATTERNS_MAX 4
#define NEEDLES_MAX 3
#define TEST_CLIENT "fault-test"
#define APP_CLIENT "fault-app"

static struct {
    char needles[PATTERNS_MAX][NEEDLES_MAX][64];
    _Atomic long hits[PATTERNS_MAX];
    _Atomic int counting;
    _Atomic int coordinator; /* the group coordinator's broker id, from the consumer's log */
    FILE *trace; /* EDDY_FAULT_TRACE=FILE: every line, for a person reading what happened */
} log_counter;

/* librdkafka's cgrp debug line naming the coordinator: Group "ID" coordinator is HOST:PORT id N */
static void note_coordinator(const char *message)
{
    const char *at = strstr(message, "\" coordinator is ");
    const char *id = at ? strstr(at, " id ") : NULL;
    if (id && strstr(message, APP_CLIENT "#consumer"))
        atomic_store(&log_counter.coordinator, atoi(id + 4));
}

static void log_sink(eddy_log_level level, const char *module, const char *message, void *opaque)
{
    (void)opaque;
    if (log_counter.trace)
        fprintf(log_counter.trace, "%lld %d %s: %s\n", (long long)now_ms(), (int)level, module,
                message);
    note_coordinator(message);
    if (atomic_load(&log_counter.counting)) {
        for (int p = 0; p < PATTERNS_MAX && log_counter.needles[p][0][0]; p++) {
            bool all = true;
            for (int n = 0; all && n < NEEDLES_MAX && log_counter.needles[p][n][0]; n++)
                all = strstr(message, log_counter.needles[p][n]) != NULL;
            if (all)
                atomic_fetch_add(&log_counter.hits[p], 1);
        }
    }
    /* The runtime's own warnings and errors, as the default sink would print them (librdkafka
     * warns of every refused connection while a broker is down: that is the fault itself). */
    if (level <= EDDY_LOG_WARN && strcmp(module, "kafka") != 0)
        fprintf(stderr, "%s %s: %s\n", level == EDDY_LOG_ERROR ? "ERROR" : "WARN", module, message);
}

/* Counts from now on the lines matching `patterns` (count of them, at most PATTERNS_MAX). */
static void log_count_start(const char *const *patterns, int count)
{
    EXPECT_TRUE(count <= PATTERNS_MAX);
    atomic_store(&log_counter.counting, 0);
    memset(log_counter.needles, 0, sizeof log_counter.needles);
    for (int p = 0; p < count; p++) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", patterns[p]);
        int n = 0;
        for (char *save = NULL, *tok = strtok_r(copy, "&", &save); tok && n < NEEDLES_MAX;
             tok = strtok_r(NULL, "&", &save))
            snprintf(log_counter.needles[p][n++], sizeof log_counter.needles[p][0], "%s", tok);
        atomic_store(&log_counter.hits[p], 0);
    }
    atomic_store(&log_counter.counting, 1);
}

static long log_hits(int p)
{
    return atomic_load(&log_counter.hits[p]);
}

/* Stops counting and prints the counts. */
static void log_count_stop(const char *const *patterns, int count)
{
    atomic_store(&log_counter.counting, 0);
    for (int p = 0; p < count; p++)
        fprintf(stderr, "  %ld log lines with \"%s\"\n", log_hits(p), patterns[p]);
}

/* Waits up to timeout_ms until pattern p has at least `hits` lines. */
static bool log_wait_hits(int p, long hits, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (log_hits(p) < hits && now_ms() < deadline)
        usleep(5 * 1000);
    return log_hits(p) >= hits;
}

static void log_counter_init(void)
{
    memset(log_counter.needles, 0, sizeof log_counter.needles);
    atomic_store(&log_counter.counting, 0);
    atomic_store(&log_counter.coordinator, -1);
    const char *trace = getenv("EDDY_FAULT_TRACE");
    log_counter.trace = trace && *trace ? fopen(trace, "w") : NULL;
    if (log_counter.trace)
        setvbuf(log_counter.trace, NULL, _IOLBF, 0);
    eddy_logging_set_sink(log_sink, NULL);
    /* librdkafka's debug lines reach eddy's log at DEBUG; the sink filters. */
    eddy_logging_set_level(EDDY_LOG_DEBUG);
}

/* ---- The application --------------------------------------------------------------------- */

static void count_text(eddy_ctx *ctx, const eddy_record *rec, void *opaque)
{
    (void)opaque;
    int64_t n;
    char text[24];
    if (eddy_int64_decode(rec->value, &n) != EDDY_OK)
        return;
    snprintf(text, sizeof text, "%" PRId64, n);
    eddy_forward_value_str(ctx, text);
}

/* counts = INPUT grouped by key, counted (memory store with a changelog); every update to
 * OUTPUT as text. */
static eddy_builder *count_builder(void)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *events = eddy_stream_from(b, INPUT, eddy_serde_string(), eddy_serde_string());
    eddy_table *counts = eddy_count(eddy_group_by_key(events), STORE);
    eddy_to(eddy_map_values(eddy_to_stream(counts), count_text, NULL), OUTPUT);
    eddy_builder_store_options(b, STORE, EDDY_STORE_MEMORY, true);
    EXPECT_OK(eddy_builder_check(b));
    return b;
}

typedef struct fault_run {
    const char *app_id;
    test_log log;
    eddy__producer *producer; /* the test's producer of INPUT */
    eddy_builder *builder;
    eddy_app *app;
    uint64_t seed;
    int64_t produced[KEYS]; /* records sent per key */
    int next_seq;           /* records sent so far: the next record's sequence number */
    _Atomic int delivery_failures;
    /* Changes to REBALANCING and to ERROR seen by the state listener; rebalances_before is
     * the count once the first records were processed (the group's first join is one). */
    _Atomic int rebalances, errors;
    int rebalances_before;
} fault_run;

static void on_state(eddy_app_state new_state, eddy_app_state old_state, void *opaque)
{
    fault_run *run = opaque;
    (void)old_state;
    if (new_state == EDDY_APP_REBALANCING)
        atomic_fetch_add(&run->rebalances, 1);
    else if (new_state == EDDY_APP_ERROR)
        atomic_fetch_add(&run->errors, 1);
}

static void on_delivery(eddy__producer *producer, const eddy__delivery *d, void *opaque)
{
    (void)producer;
    fault_run *run = opaque;
    if (d->err != EDDY_OK) {
        fprintf(stderr, "test producer: record to %s partition %d failed: %s\n", d->topic,
                (int)d->partition, eddy_err_name(d->err));
        atomic_fetch_add(&run->delivery_failures, 1);
    }
}

/* Starts the cluster (3 brokers), the topics (partition p of each led by broker p + 1) and the
 * test's producer; `debug` is librdkafka's debug contexts for the test's clients (NULL: none). */
static void run_open(fault_run *run, const char *app_id, const char *debug)
{
    memset(run, 0, sizeof *run);
    run->app_id = app_id;
    run->seed = test_seed();
    log_counter_init();
    test_log *log = &run->log;
    log->kafka = true;
    EXPECT_OK(eddy_dev_kafka_start(BROKERS, &log->dev));
    snprintf(log->bootstrap, sizeof log->bootstrap, "%s", eddy_dev_kafka_bootstrap(log->dev));
    EXPECT_OK(eddy_dev_kafka_create_topic(log->dev, INPUT, PARTITIONS));
    EXPECT_OK(eddy_dev_kafka_create_topic(log->dev, OUTPUT, PARTITIONS));
    for (int32_t p = 0; p < PARTITIONS; p++) {
        EXPECT_OK(eddy_dev_kafka_set_leader(log->dev, INPUT, p, 1 + p % BROKERS));
        EXPECT_OK(eddy_dev_kafka_set_leader(log->dev, OUTPUT, p, 1 + p % BROKERS));
    }
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "bootstrap.servers", log->bootstrap));
    EXPECT_OK(eddy_config_set(config, "client.id", TEST_CLIENT));
    /* librdkafka backs off reconnecting to a broker that was down up to 10 s by default; the
     * test's own clients need not wait that long (the application keeps the default). */
    EXPECT_OK(eddy_config_set(config, "reconnect.backoff.max.ms", "1000"));
    if (debug)
        EXPECT_OK(eddy_config_set(config, "debug", debug));
    EXPECT_OK(eddy__client_new(config, &log->client));
    EXPECT_OK(eddy_config_set(config, "acks", "all"));
    EXPECT_OK(eddy_config_set(config, "linger.ms", "5"));
    EXPECT_OK(eddy__producer_new(log->client, config, on_delivery, run, &run->producer));
    eddy_config_destroy(config);
}

/* Starts the application; `producer_debug` and `consumer_debug` are librdkafka's debug contexts
 * for its producer and its consumers (NULL: none). */
static void app_start(fault_run *run, const char *producer_debug, const char *consumer_debug)
{
    char state_dir[1200];
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "application.id", run->app_id));
    test_log_configure(&run->log, config);
    snprintf(state_dir, sizeof state_dir, "%s/state", test_tmpdir());
    EXPECT_OK(eddy_config_set(config, "state.dir", state_dir));
    EXPECT_OK(eddy_config_set(config, "commit.interval.ms", "100"));
    EXPECT_OK(eddy_config_set(config, "statestore.cache.max.bytes", "0"));
    EXPECT_OK(eddy_config_set(config, "client.id", APP_CLIENT));
    if (producer_debug)
        EXPECT_OK(eddy_config_set(config, "producer.debug", producer_debug));
    if (consumer_debug)
        EXPECT_OK(eddy_config_set(config, "consumer.debug", consumer_debug));
    run->builder = count_builder();
    EXPECT_OK(eddy_app_new(run->builder, config, &run->app));
    eddy_config_destroy(config);
    eddy_app_set_state_listener(run->app, on_state, run);
    EXPECT_OK(eddy_app_start(run->app));
    EXPECT_OK(eddy_app_wait_running(run->app, 20000));
}

static void run_close(fault_run *run)
{
    eddy_app_destroy(run->app);
    eddy_builder_destroy(run->builder);
    eddy__producer_destroy(run->producer);
    test_log_close(&run->log);
    eddy_logging_set_sink(NULL, NULL);
    if (log_counter.trace)
        fclose(log_counter.trace);
    log_counter.trace = NULL;
}

static void dev_push(fault_run *run, int16_t api_key, int count, int32_t error_code)
{
    EXPECT_OK(eddy_dev_kafka_push_request_errors(run->log.dev, api_key, count, error_code));
}

static void expect_app_healthy(fault_run *run, const char *when)
{
    eddy_app_state state = eddy_app_state_get(run->app);
    if (state == EDDY_APP_ERROR || state == EDDY_APP_NOT_RUNNING)
        eddy_test_fail(__FILE__, __LINE__, "%s: the application is %s: %s", when,
                       eddy_app_state_name(state), eddy_app_error(run->app));
}

/* Sends `count` records with keys spread by the seed, value = the record's sequence number;
 * serves delivery reports as it goes but does not wait for them (a broker may be down). */
static void produce(fault_run *run, int count)
{
    for (int i = 0; i < count; i++) {
        run->seed = run->seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int key = (int)((run->seed >> 33) % KEYS);
        char key_text[8], value_text[16];
        snprintf(key_text, sizeof key_text, "k%02d", key);
        snprintf(value_text, sizeof value_text, "%d", run->next_seq);
        eddy_record record = {.key = eddy_string_slice(key_text),
                              .value = eddy_string_slice(value_text),
                              .timestamp_ms = 1000 + run->next_seq};
        eddy_err err;
        while ((err = eddy__producer_send(run->producer, INPUT, -1, &record, NULL)) ==
               EDDY_ERR_BUSY)
            eddy__producer_poll(run->producer, 10);
        EXPECT_OK(err);
        run->produced[key]++;
        run->next_seq++;
        if (i % 100 == 99)
            eddy__producer_poll(run->producer, 0);
    }
    eddy__producer_poll(run->producer, 0);
}

static void flush_input(fault_run *run)
{
    EXPECT_OK(eddy__producer_flush(run->producer, TEST_LOG_TIMEOUT_MS));
    EXPECT_EQ(atomic_load(&run->delivery_failures), 0);
}

/* True when the group has committed every input partition to its end. */
static bool input_committed(fault_run *run)
{
    for (int32_t p = 0; p < PARTITIONS; p++)
        if (test_log_committed(&run->log, run->app_id, INPUT, p) !=
            test_log_end(&run->log, INPUT, p))
            return false;
    return true;
}

/* Waits until the application has processed and committed all input. */
static void wait_caught_up(fault_run *run, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (!input_committed(run)) {
        expect_app_healthy(run, "catching up");
        if (now_ms() > deadline) {
            for (int32_t p = 0; p < PARTITIONS; p++)
                fprintf(stderr, "partition %d: committed %" PRId64 ", end %" PRId64 "\n", (int)p,
                        test_log_committed(&run->log, run->app_id, INPUT, p),
                        test_log_end(&run->log, INPUT, p));
            eddy_test_fail(__FILE__, __LINE__, "the input was not committed within %d ms (%s)",
                           timeout_ms, eddy_app_state_name(eddy_app_state_get(run->app)));
        }
        usleep(50 * 1000);
    }
}

/* ---- Checking the outcome ---------------------------------------------------------------- */

typedef struct input_tally {
    int64_t per_key[KEYS];
    unsigned char *seen; /* times each sequence number is in the input (saturating) */
} input_tally;

static int key_index(eddy_slice key)
{
    int index = -1;
    char text[8];
    if (key.len != 3)
        return -1;
    memcpy(text, key.data, 3);
    text[3] = '\0';
    if (sscanf(text, "k%2d", &index) != 1 || index < 0 || index >= KEYS)
        return -1;
    return index;
}

static int64_t slice_int(eddy_slice s)
{
    char text[24];
    snprintf(text, sizeof text, "%.*s", (int)s.len, (const char *)s.data);
    return strtoll(text, NULL, 10);
}

static void tally_input(void *opaque, const eddy_record *record)
{
    input_tally *tally = opaque;
    int key = key_index(record->key);
    int64_t seq = slice_int(record->value);
    EXPECT_TRUE(key >= 0);
    EXPECT_TRUE(seq >= 0 && seq < RECORDS_TOTAL);
    tally->per_key[key]++;
    if (tally->seen[seq] < 255)
        tally->seen[seq]++;
}

static void latest_output(void *opaque, const eddy_record *record)
{
    int64_t *latest = opaque;
    int key = key_index(record->key);
    EXPECT_TRUE(key >= 0);
    latest[key] = slice_int(record->value);
}

/* Closes the application and checks the input and the output (see the file's comment). */
static void close_and_check(fault_run *run)
{
    EXPECT_EQ(atomic_load(&run->errors), 0);
    EXPECT_OK(eddy_app_close(run->app));
    EXPECT_EQ(eddy_app_state_get(run->app), EDDY_APP_NOT_RUNNING);
    input_tally tally = {.seen = calloc(RECORDS_TOTAL, 1)};
    EXPECT_TRUE(tally.seen != NULL);
    for (int32_t p = 0; p < PARTITIONS; p++)
        test_log_read_all(&run->log, INPUT, p, tally_input, &tally);
    int missing = 0, duplicated = 0;
    for (int seq = 0; seq < run->next_seq; seq++) {
        missing += tally.seen[seq] == 0;
        duplicated += tally.seen[seq] > 1;
        if (tally.seen[seq] == 0 && missing <= 5)
            fprintf(stderr, "input record %d is missing from %s\n", seq, INPUT);
    }
    free(tally.seen);
    int64_t latest[KEYS];
    for (int k = 0; k < KEYS; k++)
        latest[k] = 0;
    for (int32_t p = 0; p < PARTITIONS; p++)
        test_log_read_all(&run->log, OUTPUT, p, latest_output, latest);
    int rebalances = atomic_load(&run->rebalances) - run->rebalances_before;
    fprintf(stderr, "  %d records produced, %d of them twice in the input, %d rebalances\n",
            run->next_seq, duplicated, rebalances);
    int wrong = 0;
    for (int k = 0; k < KEYS; k++) {
        bool ok = rebalances == 0 ? latest[k] == tally.per_key[k] : latest[k] >= tally.per_key[k];
        if (!ok) {
            wrong++;
            fprintf(stderr, "key k%02d: last count %" PRId64 ", %" PRId64 " records in the input\n",
                    k, latest[k], tally.per_key[k]);
        }
    }
    EXPECT_EQ(missing, 0);
    EXPECT_EQ(wrong, 0);
}

/* ---- The scenario every test follows ----------------------------------------------------- */

/* The first part of every test: the cluster, the application running, RECORDS_BEFORE records
 * produced, processed and committed. The debug contexts are run_open's and app_start's. */
static void run_before_fault(fault_run *run, const char *app_id, const char *test_debug,
                             const char *producer_debug, const char *consumer_debug)
{
    run_open(run, app_id, test_debug);
    app_start(run, producer_debug, consumer_debug);
    produce(run, RECORDS_BEFORE);
    flush_input(run);
    wait_caught_up(run, CATCH_UP_MS);
    run->rebalances_before = atomic_load(&run->rebalances);
}

/* Produces `count` records over about `window_ms`, in ten paced chunks. */
static void produce_paced(fault_run *run, int count, int window_ms)
{
    for (int chunk = 0; chunk < 10; chunk++) {
        produce(run, count / 10);
        usleep((useconds_t)window_ms * 100);
        expect_app_healthy(run, "during the fault");
    }
}

/* The last part: RECORDS_AFTER more records, all processed and committed; checks. */
static void run_after_fault(fault_run *run)
{
    produce(run, RECORDS_AFTER);
    flush_input(run);
    wait_caught_up(run, CATCH_UP_MS);
    expect_app_healthy(run, "after the fault");
    EXPECT_OK(eddy_app_wait_running(run->app, 10000));
    close_and_check(run);
    run_close(run);
}

/* ---- Tests ------------------------------------------------------------------------------- */

/* The group coordinator is the broker that goes down: it also leads one input partition and one
 * output partition (run_open), so the application's commits, fetches and writes all wait (its
 * thread waits in the commit's producer flush, or in the commit itself, until the broker is
 * back). */
TEST(broker_down_and_up_loses_nothing)
{
    fault_run run;
    run_before_fault(&run, "fault-broker-down", NULL, NULL, "cgrp");
    int victim = atomic_load(&log_counter.coordinator);
    EXPECT_TRUE(victim >= 1 && victim <= BROKERS);
    char leader_refused[2][64];
    snprintf(leader_refused[0], sizeof leader_refused[0],
             APP_CLIENT "#consumer&/%d: Connect to&refused", victim);
    snprintf(leader_refused[1], sizeof leader_refused[1],
             TEST_CLIENT "#producer&/%d: Connect to&refused", victim);
    const char *patterns[] = {
        APP_CLIENT "#consumer&GroupCoordinator&refused", /* the coordinator was unreachable */
        leader_refused[0], /* so was the leader of an input partition, for fetches */
        leader_refused[1], /* and for the input's producer */
    };
    log_count_start(patterns, 3);
    int64_t down_ms = now_ms();
    EXPECT_OK(eddy_dev_kafka_broker_down(run.log.dev, victim));
    produce_paced(&run, RECORDS_DURING, 2000);
    int64_t window_ms = now_ms() - down_ms;
    EXPECT_OK(eddy_dev_kafka_broker_up(run.log.dev, victim));
    log_count_stop(patterns, 3);
    fprintf(stderr, "  broker %d was down for %lld ms\n", victim, (long long)window_ms);
    EXPECT_GE(window_ms, 2000);
    for (int p = 0; p < 3; p++)
        EXPECT_GE(log_hits(p), 1);
    run_after_fault(&run);
}

/* Produce and Fetch requests fail with retriable errors: first the input's producer meets the
 * Produce errors; then, while the application's fetches back off from the Fetch errors, input
 * is written and more Produce errors are pushed, which the application's producer meets when
 * it writes the counts of that input. Every error pushed must be met by a request. */
TEST(request_errors_on_produce_and_fetch_lose_nothing)
{
    fault_run run;
    run_before_fault(&run, "fault-request-errors", "msg", "msg", "fetch");
    const char *patterns[] = {
        TEST_CLIENT "#producer&encountered error: Broker:", /* a Produce error, input */
        APP_CLIENT "#producer&encountered error: Broker:",  /* a Produce error, output/changelog */
        APP_CLIENT "#consumer&Fetch backoff&Broker: Not leader", /* a Fetch error */
        APP_CLIENT "#consumer&Fetch backoff&Broker: Request timed out",
    };
    log_count_start(patterns, 4);
    dev_push(&run, API_PRODUCE, 3, KAFKA_NOT_LEADER_FOR_PARTITION);
    dev_push(&run, API_PRODUCE, 3, KAFKA_REQUEST_TIMED_OUT);
    produce(&run, RECORDS_DURING / 2);
    flush_input(&run);
    /* Each Produce request carries one partition's batch (librdkafka 2.0): one error each. */
    EXPECT_TRUE(log_wait_hits(0, 1, 5000));
    wait_caught_up(&run, CATCH_UP_MS);
    long produce_errors = log_hits(0) + log_hits(1);
    EXPECT_EQ(produce_errors, 6);
    /* Three Fetch requests (one per broker, each for one input partition) per error code. */
    dev_push(&run, API_FETCH, 3, KAFKA_NOT_LEADER_FOR_PARTITION);
    dev_push(&run, API_FETCH, 3, KAFKA_REQUEST_TIMED_OUT);
    EXPECT_TRUE(log_wait_hits(2, 3, 5000));
    produce(&run, RECORDS_DURING / 2);
    flush_input(&run);
    dev_push(&run, API_PRODUCE, 2, KAFKA_NOT_LEADER_FOR_PARTITION);
    dev_push(&run, API_PRODUCE, 2, KAFKA_REQUEST_TIMED_OUT);
    wait_caught_up(&run, CATCH_UP_MS);
    log_count_stop(patterns, 4);
    EXPECT_GE(log_hits(1), 1);
    EXPECT_EQ(log_hits(0) + log_hits(1), produce_errors + 4);
    EXPECT_EQ(log_hits(2), 3);
    EXPECT_EQ(log_hits(3), 3);
    run_after_fault(&run);
}

/* Every partition of the input, the output and the changelog gets a new leader mid-stream:
 * the input's producer, the application's consumer and its producer all meet NOT_LEADER from
 * the old leaders and move to the new ones. */
TEST(leaders_moved_lose_nothing)
{
    fault_run run;
    run_before_fault(&run, "fault-leaders", "msg", "msg", "fetch");
    const char *patterns[] = {
        TEST_CLIENT "#producer&encountered error: Broker: Not leader",
        APP_CLIENT "#producer&encountered error: Broker: Not leader",
        APP_CLIENT "#consumer&Fetch backoff&Broker: Not leader",
    };
    log_count_start(patterns, 3);
    produce(&run, RECORDS_DURING / 10);
    const char *topics[] = {INPUT, OUTPUT, "fault-leaders-" STORE "-changelog"};
    for (int t = 0; t < 3; t++)
        for (int32_t p = 0; p < PARTITIONS; p++)
            EXPECT_OK(eddy_dev_kafka_set_leader(run.log.dev, topics[t], p, 1 + (p + 1) % BROKERS));
    produce_paced(&run, RECORDS_DURING - RECORDS_DURING / 10, 1000);
    flush_input(&run);
    wait_caught_up(&run, CATCH_UP_MS);
    log_count_stop(patterns, 3);
    for (int p = 0; p < 3; p++)
        EXPECT_GE(log_hits(p), 1);
    run_after_fault(&run);
}

/* The mock closes the connection of the next Produce and Fetch requests (librdkafka's
 * _TRANSPORT): the batches in flight count as possibly written and are sent again. */
TEST(connections_cut_lose_nothing)
{
    fault_run run;
    run_before_fault(&run, "fault-transport", "msg", "msg", "fetch");
    const char *patterns[] = {
        "#producer&encountered error: Local: Broker transport failure",
        APP_CLIENT "#consumer&Fetch backoff&Local: Broker transport failure",
    };
    log_count_start(patterns, 2);
    dev_push(&run, API_PRODUCE, 3, KAFKA_TRANSPORT);
    dev_push(&run, API_FETCH, 3, KAFKA_TRANSPORT);
    produce_paced(&run, RECORDS_DURING, 1000);
    flush_input(&run);
    wait_caught_up(&run, CATCH_UP_MS);
    log_count_stop(patterns, 2);
    for (int p = 0; p < 2; p++)
        EXPECT_GE(log_hits(p), 1);
    run_after_fault(&run);
}
