/* Kafka client throughput (issue 5): produce and consume through eddy's client seam (src/client,
 * the Kafka backend in src/kafka) against plain librdkafka code doing the same work, in the same
 * run, against the same broker; and an end-to-end count application on that broker against the
 * same application on the embedded log. The broker is librdkafka's mock cluster, started in this
 * process (include/eddy/dev_kafka.h), so every figure measures client cost, never Kafka's.
 *
 *   bench_kafka --dir D [--case all|produce|consume|count] [--passes K] [--plain-first]
 *               [--records N] [--size B] [--partitions P] [--produce-batch R]
 *               [--consume-batch R] [--count-records N] [--count-keys K]
 *               [--brokers HOST:PORT] [--verbose]
 *
 * Defaults: N = 200,000 records of B = 100 bytes, P = 8 partitions, K = 5 passes,
 * --produce-batch and --consume-batch 1000, the count over 200,000 records and 20,000 keys.
 * D holds the embedded log and the applications' state (the count case; removed at the end).
 * With --brokers the benchmark runs against that cluster instead of the mock (a real Kafka or
 * Redpanda: topics are created through the seam, named after this process's id).
 *
 * Both sides of produce and consume are configured alike, and checked to be: every librdkafka
 * handle is made with debug=conf, which logs its non-default properties; the two sides' lists
 * (callback pointers, debug and group.id left out) are compared, the line says same_config=yes
 * or no, differences are printed on stderr, and --verbose prints both lists.
 *
 *   produce  N records of B bytes with 16-byte keys spread over P partitions (murmur2 of the
 *            key), acks=all, idempotence on, linger.ms=5, batch.size=1000000,
 *            queue.buffering.max.messages=100000 (the seam's defaults, set explicitly on the
 *            plain side), polling for delivery reports after every send and flushing at the end;
 *            every report must be a success. Each side makes one producer, warmed up untimed
 *            (one record to a topic of its own, flushed: connected, producer id obtained); each
 *            pass then writes to a fresh, empty topic of P partitions, timed from the first send
 *            until the flush returns. Both look the new topic up in one metadata request inside
 *            the time: eddy's first send does, and the plain side calls rd_kafka_metadata()
 *            first (left to itself, a connected librdkafka producer's first record to a new
 *            topic waits 0.5 to 1 s for the lookup while its queue fills, which made the plain
 *            side 4x slower).
 *            Both producers run with debug=msg, whose one line per batch ("Produce MessageSet
 *            with R message(s)") gives each pass's batch count and its records per batch. With
 *            linger.ms=5 the batches follow from each side's timing, so the step runs twice: with
 *            the seam's batching, and with batches of exactly --produce-batch records on both
 *            sides (batch.num.messages=R, linger.ms=1000; flush sends the last ones at once).
 *   consume  one topic of N records (as produce's) written untimed by a plain producer making
 *            batches of exactly R records (batch.num.messages=R, linger.ms=1000), so that its
 *            batches are the same in every run: the mock answers a Fetch with at most one batch
 *            per partition, so the batch size sets how many round trips a read takes. Both
 *            sides read that same topic. Each side makes one consumer (group ids of their own,
 *            fetch.wait.max.ms=10, no commits) and warms it up untimed by one full read; each
 *            pass then assigns every partition at the beginning, reads until N records came
 *            (summing every key's and value's bytes, which must equal the topic's sum), and
 *            unassigns, timed from the assign to the last record. Only one consumer has an
 *            assignment at a time. The warm-up is what makes the sides comparable: a consumer
 *            assigned partitions whose leader it does not know yet waits a fixed 500 ms before
 *            it asks for their offsets (librdkafka's offset query retry), which a fresh plain
 *            consumer always hit and eddy's (whose assign looks the topic up first) hit or
 *            missed partition by partition.
 *   count    an application of group_by_key -> count -> to (the in-memory store, no record
 *            cache: every update is written to the output and the changelog) over N records with
 *            13-byte keys drawn uniformly from K keys and 87-byte values (bench_streams' count
 *            case, scaled down: the mock keeps only each partition's last 5 MiB), P partitions,
 *            once on the mock (bootstrap.servers) and once on the embedded log, the same input
 *            on both (written untimed through the seam, murmur2 partitioning on both). Timed
 *            from eddy_app_start() until the output topic holds N records (every partition's
 *            last input key has reached its final count in the store, then the output's end
 *            offsets sum to N). Also printed: the start-up, until the first record was counted
 *            (some partition's first input key is in the store; on the mock the group's first
 *            join alone waits 3 s), and the rate from then until the output was complete. Both
 *            outputs are read back and every key's last count checked against the input. The
 *            settings: bench_apps' (acks=1, commit.interval.ms=30000, one stream thread), and
 *            on the mock a 6 s session timeout, 500 ms heartbeats and 10 ms fetch waits
 *            (kafka-mock.md); librdkafka's defaults otherwise.
 *
 * Passes alternate which side goes first, starting with eddy (--plain-first: plain librdkafka,
 * and in the count case the embedded log); every produce and consume figure is the median of
 * the passes, the ratio eddy's median over plain's.
 *
 * Output, one line per step:
 *   kafka step=produce records=N size=B partitions=P passes=K batch=linger|R same_config=yes
 *         eddy_rps=... base_rps=... ratio=... eddy_batch_count=... base_batch_count=...
 *   kafka step=consume ... batch=R same_config=yes eddy_rps=... base_rps=... ratio=...
 *         eddy_first_us=... base_first_us=...
 *   kafka step=count records=N keys=K partitions=P mock_rps=... log_rps=... ratio=...
 *         mock_counting_rps=... log_counting_rps=... ratio_counting=... mock_start_us=...
 *         log_start_us=...
 */
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_apps.h"
#include "client/client.h"
#include "core/buf.h"
#include "eddy/dev_kafka.h"
#include "eddy/eddy.h"
#include "eddy/logging.h"

