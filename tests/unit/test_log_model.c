/* Model-based test of the embedded log: random sequences of appends, reads, rolls, compactions
 * and reopenings, each checked against a plain in-memory model of what the log must hold. */
#include <stdio.h>
#include <stdlib.h>

#include "eddy/log.h"
#include "test.h"

#define PARTITIONS 2
#define MAX_RECORDS 6000
#define KEYS 12

typedef struct model_record {
    int64_t offset;
    int key;   /* -1: null key */
    int value; /* -1: null value (tombstone) */
    int64_t timestamp_ms;
} model_record;

typedef struct model_partition {
    model_record records[MAX_RECORDS];
    size_t count;
    int64_t end;
} model_partition;

static model_partition model[PARTITIONS];
static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void op_append(eddy_log *log, int p)
{
    size_t n = 1 + rng() % 8;
    if (model[p].count + n > MAX_RECORDS)
        return;
    eddy_record recs[8];
    char keys[8][16], values[8][16];
    model_record added[8];
    for (size_t i = 0; i < n; i++) {
        int key = (int)(rng() % (KEYS + 1)) - 1;
        int value = rng() % 10 == 0 ? -1 : (int)(rng() % 100000);
        int64_t ts = 1700000000000LL + (int64_t)(rng() % 100000);
        recs[i] = (eddy_record){.timestamp_ms = ts};
        if (key >= 0) {
            int len = snprintf(keys[i], sizeof(keys[i]), "key%d", key);
            recs[i].key = (eddy_slice){keys[i], (size_t)len};
        }
        if (value >= 0) {
            int len = snprintf(values[i], sizeof(values[i]), "v%d", value);
            recs[i].value = (eddy_slice){values[i], (size_t)len};
        }
        added[i] = (model_record){model[p].end + (int64_t)i, key, value, ts};
    }
    int64_t base;
    EXPECT_OK(eddy_log_append(log, "m", p, recs, n, rng() % 4 ? EDDY_ACKS_LEADER : EDDY_ACKS_ALL,
                              &base, NULL));
    EXPECT_EQ(base, model[p].end);
    for (size_t i = 0; i < n; i++)
        model[p].records[model[p].count++] = added[i];
    model[p].end += (int64_t)n;
}

static void check_record(const eddy_record *rec, const model_record *m)
{
    char text[16];
    EXPECT_EQ(rec->offset, m->offset);
    EXPECT_EQ(rec->timestamp_ms, m->timestamp_ms);
    if (m->key < 0) {
        EXPECT_TRUE(rec->key.data == NULL);
    } else {
        snprintf(text, sizeof(text), "key%d", m->key);
        EXPECT_MEMEQ(rec->key.data, rec->key.len, text, strlen(text));
    }
    if (m->value < 0) {
        EXPECT_TRUE(rec->value.data == NULL);
    } else {
        snprintf(text, sizeof(text), "v%d", m->value);
        EXPECT_MEMEQ(rec->value.data, rec->value.len, text, strlen(text));
    }
}

/* Reads from a random offset to the end and compares with the model. */
static void op_read(eddy_log *log, int p)
{
    int64_t from = model[p].end ? (int64_t)(rng() % (uint64_t)(model[p].end + 1)) : 0;
    eddy_log_reader *r;
    EXPECT_OK(eddy_log_reader_new(log, "m", p, from, &r));
    size_t i = 0;
    while (i < model[p].count && model[p].records[i].offset < from)
        i++;
    eddy_record rec;
    eddy_err err;
    while ((err = eddy_log_reader_next(r, 0, &rec)) == EDDY_OK) {
        EXPECT_TRUE(i < model[p].count);
        check_record(&rec, &model[p].records[i]);
        i++;
    }
    EXPECT_ERR(err, EDDY_ERR_TIMED_OUT);
    EXPECT_EQ(i, model[p].count);
    eddy_log_reader_destroy(r);
}

/* Compaction after a roll: every record is in a closed segment, so the model keeps the
 * latest record per key (tombstones too: delete.retention.ms is long) and keyless records. */
static void op_roll_and_compact(eddy_log *log)
{
    for (int p = 0; p < PARTITIONS; p++)
        EXPECT_OK(eddy_log_roll(log, "m", p));
    EXPECT_OK(eddy_log_maintain(log, "m"));
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t latest[KEYS];
        for (int k = 0; k < KEYS; k++)
            latest[k] = -1;
        for (size_t i = 0; i < model[p].count; i++)
            if (model[p].records[i].key >= 0)
                latest[model[p].records[i].key] = model[p].records[i].offset;
        size_t kept = 0;
        for (size_t i = 0; i < model[p].count; i++) {
            model_record *m = &model[p].records[i];
            if (m->key < 0 || latest[m->key] == m->offset)
                model[p].records[kept++] = *m;
        }
        model[p].count = kept;
    }
}

TEST(random_operations_match_model)
{
    rng_state = test_seed() | 1;
    const char *dir = test_tmpdir();
    eddy_log *log;
    EXPECT_OK(eddy_log_open(dir, EDDY_LOG_CREATE, &log));
    eddy_config *c = eddy_config_new();
    EXPECT_OK(eddy_config_set(c, "segment.bytes", "2048"));
    EXPECT_OK(eddy_config_set(c, "index.interval.bytes", "100"));
    EXPECT_OK(eddy_config_set(c, "cleanup.policy", "compact"));
    EXPECT_OK(eddy_config_set(c, "delete.retention.ms", "100000000000000"));
    EXPECT_OK(eddy_log_topic_create(log, "m", PARTITIONS, c));
    eddy_config_destroy(c);
    int steps = test_soak() ? 20000 : 3000;
    for (int step = 0; step < steps; step++) {
        int p = (int)(rng() % PARTITIONS);
        unsigned op = (unsigned)(rng() % 100);
        if (op < 70) {
            op_append(log, p);
        } else if (op < 90) {
            op_read(log, p);
        } else if (op < 94) {
            EXPECT_OK(eddy_log_roll(log, "m", p));
        } else if (op < 97) {
            op_roll_and_compact(log);
        } else {
            eddy_log_close(log);
            EXPECT_OK(eddy_log_open(dir, 0, &log));
        }
    }
    for (int p = 0; p < PARTITIONS; p++) {
        op_read(log, p);
        int64_t end;
        EXPECT_OK(eddy_log_partition_info(log, "m", p, NULL, &end, NULL, NULL));
        EXPECT_EQ(end, model[p].end);
    }
    int64_t problems;
    EXPECT_OK(eddy_log_verify(log, "m", NULL, NULL, &problems));
    EXPECT_EQ(problems, 0);
    eddy_log_close(log);
}
