/* The client seam on the embedded log, in one process: backend choice, admin, the batching
 * producer (sizes, linger, offsets, partitioning, errors, queue bound), and the consumer
 * (manual assignment, seek, position, pause and resume, commits, subscribe with callbacks).
 * Groups across processes are in tests/integ/test_client.c. */
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "core/alloc.h"
#include "eddy/eddy.h"
#include "test.h"

#define REPORTS_MAX 8192

static eddy_config *config_of(const char *const *pairs, size_t n)
{
    eddy_config *c = eddy_config_new();
    EXPECT_TRUE(c != NULL);
    for (size_t i = 0; i < n; i++)
        EXPECT_OK(eddy_config_set_pair(c, pairs[i]));
    return c;
}

static eddy__client *client_open(void)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "log.dir", test_tmpdir()));
    eddy__client *client = NULL;
    EXPECT_OK(eddy__client_new(config, &client));
    eddy_config_destroy(config);
    return client;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t high_watermark(eddy__client *client, const char *topic, int32_t partition)
{
    int64_t low = -1, high = -1;
    EXPECT_OK(eddy__client_watermarks(client, topic, partition, &low, &high));
    return high;
}

/* Delivery reports, in the order the callback saw them. */
typedef struct reports {
    int n;
    char topic[REPORTS_MAX][32];
    int32_t partition[REPORTS_MAX];
    int64_t offset[REPORTS_MAX];
    eddy_err err[REPORTS_MAX];
    intptr_t opaque[REPORTS_MAX];
    char message[256]; /* eddy_last_error() at the first failure */
} reports;

static void on_delivery(eddy__producer *producer, const eddy__delivery *d, void *opaque)
{
    (void)producer;
    reports *r = opaque;
    EXPECT_TRUE(r->n < REPORTS_MAX);
    snprintf(r->topic[r->n], sizeof(r->topic[0]), "%s", d->topic);
    r->partition[r->n] = d->partition;
    r->offset[r->n] = d->offset;
    r->err[r->n] = d->err;
    r->opaque[r->n] = (intptr_t)d->record_opaque;
    if (d->err != EDDY_OK && r->message[0] == '\0')
        snprintf(r->message, sizeof(r->message), "%s", eddy_last_error());
    r->n++;
}

static eddy__producer *producer_open(eddy__client *client, const char *const *pairs, size_t n,
                                     reports *r)
{
    eddy_config *config = config_of(pairs, n);
    eddy__producer *p = NULL;
    EXPECT_OK(eddy__producer_new(client, config, on_delivery, r, &p));
    eddy_config_destroy(config);
    return p;
}

static eddy_record text_record(const char *key, const char *value)
{
    eddy_record rec = {0};
    rec.timestamp_ms = -1;
    if (key)
        rec.key = (eddy_slice){key, strlen(key)};
    if (value)
        rec.value = (eddy_slice){value, strlen(value)};
    return rec;
}

static void send_text(eddy__producer *p, const char *topic, int32_t partition, const char *key,
                      const char *value, intptr_t opaque)
{
    eddy_record rec = text_record(key, value);
    EXPECT_OK(eddy__producer_send(p, topic, partition, &rec, (void *)opaque));
}

/* ------------------------------------------------------------------------------------------ */
/* Client and admin                                                                           */

/* bootstrap.servers chooses the Kafka backend (no connection is made until a call needs one);
 * a librdkafka property with a value librdkafka refuses fails the client with its reason. */
TEST(bootstrap_servers_chooses_kafka)
{
    const char *pairs[] = {"bootstrap.servers=localhost:9092"};
    eddy_config *config = config_of(pairs, 1);
    eddy__client *client = NULL;
    EXPECT_OK(eddy__client_new(config, &client));
    EXPECT_STREQ(eddy__client_backend(client), "kafka");
    eddy__client_destroy(client);
    eddy_config_destroy(config);

    const char *bad[] = {"bootstrap.servers=localhost:9092", "security.protocol=bogus"};
    config = config_of(bad, 2);
    client = (eddy__client *)&client; /* must be reset to NULL */
    EXPECT_ERR(eddy__client_new(config, &client), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "security.protocol");
    EXPECT_TRUE(client == NULL);
    eddy_config_destroy(config);
}