#define KEY_BYTES 16
#define PASSES_MAX 21
#define PARTITIONS_MAX 64
#define COUNT_VALUE_LEN 87
/* How long one pass, fill or read-back may take before the benchmark gives up. */
#define STEP_DEADLINE_NS (120LL * 1000000000LL)

typedef struct options {
    int64_t records;
    size_t size;
    int partitions;
    int passes;
    int consume_batch;
    int produce_batch;
    int64_t count_records, count_keys;
    const char *dir;
    const char *which;
    const char *brokers;
    int plain_first;
    int verbose;
} options;

static options opt;
static char tag[32]; /* topic names' suffix: this process's id */

static bool step_runs(const char *name)
{
    return strcmp(opt.which, "all") == 0 || strcmp(opt.which, name) == 0;
}

/* Whether plain librdkafka goes first in pass `pass`. */
static bool plain_goes_first(int pass)
{
    return (pass % 2 == 0) == (opt.plain_first != 0);
}

static void key_of(char key[KEY_BYTES + 1], int64_t i)
{
    snprintf(key, KEY_BYTES + 1, "key-%011" PRId64, (i * 7919) % 1000003);
}

static int double_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *values, int count)
{
    double sorted[PASSES_MAX];
    memcpy(sorted, values, (size_t)count * sizeof(*sorted));
    qsort(sorted, (size_t)count, sizeof(*sorted), double_compare);
    return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

/* ---- What librdkafka logs: each handle's configuration, each batch produced ---------------- */

/* A handle's non-default properties, "name = value", as debug=conf logs them when the handle is
 * made (on the thread that makes it). */
#define CONF_LINES_MAX 128
typedef struct conf_dump {
    int count;
    char lines[CONF_LINES_MAX][200];
} conf_dump;

static conf_dump *capturing; /* set around the making of a handle, on the main thread */
static atomic_llong batches_seen, batch_records_seen;

/* One librdkafka log line, from either side (the facility, and the text after it). */
static void log_line(const char *facility, const char *text)
{
    static const char produce_line[] = "Produce MessageSet with ";
    if (strcmp(facility, "PRODUCE") == 0) {
        const char *at = strstr(text, produce_line);
        if (at) {
            atomic_fetch_add(&batches_seen, 1);
            atomic_fetch_add(&batch_records_seen, atoll(at + strlen(produce_line)));
        }
        return;
    }
    if (strcmp(facility, "CONF") != 0 || !capturing || capturing->count == CONF_LINES_MAX)
        return;
    const char *body = strstr(text, "]: ");
    body = body ? body + 3 : text;
    if (strncmp(body, "  ", 2) == 0 && strstr(body, " = "))
        snprintf(capturing->lines[capturing->count++], sizeof(capturing->lines[0]), "%s", body + 2);
}

/* Plain librdkafka's log callback (from librdkafka's threads, or the caller's). */
static void plain_log(const rd_kafka_t *rk, int level, const char *facility, const char *line)
{
    (void)rk;
    if (level <= 4)
        fprintf(stderr, "librdkafka %s: %s\n", facility, line);
    log_line(facility, line);
}

/* eddy's log sink: the Kafka backend logs librdkafka's lines as "<handle> <FACILITY>: <line>"
 * (src/kafka/kafka.c), at debug level for debug lines. */
static void bench_log_sink(eddy_log_level level, const char *module, const char *message,
                           void *opaque)
{
    (void)opaque;
    if (level <= EDDY_LOG_WARN)
        fprintf(stderr, "eddy %s: %s\n", module, message);
    if (strcmp(module, "kafka") != 0)
        return;
    const char *space = strchr(message, ' ');
    const char *colon = space ? strchr(space + 1, ':') : NULL;
    if (!colon || (size_t)(colon - space - 1) >= 32)
        return;
    char facility[32];
    memcpy(facility, space + 1, (size_t)(colon - space - 1));
    facility[colon - space - 1] = '\0';
    log_line(facility, colon + 1 + (colon[1] == ' '));
}

static bool conf_ignored(const char *line)
{
    static const char *const names[] = {
        "debug = ", "client.software.version = ", "group.id = ", NULL};
    for (int i = 0; names[i]; i++)
        if (strncmp(line, names[i], strlen(names[i])) == 0)
            return true;
    /* ssl_key: rd_kafka_conf_dup() marks it set (measured on 2.0.2: a duplicated empty
     * configuration lists it), and the seam duplicates its client's configuration for every
     * handle; no key is set. */
    if (strcmp(line, "ssl_key = [redacted]") == 0)
        return true;
    return strstr(line, " = 0x") != NULL; /* callbacks, opaques: pointers */
}

static int line_compare(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Compares two handles' properties; prints differences (and with --verbose both lists) on
 * stderr. Returns whether they are the same. */
static bool conf_same(const char *what, conf_dump *eddy, conf_dump *plain)
{
    conf_dump *sides[2] = {eddy, plain};
    const char *names[2] = {"eddy", "plain"};
    for (int s = 0; s < 2; s++) {
        int kept = 0;
        for (int i = 0; i < sides[s]->count; i++)
            if (!conf_ignored(sides[s]->lines[i]))
                memmove(sides[s]->lines[kept++], sides[s]->lines[i], sizeof(sides[s]->lines[0]));
        sides[s]->count = kept;
        qsort(sides[s]->lines, (size_t)kept, sizeof(sides[s]->lines[0]), line_compare);
        if (opt.verbose) {
            fprintf(stderr, "%s, %s's librdkafka properties:", what, names[s]);
            for (int i = 0; i < kept; i++)
                fprintf(stderr, " %s;", sides[s]->lines[i]);
            fprintf(stderr, "\n");
        }
    }
    bool same = true;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sides[s]->count; i++) {
            const conf_dump *other = sides[1 - s];
            if (!bsearch(sides[s]->lines[i], other->lines, (size_t)other->count,
                         sizeof(other->lines[0]), line_compare)) {
                fprintf(stderr, "%s: only %s sets %s\n", what, names[s], sides[s]->lines[i]);
                same = false;
            }
        }
    return same;
}

/* ---- Topics -------------------------------------------------------------------------------- */

/* Creates a topic of `partitions` partitions on the mock (dev) or through the seam (client). */
static void topic_make(eddy_dev_kafka *dev, eddy__client *client, const char *topic, int partitions)
{
    if (dev)
        bench_check(eddy_dev_kafka_create_topic(dev, topic, partitions), topic);
    else
        bench_check(
            eddy__client_topic_create(client, topic, partitions, NULL, EDDY__TOPIC_IF_NOT_EXISTS),
            topic);
}

static eddy__client *seam_client(const char *key, const char *value)
{
    eddy_config *config = eddy_config_new();
    bench_check(eddy_config_set(config, key, value), key);
    eddy__client *client = NULL;
    bench_check(eddy__client_new(config, &client), "eddy__client_new");
    eddy_config_destroy(config);
    return client;
}

/* ---- Produce: plain librdkafka --------------------------------------------------------------- */

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        bench_die("librdkafka %s=%s: %s", key, value, errstr);
}

