/* The Kafka backend of the client seam: the client, librdkafka configuration and error mapping.
 * admin.c, producer.c and consumer.c hold the rest; docs/client.md maps every seam call
 * onto librdkafka and docs/kafka.md says how to run eddy against a cluster.
 *
 * Configuration: the client's configuration (an application's whole configuration, when the
 * runtime makes the client) is turned into one rd_kafka_conf_t that every handle starts from;
 * a producer's or consumer's own configuration is applied on top of it. Every key passes to
 * rd_kafka_conf_set() except eddy's and Kafka Streams' own keys and the seam's producer and
 * consumer keys, which client.c has read and checked and the backends set from its settings.
 * Keys the seam's contract rests on (group.id, partitioner, partition.assignment.strategy,
 * enable.auto.offset.store) are refused. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/logging.h"
#include "kafka/kafka.h"

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */

eddy_err eddy__kafka_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return EDDY_OK;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return EDDY_ERR_UNKNOWN_TOPIC;
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return EDDY_ERR_UNKNOWN_PARTITION;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return EDDY_ERR_BUSY;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return EDDY_ERR_TOO_LARGE;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    /* The group's coordinator cannot be reached for now: worth another try later. */
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        return EDDY_ERR_TIMED_OUT;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
        return EDDY_ERR_OFFSET_OUT_OF_RANGE;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
        return EDDY_ERR_EXISTS;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        return EDDY_ERR_INVALID_ARGUMENT;
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
        return EDDY_ERR_CONFIG;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        return EDDY_ERR_PERMISSION;
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
        return EDDY_ERR_BUSY; /* the group is rebalancing: try again once it is done */
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
        return EDDY_ERR_STATE;
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
        return EDDY_ERR_CORRUPT;
    case RD_KAFKA_RESP_ERR__NOENT:
        return EDDY_ERR_NOT_FOUND;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
        return EDDY_ERR_FATAL;
    default:
        return EDDY_ERR_IO;
    }
}

eddy_err eddy__kafka_fail(rd_kafka_resp_err_t err, const char *context)
{
    return eddy__fail(eddy__kafka_err(err), "%s: %s", context, rd_kafka_err2str(err));
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                              */

/* eddy's and Kafka Streams' own keys (src/runtime/config.c knows them), which librdkafka must
 * not see, and the seam's producer and consumer keys, which client.c reads and the backends
 * set from its settings. */
static const char *const own_keys[] = {
    "application.id", "application.server", "commit.interval.ms", "log.dir", "max.task.idle.ms",
    "num.standby.replicas", "num.stream.threads", "poll.ms", "replication.factor", "state.dir",
    "statestore.cache.max.bytes", "cache.max.bytes.buffering", "segment.bytes", "segment.ms",
    "retention.ms", "retention.bytes", "cleanup.policy",
    /* the seam's */
    "acks", "linger.ms", "batch.size", "queue.buffering.max.messages", "auto.offset.reset",
    "enable.auto.commit", "auto.commit.interval.ms", NULL};

/* Prefixes of eddy's and Kafka Streams' own keys. Streams' "topic." prefix (internal topics'
 * configuration) overlaps librdkafka's topic.metadata.* and topic.blacklist, which pass. */
static const char *const own_prefixes[] = {"eddy.",
                                           "default.",
                                           "processing.",
                                           "errors.",
                                           "rocksdb.",
                                           "statestore.",
                                           "consumer.",
                                           "producer.",
                                           "main.consumer.",
                                           "restore.consumer.",
                                           "global.consumer.",
                                           "admin.",
                                           "topic.",
                                           NULL};

/* Keys the backend sets itself because the seam's contract rests on them. */
static const char *const fixed_keys[] = {"group.id", "partitioner", "partition.assignment.strategy",
                                         "enable.auto.offset.store", NULL};

static int key_listed(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], key) == 0)
            return 1;
    return 0;
}

static int key_is_own(const char *key)
{
    if (key_listed(own_keys, key))
        return 1;
    if (strncmp(key, "topic.metadata.", 15) == 0 || strcmp(key, "topic.blacklist") == 0)
        return 0;
    for (size_t i = 0; own_prefixes[i]; i++)
        if (strncmp(key, own_prefixes[i], strlen(own_prefixes[i])) == 0)
            return 1;
    return 0;
}

eddy_err eddy__kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                              const char *what)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return eddy__fail(EDDY_ERR_CONFIG, "%s: config %s: '%s': %s", what, key, value, errstr);
    return EDDY_OK;
}