TEST(log_dir_is_created_and_defaults_to_eddy_data)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "log.dir", dir));
    eddy__client *client = NULL;
    EXPECT_OK(eddy__client_new(config, &client));
    EXPECT_STREQ(eddy__client_backend(client), "embedded");
    struct stat st;
    EXPECT_EQ(stat(dir, &st), 0);
    eddy__client_destroy(client);
    eddy_config_destroy(config);

    EXPECT_EQ(chdir(test_tmpdir()), 0);
    EXPECT_OK(eddy__client_new(NULL, &client));
    EXPECT_EQ(stat("eddy-data", &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    eddy__client_destroy(client);
    eddy__client_destroy(NULL);
}

TEST(create_if_not_exists_checks_the_partition_count)
{
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "orders", 3, NULL, 0));
    EXPECT_ERR(eddy__client_topic_create(client, "orders", 3, NULL, 0), EDDY_ERR_EXISTS);
    EXPECT_OK(eddy__client_topic_create(client, "orders", 3, NULL, EDDY__TOPIC_IF_NOT_EXISTS));
    EXPECT_ERR(eddy__client_topic_create(client, "orders", 4, NULL, EDDY__TOPIC_IF_NOT_EXISTS),
               EDDY_ERR_EXISTS);
    EXPECT_STREQ(eddy_last_error(),
                 "topic 'orders' already exists with 3 partitions, not the 4 requested");
    const char *pairs[] = {"cleanup.policy=compact"};
    eddy_config *topic_config = config_of(pairs, 1);
    EXPECT_OK(eddy__client_topic_create(client, "app-store-changelog", 2, topic_config,
                                        EDDY__TOPIC_IF_NOT_EXISTS));
    eddy_config_destroy(topic_config);
    EXPECT_ERR(eddy__client_topic_create(client, "bad name", 1, NULL, 0),
               EDDY_ERR_INVALID_ARGUMENT);

    int32_t partitions = 0;
    EXPECT_OK(eddy__client_topic_partitions(client, "orders", &partitions));
    EXPECT_EQ(partitions, 3);
    EXPECT_ERR(eddy__client_topic_partitions(client, "nope", &partitions), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_CONTAINS(eddy_last_error(), "nope");

    char **names = NULL;
    size_t count = 0;
    EXPECT_OK(eddy__client_topic_list(client, &names, &count));
    EXPECT_EQ(count, 2);
    EXPECT_STREQ(names[0], "app-store-changelog");
    EXPECT_STREQ(names[1], "orders");
    eddy__client_names_free(names, count);

    int64_t low = -1, high = -1;
    EXPECT_OK(eddy__client_watermarks(client, "orders", 2, &low, &high));
    EXPECT_EQ(low, 0);
    EXPECT_EQ(high, 0);
    EXPECT_ERR(eddy__client_watermarks(client, "orders", 3, &low, &high),
               EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_ERR(eddy__client_watermarks(client, "orders", -1, &low, &high),
               EDDY_ERR_UNKNOWN_PARTITION);

    EXPECT_OK(eddy__client_topic_delete(client, "orders"));
    EXPECT_ERR(eddy__client_topic_delete(client, "orders"), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_ERR(eddy__client_topic_partitions(client, "orders", &partitions),
               EDDY_ERR_UNKNOWN_TOPIC);
    eddy__client_destroy(client);
}

TEST(bad_configuration_values_name_key_and_value)
{
    eddy__client *client = client_open();
    eddy_config *config = eddy_config_new();
    /* acks is a key eddy_config_set() knows, so it refuses at once... */
    EXPECT_ERR(eddy_config_set(config, "acks", "2"), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "acks");
    EXPECT_CONTAINS(eddy_last_error(), "'2'");
    eddy_config_destroy(config);

    /* The producer's keys are known to eddy_config_set() too: refused when set. */
    static const struct {
        const char *pair, *key, *value;
    } bad[] = {
        {"linger.ms=-1", "linger.ms", "'-1'"},
        {"linger.ms=soon", "linger.ms", "'soon'"},
        {"batch.size=0", "batch.size", "'0'"},
        {"batch.size=99999999", "batch.size", "'99999999'"},
        {"queue.buffering.max.messages=0", "queue.buffering.max.messages", "'0'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config = eddy_config_new();
        EXPECT_ERR(eddy_config_set_pair(config, bad[i].pair), EDDY_ERR_CONFIG);
        EXPECT_CONTAINS(eddy_last_error(), bad[i].key);
        EXPECT_CONTAINS(eddy_last_error(), bad[i].value);
        eddy_config_destroy(config);
    }
    config = eddy_config_new();
    EXPECT_ERR(eddy_config_set_pair(config, "auto.commit.interval.ms=-5"), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "auto.commit.interval.ms: '-5'");
    eddy_config_destroy(config);
    eddy__consumer *c = NULL;
    EXPECT_ERR(eddy__consumer_new(client, "bad/group", NULL, &c), EDDY_ERR_INVALID_ARGUMENT);

    const char *good[] = {"acks=1", "linger.ms=0", "batch.size=1", "acks=0", "acks=-1"};
    config = config_of(good, 5);
    eddy__producer *p = NULL;
    EXPECT_OK(eddy__producer_new(client, config, NULL, NULL, &p));
    eddy__producer_destroy(p);
    eddy__producer_destroy(NULL);
    eddy_config_destroy(config);
    eddy__client_destroy(client);
}

/* ------------------------------------------------------------------------------------------ */
/* Producer                                                                                   */

TEST(producer_batches_by_size_with_dense_offsets_in_order)
{
    static reports r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 4, NULL, 0));
    const char *pairs[] = {"batch.size=2048", "linger.ms=600000", "acks=1"};
    eddy__producer *p = producer_open(client, pairs, 3, &r);
    enum { N = 2000 };
    static char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%d", i % 97);
        send_text(p, "t", -1, keys[i], "a value of some forty bytes, give or take", i);
    }
    /* Full batches were written at once; the rest waits for linger.ms or a flush. */
    int64_t written = 0;
    for (int32_t part = 0; part < 4; part++)
        written += high_watermark(client, "t", part);
    EXPECT_GE(written, N - 4 * 2048 / 40);
    EXPECT_TRUE(written < N);
    EXPECT_EQ(eddy__producer_outstanding(p), N);
    int served = eddy__producer_poll(p, 0);
    EXPECT_EQ(served, written);
    EXPECT_EQ(eddy__producer_outstanding(p), N - written);
    EXPECT_OK(eddy__producer_flush(p, -1));
    EXPECT_EQ(r.n, N);
    EXPECT_EQ(eddy__producer_outstanding(p), 0);

    /* Every record reported once; per partition the offsets are 0, 1, 2, ... in send order;
     * each key went where murmur2 says. */
    static int seen[N];
    int64_t next[4] = {0};
    static int32_t partition_of[N];
    for (int i = 0; i < N; i++) {
        EXPECT_EQ(r.err[i], EDDY_OK);
        EXPECT_STREQ(r.topic[i], "t");
        int k = (int)r.opaque[i];
        EXPECT_TRUE(k >= 0 && k < N && !seen[k]);
        seen[k] = 1;
        partition_of[k] = r.partition[i];
        eddy_slice key = {keys[k], strlen(keys[k])};
        EXPECT_EQ(r.partition[i], eddy_log_partition_for_key(key, 4));
        EXPECT_EQ(r.offset[i], next[r.partition[i]]);
        next[r.partition[i]]++;
    }
    int last[4] = {-1, -1, -1, -1};
    for (int i = 0; i < N; i++) {
        int k = (int)r.opaque[i];
        int32_t part = r.partition[i];
        EXPECT_TRUE(k > last[part]); /* reports per partition in send order */
        last[part] = k;
    }
    for (int32_t part = 0; part < 4; part++)
        EXPECT_EQ(high_watermark(client, "t", part), next[part]);

    /* The log holds the records in send order per partition. */
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(test_tmpdir(), 0, &log));
    for (int32_t part = 0; part < 4; part++) {
        eddy_log_reader *reader = NULL;
        EXPECT_OK(eddy_log_reader_new(log, "t", part, EDDY_OFFSET_BEGINNING, &reader));
        int k = 0;
        for (int64_t o = 0; o < next[part]; o++) {
            eddy_record rec;
            EXPECT_OK(eddy_log_reader_next(reader, 0, &rec));
            EXPECT_EQ(rec.offset, o);
            while (partition_of[k] != part)
                k++;
            EXPECT_MEMEQ(rec.key.data, rec.key.len, keys[k], strlen(keys[k]));
            k++;
        }
        eddy_log_reader_destroy(reader);
    }
    eddy_log_close(log);
    eddy__producer_destroy(p);
    eddy__client_destroy(client);
}