static int64_t plain_delivered, plain_failed;

static void plain_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        plain_failed++;
    else
        plain_delivered++;
}

/* A producer with the seam's settings; `batch_records` > 0 (the consume topic's filler) makes
 * batches of exactly that many records instead. */
static rd_kafka_t *plain_producer_new(const char *brokers, int batch_records, conf_dump *dump)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "acks", "all");
    conf_set(conf, "linger.ms", batch_records > 0 ? "1000" : "5");
    conf_set(conf, "batch.size", "1000000");
    conf_set(conf, "queue.buffering.max.messages", "100000");
    conf_set(conf, "partitioner", "murmur2_random");
    if (batch_records > 0) {
        char text[24];
        snprintf(text, sizeof text, "%d", batch_records);
        conf_set(conf, "batch.num.messages", text);
    }
    conf_set(conf, "debug", "conf,msg");
    rd_kafka_conf_set_dr_msg_cb(conf, plain_on_delivery);
    rd_kafka_conf_set_log_cb(conf, plain_log);
    char errstr[512];
    capturing = dump;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    capturing = NULL;
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    return rk;
}

/* Sends `records` records to `topic` and flushes; returns the seconds it took. */
static double plain_produce(rd_kafka_t *rk, const char *topic, int64_t records,
                            const uint8_t *value, size_t size)
{
    plain_delivered = plain_failed = 0;
    int64_t start = bench_now_ns();
    /* The topic looked up before the first send, as the seam's first send does: without it, a
     * connected producer's first record to a new topic waits 0.5 to 1 s for librdkafka's own
     * lookup (measured on 2.0.2 against the mock) while the queue fills. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (!rkt || rd_kafka_metadata(rk, 0, rkt, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        bench_die("plain produce: looking topic %s up failed", topic);
    rd_kafka_metadata_destroy(md);
    for (int64_t i = 0; i < records; i++) {
        char key[KEY_BYTES + 1];
        key_of(key, i);
        for (;;) {
            rd_kafka_resp_err_t err =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, KEY_BYTES),
                                  RD_KAFKA_V_VALUE((void *)value, size),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                bench_die("rd_kafka_producev: %s", rd_kafka_err2str(err));
            rd_kafka_poll(rk, 1);
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        bench_die("plain produce to %s: flush timed out", topic);
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    rd_kafka_topic_destroy(rkt);
    if (plain_delivered != records || plain_failed != 0)
        bench_die("plain produce to %s: %" PRId64 " delivered, %" PRId64 " failed of %" PRId64,
                  topic, plain_delivered, plain_failed, records);
    return seconds;
}

/* ---- Produce: eddy's client seam ------------------------------------------------------------- */

typedef struct seam_reports {
    int64_t delivered, failed;
} seam_reports;

static void seam_on_delivery(eddy__producer *producer, const eddy__delivery *d, void *opaque)
{
    (void)producer;
    seam_reports *r = opaque;
    if (d->err == EDDY_OK)
        r->delivered++;
    else
        r->failed++;
}

/* A producer with the seam's defaults; `batch_records` > 0 makes batches of exactly that many
 * records instead, as plain_producer_new() does. */
static eddy__producer *seam_producer_new(eddy__client *client, int batch_records,
                                         seam_reports *reports, conf_dump *dump)
{
    eddy_config *config = eddy_config_new();
    bench_check(eddy_config_set(config, "debug", "conf,msg"), "debug");
    if (batch_records > 0) {
        char text[24];
        snprintf(text, sizeof text, "%d", batch_records);
        bench_check(eddy_config_set(config, "linger.ms", "1000"), "linger.ms");
        bench_check(eddy_config_set(config, "batch.num.messages", text), "batch.num.messages");
    }
    eddy__producer *producer = NULL;
    capturing = dump;
    bench_check(eddy__producer_new(client, config, seam_on_delivery, reports, &producer),
                "eddy__producer_new");
    capturing = NULL;
    eddy_config_destroy(config);
    return producer;
}

static double seam_produce(eddy__producer *producer, seam_reports *reports, const char *topic,
                           int64_t records, const uint8_t *value, size_t size)
{
    *reports = (seam_reports){0, 0};
    int64_t start = bench_now_ns();
    for (int64_t i = 0; i < records; i++) {
        char key[KEY_BYTES + 1];
        key_of(key, i);
        eddy_record record = {0};
        record.key = (eddy_slice){key, KEY_BYTES};
        record.value = (eddy_slice){value, size};
        record.timestamp_ms = -1;
        eddy_err err;
        while ((err = eddy__producer_send(producer, topic, -1, &record, NULL)) == EDDY_ERR_BUSY)
            eddy__producer_poll(producer, 1);
        bench_check(err, "eddy__producer_send");
        eddy__producer_poll(producer, 0);
    }
    bench_check(eddy__producer_flush(producer, 60000), "eddy__producer_flush");
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    if (reports->delivered != records || reports->failed != 0)
        bench_die("eddy produce to %s: %" PRId64 " delivered, %" PRId64 " failed of %" PRId64,
                  topic, reports->delivered, reports->failed, records);
    return seconds;
}

/* ---- Produce: the step ----------------------------------------------------------------------- */

typedef struct pass_figures {
    double rps[PASSES_MAX], batches[PASSES_MAX], first_us[PASSES_MAX];
} pass_figures;

static void batches_reset(void)
{
    atomic_store(&batches_seen, 0);
    atomic_store(&batch_records_seen, 0);
}

/* The batches counted since batches_reset(); they must hold exactly `records` records. */
static double batches_check(const char *who, int64_t records)
{
    int64_t batches = atomic_load(&batches_seen), in_batches = atomic_load(&batch_records_seen);
    if (in_batches != records)
        bench_die("%s: %" PRId64 " batches held %" PRId64 " records, not %" PRId64
                  " (a retry? debug=msg lines lost?)",
                  who, batches, in_batches, records);
    return (double)batches;
}

/* The produce step, with the seam's batching (batch_records 0: linger.ms=5) or batches of
 * exactly batch_records records on both sides. */
static void step_produce(eddy_dev_kafka *dev, eddy__client *client, const char *brokers,
                         const uint8_t *value, int batch_records)
{
    conf_dump eddy_conf = {0}, plain_conf = {0};
    seam_reports reports;
    eddy__producer *producer = seam_producer_new(client, batch_records, &reports, &eddy_conf);
    rd_kafka_t *rk = plain_producer_new(brokers, batch_records, &plain_conf);
    bool same = conf_same("produce", &eddy_conf, &plain_conf);

    /* Warm-up, untimed: connected, producer id obtained, each to a topic of its own. */
    char warm_eddy[96], warm_plain[96];
    snprintf(warm_eddy, sizeof warm_eddy, "bench-kafka-%s-warm-%d-eddy", tag, batch_records);
    snprintf(warm_plain, sizeof warm_plain, "bench-kafka-%s-warm-%d-plain", tag, batch_records);
    topic_make(dev, client, warm_eddy, opt.partitions);
    topic_make(dev, client, warm_plain, opt.partitions);
    seam_produce(producer, &reports, warm_eddy, 1, value, opt.size);
    plain_produce(rk, warm_plain, 1, value, opt.size);

    pass_figures eddy = {0}, plain = {0};
    for (int pass = 0; pass < opt.passes; pass++) {
        for (int turn = 0; turn < 2; turn++) {
            bool plain_turn = (turn == 0) == plain_goes_first(pass);
            char topic[96];
            snprintf(topic, sizeof topic, "bench-kafka-%s-produce-%d-%s-%d", tag, batch_records,
                     plain_turn ? "plain" : "eddy", pass);
            topic_make(dev, client, topic, opt.partitions);
            batches_reset();
            if (plain_turn) {
                plain.rps[pass] =
                    (double)opt.records / plain_produce(rk, topic, opt.records, value, opt.size);
                plain.batches[pass] = batches_check("plain produce", opt.records);
            } else {
                eddy.rps[pass] = (double)opt.records / seam_produce(producer, &reports, topic,
                                                                    opt.records, value, opt.size);
                eddy.batches[pass] = batches_check("eddy produce", opt.records);
            }
        }
        if (opt.verbose)
            fprintf(stderr,
                    "produce pass %d: eddy %.0f rec/s in %.0f batches, plain %.0f in %.0f\n", pass,
                    eddy.rps[pass], eddy.batches[pass], plain.rps[pass], plain.batches[pass]);
    }
    eddy__producer_destroy(producer);
    rd_kafka_destroy(rk);
    double e = median(eddy.rps, opt.passes), p = median(plain.rps, opt.passes);
    char batching[24] = "linger";
    if (batch_records > 0)
        snprintf(batching, sizeof batching, "%d", batch_records);
    printf("kafka step=produce records=%" PRId64 " size=%zu partitions=%d passes=%d batch=%s "
           "same_config=%s eddy_rps=%.0f base_rps=%.0f ratio=%.3f eddy_batch_count=%.0f "
           "base_batch_count=%.0f\n",
           opt.records, opt.size, opt.partitions, opt.passes, batching, same ? "yes" : "no", e, p,
           e / p, median(eddy.batches, opt.passes), median(plain.batches, opt.passes));
    fflush(stdout);
}

/* ---- Consume --------------------------------------------------------------------------------- */

static rd_kafka_t *plain_consumer_new(const char *brokers, conf_dump *dump)
{
    /* What the seam's consumer sets (src/kafka/consumer.c, consumer_conf), and the same
     * fetch.wait.max.ms as eddy's side is given. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "group.id", "bench-kafka-plain");
    conf_set(conf, "partition.assignment.strategy", "range");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "auto.commit.interval.ms", "5000");
    conf_set(conf, "enable.auto.offset.store", "false");
    conf_set(conf, "auto.offset.reset", "latest");
    conf_set(conf, "fetch.wait.max.ms", "10");
    conf_set(conf, "debug", "conf");
    rd_kafka_conf_set_log_cb(conf, plain_log);
    char errstr[512];
    capturing = dump;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    capturing = NULL;
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    rd_kafka_poll_set_consumer(rk); /* as the seam does */
    return rk;
}

/* Reads the N records from the beginning of every partition; returns the seconds from the
 * assign to the last record, *first_ns the time to the first. */
static double plain_consume(rd_kafka_t *rk, const char *topic, uint64_t *sum, int64_t *first_ns)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(opt.partitions);
    for (int p = 0; p < opt.partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    int64_t start = bench_now_ns(), read = 0;
    if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        bench_die("rd_kafka_assign failed");
    while (read < opt.records) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) { /* the clock is read only then: both sides' loops do nothing but read */
            if (bench_now_ns() - start > STEP_DEADLINE_NS)
                bench_die("plain consume: %" PRId64 " of %" PRId64 " records after 120 s", read,
                          opt.records);
            continue;
        }
        if (!m->err) {
            if (read++ == 0)
                *first_ns = bench_now_ns() - start;
            *sum += bench_sum_bytes(m->key, m->key_len) + bench_sum_bytes(m->payload, m->len);
        }
        rd_kafka_message_destroy(m);
    }
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    rd_kafka_assign(rk, NULL);
    rd_kafka_topic_partition_list_destroy(parts);
    return seconds;
}