eddy_err eddy__kafka_conf_apply(rd_kafka_conf_t *conf, const eddy_config *config, const char *what)
{
    size_t count = config ? eddy_config_count(config) : 0;
    for (size_t i = 0; i < count; i++) {
        const char *key, *value;
        eddy_config_at(config, i, &key, &value);
        if (key_is_own(key))
            continue;
        if (key_listed(fixed_keys, key))
            return eddy__fail(EDDY_ERR_CONFIG,
                              "%s: config %s: '%s': eddy sets this librdkafka property itself "
                              "(docs/kafka.md)",
                              what, key, value);
        eddy_err err = eddy__kafka_conf_set(conf, key, value, what);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

eddy_err eddy__kafka_property_check(const char *key, const char *value)
{
    if (key_is_own(key))
        return EDDY_ERR_NOT_FOUND;
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    char errstr[512];
    rd_kafka_conf_res_t res = rd_kafka_conf_set(scratch, key, value, errstr, sizeof(errstr));
    rd_kafka_conf_destroy(scratch);
    if (res == RD_KAFKA_CONF_UNKNOWN)
        return EDDY_ERR_NOT_FOUND;
    if (res != RD_KAFKA_CONF_OK)
        return eddy__fail(EDDY_ERR_CONFIG, "config %s: '%s': %s", key, value, errstr);
    if (key_listed(fixed_keys, key))
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config %s: '%s': eddy sets this librdkafka property itself", key, value);
    return EDDY_OK;
}

/* librdkafka's log lines (syslog levels) on eddy's log, at most as warnings: librdkafka logs a
 * broker it cannot reach as an error and goes on retrying, and what does fail reaches eddy as
 * an error code. Called from librdkafka's threads; eddy's logging writes each line with one
 * call, so that is safe. */
static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *line)
{
    eddy_log_level eddy_level = level <= 4   ? EDDY_LOG_WARN
                                : level <= 6 ? EDDY_LOG_INFO
                                             : EDDY_LOG_DEBUG;
    /* The shared base configuration gives producers consumer properties and the other way
     * round; librdkafka warns that it ignores them, which is expected here. */
    if (strcmp(facility, "CONFWARN") == 0 && strstr(line, "will be ignored by this"))
        eddy_level = EDDY_LOG_DEBUG;
    EDDY_LOG(eddy_level, KAFKA_MODULE, "%s %s: %s", rd_kafka_name(rk), facility, line);
}

void eddy__kafka_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[256];
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        EDDY_ERROR(KAFKA_MODULE, "%s: fatal error: %s", rd_kafka_name(rk), fatal);
    } else if (err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        /* Brokers close idle connections; librdkafka reconnects. */
        EDDY_DEBUG(KAFKA_MODULE, "%s: %s", rd_kafka_name(rk), reason);
    } else {
        EDDY_WARN(KAFKA_MODULE, "%s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
    }
}

rd_kafka_conf_t *eddy__kafka_conf_dup(const kafka_client *client)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(client->conf);
    if (!conf)
        eddy__fail(EDDY_ERR_NO_MEMORY, "kafka: out of memory for a configuration");
    return conf;
}

/* ------------------------------------------------------------------------------------------ */
/* Client                                                                                     */

static void client_destroy(eddy__client *client)
{
    kafka_client *c = (kafka_client *)client;
    if (c->admin)
        rd_kafka_destroy(c->admin);
    if (c->conf)
        rd_kafka_conf_destroy(c->conf);
    eddy__free(c->bootstrap);
    eddy__free(c);
}

static const eddy__client_ops kafka_client_ops = {
    .name = "kafka",
    .destroy = client_destroy,
    .topic_create = eddy__kafka_topic_create,
    .topic_delete = eddy__kafka_topic_delete,
    .topic_partitions = eddy__kafka_admin_partitions,
    .topic_list = eddy__kafka_topic_list,
    .watermarks = eddy__kafka_watermarks,
    .producer_new = eddy__kafka_producer_new,
    .consumer_new = eddy__kafka_consumer_new,
};

/* The admin handle: a producer-type handle that sends nothing but admin and metadata
 * requests. */
static eddy_err admin_new(kafka_client *c)
{
    char errstr[512];
    rd_kafka_conf_t *conf = eddy__kafka_conf_dup(c);
    if (!conf)
        return EDDY_ERR_NO_MEMORY;
    eddy_err err = eddy__kafka_conf_set(conf, "client.id", "eddy-admin", "client");
    if (err != EDDY_OK) {
        rd_kafka_conf_destroy(conf);
        return err;
    }
    c->admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!c->admin) {
        rd_kafka_conf_destroy(conf);
        return eddy__fail(EDDY_ERR_CONFIG, "client: librdkafka refuses the configuration: %s",
                          errstr);
    }
    return EDDY_OK;
}

eddy_err eddy__kafka_client_new(const eddy_config *config, eddy__client **out)
{
    kafka_client *c = eddy__calloc(1, sizeof(*c));
    if (!c)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "client: out of memory");
    c->base.ops = &kafka_client_ops;
    int64_t replication = -1;
    eddy_err err =
        eddy_config_get_i64(config, "replication.factor", -1, -1, INT16_MAX, &replication);
    if (err == EDDY_OK && replication == 0)
        err = eddy__fail(EDDY_ERR_CONFIG,
                         "config replication.factor: '0' is not -1 (the broker's default) or a "
                         "replica count");
    c->replication_factor = (int32_t)replication;
    const char *servers = eddy_config_get(config, "bootstrap.servers");
    if (err == EDDY_OK && !(c->bootstrap = eddy__strdup(servers)))
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "client: out of memory");
    if (err == EDDY_OK && !(c->conf = rd_kafka_conf_new()))
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "client: out of memory");
    if (err == EDDY_OK) {
        rd_kafka_conf_set_log_cb(c->conf, on_log);
        err = eddy__kafka_conf_apply(c->conf, config, "client");
    }
    if (err == EDDY_OK)
        err = admin_new(c);
    if (err != EDDY_OK) {
        client_destroy(&c->base);
        return err;
    }
    *out = &c->base;
    return EDDY_OK;
}
