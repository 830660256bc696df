/* The embedded log through its public API: topics, appends, readers, rolls, indexes, recovery
 * of torn tails, retention, compaction, timestamp lookup and verification. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eddy/log.h"
#include "log/log_internal.h"
#include "test.h"

static eddy_log *open_log(void)
{
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(test_tmpdir(), EDDY_LOG_CREATE, &log));
    return log;
}

static eddy_config *config_of(const char *pairs[], size_t n)
{
    eddy_config *c = eddy_config_new();
    for (size_t i = 0; i < n; i++)
        EXPECT_OK(eddy_config_set_pair(c, pairs[i]));
    return c;
}

static int64_t append_text(eddy_log *log, const char *topic, int32_t partition, const char *key,
                           const char *value, int64_t ts)
{
    eddy_record r = {0};
    if (key)
        r.key = (eddy_slice){key, strlen(key)};
    if (value)
        r.value = (eddy_slice){value, strlen(value)};
    r.timestamp_ms = ts;
    int64_t offset = -1;
    EXPECT_OK(eddy_log_append(log, topic, partition, &r, 1, EDDY_ACKS_LEADER, &offset, NULL));
    return offset;
}

/* Reads everything from `from` to the end; returns the count and checks offsets ascend. */
static int64_t read_all(eddy_log *log, const char *topic, int32_t partition, int64_t from,
                        char values[][32], int64_t *offsets, size_t max)
{
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, topic, partition, from, &r));
    eddy_record rec;
    int64_t n = 0, last = -1;
    eddy_err err;
    while ((err = eddy_log_reader_next(r, 0, &rec)) == EDDY_OK) {
        EXPECT_TRUE(rec.offset > last);
        last = rec.offset;
        if ((size_t)n < max) {
            if (values)
                snprintf(values[n], 32, "%.*s", rec.value.data ? (int)rec.value.len : 6,
                         rec.value.data ? (const char *)rec.value.data : "(null)");
            if (offsets)
                offsets[n] = rec.offset;
        }
        n++;
    }
    EXPECT_ERR(err, EDDY_ERR_TIMED_OUT);
    eddy_log_reader_destroy(r);
    return n;
}

