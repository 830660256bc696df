/* Key-value store throughput: a stateful count (Kafka Streams' count(), the wordcount inner
 * loop) through eddy's stores, against hand-written loops doing the same work, in the same run.
 *
 *   bench_store --dir D [--kind memory|rocksdb] [--keys 1000000] [--records 10000000]
 *               [--only eddy|baseline] [--eddy-first]
 *
 * Every record is a key drawn uniformly from `keys` distinct keys ("user-" and 8 digits, 13
 * bytes; the draws are precomputed, the same for both sides). Per record both sides read the
 * key's count, add one and write it back, the count being an int64 in 8 big-endian bytes (as
 * Kafka's LongSerde) in the store, so eddy's side does what a count processor does:
 *
 *   memory   eddy: eddy_kv_get + eddy_kv_put on eddy_kv_store_open_memory;
 *            baseline: an open-addressing hash map written for this job (linear probing, keys
 *            inline in the slots, the count as a native int64, growing by doubling at 3/4
 *            full, a multiply-fold hash like the memory store's) doing one lookup per record.
 *   rocksdb  eddy: eddy_kv_get + eddy_kv_put on eddy_kv_store_open_rocksdb;
 *            baseline: rocksdb_get + rocksdb_put on a database opened with the same options
 *            (Kafka Streams' RocksDBStore settings, no WAL).
 *
 * At the end both sides' counts are summed and must equal the record count; the eddy side also
 * checks one key's count against the baseline's. Output:
 *   store kind=memory keys=N records=N eddy_rps=... base_rps=... ratio=...
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "core/buf.h"
#include "eddy/store.h"

#define KEY_LEN 13

static const char *dir;
static const char *kind = "memory";
static int64_t keys = 1000000;
static int64_t records = 10000000;
static const char *only;
static int eddy_first;

static char (*key_table)[16]; /* keys[i]: "user-%08d", KEY_LEN bytes */
static uint32_t *draws;       /* the key index of each record */

static void workload_make(void)
{
    key_table = malloc((size_t)keys * sizeof(*key_table));
    draws = malloc((size_t)records * sizeof(*draws));
    if (!key_table || !draws)
        bench_die("out of memory for %" PRId64 " keys and %" PRId64 " records", keys, records);
    for (int64_t i = 0; i < keys; i++) {
        /* Keys are numbered in a scrambled order, so that neither side sees sorted inserts. */
        uint64_t n = ((uint64_t)i * 2654435761u) % 100000000u;
        snprintf(key_table[i], sizeof(key_table[i]), "user-%08" PRIu64, n);
    }
    uint64_t state = 42;
    for (int64_t r = 0; r < records; r++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        draws[r] = (uint32_t)((state >> 33) % (uint64_t)keys);
    }
}

/* ---- memory: eddy ------------------------------------------------------------------------- */

/* The first full scan after the counting loop, in microseconds: for the memory store it also
 * orders the keys inserted by the loop (src/store/memory.c keeps new keys out of its B+tree
 * until a scan needs them), a cost the loop itself did not pay. */
static int64_t first_scan_us;

static double eddy_memory(uint64_t *total, int64_t *probe)
{
    eddy_kv_store *s;
    bench_check(eddy_kv_store_open_memory("counts", &s), "eddy_kv_store_open_memory");
    int64_t start = bench_now_ns();
    for (int64_t r = 0; r < records; r++) {
        eddy_slice key = {key_table[draws[r]], KEY_LEN}, value;
        uint64_t count = 0;
        eddy_err err = eddy_kv_get(s, key, &value);
        if (err == EDDY_OK)
            count = eddy__be64_get(value.data);
        else if (err != EDDY_ERR_NOT_FOUND)
            bench_check(err, "eddy_kv_get");
        uint8_t encoded[8];
        eddy__be64_put(encoded, count + 1);
        bench_check(eddy_kv_put(s, key, (eddy_slice){encoded, 8}), "eddy_kv_put");
    }
    int64_t elapsed = bench_now_ns() - start;
    eddy_kv_iter *it;
    bench_check(eddy_kv_all(s, &it), "eddy_kv_all");
    eddy_slice k, v;
    *total = 0;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK)
        *total += eddy__be64_get(v.data);
    eddy_kv_iter_destroy(it);
    first_scan_us = (bench_now_ns() - start - elapsed) / 1000;
    eddy_slice value;
    *probe = 0;
    if (eddy_kv_get(s, (eddy_slice){key_table[0], KEY_LEN}, &value) == EDDY_OK)
        *probe = (int64_t)eddy__be64_get(value.data);
    eddy_kv_store_close(s);
    return (double)records * 1e9 / (double)elapsed;
}

/* ---- memory: the hand-written hash map ----------------------------------------------------- */

typedef struct base_slot {
    uint64_t hash; /* 0: empty (hashes are forced odd) */
    char key[16];
    int64_t count;
} base_slot;