TEST(producer_linger_writes_due_batches_on_send_poll_and_flush)
{
    static reports r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 2, NULL, 0));
    const char *pairs[] = {"linger.ms=60", "acks=1"};
    eddy__producer *p = producer_open(client, pairs, 2, &r);

    /* poll waits for the batch to come due, then reports it. */
    int64_t start = now_ms();
    send_text(p, "t", 0, "a", "1", 1);
    send_text(p, "t", 0, "b", "2", 2);
    EXPECT_EQ(high_watermark(client, "t", 0), 0);
    EXPECT_EQ(eddy__producer_poll(p, 0), 0);
    EXPECT_EQ(eddy__producer_poll(p, 1000), 2);
    EXPECT_GE(now_ms() - start, 55);
    EXPECT_TRUE(now_ms() - start < 1000);
    EXPECT_EQ(high_watermark(client, "t", 0), 2);

    /* A send notices that another partition's batch is due. */
    send_text(p, "t", 1, "c", "3", 3);
    usleep(80 * 1000);
    EXPECT_EQ(high_watermark(client, "t", 1), 0);
    send_text(p, "t", 0, "d", "4", 4);
    EXPECT_EQ(high_watermark(client, "t", 1), 1);
    EXPECT_EQ(high_watermark(client, "t", 0), 2);

    /* poll with a short timeout returns without the batch when it is not due yet. */
    EXPECT_EQ(eddy__producer_poll(p, 5), 1);
    EXPECT_EQ(eddy__producer_outstanding(p), 1);
    /* flush writes it at once. */
    start = now_ms();
    EXPECT_OK(eddy__producer_flush(p, 0));
    EXPECT_TRUE(now_ms() - start < 50);
    EXPECT_EQ(high_watermark(client, "t", 0), 3);
    EXPECT_EQ(r.n, 4);
    EXPECT_EQ(r.offset[3], 2);
    EXPECT_EQ(r.opaque[3], 4);

    /* linger.ms=0: every send is written at once. */
    eddy__producer_destroy(p);
    const char *now_pairs[] = {"linger.ms=0", "acks=all"};
    p = producer_open(client, now_pairs, 2, &r);
    send_text(p, "t", 1, "e", "5", 5);
    EXPECT_EQ(high_watermark(client, "t", 1), 2);
    EXPECT_EQ(eddy__producer_poll(p, 0), 1);
    EXPECT_EQ(r.offset[4], 1);
    eddy__producer_destroy(p);
    eddy__client_destroy(client);
}

TEST(producer_null_keys_stick_to_a_partition_per_batch)
{
    static reports r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 3, NULL, 0));
    /* Each record is bounded at 36 + 10 bytes; with the 61-byte batch header, a 200-byte batch
     * holds three. */
    const char *pairs[] = {"batch.size=200", "linger.ms=600000", "acks=1"};
    eddy__producer *p = producer_open(client, pairs, 3, &r);
    for (int i = 0; i < 18; i++)
        send_text(p, "t", -1, NULL, "0123456789", i);
    EXPECT_OK(eddy__producer_flush(p, -1));
    EXPECT_EQ(r.n, 18);
    for (int i = 0; i < 18; i++) {
        int k = (int)r.opaque[i];
        EXPECT_EQ(r.partition[i], (k / 3) % 3);
    }
    for (int32_t part = 0; part < 3; part++)
        EXPECT_EQ(high_watermark(client, "t", part), 6);
    eddy__producer_destroy(p);

    /* linger.ms=0 writes every record alone: null keys go round robin. */
    const char *now_pairs[] = {"linger.ms=0", "acks=1"};
    r.n = 0;
    p = producer_open(client, now_pairs, 2, &r);
    for (int i = 0; i < 6; i++)
        send_text(p, "t", -1, NULL, "x", i);
    EXPECT_OK(eddy__producer_flush(p, -1));
    for (int i = 0; i < 6; i++)
        EXPECT_EQ(r.partition[i], i % 3);
    eddy__producer_destroy(p);
    eddy__client_destroy(client);
}

TEST(producer_keeps_headers_timestamps_and_nulls)
{
    static reports r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 1, NULL, 0));
    eddy__producer *p = producer_open(client, NULL, 0, &r);
    eddy_header headers[2] = {{{"trace", 5}, {"abc", 3}}, {{"empty", 5}, {NULL, 0}}};
    eddy_record rec = text_record("k", NULL); /* a tombstone */
    rec.headers = headers;
    rec.header_count = 2;
    rec.timestamp_ms = 1234567;
    EXPECT_OK(eddy__producer_send(p, "t", 0, &rec, NULL));
    rec = text_record(NULL, "");
    rec.timestamp_ms = 42;
    EXPECT_OK(eddy__producer_send(p, "t", 0, &rec, NULL));
    EXPECT_OK(eddy__producer_flush(p, -1));

    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(test_tmpdir(), 0, &log));
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, 0, &reader));
    eddy_record got;
    EXPECT_OK(eddy_log_reader_next(reader, 0, &got));
    EXPECT_MEMEQ(got.key.data, got.key.len, "k", 1);
    EXPECT_TRUE(got.value.data == NULL);
    EXPECT_EQ(got.timestamp_ms, 1234567);
    EXPECT_EQ(got.header_count, 2);
    EXPECT_MEMEQ(got.headers[0].key.data, got.headers[0].key.len, "trace", 5);
    EXPECT_MEMEQ(got.headers[0].value.data, got.headers[0].value.len, "abc", 3);
    EXPECT_TRUE(got.headers[1].value.data == NULL);
    EXPECT_OK(eddy_log_reader_next(reader, 0, &got));
    EXPECT_TRUE(got.key.data == NULL);
    EXPECT_TRUE(got.value.data != NULL);
    EXPECT_EQ(got.value.len, 0);
    EXPECT_EQ(got.timestamp_ms, 42);
    eddy_log_reader_destroy(reader);
    eddy_log_close(log);
    eddy__producer_destroy(p);
    eddy__client_destroy(client);
}

