/*
 * The command line against Kafka: client configuration, metadata, and the topic and group
 * commands (create, list, describe, delete; group list, describe). Produce and consume live in
 * kafka_produce.c and kafka_consume.c; kafka.h says what they share.
 *
 * Topic existence is always checked in an all-topics Metadata request: librdkafka's mock
 * cluster creates any topic a Metadata request names. The mock answers no Admin API either
 * (CreateTopics, DeleteTopics and DescribeConfigs wait for a controller it never names, until
 * the timeout; ListGroups and DescribeGroups are refused at once as unsupported), so:
 *   - topic create asks a development cluster (`eddy dev kafka`, found through its control
 *     channel) to create the topics, and otherwise, when CreateTopics times out or is
 *     unsupported, tries that channel too before naming the topics an operator must create;
 *   - topic delete and the CONFIGS section of topic describe say the broker did not answer;
 *   - group describe builds on what the mock does answer: committed offsets (OffsetFetch,
 *     through a consumer of the group that never joins it) and watermarks (ListOffsets).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/dev_kafka.h"
#include "kafka.h"

/* Extra time given to an admin request's result queue beyond the request's own timeout,
 * which librdkafka enforces: the result (even a timeout) arrives within it. */
#define KAFKA_ADMIN_QUEUE_SLACK_MS 2000
/* The reply buffer of the development cluster probe: only whether it answers matters. */
#define KAFKA_DEV_REPLY_BYTES 4096

/* ------------------------------------------------------------------------------------------ */
/* Configuration and the client handle                                                        */

/* librdkafka's last error-level log line, for timeout messages. Its log callback runs on its
 * own threads, hence the lock. */
static pthread_mutex_t last_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[512];
static bool log_verbose;

static void on_log(const rd_kafka_t *handle, int level, const char *facility, const char *message)
{
    (void)handle;
    if (level <= 4) { /* syslog's error and warning levels */
        /* Without the "[thrd:NAME]: " prefix of some of librdkafka's lines. */
        const char *end = strncmp(message, "[thrd:", 6) == 0 ? strstr(message, "]: ") : NULL;
        pthread_mutex_lock(&last_error_lock);
        snprintf(last_error, sizeof(last_error), "%s", end ? end + 3 : message);
        pthread_mutex_unlock(&last_error_lock);
    }
    if (log_verbose) {
        fprintf(stderr, "eddy: librdkafka: %s: %s\n", facility, message);
    }
}

int cli_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char error[512];
    if (rd_kafka_conf_set(conf, key, value, error, sizeof(error)) != RD_KAFKA_CONF_OK) {
        cli_error("-X '%s=%s': %s", key, value, error);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_kafka_conf(const cli_global *global, const char *const *defaults, rd_kafka_conf_t **out)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    log_verbose = global->verbose;
    rd_kafka_conf_set_log_cb(conf, on_log);
    int status = cli_kafka_conf_set(conf, "client.id", "eddy");
    for (size_t i = 0; defaults != NULL && defaults[i] != NULL && status == CLI_EXIT_OK; i += 2) {
        status = cli_kafka_conf_set(conf, defaults[i], defaults[i + 1]);
    }
    if (status == CLI_EXIT_OK && global->brokers != NULL) {
        status = cli_kafka_conf_set(conf, "bootstrap.servers", global->brokers);
    }
    for (size_t i = 0; i < global->kafka_properties.count && status == CLI_EXIT_OK; i++) {
        /* Checked as KEY=VALUE by the argument parser; the key is copied to cut it. */
        const char *pair = global->kafka_properties.items[i];
        const char *equals = strchr(pair, '=');
        char *key = cli_strdup(pair);
        key[equals - pair] = '\0';
        /* kcat's name for the brokers. */
        status = cli_kafka_conf_set(conf, strcmp(key, "brokers") == 0 ? "bootstrap.servers" : key,
                                    equals + 1);
        free(key);
    }
    if (status != CLI_EXIT_OK) {
        rd_kafka_conf_destroy(conf);
        return status;
    }
    *out = conf;
    return CLI_EXIT_OK;
}