static inline uint64_t base_mix(uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

/* 13-byte keys: two overlapping 8-byte loads. */
static inline uint64_t base_hash(const char *key)
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + KEY_LEN - 8, 8);
    return base_mix(base_mix(a ^ 0xe7037ed1a0b428dbULL, b ^ 0xa0761d6478bd642fULL),
                    0x8ebc6af09c88c6e3ULL) |
           1;
}

static double base_memory(uint64_t *total, int64_t *probe)
{
    *probe = 0;
    size_t capacity = 16, used = 0;
    base_slot *slots = calloc(capacity, sizeof(*slots));
    if (!slots)
        bench_die("out of memory");
    int64_t start = bench_now_ns();
    for (int64_t r = 0; r < records; r++) {
        const char *key = key_table[draws[r]];
        uint64_t hash = base_hash(key);
        size_t mask = capacity - 1, i = hash & mask;
        while (slots[i].hash && (slots[i].hash != hash || memcmp(slots[i].key, key, KEY_LEN)))
            i = (i + 1) & mask;
        if (slots[i].hash) {
            slots[i].count++;
            continue;
        }
        if ((used + 1) * 4 > capacity * 3) {
            size_t grown = capacity * 2;
            base_slot *bigger = calloc(grown, sizeof(*bigger));
            if (!bigger)
                bench_die("out of memory");
            for (size_t j = 0; j < capacity; j++) {
                if (!slots[j].hash)
                    continue;
                size_t k = slots[j].hash & (grown - 1);
                while (bigger[k].hash)
                    k = (k + 1) & (grown - 1);
                bigger[k] = slots[j];
            }
            free(slots);
            slots = bigger;
            capacity = grown;
            mask = capacity - 1;
            i = hash & mask;
            while (slots[i].hash)
                i = (i + 1) & mask;
        }
        slots[i].hash = hash;
        memcpy(slots[i].key, key, KEY_LEN);
        slots[i].count = 1;
        used++;
    }
    int64_t elapsed = bench_now_ns() - start;
    *total = 0;
    for (size_t j = 0; j < capacity; j++) {
        if (!slots[j].hash)
            continue;
        *total += (uint64_t)slots[j].count;
        if (memcmp(slots[j].key, key_table[0], KEY_LEN) == 0)
            *probe = slots[j].count;
    }
    free(slots);
    return (double)records * 1e9 / (double)elapsed;
}

/* ---- rocksdb -------------------------------------------------------------------------------- */

static double eddy_rocksdb(uint64_t *total, int64_t *probe)
{
    eddy_kv_store *s;
    bench_check(eddy_kv_store_wipe_rocksdb(dir, "eddy-counts"), "wipe");
    bench_check(eddy_kv_store_open_rocksdb("eddy-counts", dir, NULL, &s), "open_rocksdb");
    int64_t start = bench_now_ns();
    for (int64_t r = 0; r < records; r++) {
        eddy_slice key = {key_table[draws[r]], KEY_LEN}, value;
        uint64_t count = 0;
        eddy_err err = eddy_kv_get(s, key, &value);
        if (err == EDDY_OK)
            count = eddy__be64_get(value.data);
        else if (err != EDDY_ERR_NOT_FOUND)
            bench_check(err, "eddy_kv_get");
        uint8_t encoded[8];
        eddy__be64_put(encoded, count + 1);
        bench_check(eddy_kv_put(s, key, (eddy_slice){encoded, 8}), "eddy_kv_put");
    }
    int64_t elapsed = bench_now_ns() - start;
    eddy_kv_iter *it;
    bench_check(eddy_kv_all(s, &it), "eddy_kv_all");
    eddy_slice k, v;
    *total = 0;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK)
        *total += eddy__be64_get(v.data);
    eddy_kv_iter_destroy(it);
    first_scan_us = (bench_now_ns() - start - elapsed) / 1000;
    eddy_slice value;
    *probe = 0;
    if (eddy_kv_get(s, (eddy_slice){key_table[0], KEY_LEN}, &value) == EDDY_OK)
        *probe = (int64_t)eddy__be64_get(value.data);
    eddy_kv_store_close(s);
    bench_check(eddy_kv_store_wipe_rocksdb(dir, "eddy-counts"), "wipe");
    return (double)records * 1e9 / (double)elapsed;
}

static void base_check(char *error, const char *what)
{
    if (error)
        bench_die("%s: %s", what, error);
}

/* Kafka Streams' RocksDBStore options, as eddy sets them (src/store/rocksdb.c). */
static rocksdb_options_t *base_rocksdb_options(void)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_compression(o, rocksdb_no_compression);
    rocksdb_options_set_compaction_style(o, rocksdb_universal_compaction);
    rocksdb_options_set_write_buffer_size(o, 16u << 20);
    rocksdb_options_set_max_write_buffer_number(o, 3);
    rocksdb_options_set_optimize_filters_for_hits(o, 1);
    rocksdb_options_set_info_log_level(o, 3);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    rocksdb_options_increase_parallelism(o, cpus > 2 ? (int)cpus : 2);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(t, 4096);
    rocksdb_cache_t *cache = rocksdb_cache_create_lru(50u << 20);
    rocksdb_block_based_options_set_block_cache(t, cache);
    rocksdb_cache_destroy(cache);
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(10));
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);
    return o;
}