TEST(topic_create_list_describe_delete)
{
    eddy_log *log = open_log();
    const char *pairs[] = {"retention.ms=1000", "cleanup.policy=compact"};
    eddy_config *c = config_of(pairs, 2);
    EXPECT_OK(eddy_log_topic_create(log, "orders", 3, c));
    EXPECT_OK(eddy_log_topic_create(log, "a.b_c-d", 1, NULL));
    EXPECT_ERR(eddy_log_topic_create(log, "orders", 3, NULL), EDDY_ERR_EXISTS);
    EXPECT_ERR(eddy_log_topic_create(log, "bad/name", 1, NULL), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_log_topic_create(log, "zero", 0, NULL), EDDY_ERR_INVALID_ARGUMENT);
    char **names;
    size_t count;
    EXPECT_OK(eddy_log_topic_list(log, &names, &count));
    EXPECT_EQ(count, 2);
    EXPECT_STREQ(names[0], "a.b_c-d");
    EXPECT_STREQ(names[1], "orders");
    eddy_log_names_free(names, count);
    int32_t partitions;
    EXPECT_OK(eddy_log_topic_partitions(log, "orders", &partitions));
    EXPECT_EQ(partitions, 3);
    eddy_config *got;
    EXPECT_OK(eddy_log_topic_config(log, "orders", &got));
    EXPECT_STREQ(eddy_config_get(got, "retention.ms"), "1000");
    EXPECT_STREQ(eddy_config_get(got, "cleanup.policy"), "compact");
    EXPECT_TRUE(eddy_config_get(got, "partitions") == NULL);
    eddy_config_destroy(got);
    int64_t start, end;
    EXPECT_OK(eddy_log_partition_info(log, "orders", 2, &start, &end, NULL, NULL));
    EXPECT_EQ(start, 0);
    EXPECT_EQ(end, 0);
    EXPECT_ERR(eddy_log_partition_info(log, "orders", 3, &start, &end, NULL, NULL),
               EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_CONTAINS(eddy_last_error(), "partition 3");
    EXPECT_ERR(eddy_log_partition_info(log, "nope", 0, &start, &end, NULL, NULL),
               EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_OK(eddy_log_topic_delete(log, "orders"));
    EXPECT_ERR(eddy_log_topic_partitions(log, "orders", &partitions), EDDY_ERR_UNKNOWN_TOPIC);
    /* Recreated with another partition count: cached handles must not leak through. */
    EXPECT_OK(eddy_log_topic_create(log, "orders", 2, NULL));
    EXPECT_EQ(append_text(log, "orders", 1, NULL, "x", -1), 0);
    EXPECT_ERR(eddy_log_partition_info(log, "orders", 2, NULL, NULL, NULL, NULL),
               EDDY_ERR_UNKNOWN_PARTITION);
    eddy_config_destroy(c);
    eddy_log_close(log);
}

TEST(bad_topic_config_is_refused_naming_key)
{
    eddy_log *log = open_log();
    eddy_config *c = eddy_config_new();
    EXPECT_ERR(eddy_config_set(c, "retention.ms", "abc"), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "retention.ms");
    EXPECT_CONTAINS(eddy_last_error(), "abc");
    eddy_config_destroy(c);
    eddy_log_close(log);
}

TEST(append_and_read_back_with_keys_headers_nulls)
{
    eddy_log *log = open_log();
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    eddy_header headers[2] = {{{"h1", 2}, {"v1", 2}}, {{"h2", 2}, {NULL, 0}}};
    eddy_record recs[3] = {
        {.key = {"k1", 2}, .value = {"hello", 5}, .headers = headers, .header_count = 2,
         .timestamp_ms = 1000},
        {.key = {NULL, 0}, .value = {"", 0}, .timestamp_ms = 2000},
        {.key = {"k3", 2}, .value = {NULL, 0}, .timestamp_ms = 3000},
    };
    int64_t base;
    int32_t part;
    EXPECT_OK(eddy_log_append(log, "t", 0, recs, 3, EDDY_ACKS_ALL, &base, &part));
    EXPECT_EQ(base, 0);
    EXPECT_EQ(part, 0);
    EXPECT_OK(eddy_log_append(log, "t", 0, recs, 1, EDDY_ACKS_LEADER, &base, NULL));
    EXPECT_EQ(base, 3);
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, EDDY_OFFSET_BEGINNING, &r));
    eddy_record rec;
    EXPECT_OK(eddy_log_reader_next(r, 0, &rec));
    EXPECT_EQ(rec.offset, 0);
    EXPECT_MEMEQ(rec.key.data, rec.key.len, "k1", 2);
    EXPECT_MEMEQ(rec.value.data, rec.value.len, "hello", 5);
    EXPECT_EQ(rec.header_count, 2);
    EXPECT_MEMEQ(rec.headers[0].key.data, rec.headers[0].key.len, "h1", 2);
    EXPECT_MEMEQ(rec.headers[0].value.data, rec.headers[0].value.len, "v1", 2);
    EXPECT_TRUE(rec.headers[1].value.data == NULL);
    EXPECT_EQ(rec.timestamp_ms, 1000);
    EXPECT_STREQ(rec.topic, "t");
    EXPECT_OK(eddy_log_reader_next(r, 0, &rec));
    EXPECT_TRUE(rec.key.data == NULL);
    EXPECT_TRUE(rec.value.data != NULL);
    EXPECT_EQ(rec.value.len, 0);
    EXPECT_OK(eddy_log_reader_next(r, 0, &rec));
    EXPECT_TRUE(rec.value.data == NULL);
    EXPECT_EQ(rec.timestamp_ms, 3000);
    EXPECT_OK(eddy_log_reader_next(r, 0, &rec));
    EXPECT_EQ(rec.offset, 3);
    EXPECT_ERR(eddy_log_reader_next(r, 0, &rec), EDDY_ERR_TIMED_OUT);
    EXPECT_EQ(eddy_log_reader_position(r), 4);
    /* Seek into the middle of a batch. */
    EXPECT_OK(eddy_log_reader_seek(r, 1));
    EXPECT_OK(eddy_log_reader_next(r, 0, &rec));
    EXPECT_EQ(rec.offset, 1);
    EXPECT_ERR(eddy_log_reader_seek(r, 5), EDDY_ERR_OFFSET_OUT_OF_RANGE);
    eddy_log_reader_destroy(r);
    eddy_log_close(log);
}