int cli_kafka_open(const cli_global *global, rd_kafka_type_t type, rd_kafka_conf_t *conf,
                   cli_kafka *out)
{
    *out = (cli_kafka){.timeout_ms = global->timeout_ms};
    size_t size = sizeof(out->bootstrap);
    if (rd_kafka_conf_get(conf, "bootstrap.servers", out->bootstrap, &size) != RD_KAFKA_CONF_OK) {
        out->bootstrap[0] = '\0';
    }
    char error[512];
    out->handle = rd_kafka_new(type, conf, error, sizeof(error));
    if (out->handle == NULL) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes it only on success */
        cli_error("librdkafka refused the configuration: %s", error);
        return CLI_EXIT_USAGE;
    }
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_poll_set_consumer(out->handle);
    }
    return CLI_EXIT_OK;
}

void cli_kafka_close(cli_kafka *kafka)
{
    if (kafka->handle != NULL) {
        rd_kafka_destroy_flags(kafka->handle, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        kafka->handle = NULL;
    }
}

int cli_kafka_open_admin(const cli_global *global, cli_kafka *kafka)
{
    rd_kafka_conf_t *conf = NULL;
    int status = cli_kafka_conf(global, NULL, &conf);
    return status == CLI_EXIT_OK ? cli_kafka_open(global, RD_KAFKA_PRODUCER, conf, kafka) : status;
}

int cli_kafka_timeout_error(cli_kafka *kafka, const char *what)
{
    pthread_mutex_lock(&last_error_lock);
    char detail[sizeof(last_error)];
    snprintf(detail, sizeof(detail), "%s", last_error);
    pthread_mutex_unlock(&last_error_lock);
    cli_error("no answer from the brokers at %s within %d ms while %s%s%s%s", kafka->bootstrap,
              kafka->timeout_ms, what, detail[0] ? " (last error: " : "", detail,
              detail[0] ? ")" : "");
    return CLI_EXIT_RUNTIME;
}

int cli_kafka_error(cli_kafka *kafka, rd_kafka_resp_err_t err, const char *what)
{
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        return cli_kafka_timeout_error(kafka, what);
    }
    cli_error("%s on the brokers at %s: %s", what, kafka->bootstrap, rd_kafka_err2str(err));
    return CLI_EXIT_RUNTIME;
}

/* ------------------------------------------------------------------------------------------ */
/* Metadata                                                                                   */

int cli_kafka_metadata(cli_kafka *kafka, const struct rd_kafka_metadata **out)
{
    rd_kafka_resp_err_t err = rd_kafka_metadata(kafka->handle, 1, NULL, out, kafka->timeout_ms);
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? CLI_EXIT_OK
                                             : cli_kafka_error(kafka, err, "fetching metadata");
}

const struct rd_kafka_metadata_topic *cli_kafka_find_topic(const struct rd_kafka_metadata *metadata,
                                                           const char *name)
{
    for (int i = 0; i < metadata->topic_cnt; i++) {
        if (strcmp(metadata->topics[i].topic, name) == 0 &&
            metadata->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            return &metadata->topics[i];
        }
    }
    return NULL;
}

static int unknown_topic(const cli_kafka *kafka, const char *topic)
{
    cli_error("unknown topic '%s' on the brokers at %s (see 'eddy topic list')", topic,
              kafka->bootstrap);
    return CLI_EXIT_RUNTIME;
}

