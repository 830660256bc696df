/* Produce and consume throughput on Kafka through eddy's client seam (src/client, the Kafka
 * backend in src/kafka) against plain librdkafka code doing the same work, in the same run,
 * against the same broker: librdkafka's mock cluster, started in this process (issue 5's
 * benchmark; target: eddy >= 0.7x of plain librdkafka for each).
 *
 *   bench_kafka [--records N] [--size B] [--partitions P] [--brokers HOST:PORT]
 *
 * With --brokers the benchmark runs against that cluster instead (a real Kafka or Redpanda:
 * topics are created through the seam, so the broker must allow it).
 *
 * What both sides do:
 *   produce  N records of B bytes with 16-byte keys spread over P partitions (murmur2 of the key,
 *            librdkafka's murmur2_random), acks=all, idempotence on, linger.ms=5,
 *            batch.size=1000000 (the seam's defaults, set explicitly on the plain side), polling
 *            for delivery reports after every send and flushing at the end; every report must be
 *            a success. Timed from the first send until the flush returns.
 *   consume  the N records plain librdkafka's produce step wrote (both sides read that same
 *            topic, so both read identical batches), by manual assignment of
 *            every partition from the beginning, summing every value's bytes
 *            (bench_sum_bytes), until N records were read. Timed from assign to the last record.
 * The sides alternate which runs first (--plain-first). The mock keeps only each partition's
 * last ~5 MiB: N * B / P must stay well below that (the defaults: 200,000 x 100 B over 8
 * partitions, ~3 MB each), and the consume check fails loudly when records are missing.
 *
 * Output, one line per step:
 *   kafka step=produce records=N size=B partitions=P eddy_rps=... base_rps=... ratio=...
 */
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "client/client.h"
#include "eddy/eddy.h"

#define KEY_BYTES 16
/* How long a consume may take before the benchmark gives up (records are missing). */
#define CONSUME_DEADLINE_NS (120LL * 1000000000LL)

typedef struct options {
    int64_t records;
    size_t size;
    int partitions;
    const char *brokers;
    int plain_first;
} options;

static void key_of(char key[KEY_BYTES + 1], int64_t i)
{
    snprintf(key, KEY_BYTES + 1, "key-%011" PRId64, (i * 7919) % 1000003);
}

/* ---- plain librdkafka ---------------------------------------------------------------------- */

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

static double plain_produce(const options *o, const char *topic, const uint8_t *value)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", o->brokers);
    conf_set(conf, "acks", "all");
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "linger.ms", "5");
    conf_set(conf, "batch.size", "1000000");
    conf_set(conf, "partitioner", "murmur2_random");
    rd_kafka_conf_set_dr_msg_cb(conf, plain_on_delivery);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    plain_delivered = plain_failed = 0;
    int64_t start = bench_now_ns();
    for (int64_t i = 0; i < o->records; i++) {
        char key[KEY_BYTES + 1];
        key_of(key, i);
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, KEY_BYTES),
                RD_KAFKA_V_VALUE((void *)value, o->size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                bench_die("rd_kafka_producev: %s", rd_kafka_err2str(err));
            rd_kafka_poll(rk, 1);
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        bench_die("plain produce: flush timed out");
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    rd_kafka_destroy(rk);
    if (plain_delivered != o->records || plain_failed != 0)
        bench_die("plain produce: %" PRId64 " delivered, %" PRId64 " failed of %" PRId64,
                  plain_delivered, plain_failed, o->records);
    return (double)o->records / seconds;
}