TEST(partition_by_key_matches_kafka_and_null_keys_spread)
{
    eddy_log *log = open_log();
    EXPECT_OK(eddy_log_topic_create(log, "t", 4, NULL));
    eddy_record r = {.key = {"foobar", 6}, .value = {"v", 1}, .timestamp_ms = -1};
    int32_t part;
    EXPECT_OK(eddy_log_append(log, "t", -1, &r, 1, EDDY_ACKS_LEADER, NULL, &part));
    /* Kafka: murmur2("foobar") = -790332482; toPositive % 4. */
    EXPECT_EQ(part, (-790332482 & 0x7fffffff) % 4);
    EXPECT_EQ(eddy_log_partition_for_key((eddy_slice){"foobar", 6}, 4), part);
    int seen[4] = {0};
    r.key = (eddy_slice){NULL, 0};
    for (int i = 0; i < 8; i++) {
        EXPECT_OK(eddy_log_append(log, "t", -1, &r, 1, EDDY_ACKS_LEADER, NULL, &part));
        seen[part]++;
    }
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(seen[i], 2);
    EXPECT_ERR(eddy_log_append(log, "t", 4, &r, 1, EDDY_ACKS_LEADER, NULL, NULL),
               EDDY_ERR_UNKNOWN_PARTITION);
    EXPECT_ERR(eddy_log_append(log, "nope", 0, &r, 1, EDDY_ACKS_LEADER, NULL, NULL),
               EDDY_ERR_UNKNOWN_TOPIC);
    eddy_log_close(log);
}

TEST(segments_roll_by_size_and_reads_cross_them_with_index_seeks)
{
    eddy_log *log = open_log();
    const char *pairs[] = {"segment.bytes=4096", "index.interval.bytes=256", "retention.ms=-1"};
    eddy_config *c = config_of(pairs, 3);
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    char value[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(value, sizeof(value), "value-%04d", i);
        EXPECT_EQ(append_text(log, "t", 0, NULL, value, 1000 + i), i);
    }
    int32_t segments;
    int64_t start, end, bytes;
    EXPECT_OK(eddy_log_partition_info(log, "t", 0, &start, &end, &bytes, &segments));
    EXPECT_EQ(end, 1000);
    EXPECT_GE(segments, 10);
    static char values[1000][32];
    EXPECT_EQ(read_all(log, "t", 0, EDDY_OFFSET_BEGINNING, values, NULL, 1000), 1000);
    EXPECT_STREQ(values[0], "value-0000");
    EXPECT_STREQ(values[999], "value-0999");
    for (int64_t from = 0; from < 1000; from += 37) {
        EXPECT_EQ(read_all(log, "t", 0, from, values, NULL, 1000), 1000 - from);
        snprintf(value, sizeof(value), "value-%04d", (int)from);
        EXPECT_STREQ(values[0], value);
    }
    int64_t problems = -1;
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    eddy_log_close(log);
}

TEST(offset_for_time)
{
    eddy_log *log = open_log();
    const char *pairs[] = {"segment.bytes=2048", "index.interval.bytes=128", "retention.ms=-1"};
    eddy_config *c = config_of(pairs, 3);
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    for (int i = 0; i < 500; i++)
        append_text(log, "t", 0, NULL, "some value here", 10000 + i * 10);
    int64_t offset;
    EXPECT_OK(eddy_log_offset_for_time(log, "t", 0, 0, &offset));
    EXPECT_EQ(offset, 0);
    EXPECT_OK(eddy_log_offset_for_time(log, "t", 0, 10000, &offset));
    EXPECT_EQ(offset, 0);
    EXPECT_OK(eddy_log_offset_for_time(log, "t", 0, 10001, &offset));
    EXPECT_EQ(offset, 1);
    for (int i = 0; i < 500; i += 13) {
        EXPECT_OK(eddy_log_offset_for_time(log, "t", 0, 10000 + i * 10 - 5, &offset));
        EXPECT_EQ(offset, i);
        EXPECT_OK(eddy_log_offset_for_time(log, "t", 0, 10000 + i * 10, &offset));
        EXPECT_EQ(offset, i);
    }
    EXPECT_OK(eddy_log_offset_for_time(log, "t", 0, 99999999, &offset));
    EXPECT_EQ(offset, 500);
    eddy_log_close(log);
}