int cli_kafka_topic_partitions(cli_kafka *kafka, const char *topic, int32_t *partitions)
{
    const struct rd_kafka_metadata *metadata = NULL;
    int status = cli_kafka_metadata(kafka, &metadata);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    const struct rd_kafka_metadata_topic *found = cli_kafka_find_topic(metadata, topic);
    if (found == NULL) {
        status = unknown_topic(kafka, topic);
    } else if (found->err != RD_KAFKA_RESP_ERR_NO_ERROR || found->partition_cnt <= 0) {
        cli_error("topic '%s' on the brokers at %s: %s", topic, kafka->bootstrap,
                  rd_kafka_err2str(found->err));
        status = CLI_EXIT_RUNTIME;
    } else {
        *partitions = found->partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
    return status;
}

int cli_kafka_watermarks(cli_kafka *kafka, const char *topic, int32_t partition, int64_t *low,
                         int64_t *high)
{
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(kafka->handle, topic, partition, low,
                                                               high, kafka->timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[300];
        snprintf(what, sizeof(what), "reading the offsets of %s[%d]", topic, (int)partition);
        return cli_kafka_error(kafka, err, what);
    }
    return CLI_EXIT_OK;
}

/* Whether the brokers are a development cluster (`eddy dev kafka`): it answers on its control
 * channel, and it is known to answer no Admin API. */
static bool is_dev_cluster(const cli_kafka *kafka)
{
    char reply[KAFKA_DEV_REPLY_BYTES];
    return eddy_dev_kafka_request_at(kafka->bootstrap, "topics", reply, sizeof(reply)) == EDDY_OK;
}

/* Fails when any of @p names exists (@p want_exist false) or does not (true). */
static int check_topics(cli_kafka *kafka, const struct rd_kafka_metadata *metadata,
                        const cli_list *names, bool want_exist)
{
    for (size_t i = 0; i < names->count; i++) {
        bool exists = cli_kafka_find_topic(metadata, names->items[i]) != NULL;
        if (exists && !want_exist) {
            cli_error("topic '%s' already exists on the brokers at %s", names->items[i],
                      kafka->bootstrap);
            return CLI_EXIT_RUNTIME;
        }
        if (!exists && want_exist) {
            return unknown_topic(kafka, names->items[i]);
        }
    }
    return CLI_EXIT_OK;
}

/* Opens an admin client and checks @p names against the metadata. */
static int open_checked(const cli_global *global, const cli_list *names, bool want_exist,
                        cli_kafka *kafka, const struct rd_kafka_metadata **metadata)
{
    int status = cli_kafka_open_admin(global, kafka);
    if (status == CLI_EXIT_OK) {
        status = cli_kafka_metadata(kafka, metadata);
    }
    if (status == CLI_EXIT_OK) {
        status = check_topics(kafka, *metadata, names, want_exist);
    }
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Admin requests                                                                             */

/* Runs one admin request started by @p start on a fresh queue and waits for its result event,
 * or returns NULL when none came in time. */
static rd_kafka_event_t *admin_wait(cli_kafka *kafka, rd_kafka_queue_t *queue)
{
    return rd_kafka_queue_poll(queue, kafka->timeout_ms + KAFKA_ADMIN_QUEUE_SLACK_MS);
}

static rd_kafka_AdminOptions_t *admin_options(cli_kafka *kafka, rd_kafka_admin_op_t op)
{
    char error[256];
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(kafka->handle, op);
    rd_kafka_AdminOptions_set_request_timeout(options, kafka->timeout_ms, error, sizeof(error));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
        rd_kafka_AdminOptions_set_operation_timeout(options, kafka->timeout_ms, error,
                                                    sizeof(error));
    }
    return options;
}

/* Whether an admin request's failure means "this broker does not do that": no answer in time
 * (the mock never names a controller) or a request the broker does not support. */
static bool admin_unanswered(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
           err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION;
}

/* Prints the TOPIC / STATUS table, header only when it has rows. */
static void print_status_table(cli_table *table)
{
    if (table->count > table->columns) {
        cli_table_print(table, stdout);
    }
    cli_table_free(table);
}

/* ------------------------------------------------------------------------------------------ */
/* topic create                                                                               */

/* The line an operator needs when nothing here can create the topics. */
static int create_by_hand(cli_kafka *kafka, const cli_list *names, int32_t partitions,
                          const char *why)
{
    char topics[1024];
    size_t n = 0;
    topics[0] = '\0';
    for (size_t i = 0; i < names->count && n < sizeof(topics); i++) {
        n += (size_t)snprintf(topics + n, sizeof(topics) - n, "%s'%s'", i > 0 ? ", " : "",
                              names->items[i]);
    }
    cli_error("the brokers at %s did not create the topic%s (%s): create %s with %d partition%s "
              "by hand",
              kafka->bootstrap, names->count == 1 ? "" : "s", why, topics, (int)partitions,
              partitions == 1 ? "" : "s");
    return CLI_EXIT_RUNTIME;
}

/* Creates the topics through the development cluster's control channel. @p why is the reason
 * CreateTopics was not used, for the message when there is no development cluster either. */
static int create_on_dev_cluster(cli_kafka *kafka, const cli_list *names, int32_t partitions,
                                 bool configs_given, const char *why)
{
    static const char *const headers[] = {"TOPIC", "STATUS"};
    cli_table table;
    cli_table_init(&table, 2, headers);
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < names->count && status == CLI_EXIT_OK; i++) {
        eddy_err err =
            eddy_dev_kafka_create_topic_at(kafka->bootstrap, names->items[i], partitions);
        if (err == EDDY_ERR_NOT_FOUND && i == 0) {
            status = create_by_hand(kafka, names, partitions, why);
        } else if (err == EDDY_ERR_EXISTS) {
            cli_error("topic '%s' already exists on the brokers at %s", names->items[i],
                      kafka->bootstrap);
            status = CLI_EXIT_RUNTIME;
        } else if (err != EDDY_OK) {
            status = cli_library_error(err, names->items[i]);
        } else {
            cli_table_cell(&table, "%s", names->items[i]);
            cli_table_cell(&table,
                           configs_given ? "OK (development cluster: configs ignored)" : "OK");
        }
    }
    print_status_table(&table);
    return status;
}