/* An empty key is a key: sent first into a fresh producer's buffer (nothing written before it),
 * it must not come back as a null key (it once did: an empty slice at the buffer's start had no
 * address). */
TEST(producer_keeps_an_empty_key_sent_first)
{
    static reports r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 1, NULL, 0));
    eddy__producer *p = producer_open(client, NULL, 0, &r);
    eddy_record rec = {.key = {"", 0}, .value = {NULL, 0}, .timestamp_ms = 7};
    EXPECT_OK(eddy__producer_send(p, "t", 0, &rec, NULL));
    EXPECT_OK(eddy__producer_flush(p, -1));
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(test_tmpdir(), 0, &log));
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, 0, &reader));
    eddy_record got;
    EXPECT_OK(eddy_log_reader_next(reader, 0, &got));
    EXPECT_TRUE(got.key.data != NULL);
    EXPECT_EQ(got.key.len, 0);
    EXPECT_TRUE(got.value.data == NULL);
    eddy_log_reader_destroy(reader);
    eddy_log_close(log);
    eddy__producer_destroy(p);
    eddy__client_destroy(client);
}

TEST(producer_errors_are_refused_or_reported)
{
    static reports r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 2, NULL, 0));
    const char *pairs[] = {"linger.ms=600000", "queue.buffering.max.messages=5"};
    eddy__producer *p = producer_open(client, pairs, 2, &r);
    eddy_record rec = text_record("k", "v");

    /* Known at once: refused, never reported. */
    EXPECT_ERR(eddy__producer_send(p, "nope", -1, &rec, NULL), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_CONTAINS(eddy_last_error(), "'nope'");
    EXPECT_ERR(eddy__producer_send(p, "t", 2, &rec, NULL), EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_STREQ(eddy_last_error(), "send: topic 't' has no partition 2 (it has 2)");
    EXPECT_ERR(eddy__producer_send(p, "t", -2, &rec, NULL), EDDY_ERR_UNKNOWN_PARTITION);
    eddy_record huge = rec;
    huge.value.len = (size_t)17 << 20; /* never read: refused on its size */
    EXPECT_ERR(eddy__producer_send(p, "t", 0, &huge, NULL), EDDY_ERR_TOO_LARGE);

    /* The queue bound counts records sent and not yet reported. */
    for (int i = 0; i < 5; i++)
        EXPECT_OK(eddy__producer_send(p, "t", i % 2, &rec, (void *)(intptr_t)i));
    EXPECT_ERR(eddy__producer_send(p, "t", 0, &rec, NULL), EDDY_ERR_BUSY);
    EXPECT_CONTAINS(eddy_last_error(), "queue.buffering.max.messages");

    /* Found out when written: every record gets its error, and flush returns the first. */
    EXPECT_OK(eddy__client_topic_delete(client, "t"));
    EXPECT_ERR(eddy__producer_flush(p, -1), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_CONTAINS(eddy_last_error(), "'t'");
    EXPECT_EQ(r.n, 5);
    for (int i = 0; i < 5; i++) {
        EXPECT_EQ(r.err[i], EDDY_ERR_UNKNOWN_TOPIC);
        EXPECT_EQ(r.offset[i], -1);
        EXPECT_EQ(r.partition[i], r.opaque[i] % 2);
    }
    EXPECT_CONTAINS(r.message, "'t'");
    EXPECT_OK(eddy__producer_flush(p, -1)); /* the error was returned once */
    EXPECT_ERR(eddy__producer_send(p, "t", 0, &rec, NULL), EDDY_ERR_UNKNOWN_TOPIC);

    /* Created again with another partition count: the producer follows. */
    EXPECT_OK(eddy__client_topic_create(client, "t", 3, NULL, 0));
    EXPECT_OK(eddy__producer_send(p, "t", 2, &rec, (void *)99));
    EXPECT_OK(eddy__producer_flush(p, -1));
    EXPECT_EQ(r.n, 6);
    EXPECT_EQ(r.err[5], EDDY_OK);
    EXPECT_EQ(r.partition[5], 2);
    EXPECT_EQ(r.offset[5], 0);
    eddy__producer_destroy(p);
    eddy__client_destroy(client);
}

/* A delivery callback that sends one more record for each original one. */
typedef struct echo {
    int calls;
    eddy_err poll_err;
} echo;

static void on_delivery_echo(eddy__producer *p, const eddy__delivery *d, void *opaque)
{
    echo *e = opaque;
    e->calls++;
    e->poll_err = (eddy_err)eddy__producer_poll(p, 0);
    if ((intptr_t)d->record_opaque < 100) {
        eddy_record rec = text_record("again", "v");
        EXPECT_OK(eddy__producer_send(p, d->topic, d->partition, &rec,
                                      (void *)((intptr_t)d->record_opaque + 100)));
    }
}

TEST(producer_callbacks_may_send)
{
    static echo e;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 1, NULL, 0));
    eddy__producer *p = NULL;
    EXPECT_OK(eddy__producer_new(client, NULL, on_delivery_echo, &e, &p));
    for (int i = 0; i < 10; i++)
        send_text(p, "t", 0, "k", "v", i);
    EXPECT_OK(eddy__producer_flush(p, -1));
    EXPECT_EQ(e.calls, 20);
    EXPECT_EQ(e.poll_err, EDDY_ERR_STATE);
    EXPECT_EQ(high_watermark(client, "t", 0), 20);
    eddy__producer_destroy(p);
    eddy__client_destroy(client);
}

TEST(producer_destroy_drops_unwritten_records)
{
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 1, NULL, 0));
    const char *pairs[] = {"linger.ms=600000"};
    eddy_config *config = config_of(pairs, 1);
    eddy__producer *p = NULL;
    EXPECT_OK(eddy__producer_new(client, config, NULL, NULL, &p));
    eddy_config_destroy(config);
    eddy_record rec = text_record("k", "v");
    EXPECT_OK(eddy__producer_send(p, "t", 0, &rec, NULL));
    eddy__producer_destroy(p);
    EXPECT_EQ(high_watermark(client, "t", 0), 0);
    eddy__client_destroy(client);
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer                                                                                   */