static double base_rocksdb(uint64_t *total, int64_t *probe)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/base-counts", dir);
    bench_remove_tree(path);
    rocksdb_options_t *options = base_rocksdb_options();
    char *error = NULL;
    rocksdb_t *db = rocksdb_open(options, path, &error);
    base_check(error, "rocksdb_open");
    rocksdb_readoptions_t *read = rocksdb_readoptions_create();
    rocksdb_writeoptions_t *write = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(write, 1);
    int64_t start = bench_now_ns();
    for (int64_t r = 0; r < records; r++) {
        const char *key = key_table[draws[r]];
        size_t len = 0;
        char *value = rocksdb_get(db, read, key, KEY_LEN, &len, &error);
        base_check(error, "rocksdb_get");
        uint64_t count = 0;
        if (value) {
            count = eddy__be64_get((const uint8_t *)value);
            rocksdb_free(value);
        }
        uint8_t encoded[8];
        eddy__be64_put(encoded, count + 1);
        rocksdb_put(db, write, key, KEY_LEN, (const char *)encoded, 8, &error);
        base_check(error, "rocksdb_put");
    }
    int64_t elapsed = bench_now_ns() - start;
    rocksdb_iterator_t *it = rocksdb_create_iterator(db, read);
    *total = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t len;
        *total += eddy__be64_get((const uint8_t *)rocksdb_iter_value(it, &len));
    }
    rocksdb_iter_destroy(it);
    size_t len = 0;
    char *value = rocksdb_get(db, read, key_table[0], KEY_LEN, &len, &error);
    base_check(error, "rocksdb_get");
    *probe = value ? (int64_t)eddy__be64_get((const uint8_t *)value) : 0;
    rocksdb_free(value);
    rocksdb_readoptions_destroy(read);
    rocksdb_writeoptions_destroy(write);
    rocksdb_close(db);
    rocksdb_options_destroy(options);
    bench_remove_tree(path);
    return (double)records * 1e9 / (double)elapsed;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"dir", required_argument, NULL, 'd'},
        {"kind", required_argument, NULL, 'k'},
        {"keys", required_argument, NULL, 'n'},
        {"records", required_argument, NULL, 'r'},
        {"only", required_argument, NULL, 'o'},
        {"eddy-first", no_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'n':
            keys = strtoll(optarg, NULL, 10);
            break;
        case 'r':
            records = strtoll(optarg, NULL, 10);
            break;
        case 'o':
            only = optarg;
            break;
        case 'e':
            eddy_first = 1;
            break;
        default:
            dir = NULL;
            optind = argc;
            break;
        }
    }
    int memory = strcmp(kind, "memory") == 0;
    if (!dir || keys < 1 || keys > UINT32_MAX || records < 1 ||
        (!memory && strcmp(kind, "rocksdb") != 0)) {
        fprintf(stderr, "usage: bench_store --dir D [--kind memory|rocksdb] [--keys N] "
                        "[--records N] [--only eddy|baseline] [--eddy-first]\n");
        return 2;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", dir, strerror(errno));
    workload_make();

    double (*eddy_side)(uint64_t *, int64_t *) = memory ? eddy_memory : eddy_rocksdb;
    double (*base_side)(uint64_t *, int64_t *) = memory ? base_memory : base_rocksdb;
    double eddy_rps = 0, base_rps = 0;
    uint64_t eddy_total = 0, base_total = 0;
    int64_t eddy_probe = 0, base_probe = 0;
    int run_eddy = !only || strcmp(only, "eddy") == 0;
    int run_base = !only || strcmp(only, "baseline") == 0;
    if (run_eddy && eddy_first)
        eddy_rps = eddy_side(&eddy_total, &eddy_probe);
    if (run_base)
        base_rps = base_side(&base_total, &base_probe);
    if (run_eddy && !eddy_first)
        eddy_rps = eddy_side(&eddy_total, &eddy_probe);
    if ((run_eddy && eddy_total != (uint64_t)records) ||
        (run_base && base_total != (uint64_t)records))
        bench_die("counts sum to %" PRIu64 " (eddy) and %" PRIu64 " (baseline), not %" PRId64,
                  eddy_total, base_total, records);
    if (run_eddy && run_base && eddy_probe != base_probe)
        bench_die("key %s counted %" PRId64 " times by eddy, %" PRId64 " by the baseline",
                  key_table[0], eddy_probe, base_probe);
    printf("store kind=%s keys=%" PRId64 " records=%" PRId64 " eddy_rps=%.0f base_rps=%.0f "
           "ratio=%.3f first_scan_us=%" PRId64 "\n",
           kind, keys, records, eddy_rps, base_rps, base_rps > 0 ? eddy_rps / base_rps : 0.0,
           first_scan_us);
    free(key_table);
    free(draws);
    return 0;
}