/* The CreateTopics request; sets *unanswered when the broker does not do it. */
static int create_with_admin(cli_kafka *kafka, const cli_list *names, int32_t partitions,
                             int32_t replicas, const cli_list *configs,
                             rd_kafka_resp_err_t *unanswered)
{
    rd_kafka_NewTopic_t **topics = cli_alloc(names->count * sizeof(*topics));
    char error[512];
    int status = CLI_EXIT_OK;
    for (size_t i = 0; i < names->count; i++) {
        topics[i] =
            rd_kafka_NewTopic_new(names->items[i], partitions, replicas, error, sizeof(error));
        for (size_t c = 0; c < configs->count && topics[i] != NULL; c++) {
            char *key = cli_strdup(configs->items[c]); /* checked as KEY=VALUE */
            char *equals = strchr(key, '=');
            *equals = '\0';
            rd_kafka_NewTopic_set_config(topics[i], key, equals + 1);
            free(key);
        }
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(kafka->handle);
    rd_kafka_AdminOptions_t *options = admin_options(kafka, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(kafka->handle, topics, names->count, options, queue);
    rd_kafka_event_t *event = admin_wait(kafka, queue);
    rd_kafka_resp_err_t err = event ? rd_kafka_event_error(event) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (admin_unanswered(err)) {
        *unanswered = err;
    } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cli_error("CreateTopics on the brokers at %s: %s", kafka->bootstrap,
                  rd_kafka_event_error_string(event));
        status = CLI_EXIT_RUNTIME;
    } else {
        static const char *const headers[] = {"TOPIC", "STATUS"};
        cli_table table;
        cli_table_init(&table, 2, headers);
        size_t count = 0;
        const rd_kafka_topic_result_t **results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        for (size_t i = 0; i < count && status == CLI_EXIT_OK; i++) {
            rd_kafka_resp_err_t topic_err = rd_kafka_topic_result_error(results[i]);
            const char *name = rd_kafka_topic_result_name(results[i]);
            if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char *message = rd_kafka_topic_result_error_string(results[i]);
                cli_error("topic '%s' on the brokers at %s: %s", name, kafka->bootstrap,
                          message ? message : rd_kafka_err2str(topic_err));
                status = CLI_EXIT_RUNTIME;
            }
            cli_table_cell(&table, "%s", name);
            cli_table_cell(&table, "OK");
        }
        if (status == CLI_EXIT_OK) {
            print_status_table(&table);
        } else {
            cli_table_free(&table);
        }
    }
    if (event != NULL) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy_array(topics, names->count);
    free(topics);
    return status;
}