TEST(retention_by_bytes_and_time_deletes_whole_closed_segments)
{
    eddy_log *log = open_log();
    const char *pairs[] = {"segment.bytes=1024", "retention.bytes=4096"};
    eddy_config *c = config_of(pairs, 2);
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    for (int i = 0; i < 400; i++)
        append_text(log, "t", 0, NULL, "0123456789012345678901234567890123456789", -1);
    int64_t start, end, bytes;
    int32_t segments;
    EXPECT_OK(eddy_log_partition_info(log, "t", 0, &start, &end, &bytes, &segments));
    EXPECT_EQ(end, 400);
    EXPECT_TRUE(start > 0);
    /* Retention runs at each roll: at most retention.bytes plus the segment it keeps for the
     * bound and the active segment that has grown since. */
    EXPECT_LE(bytes, 4096 + 2 * 1024);
    EXPECT_EQ(read_all(log, "t", 0, EDDY_OFFSET_BEGINNING, NULL, NULL, 0), 400 - start);
    eddy_log_reader *r;
    EXPECT_ERR(eddy_log_reader_new(log, "t", 0, start - 1, &r), EDDY_ERR_OFFSET_OUT_OF_RANGE);

    /* Time: records stamped long ago go at the next roll or maintenance pass. */
    const char *pairs2[] = {"segment.bytes=1024", "retention.ms=60000"};
    c = config_of(pairs2, 2);
    EXPECT_OK(eddy_log_topic_create(log, "old", 1, c));
    eddy_config_destroy(c);
    for (int i = 0; i < 100; i++)
        append_text(log, "old", 0, NULL, "0123456789012345678901234567890123456789", 1000);
    for (int i = 0; i < 10; i++)
        append_text(log, "old", 0, NULL, "recent", -1);
    EXPECT_OK(eddy_log_maintain(log, "old"));
    EXPECT_OK(eddy_log_partition_info(log, "old", 0, &start, &end, NULL, &segments));
    EXPECT_EQ(end, 110);
    EXPECT_GE(start, 90); /* all old segments gone; only the active one (with old + recent) */
    EXPECT_EQ(segments, 1);
    eddy_log_close(log);
}

TEST(compaction_keeps_latest_per_key_and_offsets)
{
    eddy_log *log = open_log();
    const char *pairs[] = {"segment.bytes=1024", "cleanup.policy=compact",
                           "delete.retention.ms=100000000000"};
    eddy_config *c = config_of(pairs, 3);
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    char key[16], value[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "k%d", i % 10);
        snprintf(value, sizeof(value), "v%d", i);
        append_text(log, "t", 0, key, value, -1);
    }
    append_text(log, "t", 0, "k3", NULL, -1); /* tombstone for k3 at offset 300 */
    append_text(log, "t", 0, NULL, "keyless", -1);
    EXPECT_OK(eddy_log_roll(log, "t", 0));
    EXPECT_OK(eddy_log_maintain(log, "t"));
    static char values[400][32];
    static int64_t offsets[400];
    int64_t n = read_all(log, "t", 0, EDDY_OFFSET_BEGINNING, values, offsets, 400);
    /* k0..k9 latest (offsets 290..299) except k3 whose latest is the tombstone, plus keyless. */
    EXPECT_EQ(n, 11);
    EXPECT_EQ(offsets[0], 290);
    EXPECT_STREQ(values[0], "v290");
    EXPECT_EQ(offsets[9], 300);
    EXPECT_STREQ(values[9], "(null)");
    EXPECT_EQ(offsets[10], 301);
    int64_t start, end;
    EXPECT_OK(eddy_log_partition_info(log, "t", 0, &start, &end, NULL, NULL));
    EXPECT_EQ(start, 0);
    EXPECT_EQ(end, 302);
    /* Reading from an offset that compaction removed starts at the next survivor. */
    EXPECT_EQ(read_all(log, "t", 0, 100, NULL, offsets, 400), 11);
    EXPECT_EQ(offsets[0], 290);
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    /* New appends continue after the compacted range. */
    EXPECT_EQ(append_text(log, "t", 0, "k1", "again", -1), 302);
    eddy_log_close(log);
}