static eddy__consumer *seam_consumer_new(eddy__client *client, conf_dump *dump)
{
    eddy_config *config = eddy_config_new();
    bench_check(eddy_config_set(config, "fetch.wait.max.ms", "10"), "fetch.wait.max.ms");
    bench_check(eddy_config_set(config, "debug", "conf"), "debug");
    eddy__consumer *consumer = NULL;
    capturing = dump;
    bench_check(eddy__consumer_new(client, "bench-kafka-eddy", config, &consumer),
                "eddy__consumer_new");
    capturing = NULL;
    eddy_config_destroy(config);
    return consumer;
}

static double seam_consume(eddy__consumer *consumer, const char *topic, uint64_t *sum,
                           int64_t *first_ns)
{
    eddy__topic_partition_offset parts[PARTITIONS_MAX];
    for (int p = 0; p < opt.partitions; p++)
        parts[p] = (eddy__topic_partition_offset){topic, p, EDDY_OFFSET_BEGINNING};
    int64_t start = bench_now_ns(), read = 0;
    bench_check(eddy__consumer_assign(consumer, parts, (size_t)opt.partitions), "assign");
    while (read < opt.records) {
        eddy_record record;
        eddy_err err = eddy__consumer_poll(consumer, 100, &record);
        if (err == EDDY_ERR_TIMED_OUT) {
            if (bench_now_ns() - start > STEP_DEADLINE_NS)
                bench_die("eddy consume: %" PRId64 " of %" PRId64 " records after 120 s", read,
                          opt.records);
            continue;
        }
        bench_check(err, "eddy__consumer_poll");
        if (read++ == 0)
            *first_ns = bench_now_ns() - start;
        *sum += bench_sum_bytes(record.key.data, record.key.len) +
                bench_sum_bytes(record.value.data, record.value.len);
    }
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    bench_check(eddy__consumer_unassign(consumer), "unassign");
    return seconds;
}