int cli_kafka_topic_create(const cli_global *global, const cli_list *names, int32_t partitions,
                           int32_t replicas, const cli_list *configs)
{
    cli_kafka kafka = {0};
    const struct rd_kafka_metadata *metadata = NULL;
    int status = open_checked(global, names, false, &kafka, &metadata);
    if (status == CLI_EXIT_OK && is_dev_cluster(&kafka)) {
        status = create_on_dev_cluster(&kafka, names, partitions, configs->count > 0,
                                       "development cluster");
    } else if (status == CLI_EXIT_OK) {
        rd_kafka_resp_err_t unanswered = RD_KAFKA_RESP_ERR_NO_ERROR;
        status = create_with_admin(&kafka, names, partitions, replicas, configs, &unanswered);
        if (status == CLI_EXIT_OK && unanswered != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char why[256];
            snprintf(why, sizeof(why), "CreateTopics: %s within %d ms",
                     rd_kafka_err2str(unanswered), kafka.timeout_ms);
            status = create_on_dev_cluster(&kafka, names, partitions, configs->count > 0, why);
        }
    }
    if (metadata != NULL) {
        rd_kafka_metadata_destroy(metadata);
    }
    cli_kafka_close(&kafka);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* topic list / delete                                                                        */

static int compare_topics(const void *a, const void *b)
{
    const struct rd_kafka_metadata_topic *x = *(const struct rd_kafka_metadata_topic *const *)a;
    const struct rd_kafka_metadata_topic *y = *(const struct rd_kafka_metadata_topic *const *)b;
    return strcmp(x->topic, y->topic);
}

int cli_kafka_topic_list(const cli_global *global)
{
    cli_kafka kafka = {0};
    const struct rd_kafka_metadata *metadata = NULL;
    int status = cli_kafka_open_admin(global, &kafka);
    if (status == CLI_EXIT_OK) {
        status = cli_kafka_metadata(&kafka, &metadata);
    }
    if (status == CLI_EXIT_OK) {
        const struct rd_kafka_metadata_topic **sorted =
            cli_alloc((size_t)metadata->topic_cnt * sizeof(*sorted));
        for (int i = 0; i < metadata->topic_cnt; i++) {
            sorted[i] = &metadata->topics[i];
        }
        qsort(sorted, (size_t)metadata->topic_cnt, sizeof(*sorted), compare_topics);
        static const char *const headers[] = {"NAME", "PARTITIONS", "REPLICAS"};
        cli_table table;
        cli_table_init(&table, 3, headers);
        for (int i = 0; i < metadata->topic_cnt; i++) {
            cli_table_cell(&table, "%s", sorted[i]->topic);
            cli_table_cell(&table, "%d", sorted[i]->partition_cnt);
            cli_table_cell(&table, "%d",
                           sorted[i]->partition_cnt > 0 ? sorted[i]->partitions[0].replica_cnt : 0);
        }
        cli_table_print(&table, stdout);
        cli_table_free(&table);
        free(sorted);
    }
    if (metadata != NULL) {
        rd_kafka_metadata_destroy(metadata);
    }
    cli_kafka_close(&kafka);
    return status;
}

static int delete_with_admin(cli_kafka *kafka, const cli_list *names)
{
    rd_kafka_DeleteTopic_t **topics = cli_alloc(names->count * sizeof(*topics));
    for (size_t i = 0; i < names->count; i++) {
        topics[i] = rd_kafka_DeleteTopic_new(names->items[i]);
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(kafka->handle);
    rd_kafka_AdminOptions_t *options = admin_options(kafka, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(kafka->handle, topics, names->count, options, queue);
    rd_kafka_event_t *event = admin_wait(kafka, queue);
    rd_kafka_resp_err_t err = event ? rd_kafka_event_error(event) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    int status = CLI_EXIT_OK;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cli_error("the brokers at %s did not answer DeleteTopics within %d ms (%s): the topics "
                  "may not be deleted",
                  kafka->bootstrap, kafka->timeout_ms,
                  event ? rd_kafka_event_error_string(event) : rd_kafka_err2str(err));
        status = CLI_EXIT_RUNTIME;
    } else {
        static const char *const headers[] = {"TOPIC", "STATUS"};
        cli_table table;
        cli_table_init(&table, 2, headers);
        size_t count = 0;
        const rd_kafka_topic_result_t **results =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), &count);
        for (size_t i = 0; i < count; i++) {
            rd_kafka_resp_err_t topic_err = rd_kafka_topic_result_error(results[i]);
            if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR && status == CLI_EXIT_OK) {
                cli_error("topic '%s' on the brokers at %s: %s",
                          rd_kafka_topic_result_name(results[i]), kafka->bootstrap,
                          rd_kafka_err2str(topic_err));
                status = CLI_EXIT_RUNTIME;
            }
            cli_table_cell(&table, "%s", rd_kafka_topic_result_name(results[i]));
            cli_table_cell(&table, "%s", topic_err ? rd_kafka_err2str(topic_err) : "OK");
        }
        print_status_table(&table);
    }
    if (event != NULL) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_DeleteTopic_destroy_array(topics, names->count);
    free(topics);
    return status;
}