TEST(compaction_drops_old_tombstones)
{
    eddy_log *log = open_log();
    const char *pairs[] = {"cleanup.policy=compact", "delete.retention.ms=1000"};
    eddy_config *c = config_of(pairs, 2);
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    append_text(log, "t", 0, "a", "1", 5000);
    append_text(log, "t", 0, "a", NULL, 6000); /* tombstone, long past delete.retention.ms */
    append_text(log, "t", 0, "b", "2", -1);
    EXPECT_OK(eddy_log_roll(log, "t", 0));
    EXPECT_OK(eddy_log_maintain(log, "t"));
    int64_t offsets[8];
    EXPECT_EQ(read_all(log, "t", 0, EDDY_OFFSET_BEGINNING, NULL, offsets, 8), 1);
    EXPECT_EQ(offsets[0], 2);
    eddy_log_close(log);
}

/* Truncating the last batch at every byte: the reopened log holds exactly the earlier batches
 * and appends continue at the right offset. */
TEST(recovery_after_truncating_last_batch_at_every_byte)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir());
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    append_text(log, "t", 0, "k", "first", -1);
    append_text(log, "t", 0, "k", "second", -1);
    eddy_record recs[3] = {{.key = {"a", 1}, .value = {"x", 1}, .timestamp_ms = -1},
                           {.key = {"b", 1}, .value = {"yy", 2}, .timestamp_ms = -1},
                           {.key = {"c", 1}, .value = {"zzz", 3}, .timestamp_ms = -1}};
    EXPECT_OK(eddy_log_append(log, "t", 0, recs, 3, EDDY_ACKS_ALL, NULL, NULL));
    eddy_log_close(log);
    char path[4200], copy[4200];
    snprintf(path, sizeof(path), "%s/topics/t/0/00000000000000000000.log", dir);
    snprintf(copy, sizeof(copy), "%s/full.log", dir);
    struct stat st;
    EXPECT_EQ(stat(path, &st), 0);
    int64_t full = st.st_size;
    /* Keep a copy of the full segment to restore before each truncation. */
    FILE *in = fopen(path, "rb");
    static uint8_t bytes[65536];
    size_t len = fread(bytes, 1, sizeof(bytes), in);
    fclose(in);
    EXPECT_EQ((int64_t)len, full);
    (void)copy;
    /* The first two batches' size: find it by reading the first two batch lengths. */
    int64_t two = 0;
    for (int i = 0; i < 2; i++)
        two += 12 + (int64_t)eddy__be32_get(bytes + two + 8);
    for (int64_t cut = two; cut < full; cut++) {
        FILE *out = fopen(path, "wb");
        fwrite(bytes, 1, (size_t)cut, out);
        fclose(out);
        /* Pretend the state file is from before: recovery scans from its recovery point. */
        EXPECT_OK(eddy_log_open(dir, 0, &log));
        int64_t start, end;
        EXPECT_OK(eddy_log_partition_info(log, "t", 0, &start, &end, NULL, NULL));
        EXPECT_EQ(end, 2);
        EXPECT_EQ(read_all(log, "t", 0, 0, NULL, NULL, 0), 2);
        EXPECT_EQ(append_text(log, "t", 0, "k", "third", -1), 2);
        eddy_log_close(log);
        EXPECT_EQ(stat(path, &st), 0);
        EXPECT_TRUE(st.st_size > two);
    }
    /* And a corrupt byte inside the tail batch (CRC fails) is cut the same way. */
    FILE *out = fopen(path, "wb");
    bytes[full - 1] ^= 0xff;
    fwrite(bytes, 1, (size_t)full, out);
    fclose(out);
    EXPECT_OK(eddy_log_open(dir, 0, &log));
    EXPECT_EQ(read_all(log, "t", 0, 0, NULL, NULL, 0), 2);
    eddy_log_close(log);
}