/* The consume topic: N records in batches of exactly --consume-batch records. Returns the sum of
 * its keys' and values' bytes; *batches counts its batches. */
static uint64_t consume_topic_fill(eddy_dev_kafka *dev, eddy__client *client, const char *brokers,
                                   const char *topic, const uint8_t *value, double *batches)
{
    topic_make(dev, client, topic, opt.partitions);
    conf_dump ignored = {0};
    rd_kafka_t *rk = plain_producer_new(brokers, opt.consume_batch, &ignored);
    batches_reset();
    plain_produce(rk, topic, opt.records, value, opt.size);
    *batches = batches_check("the consume topic's filler", opt.records);
    rd_kafka_destroy(rk);
    uint64_t sum = 0;
    for (int64_t i = 0; i < opt.records; i++) {
        char key[KEY_BYTES + 1];
        key_of(key, i);
        sum += bench_sum_bytes((const uint8_t *)key, KEY_BYTES) + bench_sum_bytes(value, opt.size);
    }
    return sum;
}

static void step_consume(eddy_dev_kafka *dev, eddy__client *client, const char *brokers,
                         const uint8_t *value)
{
    char topic[96];
    snprintf(topic, sizeof topic, "bench-kafka-%s-consume", tag);
    double topic_batches = 0;
    uint64_t expected = consume_topic_fill(dev, client, brokers, topic, value, &topic_batches);

    conf_dump eddy_conf = {0}, plain_conf = {0};
    eddy__consumer *consumer = seam_consumer_new(client, &eddy_conf);
    rd_kafka_t *rk = plain_consumer_new(brokers, &plain_conf);
    bool same = conf_same("consume", &eddy_conf, &plain_conf);

    pass_figures eddy = {0}, plain = {0};
    for (int pass = -1; pass < opt.passes; pass++) { /* -1: the untimed warm-up */
        for (int turn = 0; turn < 2; turn++) {
            bool plain_turn = (turn == 0) == plain_goes_first(pass < 0 ? 0 : pass);
            uint64_t sum = 0;
            int64_t first_ns = 0;
            double seconds = plain_turn ? plain_consume(rk, topic, &sum, &first_ns)
                                        : seam_consume(consumer, topic, &sum, &first_ns);
            if (sum != expected)
                bench_die("%s consume read other bytes than were written (sum %" PRIu64
                          ", written %" PRIu64 ")",
                          plain_turn ? "plain" : "eddy", sum, expected);
            if (opt.verbose)
                fprintf(stderr, "consume %s %d: %s %.0f rec/s, first record after %.1f ms\n",
                        pass < 0 ? "warm-up" : "pass", pass, plain_turn ? "plain" : "eddy",
                        (double)opt.records / seconds, (double)first_ns / 1e6);
            if (pass < 0)
                continue;
            pass_figures *f = plain_turn ? &plain : &eddy;
            f->rps[pass] = (double)opt.records / seconds;
            f->first_us[pass] = (double)first_ns / 1e3;
        }
    }
    eddy__consumer_destroy(consumer);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    double e = median(eddy.rps, opt.passes), p = median(plain.rps, opt.passes);
    printf("kafka step=consume records=%" PRId64 " size=%zu partitions=%d passes=%d batch=%d "
           "same_config=%s eddy_rps=%.0f base_rps=%.0f ratio=%.3f eddy_first_us=%.0f "
           "base_first_us=%.0f topic_batch_count=%.0f\n",
           opt.records, opt.size, opt.partitions, opt.passes, opt.consume_batch,
           same ? "yes" : "no", e, p, e / p, median(eddy.first_us, opt.passes),
           median(plain.first_us, opt.passes), topic_batches);
    fflush(stdout);
}