int cli_kafka_topic_delete(const cli_global *global, const cli_list *names)
{
    cli_kafka kafka = {0};
    const struct rd_kafka_metadata *metadata = NULL;
    int status = open_checked(global, names, true, &kafka, &metadata);
    if (status == CLI_EXIT_OK && is_dev_cluster(&kafka)) {
        cli_error("the development cluster at %s cannot delete topics (librdkafka's mock cluster "
                  "answers no DeleteTopics); nothing was deleted",
                  kafka.bootstrap);
        status = CLI_EXIT_RUNTIME;
    } else if (status == CLI_EXIT_OK) {
        status = delete_with_admin(&kafka, names);
    }
    if (metadata != NULL) {
        rd_kafka_metadata_destroy(metadata);
    }
    cli_kafka_close(&kafka);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* topic describe                                                                             */

/* Formats a broker id list "1,2,3". */
static void format_ids(const int32_t *ids, int count, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < count && n < size; i++) {
        n += (size_t)snprintf(out + n, size - n, "%s%d", i > 0 ? "," : "", (int)ids[i]);
    }
}

static int describe_partitions(cli_kafka *kafka, const struct rd_kafka_metadata_topic *topic,
                               cli_table *table)
{
    static const char *const headers[] = {"PARTITION", "LEADER",       "REPLICAS",
                                          "ISR",       "START-OFFSET", "END-OFFSET"};
    cli_table_init(table, 6, headers);
    for (int i = 0; i < topic->partition_cnt; i++) {
        const struct rd_kafka_metadata_partition *p = &topic->partitions[i];
        int64_t low = 0, high = 0;
        int status = cli_kafka_watermarks(kafka, topic->topic, p->id, &low, &high);
        if (status != CLI_EXIT_OK) {
            return status;
        }
        char replicas[256], isrs[256];
        format_ids(p->replicas, p->replica_cnt, replicas, sizeof(replicas));
        format_ids(p->isrs, p->isr_cnt, isrs, sizeof(isrs));
        cli_table_cell(table, "%d", (int)p->id);
        cli_table_cell(table, "%d", (int)p->leader);
        cli_table_cell(table, "%s", replicas);
        cli_table_cell(table, "%s", isrs);
        cli_table_cell(table, "%lld", (long long)low);
        cli_table_cell(table, "%lld", (long long)high);
    }
    return CLI_EXIT_OK;
}