TEST(corrupt_closed_segment_stops_reader_and_verify_reports_it)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir());
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    const char *pairs[] = {"segment.bytes=1024"};
    eddy_config *c = config_of(pairs, 1);
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    for (int i = 0; i < 100; i++)
        append_text(log, "t", 0, "key", "0123456789012345678901234567890123456789", -1);
    eddy_log_close(log);
    char path[4200];
    snprintf(path, sizeof(path), "%s/topics/t/0/00000000000000000000.log", dir);
    int fd = open(path, O_RDWR);
    uint8_t byte;
    EXPECT_EQ(pread(fd, &byte, 1, 200), 1);
    byte ^= 0x55;
    EXPECT_EQ(pwrite(fd, &byte, 1, 200), 1);
    close(fd);
    EXPECT_OK(eddy_log_open(dir, 0, &log));
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, 0, &r));
    eddy_record rec;
    eddy_err err;
    int n = 0;
    while ((err = eddy_log_reader_next(r, 0, &rec)) == EDDY_OK)
        n++;
    EXPECT_ERR(err, EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "00000000000000000000.log");
    EXPECT_CONTAINS(eddy_last_error(), "byte");
    EXPECT_TRUE(n < 100);
    /* It stays at the bad batch. */
    EXPECT_ERR(eddy_log_reader_next(r, 0, &rec), EDDY_ERR_CORRUPT);
    eddy_log_reader_destroy(r);
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, NULL, NULL, NULL, &problems));
    EXPECT_EQ(problems, 1);
    eddy_log_close(log);
}

TEST(newer_format_version_is_refused_unchanged)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir());
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    eddy_log_close(log);
    char path[4200];
    snprintf(path, sizeof(path), "%s/eddy.format", dir);
    FILE *f = fopen(path, "w");
    fputs("eddy-log-format 99\n", f);
    fclose(f);
    EXPECT_ERR(eddy_log_open(dir, EDDY_LOG_CREATE, &log), EDDY_ERR_FORMAT_VERSION);
    EXPECT_CONTAINS(eddy_last_error(), "newer");
    f = fopen(path, "r");
    char line[64];
    EXPECT_TRUE(fgets(line, sizeof(line), f) != NULL);
    fclose(f);
    EXPECT_STREQ(line, "eddy-log-format 99\n");
    EXPECT_ERR(eddy_log_open("/nonexistent/eddy", 0, &log), EDDY_ERR_NOT_FOUND);
}

TEST(reader_waits_and_wakes_on_append_from_another_process)
{
    eddy_log *log = open_log();
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, NULL));
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, EDDY_OFFSET_END, &r));
    pid_t pid = fork();
    if (pid == 0) {
        eddy_log *child;
        usleep(100 * 1000);
        if (eddy_log_open(test_tmpdir(), 0, &child) != EDDY_OK)
            _exit(1);
        eddy_record rec = {.value = {"wake", 4}, .timestamp_ms = -1};
        _exit(eddy_log_append(child, "t", 0, &rec, 1, EDDY_ACKS_LEADER, NULL, NULL) ? 1 : 0);
    }
    eddy_record rec;
    EXPECT_OK(eddy_log_reader_next(r, 5000, &rec));
    EXPECT_MEMEQ(rec.value.data, rec.value.len, "wake", 4);
    int status;
    waitpid(pid, &status, 0);
    EXPECT_EQ(status, 0);
    eddy_log_reader_destroy(r);
    eddy_log_close(log);
}