static double plain_consume(const options *o, const char *topic, uint64_t *sum)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", o->brokers);
    conf_set(conf, "group.id", "bench-kafka-plain");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "fetch.wait.max.ms", "10");
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk)
        bench_die("rd_kafka_new: %s", errstr);
    rd_kafka_poll_set_consumer(rk); /* as librdkafka's consumer example does */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(o->partitions);
    for (int p = 0; p < o->partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    int64_t start = bench_now_ns(), read = 0;
    if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        bench_die("rd_kafka_assign failed");
    while (read < o->records) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (bench_now_ns() - start > CONSUME_DEADLINE_NS)
            bench_die("plain consume: %" PRId64 " of %" PRId64 " records after 120 s", read,
                      o->records);
        if (!m)
            continue;
        if (!m->err) {
            *sum += bench_sum_bytes(m->payload, m->len);
            read++;
        }
        rd_kafka_message_destroy(m);
    }
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    rd_kafka_assign(rk, NULL);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return (double)o->records / seconds;
}

/* ---- eddy's client seam -------------------------------------------------------------------- */

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

static eddy__client *seam_client(const options *o)
{
    eddy_config *config = eddy_config_new();
    bench_check(eddy_config_set(config, "bootstrap.servers", o->brokers), "bootstrap.servers");
    eddy__client *client = NULL;
    bench_check(eddy__client_new(config, &client), "eddy__client_new");
    eddy_config_destroy(config);
    return client;
}

static double seam_produce(const options *o, eddy__client *client, const char *topic,
                           const uint8_t *value)
{
    seam_reports reports = {0, 0};
    eddy__producer *producer = NULL;
    bench_check(eddy__producer_new(client, NULL, seam_on_delivery, &reports, &producer),
                "eddy__producer_new");
    int64_t start = bench_now_ns();
    for (int64_t i = 0; i < o->records; i++) {
        char key[KEY_BYTES + 1];
        key_of(key, i);
        eddy_record record = {0};
        record.key = (eddy_slice){key, KEY_BYTES};
        record.value = (eddy_slice){value, o->size};
        record.timestamp_ms = -1;
        eddy_err err;
        while ((err = eddy__producer_send(producer, topic, -1, &record, NULL)) == EDDY_ERR_BUSY)
            eddy__producer_poll(producer, 1);
        bench_check(err, "eddy__producer_send");
        eddy__producer_poll(producer, 0);
    }
    bench_check(eddy__producer_flush(producer, 60000), "eddy__producer_flush");
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    eddy__producer_destroy(producer);
    if (reports.delivered != o->records || reports.failed != 0)
        bench_die("eddy produce: %" PRId64 " delivered, %" PRId64 " failed of %" PRId64,
                  reports.delivered, reports.failed, o->records);
    return (double)o->records / seconds;
}

static double seam_consume(const options *o, eddy__client *client, const char *topic,
                           uint64_t *sum)
{
    eddy_config *config = eddy_config_new();
    bench_check(eddy_config_set(config, "fetch.wait.max.ms", "10"), "fetch.wait.max.ms");
    eddy__consumer *consumer = NULL;
    bench_check(eddy__consumer_new(client, "bench-kafka-eddy", config, &consumer),
                "eddy__consumer_new");
    eddy_config_destroy(config);
    eddy__topic_partition_offset *parts = calloc((size_t)o->partitions, sizeof *parts);
    for (int p = 0; p < o->partitions; p++)
        parts[p] = (eddy__topic_partition_offset){topic, p, EDDY_OFFSET_BEGINNING};
    int64_t start = bench_now_ns(), read = 0;
    bench_check(eddy__consumer_assign(consumer, parts, (size_t)o->partitions), "assign");
    while (read < o->records) {
        eddy_record record;
        eddy_err err = eddy__consumer_poll(consumer, 100, &record);
        if (bench_now_ns() - start > CONSUME_DEADLINE_NS)
            bench_die("eddy consume: %" PRId64 " of %" PRId64 " records after 120 s", read,
                      o->records);
        if (err == EDDY_ERR_TIMED_OUT)
            continue;
        bench_check(err, "eddy__consumer_poll");
        *sum += bench_sum_bytes(record.value.data, record.value.len);
        read++;
    }
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    eddy__consumer_destroy(consumer);
    free(parts);
    return (double)o->records / seconds;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void parse(int argc, char **argv, options *o)
{
    static const struct option longs[] = {{"records", required_argument, NULL, 'n'},
                                          {"size", required_argument, NULL, 's'},
                                          {"partitions", required_argument, NULL, 'p'},
                                          {"brokers", required_argument, NULL, 'b'},
                                          {"plain-first", no_argument, NULL, 'f'},
                                          {NULL, 0, NULL, 0}};
    *o = (options){200000, 100, 8, NULL, 0};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'n': o->records = atoll(optarg); break;
        case 's': o->size = (size_t)atoll(optarg); break;
        case 'p': o->partitions = atoi(optarg); break;
        case 'b': o->brokers = optarg; break;
        case 'f': o->plain_first = 1; break;
        default:
            fprintf(stderr, "usage: bench_kafka [--records N] [--size B] [--partitions P] "
                            "[--brokers HOST:PORT] [--plain-first]\n");
            exit(2);
        }
    }
    if (o->records < 1 || o->size < 1 || o->size > 1000000 || o->partitions < 1)
        bench_die("--records, --size (1..1000000) and --partitions must be positive");
}