/* The CONFIGS section of one topic: the DescribeConfigs result for it, or why there is none. */
static void print_configs(rd_kafka_event_t *event, const char *note, const char *topic)
{
    cli_section(stdout, "CONFIGS");
    if (event == NULL) {
        printf("(%s)\n", note);
        return;
    }
    size_t count = 0;
    const rd_kafka_ConfigResource_t **resources = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(event), &count);
    for (size_t r = 0; r < count; r++) {
        if (strcmp(rd_kafka_ConfigResource_name(resources[r]), topic) != 0) {
            continue;
        }
        if (rd_kafka_ConfigResource_error(resources[r]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            printf("(%s)\n", rd_kafka_ConfigResource_error_string(resources[r]));
            return;
        }
        static const char *const headers[] = {"KEY", "VALUE", "SOURCE"};
        cli_table table;
        cli_table_init(&table, 3, headers);
        size_t entry_count = 0;
        const rd_kafka_ConfigEntry_t **entries =
            rd_kafka_ConfigResource_configs(resources[r], &entry_count);
        for (size_t e = 0; e < entry_count; e++) {
            const char *value = rd_kafka_ConfigEntry_value(entries[e]);
            cli_table_cell(&table, "%s", rd_kafka_ConfigEntry_name(entries[e]));
            cli_table_cell(&table, "%s",
                           rd_kafka_ConfigEntry_is_sensitive(entries[e]) ? "(sensitive)"
                           : value                                       ? value
                                                                         : "-");
            cli_table_cell(&table, "%s",
                           rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(entries[e])));
        }
        cli_table_print(&table, stdout);
        cli_table_free(&table);
    }
}

/* DescribeConfigs for every topic named, at once (one timeout at most), or a note saying why
 * there are no configs. */
static rd_kafka_event_t *describe_configs(cli_kafka *kafka, const cli_list *names, char *note,
                                          size_t note_size)
{
    if (is_dev_cluster(kafka)) {
        snprintf(note, note_size,
                 "a development cluster has no topic configs: librdkafka's mock "
                 "answers no DescribeConfigs");
        return NULL;
    }
    rd_kafka_ConfigResource_t **resources = cli_alloc(names->count * sizeof(*resources));
    for (size_t i = 0; i < names->count; i++) {
        resources[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names->items[i]);
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(kafka->handle);
    rd_kafka_AdminOptions_t *options = admin_options(kafka, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(kafka->handle, resources, names->count, options, queue);
    rd_kafka_event_t *event = admin_wait(kafka, queue);
    if (event == NULL || rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(note, note_size, "the brokers did not answer DescribeConfigs within %d ms: %s",
                 kafka->timeout_ms, event ? rd_kafka_event_error_string(event) : "no result");
        if (event != NULL) {
            rd_kafka_event_destroy(event);
        }
        event = NULL;
    }
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_ConfigResource_destroy_array(resources, names->count);
    free(resources);
    return event;
}

int cli_kafka_topic_describe(const cli_global *global, const cli_list *names, bool summary,
                             bool configs, bool partitions)
{
    cli_kafka kafka = {0};
    const struct rd_kafka_metadata *metadata = NULL;
    int status = open_checked(global, names, true, &kafka, &metadata);
    bool all = !summary && !configs && !partitions;
    rd_kafka_event_t *config_event = NULL;
    char note[512] = "";
    if (status == CLI_EXIT_OK && (all || configs)) {
        config_event = describe_configs(&kafka, names, note, sizeof(note));
    }
    for (size_t i = 0; i < names->count && status == CLI_EXIT_OK; i++) {
        const struct rd_kafka_metadata_topic *topic =
            cli_kafka_find_topic(metadata, names->items[i]);
        cli_table parts = {0};
        if (all || partitions) {
            status = describe_partitions(&kafka, topic, &parts);
        }
        if (status == CLI_EXIT_OK) {
            printf("%s", i > 0 ? "\n" : "");
            bool printed = false;
            if (all || summary) {
                cli_section(stdout, "SUMMARY");
                printf("NAME        %s\nPARTITIONS  %d\nREPLICAS    %d\n", topic->topic,
                       topic->partition_cnt,
                       topic->partition_cnt > 0 ? topic->partitions[0].replica_cnt : 0);
                printed = true;
            }
            if (all || configs) {
                printf("%s", printed ? "\n" : "");
                print_configs(config_event, note, topic->topic);
                printed = true;
            }
            if (all || partitions) {
                printf("%s", printed ? "\n" : "");
                cli_section(stdout, "PARTITIONS");
                cli_table_print(&parts, stdout);
            }
        }
        cli_table_free(&parts);
    }
    if (config_event != NULL) {
        rd_kafka_event_destroy(config_event);
    }
    if (metadata != NULL) {
        rd_kafka_metadata_destroy(metadata);
    }
    cli_kafka_close(&kafka);
    return status;
}
