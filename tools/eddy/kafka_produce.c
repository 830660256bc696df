/*
 * eddy topic produce against Kafka: the lines of stdin (split by cli_produce_stdin, as for the
 * embedded log) go to a librdkafka producer.
 *
 * Defaults, each overridable with -X: acks=all and enable.idempotence=true (with --acks 1:
 * acks=1 without idempotence, which requires acks=all), partitioner=murmur2_random (a key
 * lands where Java clients and eddy's embedded log put it) and message.timeout.ms equal to
 * --timeout-ms, so that an unreachable broker fails records instead of holding them for five
 * minutes.
 *
 * Only acknowledged records count: the delivery report callback counts successes and keeps
 * the first failure; the final flush waits at most --timeout-ms, and any record still
 * unacknowledged then is purged and reported (exit 1), never counted as produced.
 */
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

/* Longest wait for room in librdkafka's queue before retrying a record. */
#define KAFKA_PRODUCE_QUEUE_WAIT_MS 100

typedef struct kafka_producer {
    cli_kafka kafka;
    const cli_produce_options *options;
    rd_kafka_headers_t *headers; /* the -H headers; each record gets a copy */
    uint64_t delivered;
    uint64_t failed;
    char first_failure[512]; /* the first delivery error, "" when none */
} kafka_producer;

/* Called from rd_kafka_poll / rd_kafka_flush on this thread. */
static void on_delivery(rd_kafka_t *handle, const rd_kafka_message_t *message, void *opaque)
{
    (void)handle;
    kafka_producer *p = opaque;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->delivered++;
        return;
    }
    if (p->failed++ == 0) {
        snprintf(p->first_failure, sizeof(p->first_failure), "%s", rd_kafka_err2str(message->err));
    }
}

static uint64_t kafka_produced(const void *opaque)
{
    return ((const kafka_producer *)opaque)->delivered;
}

/* Waits for every queued record; what is still unacknowledged after the timeout is purged
 * and reported. */
static int kafka_flush(void *opaque)
{
    kafka_producer *p = opaque;
    rd_kafka_t *handle = p->kafka.handle;
    rd_kafka_flush(handle, p->kafka.timeout_ms);
    int outstanding = rd_kafka_outq_len(handle);
    if (outstanding > 0) {
        rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(handle, 0); /* the purged records' delivery reports */
        char what[256];
        snprintf(what, sizeof(what),
                 "waiting for acknowledgements (%llu records produced to %s, the others not)",
                 (unsigned long long)p->delivered, p->options->topic);
        return cli_kafka_timeout_error(&p->kafka, what);
    }
    char fatal[512];
    if (rd_kafka_fatal_error(handle, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cli_error("the producer failed: %s (%llu records produced to %s)", fatal,
                  (unsigned long long)p->delivered, p->options->topic);
        return CLI_EXIT_RUNTIME;
    }
    if (p->failed > 0) {
        cli_error("%llu record%s not produced to %s: %s (%llu records produced)",
                  (unsigned long long)p->failed, p->failed == 1 ? " was" : "s were",
                  p->options->topic, p->first_failure, (unsigned long long)p->delivered);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* Queues one record, waiting for room in librdkafka's queue when it is full. */
static int kafka_add(void *opaque, const eddy_record *record)
{
    kafka_producer *p = opaque;
    rd_kafka_t *handle = p->kafka.handle;
    for (;;) {
        rd_kafka_headers_t *headers = p->headers ? rd_kafka_headers_copy(p->headers) : NULL;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            handle, RD_KAFKA_V_TOPIC(p->options->topic),
            RD_KAFKA_V_PARTITION(record->partition >= 0 ? record->partition
                                                        : RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(record->key.data, record->key.len),
            RD_KAFKA_V_VALUE((void *)record->value.data, record->value.len),
            RD_KAFKA_V_TIMESTAMP(record->timestamp_ms >= 0 ? record->timestamp_ms : 0),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_poll(handle, 0);
            return CLI_EXIT_OK;
        }
        if (headers != NULL) {
            rd_kafka_headers_destroy(headers); /* taken only on success */
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            int status = kafka_flush(p);
            if (status == CLI_EXIT_OK) {
                cli_error("%s (%llu records produced to %s before this error)",
                          rd_kafka_err2str(err), (unsigned long long)p->delivered,
                          p->options->topic);
            }
            return CLI_EXIT_RUNTIME;
        }
        rd_kafka_poll(handle, KAFKA_PRODUCE_QUEUE_WAIT_MS);
    }
}

static rd_kafka_headers_t *make_headers(const cli_produce_options *options)
{
    if (options->header_count == 0) {
        return NULL;
    }
    rd_kafka_headers_t *headers = rd_kafka_headers_new(options->header_count);
    for (size_t i = 0; i < options->header_count; i++) {
        const eddy_header *h = &options->headers[i];
        rd_kafka_header_add(headers, h->key.data, (ssize_t)h->key.len, h->value.data,
                            (ssize_t)h->value.len);
    }
    return headers;
}

static int open_producer(const cli_global *global, kafka_producer *p)
{
    char timeout[24];
    snprintf(timeout, sizeof(timeout), "%d", global->timeout_ms);
    bool acks_all = p->options->acks_all;
    const char *const defaults[] = {
        "acks",        acks_all ? "all" : "1", "enable.idempotence", acks_all ? "true" : "false",
        "partitioner", "murmur2_random",       "message.timeout.ms", timeout,
        NULL};
    rd_kafka_conf_t *conf = NULL;
    int status = cli_kafka_conf(global, defaults, &conf);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    return cli_kafka_open(global, RD_KAFKA_PRODUCER, conf, &p->kafka);
}

int cli_kafka_produce(const cli_global *global, const cli_produce_options *options)
{
    kafka_producer *p = cli_alloc(sizeof(*p));
    *p = (kafka_producer){.options = options};
    int32_t partitions = 0;
    int status = open_producer(global, p);
    if (status == CLI_EXIT_OK) {
        /* Checked before the first record: producing to an unknown topic would create it. */
        status = cli_kafka_topic_partitions(&p->kafka, options->topic, &partitions);
    }
    if (status == CLI_EXIT_OK && options->partition >= partitions) {
        status = cli_partition_error(options->topic, options->partition, partitions);
    }
    if (status == CLI_EXIT_OK) {
        p->headers = make_headers(options);
        const cli_produce_sink sink = {kafka_add, kafka_flush, kafka_produced, p};
        status = cli_produce_stdin(options, &sink);
    }
    if (p->kafka.handle != NULL && rd_kafka_outq_len(p->kafka.handle) > 0) {
        rd_kafka_purge(p->kafka.handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->kafka.handle, 0);
    }
    if (p->headers != NULL) {
        rd_kafka_headers_destroy(p->headers);
    }
    cli_kafka_close(&p->kafka);
    free(p);
    return status;
}