/* Appends `count` records "<partition>:<i>" to a partition, through the producer. */
static void fill(eddy__client *client, const char *topic, int32_t partition, int from, int count)
{
    static reports r;
    r.n = 0;
    const char *pairs[] = {"acks=1"};
    eddy__producer *p = producer_open(client, pairs, 1, &r);
    for (int i = from; i < from + count; i++) {
        char value[32];
        snprintf(value, sizeof(value), "%d:%d", (int)partition, i);
        send_text(p, topic, partition, NULL, value, i);
    }
    EXPECT_OK(eddy__producer_flush(p, -1));
    eddy__producer_destroy(p);
}

static eddy__consumer *consumer_open(eddy__client *client, const char *group,
                                     const char *const *pairs, size_t n)
{
    eddy_config *config = config_of(pairs, n);
    eddy__consumer *c = NULL;
    EXPECT_OK(eddy__consumer_new(client, group, config, &c));
    eddy_config_destroy(config);
    return c;
}

/* Polls one record and checks it is `partition`'s record at `offset`. */
static void expect_record(eddy__consumer *c, const char *topic, int32_t partition, int64_t offset)
{
    eddy_record rec;
    EXPECT_OK(eddy__consumer_poll(c, 1000, &rec));
    EXPECT_STREQ(rec.topic, topic);
    EXPECT_EQ(rec.partition, partition);
    EXPECT_EQ(rec.offset, offset);
    char value[32];
    snprintf(value, sizeof(value), "%d:%d", (int)partition, (int)offset);
    EXPECT_MEMEQ(rec.value.data, rec.value.len, value, strlen(value));
}

static int64_t position_of(eddy__consumer *c, const char *topic, int32_t partition)
{
    int64_t position = -5;
    EXPECT_OK(eddy__consumer_position(c, topic, partition, &position));
    return position;
}