/* ---- Count: one application on the mock and on the embedded log ------------------------------ */

/* The input, the same for both backends. */
typedef struct count_input {
    uint32_t *draws;       /* each record's key index */
    uint32_t *true_counts; /* each key's number of records */
    uint32_t *sorted_keys; /* key indices in key order, to look keys up */
} count_input;

/* One backend: the settings that put a client or an application on it, its client. */
typedef struct count_backend {
    const char *name; /* "mock" or "log" */
    eddy_config *config;
    eddy__client *client;
    eddy_dev_kafka *dev;
    char in[96], out[96], app_id[96];
    int64_t first_of[PARTITIONS_MAX]; /* the first input record each partition got (-1: none) */
    int64_t last_of[PARTITIONS_MAX];  /* the last (-1: none) */
    int64_t start_ns;                 /* eddy_app_start() called */
    int64_t counting_ns;              /* the first record was counted */
    int64_t complete_ns;              /* the output was complete */
} count_backend;

static int key_index_compare(const void *a, const void *b)
{
    return memcmp(bench_key_table[*(const uint32_t *)a], bench_key_table[*(const uint32_t *)b],
                  BENCH_KEY_LEN);
}

static int key_lookup_compare(const void *key, const void *index)
{
    return memcmp(key, bench_key_table[*(const uint32_t *)index], BENCH_KEY_LEN);
}

static void count_on_delivery(eddy__producer *producer, const eddy__delivery *d, void *opaque)
{
    (void)producer;
    count_backend *be = opaque;
    if (d->err != EDDY_OK)
        bench_die("count: filling %s on the %s failed: %s", be->in, be->name,
                  eddy_err_name(d->err));
    int64_t i = (int64_t)(intptr_t)d->record_opaque - 1;
    if (d->partition < 0 || d->partition >= opt.partitions)
        bench_die("count: a record went to partition %d", (int)d->partition);
    if (i > be->last_of[d->partition])
        be->last_of[d->partition] = i;
    if (be->first_of[d->partition] < 0 || i < be->first_of[d->partition])
        be->first_of[d->partition] = i;
}

/* Creates the input and output topics and writes the input, untimed. */
static void count_fill(count_backend *be, const count_input *in)
{
    topic_make(be->dev, be->client, be->in, opt.partitions);
    topic_make(be->dev, be->client, be->out, opt.partitions);
    for (int p = 0; p < opt.partitions; p++)
        be->first_of[p] = be->last_of[p] = -1;
    eddy_config *config = eddy_config_new();
    bench_check(eddy_config_set(config, "acks", "1"), "acks");
    eddy__producer *producer = NULL;
    bench_check(eddy__producer_new(be->client, config, count_on_delivery, be, &producer),
                "eddy__producer_new");
    eddy_config_destroy(config);
    for (int64_t i = 0; i < opt.count_records; i++) {
        eddy_record record = {0};
        record.key = bench_key_at(in->draws[i]);
        record.value = bench_pool_value(i, COUNT_VALUE_LEN);
        record.timestamp_ms = -1;
        eddy_err err;
        while ((err = eddy__producer_send(producer, be->in, -1, &record,
                                          (void *)(intptr_t)(i + 1))) == EDDY_ERR_BUSY)
            eddy__producer_poll(producer, 1);
        bench_check(err, "eddy__producer_send");
        eddy__producer_poll(producer, 0);
    }
    bench_check(eddy__producer_flush(producer, 60000), "eddy__producer_flush");
    eddy__producer_destroy(producer);
}

static int64_t output_records(count_backend *be)
{
    int64_t total = 0;
    for (int p = 0; p < opt.partitions; p++) {
        int64_t high = 0;
        bench_check(eddy__client_watermarks(be->client, be->out, p, NULL, &high), be->out);
        total += high;
    }
    return total;
}

/* The count the store holds for key index `key` (0 when none). */
static uint64_t count_of(eddy_app *app, uint32_t key)
{
    void *value = NULL;
    size_t len = 0;
    eddy_err err = eddy_app_store_get(app, "counts", bench_key_at(key), &value, &len);
    uint64_t count = err == EDDY_OK && len == 8 ? eddy__be64_get(value) : 0;
    eddy_free(value);
    return count;
}

/* Whether some partition's first input record was counted. */
static bool count_started(eddy_app *app, const count_backend *be, const count_input *in)
{
    for (int p = 0; p < opt.partitions; p++)
        if (be->first_of[p] >= 0 && count_of(app, in->draws[be->first_of[p]]) > 0)
            return true;
    return false;
}

/* Whether every partition's last input record was counted: its key holds its final count (a
 * key's records all go to one partition, and a task counts its partition in order). */
static bool count_processed(eddy_app *app, const count_backend *be, const count_input *in)
{
    for (int p = 0; p < opt.partitions; p++) {
        if (be->last_of[p] < 0)
            continue;
        uint32_t key = in->draws[be->last_of[p]];
        if (count_of(app, key) != in->true_counts[key])
            return false;
    }
    return true;
}