TEST(log_append_time_replaces_producer_timestamps)
{
    eddy_log *log = open_log();
    eddy_config *c = eddy_config_new();
    EXPECT_OK(eddy_config_set(c, "message.timestamp.type", "LogAppendTime"));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t before = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    append_text(log, "t", 0, "k", "v", 42);
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, "t", 0, 0, &r));
    eddy_record rec;
    EXPECT_OK(eddy_log_reader_next(r, 0, &rec));
    EXPECT_GE(rec.timestamp_ms, before);
    eddy_log_reader_destroy(r);
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    eddy_log_close(log);
}

TEST(topic_names_with_a_leading_dot_are_listed)
{
    eddy_log *log = open_log();
    EXPECT_OK(eddy_log_topic_create(log, ".hidden", 1, NULL));
    EXPECT_ERR(eddy_log_topic_create(log, "..", 1, NULL), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_log_topic_create(log, "+tmp-x", 1, NULL), EDDY_ERR_INVALID_ARGUMENT);
    char **names;
    size_t count;
    EXPECT_OK(eddy_log_topic_list(log, &names, &count));
    EXPECT_EQ(count, 1);
    EXPECT_STREQ(names[0], ".hidden");
    eddy_log_names_free(names, count);
    eddy_log_close(log);
}

TEST(segments_roll_by_age)
{
    eddy_log *log = open_log();
    eddy_config *c = eddy_config_new();
    EXPECT_OK(eddy_config_set(c, "segment.ms", "20"));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    append_text(log, "t", 0, NULL, "a", -1);
    append_text(log, "t", 0, NULL, "b", -1);
    int32_t segments;
    EXPECT_OK(eddy_log_partition_info(log, "t", 0, NULL, NULL, NULL, &segments));
    EXPECT_EQ(segments, 1);
    usleep(40 * 1000);
    append_text(log, "t", 0, NULL, "c", -1);
    EXPECT_OK(eddy_log_partition_info(log, "t", 0, NULL, NULL, NULL, &segments));
    EXPECT_EQ(segments, 2);
    EXPECT_EQ(read_all(log, "t", 0, 0, NULL, NULL, 0), 3);
    eddy_log_close(log);
}

/* verify reads both indexes: a time-index entry that breaks its promise is reported. */
TEST(verify_reports_bad_index_entries)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_tmpdir());
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    eddy_config *c = eddy_config_new();
    EXPECT_OK(eddy_config_set(c, "index.interval.bytes", "0"));
    EXPECT_OK(eddy_config_set(c, "retention.ms", "-1"));
    EXPECT_OK(eddy_log_topic_create(log, "t", 1, c));
    eddy_config_destroy(c);
    for (int i = 0; i < 10; i++)
        append_text(log, "t", 0, NULL, "value", 1000 + i);
    EXPECT_OK(eddy_log_roll(log, "t", 0));
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    char path[4200];
    /* Time index: claim an older maximum than the records have. */
    snprintf(path, sizeof(path), "%s/topics/t/0/00000000000000000000.timeindex", dir);
    int fd = open(path, O_RDWR);
    uint8_t entry[12] = {0};
    EXPECT_EQ(pread(fd, entry, 12, 12), 12);
    entry[7] = 0; /* timestamp 1000 + k -> a value below the batches before the entry */
    entry[6] = 0;
    EXPECT_EQ(pwrite(fd, entry, 12, 12), 12);
    close(fd);
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 1);
    /* Offset index: point an entry into the middle of a batch. */
    snprintf(path, sizeof(path), "%s/topics/t/0/00000000000000000000.index", dir);
    fd = open(path, O_RDWR);
    uint8_t ientry[8];
    EXPECT_EQ(pread(fd, ientry, 8, 8), 8);
    ientry[7] ^= 1;
    EXPECT_EQ(pwrite(fd, ientry, 8, 8), 8);
    close(fd);
    EXPECT_OK(eddy_log_verify(log, "t", NULL, NULL, &problems));
    EXPECT_EQ(problems, 2);
    /* Readers treat indexes as hints: every offset still reads right. */
    for (int64_t from = 0; from < 10; from++)
        EXPECT_EQ(read_all(log, "t", 0, from, NULL, NULL, 0), 10 - from);
    eddy_log_close(log);
}