TEST(consumer_manual_assign_seek_pause_resume)
{
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 2, NULL, 0));
    fill(client, "t", 0, 0, 10);
    fill(client, "t", 1, 0, 10);
    eddy__consumer *c = consumer_open(client, NULL, NULL, 0);
    eddy_record rec;
    EXPECT_ERR(eddy__consumer_poll(c, 0, &rec), EDDY_ERR_TIMED_OUT);

    eddy__topic_partition_offset assign[] = {{"t", 0, EDDY_OFFSET_BEGINNING}, {"t", 1, 4}};
    EXPECT_OK(eddy__consumer_assign(c, assign, 2));
    EXPECT_EQ(position_of(c, "t", 0), 0);
    EXPECT_EQ(position_of(c, "t", 1), 4);
    const eddy_topic_partition *tps = NULL;
    size_t count = 0;
    EXPECT_OK(eddy__consumer_assignment(c, &tps, &count));
    EXPECT_EQ(count, 2);
    EXPECT_EQ(tps[1].partition, 1);

    /* Each partition in order; all 16 records. */
    int64_t next[2] = {0, 4};
    for (int i = 0; i < 16; i++) {
        EXPECT_OK(eddy__consumer_poll(c, 1000, &rec));
        EXPECT_EQ(rec.offset, next[rec.partition]);
        next[rec.partition]++;
    }
    EXPECT_ERR(eddy__consumer_poll(c, 20, &rec), EDDY_ERR_TIMED_OUT);
    EXPECT_EQ(position_of(c, "t", 0), 10);
    EXPECT_EQ(position_of(c, "t", 1), 10);

    /* seek back, to the beginning and to the end. */
    EXPECT_OK(eddy__consumer_seek(c, "t", 0, 7));
    EXPECT_EQ(position_of(c, "t", 0), 7);
    expect_record(c, "t", 0, 7);
    EXPECT_OK(eddy__consumer_seek(c, "t", 1, EDDY_OFFSET_BEGINNING));
    EXPECT_OK(eddy__consumer_seek(c, "t", 0, EDDY_OFFSET_END));
    EXPECT_EQ(position_of(c, "t", 0), 10);
    for (int i = 0; i < 3; i++)
        expect_record(c, "t", 1, i);
    EXPECT_ERR(eddy__consumer_seek(c, "t", 5, 0), EDDY_ERR_STATE);
    EXPECT_CONTAINS(eddy_last_error(), "topic 't' partition 5 is not assigned");
    EXPECT_ERR(eddy__consumer_seek(c, "t", 0, -7), EDDY_ERR_INVALID_ARGUMENT);

    /* A paused partition returns nothing, and keeps its position and the group's assignment. */
    eddy_topic_partition p1[] = {{"t", 1}};
    EXPECT_OK(eddy__consumer_pause(c, p1, 1));
    EXPECT_OK(eddy__consumer_pause(c, p1, 1));
    fill(client, "t", 0, 10, 2);
    expect_record(c, "t", 0, 10);
    expect_record(c, "t", 0, 11);
    EXPECT_ERR(eddy__consumer_poll(c, 30, &rec), EDDY_ERR_TIMED_OUT);
    EXPECT_EQ(position_of(c, "t", 1), 3);
    EXPECT_OK(eddy__consumer_seek(c, "t", 1, 8)); /* seeking a paused partition */
    EXPECT_ERR(eddy__consumer_poll(c, 0, &rec), EDDY_ERR_TIMED_OUT);
    EXPECT_OK(eddy__consumer_resume(c, p1, 1));
    expect_record(c, "t", 1, 8);
    expect_record(c, "t", 1, 9);
    eddy_topic_partition missing[] = {{"t", 1}, {"u", 0}};
    EXPECT_ERR(eddy__consumer_pause(c, missing, 2), EDDY_ERR_STATE);

    /* Everything paused: poll waits out its timeout. */
    eddy_topic_partition both[] = {{"t", 0}, {"t", 1}};
    EXPECT_OK(eddy__consumer_pause(c, both, 2));
    fill(client, "t", 1, 10, 1);
    int64_t start = now_ms();
    EXPECT_ERR(eddy__consumer_poll(c, 50, &rec), EDDY_ERR_TIMED_OUT);
    EXPECT_GE(now_ms() - start, 45);
    EXPECT_OK(eddy__consumer_resume(c, both, 2));
    expect_record(c, "t", 1, 10);

    /* Reassigning: kept partitions keep their position (INVALID) or move (an offset); dropped
     * ones return nothing more. */
    eddy__topic_partition_offset again[] = {{"t", 1, EDDY__OFFSET_INVALID}};
    EXPECT_OK(eddy__consumer_assign(c, again, 1));
    EXPECT_EQ(position_of(c, "t", 1), 11);
    EXPECT_ERR(eddy__consumer_position(c, "t", 0, &start), EDDY_ERR_STATE);
    fill(client, "t", 0, 12, 1);
    fill(client, "t", 1, 11, 1);
    expect_record(c, "t", 1, 11);
    EXPECT_ERR(eddy__consumer_poll(c, 30, &rec), EDDY_ERR_TIMED_OUT);
    eddy__topic_partition_offset moved[] = {{"t", 1, 2}, {"t", 0, EDDY__OFFSET_INVALID}};
    EXPECT_OK(eddy__consumer_assign(c, moved, 2));
    EXPECT_EQ(position_of(c, "t", 1), 2);
    EXPECT_EQ(position_of(c, "t", 0), 13); /* new, no group: auto.offset.reset=latest */
    expect_record(c, "t", 1, 2);

    /* Bad assignments change nothing. */
    eddy__topic_partition_offset bad[] = {{"t", 0, 0}, {"t", 7, 0}};
    EXPECT_ERR(eddy__consumer_assign(c, bad, 2), EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_CONTAINS(eddy_last_error(), "topic 't' has no partition 7");
    eddy__topic_partition_offset twice[] = {{"t", 0, 0}, {"t", 0, 1}};
    EXPECT_ERR(eddy__consumer_assign(c, twice, 2), EDDY_ERR_INVALID_ARGUMENT);
    eddy__topic_partition_offset unknown[] = {{"nope", 0, 0}};
    EXPECT_ERR(eddy__consumer_assign(c, unknown, 1), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_EQ(position_of(c, "t", 1), 3);

    EXPECT_OK(eddy__consumer_unassign(c));
    EXPECT_OK(eddy__consumer_assignment(c, &tps, &count));
    EXPECT_EQ(count, 0);
    EXPECT_ERR(eddy__consumer_poll(c, 0, &rec), EDDY_ERR_TIMED_OUT);
    const char *topics[] = {"t"};
    EXPECT_ERR(eddy__consumer_subscribe(c, topics, 1, NULL, NULL), EDDY_ERR_STATE);
    EXPECT_ERR(eddy__consumer_commit(c, NULL, 0), EDDY_ERR_STATE);
    EXPECT_OK(eddy__consumer_close(c));
    EXPECT_ERR(eddy__consumer_poll(c, 0, &rec), EDDY_ERR_STATE);
    eddy__consumer_destroy(c);
    eddy__consumer_destroy(NULL);
    eddy__client_destroy(client);
}

TEST(consumer_commits_and_committed)
{
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 3, NULL, 0));
    for (int32_t part = 0; part < 3; part++)
        fill(client, "t", part, 0, 10);
    const char *earliest[] = {"auto.offset.reset=earliest"};
    eddy__consumer *c = consumer_open(client, "g", earliest, 1);
    int64_t offset = 0;
    EXPECT_OK(eddy__consumer_committed(c, "t", 0, &offset));
    EXPECT_EQ(offset, EDDY__OFFSET_INVALID);

    /* Explicit offsets, for any partition (manual assignment), in one commit. */
    eddy__topic_partition_offset offsets[] = {{"t", 0, 3}, {"t", 1, 7}};
    EXPECT_OK(eddy__consumer_commit(c, offsets, 2));
    EXPECT_OK(eddy__consumer_committed(c, "t", 0, &offset));
    EXPECT_EQ(offset, 3);
    EXPECT_OK(eddy__consumer_committed(c, "t", 1, &offset));
    EXPECT_EQ(offset, 7);
    EXPECT_OK(eddy__consumer_committed(c, "t", 2, &offset));
    EXPECT_EQ(offset, EDDY__OFFSET_INVALID);
    eddy__topic_partition_offset negative[] = {{"t", 0, -1}};
    EXPECT_ERR(eddy__consumer_commit(c, negative, 1), EDDY_ERR_INVALID_ARGUMENT);

    /* STORED starts at the committed offset, else at auto.offset.reset. */
    eddy__topic_partition_offset assign[] = {
        {"t", 0, EDDY_OFFSET_STORED}, {"t", 1, EDDY__OFFSET_INVALID}, {"t", 2, EDDY_OFFSET_STORED}};
    EXPECT_OK(eddy__consumer_assign(c, assign, 3));
    EXPECT_EQ(position_of(c, "t", 0), 3);
    EXPECT_EQ(position_of(c, "t", 1), 7);
    EXPECT_EQ(position_of(c, "t", 2), 0);
    eddy_record rec;
    for (int i = 0; i < 7 + 3 + 10; i++)
        EXPECT_OK(eddy__consumer_poll(c, 1000, &rec));
    EXPECT_ERR(eddy__consumer_poll(c, 0, &rec), EDDY_ERR_TIMED_OUT);

    /* NULL commits every position; an earlier commit is overwritten. */
    EXPECT_OK(eddy__consumer_commit(c, NULL, 0));
    for (int32_t part = 0; part < 3; part++) {
        EXPECT_OK(eddy__consumer_committed(c, "t", part, &offset));
        EXPECT_EQ(offset, 10);
    }
    eddy__topic_partition_offset back[] = {{"t", 2, 4}};
    EXPECT_OK(eddy__consumer_commit(c, back, 1));
    EXPECT_OK(eddy__consumer_committed(c, "t", 2, &offset));
    EXPECT_EQ(offset, 4);
    EXPECT_OK(eddy__consumer_committed(c, "t", 1, &offset));
    EXPECT_EQ(offset, 10);
    eddy__consumer_destroy(c);

    /* Another consumer of the group starts where this one committed. */
    c = consumer_open(client, "g", NULL, 0);
    eddy__topic_partition_offset stored[] = {{"t", 2, EDDY_OFFSET_STORED}};
    EXPECT_OK(eddy__consumer_assign(c, stored, 1));
    expect_record(c, "t", 2, 4);
    eddy__consumer_destroy(c);
    eddy__client_destroy(client);
}