/* Runs the application until its output is complete (timed), then closes it (untimed). */
static void count_run(count_backend *be, const count_input *in)
{
    eddy_builder *b = eddy_builder_new();
    eddy_table *counts =
        eddy_count(eddy_group_by_key(eddy_stream_from(b, be->in, NULL, NULL)), "counts");
    eddy_table_to(counts, be->out);
    be->counting_ns = -1;
    be->start_ns = bench_now_ns();
    eddy_app *app = bench_app_start_on(b, be->app_id, "in_memory", "0", be->config);
    for (;;) {
        if (be->counting_ns < 0 && count_started(app, be, in))
            be->counting_ns = bench_now_ns();
        if (be->counting_ns >= 0 && count_processed(app, be, in))
            break;
        bench_app_check(app, be->start_ns);
        bench_nap_us(1000);
    }
    for (;;) {
        int64_t written = output_records(be);
        if (written > opt.count_records)
            bench_die("count on the %s: the output holds %" PRId64 " records, not %" PRId64,
                      be->name, written, opt.count_records);
        if (written == opt.count_records)
            break;
        bench_app_check(app, be->start_ns);
        bench_nap_us(1000);
    }
    be->complete_ns = bench_now_ns();
    bench_timed_region("count", be->name, be->start_ns, be->complete_ns);
    bench_app_stop(app);
    eddy_builder_destroy(b);
}

/* Reads the output back: every key's last count must be its number of input records. */
static void count_check(count_backend *be, const count_input *in)
{
    eddy__consumer *consumer = NULL;
    bench_check(eddy__consumer_new(be->client, NULL, NULL, &consumer), "eddy__consumer_new");
    eddy__topic_partition_offset parts[PARTITIONS_MAX];
    for (int p = 0; p < opt.partitions; p++)
        parts[p] = (eddy__topic_partition_offset){be->out, p, EDDY_OFFSET_BEGINNING};
    bench_check(eddy__consumer_assign(consumer, parts, (size_t)opt.partitions), "assign");
    uint32_t *last = calloc((size_t)opt.count_keys, sizeof(*last));
    if (!last)
        bench_die("out of memory");
    int64_t start = bench_now_ns();
    for (int64_t read = 0; read < opt.count_records;) {
        eddy_record r;
        eddy_err err = eddy__consumer_poll(consumer, 100, &r);
        if (bench_now_ns() - start > STEP_DEADLINE_NS)
            bench_die("count on the %s: read %" PRId64 " output records of %" PRId64, be->name,
                      read, opt.count_records);
        if (err == EDDY_ERR_TIMED_OUT)
            continue;
        bench_check(err, "eddy__consumer_poll");
        const uint32_t *at = r.key.len == BENCH_KEY_LEN && r.value.len == 8
                                 ? bsearch(r.key.data, in->sorted_keys, (size_t)opt.count_keys,
                                           sizeof(uint32_t), key_lookup_compare)
                                 : NULL;
        if (!at)
            bench_die("count on the %s: the output holds a record that is not (a key, a count)",
                      be->name);
        last[*at] = (uint32_t)eddy__be64_get(r.value.data);
        read++;
    }
    eddy__consumer_destroy(consumer);
    for (int64_t k = 0; k < opt.count_keys; k++)
        if (last[k] != in->true_counts[k])
            bench_die("count on the %s: key %.13s ends at %" PRIu32 ", its input holds %" PRIu32
                      " records",
                      be->name, bench_key_table[k], last[k], in->true_counts[k]);
    free(last);
}

static void count_backend_open(count_backend *be, const char *name, const char *brokers)
{
    memset(be, 0, sizeof(*be));
    be->name = name;
    be->config = eddy_config_new();
    if (strcmp(name, "log") == 0) {
        bench_check(eddy_config_set(be->config, "log.dir", bench_log_dir), "log.dir");
    } else {
        if (!brokers) {
            bench_check(eddy_dev_kafka_start(1, &be->dev), "eddy_dev_kafka_start");
            brokers = eddy_dev_kafka_bootstrap(be->dev);
        }
        bench_check(eddy_config_set(be->config, "bootstrap.servers", brokers), "brokers");
        bench_check(eddy_config_set(be->config, "consumer.session.timeout.ms", "6000"), "st");
        bench_check(eddy_config_set(be->config, "consumer.heartbeat.interval.ms", "500"), "hb");
        bench_check(eddy_config_set(be->config, "consumer.fetch.wait.max.ms", "10"), "fw");
    }
    bench_check(eddy__client_new(be->config, &be->client), "eddy__client_new");
    snprintf(be->in, sizeof be->in, "bench-kafka-%s-count-in", tag);
    snprintf(be->out, sizeof be->out, "bench-kafka-%s-count-out", tag);
    snprintf(be->app_id, sizeof be->app_id, "bench-kafka-%s-count-%s", tag, name);
}

static void count_backend_close(count_backend *be)
{
    eddy__client_destroy(be->client);
    eddy_config_destroy(be->config);
    eddy_dev_kafka_stop(be->dev);
}

static void step_count(void)
{
    bench_keys_make(opt.count_keys);
    count_input in;
    in.draws = bench_draws_make(opt.count_records, opt.count_keys, 42);
    in.true_counts = calloc((size_t)opt.count_keys, sizeof(*in.true_counts));
    in.sorted_keys = malloc((size_t)opt.count_keys * sizeof(*in.sorted_keys));
    if (!in.true_counts || !in.sorted_keys)
        bench_die("out of memory");
    for (int64_t i = 0; i < opt.count_records; i++)
        in.true_counts[in.draws[i]]++;
    for (int64_t k = 0; k < opt.count_keys; k++)
        in.sorted_keys[k] = (uint32_t)k;
    qsort(in.sorted_keys, (size_t)opt.count_keys, sizeof(uint32_t), key_index_compare);

    count_backend mock, log;
    count_backend_open(&mock, "mock", opt.brokers);
    count_backend_open(&log, "log", NULL);
    count_fill(&mock, &in);
    count_fill(&log, &in);
    for (int p = 0; p < opt.partitions; p++)
        if (mock.last_of[p] != log.last_of[p])
            bench_die("count: partition %d's input differs between the backends", p);
    count_backend *order[2] = {&mock, &log};
    if (opt.plain_first) {
        order[0] = &log;
        order[1] = &mock;
    }
    for (int i = 0; i < 2; i++)
        count_run(order[i], &in);
    count_check(&mock, &in);
    count_check(&log, &in);

    double n = (double)opt.count_records;
    double mock_rps = n * 1e9 / (double)(mock.complete_ns - mock.start_ns);
    double log_rps = n * 1e9 / (double)(log.complete_ns - log.start_ns);
    double mock_counting = n * 1e9 / (double)(mock.complete_ns - mock.counting_ns);
    double log_counting = n * 1e9 / (double)(log.complete_ns - log.counting_ns);
    printf("kafka step=count records=%" PRId64 " keys=%" PRId64 " partitions=%d store=memory "
           "cache_bytes=0 mock_rps=%.0f log_rps=%.0f ratio=%.3f mock_counting_rps=%.0f "
           "log_counting_rps=%.0f ratio_counting=%.3f mock_start_us=%" PRId64
           " log_start_us=%" PRId64 "\n",
           opt.count_records, opt.count_keys, opt.partitions, mock_rps, log_rps, mock_rps / log_rps,
           mock_counting, log_counting, mock_counting / log_counting,
           (mock.counting_ns - mock.start_ns) / 1000, (log.counting_ns - log.start_ns) / 1000);
    fflush(stdout);
    count_backend_close(&mock);
    count_backend_close(&log);
    free(in.draws);
    free(in.true_counts);
    free(in.sorted_keys);
}