int main(int argc, char **argv)
{
    options o;
    parse(argc, argv, &o);
    rd_kafka_t *owner = NULL;
    rd_kafka_mock_cluster_t *mock = NULL;
    if (!o.brokers) {
        /* The mock cluster lives on a producer handle of its own. */
        char errstr[512];
        owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
        if (!owner || !(mock = rd_kafka_mock_cluster_new(owner, 1)))
            bench_die("cannot start librdkafka's mock cluster: %s", errstr);
        o.brokers = rd_kafka_mock_cluster_bootstraps(mock);
    }
    eddy__client *client = seam_client(&o);
    const char *topics[2] = {"bench-kafka-eddy", "bench-kafka-plain"};
    for (int i = 0; i < 2; i++) {
        if (mock)
            rd_kafka_mock_topic_create(mock, topics[i], o.partitions, 1);
        else
            bench_check(eddy__client_topic_create(client, topics[i], o.partitions, NULL,
                                                  EDDY__TOPIC_IF_NOT_EXISTS),
                        topics[i]);
    }
    uint8_t *value = malloc(o.size);
    bench_fill_pattern(value, o.size, 42);

    double eddy_produce = 0, plain = 0;
    for (int side = 0; side < 2; side++) {
        if ((side == 0) == (o.plain_first != 0))
            plain = plain_produce(&o, topics[1], value);
        else
            eddy_produce = seam_produce(&o, client, topics[0], value);
    }
    printf("kafka step=produce records=%" PRId64 " size=%zu partitions=%d eddy_rps=%.0f "
           "base_rps=%.0f ratio=%.3f\n",
           o.records, o.size, o.partitions, eddy_produce, plain, eddy_produce / plain);
    fflush(stdout);

    /* Both read what the plain producer wrote: the same batches, byte for byte. */
    uint64_t eddy_sum = 0, plain_sum = 0;
    double eddy_consume = 0, plain_rate = 0;
    for (int side = 0; side < 2; side++) {
        if ((side == 0) == (o.plain_first != 0))
            plain_rate = plain_consume(&o, topics[1], &plain_sum);
        else
            eddy_consume = seam_consume(&o, client, topics[1], &eddy_sum);
    }
    if (eddy_sum != plain_sum)
        bench_die("the two consumers read different bytes (%" PRIu64 " vs %" PRIu64 ")", eddy_sum,
                  plain_sum);
    printf("kafka step=consume records=%" PRId64 " size=%zu partitions=%d eddy_rps=%.0f "
           "base_rps=%.0f ratio=%.3f\n",
           o.records, o.size, o.partitions, eddy_consume, plain_rate, eddy_consume / plain_rate);
    eddy__client_destroy(client);
    free(value);
    if (mock)
        rd_kafka_mock_cluster_destroy(mock);
    if (owner)
        rd_kafka_destroy(owner);
    return 0;
}