TEST(consumer_auto_commit_on_close)
{
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 1, NULL, 0));
    fill(client, "t", 0, 0, 5);
    const char *pairs[] = {"enable.auto.commit=true", "auto.offset.reset=earliest"};
    eddy__consumer *c = consumer_open(client, "g", pairs, 2);
    eddy__topic_partition_offset assign[] = {{"t", 0, EDDY_OFFSET_STORED}};
    EXPECT_OK(eddy__consumer_assign(c, assign, 1));
    eddy_record rec;
    for (int i = 0; i < 3; i++)
        EXPECT_OK(eddy__consumer_poll(c, 1000, &rec));
    EXPECT_OK(eddy__consumer_close(c));
    eddy__consumer_destroy(c);

    /* Without auto-commit (the default) nothing is committed. */
    c = consumer_open(client, "h", pairs + 1, 1);
    int64_t offset = 0;
    EXPECT_OK(eddy__consumer_committed(c, "t", 0, &offset));
    EXPECT_EQ(offset, EDDY__OFFSET_INVALID);
    EXPECT_OK(eddy__consumer_assign(c, assign, 1));
    EXPECT_OK(eddy__consumer_poll(c, 1000, &rec));
    eddy__consumer_destroy(c);
    c = consumer_open(client, "h", NULL, 0);
    EXPECT_OK(eddy__consumer_committed(c, "t", 0, &offset));
    EXPECT_EQ(offset, EDDY__OFFSET_INVALID);
    eddy__consumer_destroy(c);

    c = consumer_open(client, "g", NULL, 0);
    EXPECT_OK(eddy__consumer_committed(c, "t", 0, &offset));
    EXPECT_EQ(offset, 3);
    eddy__consumer_destroy(c);
    eddy__client_destroy(client);
}

TEST(consumer_offset_reset_none_is_an_error_until_seek)
{
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 1, NULL, 0));
    fill(client, "t", 0, 0, 3);
    const char *pairs[] = {"auto.offset.reset=none"};
    eddy__consumer *c = consumer_open(client, "g", pairs, 1);
    eddy__topic_partition_offset assign[] = {{"t", 0, EDDY_OFFSET_STORED}};
    EXPECT_OK(eddy__consumer_assign(c, assign, 1));
    EXPECT_EQ(position_of(c, "t", 0), EDDY__OFFSET_INVALID);
    eddy_record rec;
    EXPECT_ERR(eddy__consumer_poll(c, 0, &rec), EDDY_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_STREQ(eddy_last_error(),
                 "topic 't' partition 0: no committed offset and auto.offset.reset is none");
    EXPECT_OK(eddy__consumer_seek(c, "t", 0, 1));
    expect_record(c, "t", 0, 1);

    /* Out of range: refused too, naming the partition. */
    EXPECT_OK(eddy__consumer_seek(c, "t", 0, 50));
    EXPECT_ERR(eddy__consumer_poll(c, 0, &rec), EDDY_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_CONTAINS(eddy_last_error(), "topic 't' partition 0");
    eddy__consumer_destroy(c);

    /* earliest resets an out-of-range position. */
    c = consumer_open(client, NULL, (const char *[]){"auto.offset.reset=earliest"}, 1);
    eddy__topic_partition_offset far[] = {{"t", 0, 50}};
    EXPECT_OK(eddy__consumer_assign(c, far, 1));
    expect_record(c, "t", 0, 0);
    eddy__consumer_destroy(c);
    eddy__client_destroy(client);
}

/* Rebalance callbacks, as one process sees them. */
typedef struct rebalances {
    int assigned, revoked;
    eddy_err commit_err;
    eddy_err poll_err;
} rebalances;

static void on_rebalance(eddy__consumer *c, eddy__rebalance_event event,
                         const eddy_topic_partition *tps, size_t count, void *opaque)
{
    rebalances *r = opaque;
    eddy_record rec;
    r->poll_err = eddy__consumer_poll(c, 0, &rec);
    if (event == EDDY__REBALANCE_ASSIGN) {
        r->assigned += (int)count;
        return;
    }
    EXPECT_EQ(event, EDDY__REBALANCE_REVOKE);
    r->revoked += (int)count;
    for (size_t i = 0; i < count; i++) {
        int64_t position = 0;
        EXPECT_OK(eddy__consumer_position(c, tps[i].topic, tps[i].partition, &position));
        eddy__topic_partition_offset o = {tps[i].topic, tps[i].partition, position};
        eddy_err err = eddy__consumer_commit(c, &o, 1);
        if (err != EDDY_OK)
            r->commit_err = err;
    }
}

TEST(consumer_subscribe_calls_back_and_commits_on_revoke)
{
    static rebalances r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "a", 2, NULL, 0));
    EXPECT_OK(eddy__client_topic_create(client, "b", 2, NULL, 0));
    fill(client, "a", 0, 0, 3);
    fill(client, "b", 1, 0, 4);
    const char *pairs[] = {"auto.offset.reset=earliest"};
    eddy__consumer *c = consumer_open(client, "app", pairs, 1);
    const char *topics[] = {"a", "b"};
    const char *missing[] = {"a", "nope"};
    EXPECT_ERR(eddy__consumer_subscribe(c, missing, 2, on_rebalance, &r), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_OK(eddy__consumer_subscribe(c, topics, 2, on_rebalance, &r));
    eddy__topic_partition_offset manual[] = {{"a", 0, 0}};
    EXPECT_ERR(eddy__consumer_assign(c, manual, 1), EDDY_ERR_STATE);
    eddy_record rec;
    int got = 0;
    for (int i = 0; i < 100 && got < 7; i++)
        if (eddy__consumer_poll(c, 100, &rec) == EDDY_OK)
            got++;
    EXPECT_EQ(got, 7);
    EXPECT_EQ(r.assigned, 4);
    EXPECT_EQ(r.poll_err, EDDY_ERR_STATE);
    const eddy_topic_partition *tps;
    size_t count;
    EXPECT_OK(eddy__consumer_assignment(c, &tps, &count));
    EXPECT_EQ(count, 4);
    EXPECT_EQ(position_of(c, "b", 1), 4);

    /* A paused partition of a subscription stays assigned and silent. */
    eddy_topic_partition a0[] = {{"a", 0}};
    EXPECT_OK(eddy__consumer_pause(c, a0, 1));
    fill(client, "a", 0, 3, 2);
    EXPECT_ERR(eddy__consumer_poll(c, 50, &rec), EDDY_ERR_TIMED_OUT);
    EXPECT_OK(eddy__consumer_resume(c, a0, 1));
    expect_record(c, "a", 0, 3);

    /* Commits of partitions it does not own are refused. */
    eddy__topic_partition_offset other[] = {{"zzz", 0, 1}};
    EXPECT_ERR(eddy__consumer_commit(c, other, 1), EDDY_ERR_STATE);

    /* Resubscribing to one topic revokes the other's partitions (committing them). */
    EXPECT_OK(eddy__consumer_subscribe(c, topics, 1, on_rebalance, &r));
    for (int i = 0; i < 20 && r.revoked < 2; i++)
        (void)eddy__consumer_poll(c, 20, &rec);
    EXPECT_EQ(r.revoked, 2);
    EXPECT_EQ(r.commit_err, EDDY_OK);
    int64_t offset = 0;
    EXPECT_OK(eddy__consumer_committed(c, "b", 1, &offset));
    EXPECT_EQ(offset, 4);

    /* Close revokes the rest (committing from the callback). */
    EXPECT_OK(eddy__consumer_close(c));
    EXPECT_EQ(r.revoked, 4);
    EXPECT_EQ(r.commit_err, EDDY_OK);
    eddy__consumer_destroy(c);

    /* The polls that waited for the revocation read a's record 4. */
    c = consumer_open(client, "app", NULL, 0);
    EXPECT_OK(eddy__consumer_committed(c, "a", 0, &offset));
    EXPECT_EQ(offset, 5);
    eddy__consumer_destroy(c);
    eddy__client_destroy(client);
}