/* ---- main ---------------------------------------------------------------------------------- */

static const char usage[] =
    "usage: bench_kafka --dir D [--case all|produce|consume|count] [--passes K] [--plain-first]\n"
    "                   [--records N] [--size B] [--partitions P] [--produce-batch R]\n"
    "                   [--consume-batch R] [--count-records N] [--count-keys K]\n"
    "                   [--brokers HOST:PORT] [--verbose]\n";

static void parse(int argc, char **argv)
{
    static const struct option longs[] = {{"records", required_argument, NULL, 'n'},
                                          {"size", required_argument, NULL, 's'},
                                          {"partitions", required_argument, NULL, 'p'},
                                          {"passes", required_argument, NULL, 'k'},
                                          {"consume-batch", required_argument, NULL, 'r'},
                                          {"produce-batch", required_argument, NULL, 'q'},
                                          {"count-records", required_argument, NULL, 'N'},
                                          {"count-keys", required_argument, NULL, 'K'},
                                          {"dir", required_argument, NULL, 'd'},
                                          {"case", required_argument, NULL, 'c'},
                                          {"brokers", required_argument, NULL, 'b'},
                                          {"plain-first", no_argument, NULL, 'f'},
                                          {"verbose", no_argument, NULL, 'v'},
                                          {NULL, 0, NULL, 0}};
    opt = (options){.records = 200000,
                    .size = 100,
                    .partitions = 8,
                    .passes = 5,
                    .consume_batch = 1000,
                    .produce_batch = 1000,
                    .count_records = 200000,
                    .count_keys = 20000,
                    .which = "all"};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'n':
            opt.records = atoll(optarg);
            break;
        case 's':
            opt.size = (size_t)atoll(optarg);
            break;
        case 'p':
            opt.partitions = atoi(optarg);
            break;
        case 'k':
            opt.passes = atoi(optarg);
            break;
        case 'r':
            opt.consume_batch = atoi(optarg);
            break;
        case 'q':
            opt.produce_batch = atoi(optarg);
            break;
        case 'N':
            opt.count_records = atoll(optarg);
            break;
        case 'K':
            opt.count_keys = atoll(optarg);
            break;
        case 'd':
            opt.dir = optarg;
            break;
        case 'c':
            opt.which = optarg;
            break;
        case 'b':
            opt.brokers = optarg;
            break;
        case 'f':
            opt.plain_first = 1;
            break;
        case 'v':
            opt.verbose = 1;
            break;
        default:
            fputs(usage, stderr);
            exit(2);
        }
    }
    bool known = strcmp(opt.which, "all") == 0 || strcmp(opt.which, "produce") == 0 ||
                 strcmp(opt.which, "consume") == 0 || strcmp(opt.which, "count") == 0;
    if (!known || !opt.dir || opt.records < 1 || opt.size < 1 || opt.size > 1000000 ||
        opt.partitions < 1 || opt.partitions > PARTITIONS_MAX || opt.passes < 1 ||
        opt.passes > PASSES_MAX || opt.consume_batch < 1 || opt.produce_batch < 1 ||
        opt.count_records < 1 || opt.count_keys < 1) {
        fputs(usage, stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    snprintf(tag, sizeof tag, "%d", (int)getpid());
    bench_apps_init(opt.dir, "kafka");
    /* librdkafka's debug lines reach eddy's log at debug level (the sink counts batches and
     * keeps configurations): on for produce and consume, off for the applications. */
    eddy_logging_set_sink(bench_log_sink, NULL);
    eddy_logging_set_level(EDDY_LOG_DEBUG);
    if (step_runs("produce") || step_runs("consume")) {
        eddy_dev_kafka *dev = NULL;
        const char *brokers = opt.brokers;
        if (!brokers) {
            bench_check(eddy_dev_kafka_start(1, &dev), "eddy_dev_kafka_start");
            brokers = eddy_dev_kafka_bootstrap(dev);
        }
        eddy__client *client = seam_client("bootstrap.servers", brokers);
        uint8_t *value = malloc(opt.size);
        if (!value)
            bench_die("out of memory");
        bench_fill_pattern(value, opt.size, 42);
        if (step_runs("produce")) {
            step_produce(dev, client, brokers, value, 0);
            step_produce(dev, client, brokers, value, opt.produce_batch);
        }
        if (step_runs("consume"))
            step_consume(dev, client, brokers, value);
        free(value);
        eddy__client_destroy(client);
        eddy_dev_kafka_stop(dev);
    }
    eddy_logging_set_level(EDDY_LOG_WARN);
    if (step_runs("count"))
        step_count();
    bench_apps_close();
    return 0;
}