/* ------------------------------------------------------------------------------------------ */
/* Allocation faults                                                                          */

/* Fails the nth allocation of a producer's life, for every n: each send either is refused or
 * is reported exactly once, and nothing leaks (ASan). */
TEST(producer_allocation_faults_lose_no_reports)
{
    static reports r;
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 3, NULL, 0));
    EXPECT_OK(eddy__client_topic_create(client, "u", 1, NULL, 0));
    for (uint64_t n = 1;; n++) {
        r.n = 0;
        const char *pairs[] = {"batch.size=300", "linger.ms=600000", "acks=1"};
        eddy_config *config = config_of(pairs, 3);
        eddy__alloc_fail_after(n, 0);
        eddy__producer *p = NULL;
        eddy_err err = eddy__producer_new(client, config, on_delivery, &r, &p);
        int accepted = 0;
        for (int i = 0; err == EDDY_OK && i < 40; i++) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", i);
            eddy_header header = {{"h", 1}, {"v", 1}};
            eddy_record rec = text_record(i % 3 ? key : NULL, "some value");
            rec.headers = &header;
            rec.header_count = i % 2;
            eddy_err sent =
                eddy__producer_send(p, i % 5 ? "t" : "u", -1, &rec, (void *)(intptr_t)i);
            if (sent == EDDY_OK)
                accepted++;
            else
                EXPECT_EQ(sent, EDDY_ERR_NO_MEMORY);
        }
        if (p) {
            eddy_err flushed = eddy__producer_flush(p, -1);
            EXPECT_TRUE(flushed == EDDY_OK || flushed == EDDY_ERR_NO_MEMORY);
            EXPECT_EQ(r.n, accepted);
            EXPECT_EQ(eddy__producer_outstanding(p), 0);
        }
        uint64_t injected = eddy__alloc_failures_injected();
        eddy__alloc_fail_after(0, 0);
        eddy_config_destroy(config);
        eddy__producer_destroy(p);
        if (injected == 0)
            break;
        EXPECT_TRUE(n < 10000);
    }
    eddy__client_destroy(client);
}

/* The same for a consumer's manual assignment, seeks, pauses, polls and commits: every call
 * succeeds or fails cleanly, and the consumer stays usable. */
TEST(consumer_allocation_faults_fail_cleanly)
{
    eddy__client *client = client_open();
    EXPECT_OK(eddy__client_topic_create(client, "t", 2, NULL, 0));
    fill(client, "t", 0, 0, 5);
    fill(client, "t", 1, 0, 5);
    for (uint64_t n = 1;; n++) {
        eddy__alloc_fail_after(n, 0);
        eddy__consumer *c = NULL;
        eddy_err err = eddy__consumer_new(client, "g", NULL, &c);
        eddy__topic_partition_offset assign[] = {{"t", 0, 0}, {"t", 1, EDDY_OFFSET_STORED}};
        eddy_topic_partition p0[] = {{"t", 0}};
        eddy_record rec;
        if (err == EDDY_OK) {
            (void)eddy__consumer_assign(c, assign, 2);
            (void)eddy__consumer_poll(c, 0, &rec);
            (void)eddy__consumer_pause(c, p0, 1);
            (void)eddy__consumer_poll(c, 0, &rec);
            (void)eddy__consumer_seek(c, "t", 1, 2);
            (void)eddy__consumer_resume(c, p0, 1);
            (void)eddy__consumer_poll(c, 0, &rec);
            (void)eddy__consumer_commit(c, NULL, 0);
            const eddy_topic_partition *tps;
            size_t count;
            (void)eddy__consumer_assignment(c, &tps, &count);
        }
        uint64_t injected = eddy__alloc_failures_injected();
        eddy__alloc_fail_after(0, 0);
        if (c) {
            /* Usable again once memory is back. */
            EXPECT_OK(eddy__consumer_assign(c, assign, 2));
            EXPECT_OK(eddy__consumer_seek(c, "t", 0, 1));
            EXPECT_OK(eddy__consumer_poll(c, 1000, &rec));
        }
        eddy__consumer_destroy(c);
        if (injected == 0)
            break;
        EXPECT_TRUE(n < 10000);
    }
    eddy__client_destroy(client);
}
