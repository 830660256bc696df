/* Consume throughput: an eddy_log_reader scanning a partition of N records, against a plain
 * mmap scan of the naive log's file holding the same records, in the same run, warm.
 *
 *   bench_consume --dir D [--size 100] [--records 4000000] [--only eddy|baseline]
 *                 [--eddy-first]
 *
 * Both sides first write their data (eddy: eddy_log_append of 64 KiB batches, acks=1; naive:
 * 64 KiB write() chunks), then scan it once untimed (so the page cache is warm and the checks
 * below hold), then scan it once timed. The timed scan covers only the read loop: eddy's
 * reader is created before the clock starts (it maps the segment), the naive file is mapped
 * before the clock starts (same flags as eddy's reader: PROT_READ, MAP_SHARED, no
 * MAP_POPULATE), so both pay the same page-table faults inside the loop.
 *
 * Per record both sides do the same work: sum the bytes of the record's value
 * (bench_sum_bytes). Three figures:
 *   eddy      eddy_log_reader_next until N records (eddy checks each batch's CRC-32C);
 *   scan      the mapped file, record by record;
 *   scan_crc  the same, plus eddy__crc32c over each 64 KiB chunk before its records (the
 *             peer for eddy, which checks a CRC over every ~64 KiB batch).
 *
 * Output:
 *   consume size=100 records=N eddy_rps=... base_rps=... ratio=... scan_rps=... ratio_scan=...
 * where base_rps is scan_crc (the target's peer) and ratio_scan is eddy against the plain scan.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "core/crc32c.h"

#define TOPIC "bench"

static const char *dir;
static size_t size = 100;
static int64_t records = 4000000;
static const char *only;
static int eddy_first;

static uint8_t *value_pool;

static const uint8_t *pool_value(size_t i)
{
    return value_pool + (i % bench_batch_records(size)) * size;
}

/* ---- eddy ------------------------------------------------------------------------------- */

static void eddy_fill(eddy_log *log)
{
    size_t batch = bench_batch_records(size);
    eddy_record *recs = calloc(batch, sizeof(*recs));
    if (!recs)
        bench_die("out of memory");
    for (size_t i = 0; i < batch; i++) {
        recs[i].value = (eddy_slice){pool_value(i), size};
        recs[i].timestamp_ms = -1;
    }
    for (int64_t done = 0; done < records;) {
        size_t n = batch;
        if ((int64_t)n > records - done)
            n = (size_t)(records - done);
        bench_check(eddy_log_append(log, TOPIC, 0, recs, n, EDDY_ACKS_LEADER, NULL, NULL),
                    "eddy_log_append");
        done += (int64_t)n;
    }
    free(recs);
}

/* One scan of the whole partition; returns the elapsed ns, *sum the byte sum. */
static int64_t eddy_scan(eddy_log *log, uint64_t *sum)
{
    eddy_log_reader *r;
    bench_check(eddy_log_reader_new(log, TOPIC, 0, EDDY_OFFSET_BEGINNING, &r),
                "eddy_log_reader_new");
    uint64_t total = 0;
    eddy_record rec;
    int64_t start = bench_now_ns();
    for (int64_t i = 0; i < records; i++) {
        bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
        total += bench_sum_bytes(rec.value.data, rec.value.len);
    }
    int64_t elapsed = bench_now_ns() - start;
    eddy_log_reader_destroy(r);
    *sum = total;
    return elapsed;
}

static double eddy_side(uint64_t *sum)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/eddy", dir);
    bench_remove_tree(path);
    eddy_log *log;
    bench_check(eddy_log_open(path, EDDY_LOG_CREATE, &log), "eddy_log_open");
    bench_check(eddy_log_topic_create(log, TOPIC, 1, NULL), "eddy_log_topic_create");
    eddy_fill(log);
    uint64_t warm_sum;
    eddy_scan(log, &warm_sum);
    int64_t ns = eddy_scan(log, sum);
    eddy_log_close(log);
    bench_remove_tree(path);
    return (double)records * 1e9 / (double)ns;
}

/* ---- the naive log's file ------------------------------------------------------------------ */

static int64_t naive_scan(const char *path, int crc, uint64_t *sum)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        bench_die("cannot open %s: %s", path, strerror(errno));
    size_t len = (size_t)records * size;
    const uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        bench_die("cannot map %s: %s", path, strerror(errno));
    close(fd);
    size_t per_chunk = bench_batch_records(size);
    uint64_t total = 0;
    uint32_t crcs = 0;
    int64_t start = bench_now_ns();
    for (int64_t i = 0; i < records; i += (int64_t)per_chunk) {
        size_t n = per_chunk;
        if ((int64_t)n > records - i)
            n = (size_t)(records - i);
        const uint8_t *chunk = map + (size_t)i * size;
        if (crc)
            crcs ^= eddy__crc32c(0, chunk, n * size);
        for (size_t j = 0; j < n; j++)
            total += bench_sum_bytes(chunk + j * size, size);
    }
    int64_t elapsed = bench_now_ns() - start;
    munmap((void *)map, len);
    *sum = total + (crcs == 0x12345678u); /* keeps the CRC live; never changes the sum */
    return elapsed;
}

static void naive_side(double *scan_rps, double *scan_crc_rps, uint64_t *sum)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/naive-consume.log", dir);
    unlink(path);
    bench_naive_writer w;
    bench_naive_open(&w, path, size, NULL);
    for (int64_t i = 0; i < records; i++)
        bench_naive_append(&w, pool_value((size_t)i));
    bench_naive_close(&w);
    uint64_t warm_sum, crc_sum;
    naive_scan(path, 0, &warm_sum);
    *scan_rps = (double)records * 1e9 / (double)naive_scan(path, 0, sum);
    *scan_crc_rps = (double)records * 1e9 / (double)naive_scan(path, 1, &crc_sum);
    if (crc_sum != *sum)
        *sum = 0; /* reported as a mismatch below */
    unlink(path);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"dir", 1, 0, 'd'},        {"size", 1, 0, 's'},
                                          {"records", 1, 0, 'n'},    {"only", 1, 0, 'o'},
                                          {"eddy-first", 0, 0, 'e'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            size = (size_t)atol(optarg);
            break;
        case 'n':
            records = atoll(optarg);
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
    if (!dir || size < 1 || size > BENCH_CHUNK_BYTES || records < 1) {
        fprintf(stderr, "usage: bench_consume --dir D [--size B] [--records N] "
                        "[--only eddy|baseline] [--eddy-first]\n");
        return 2;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", dir, strerror(errno));
    value_pool = malloc(BENCH_CHUNK_BYTES);
    if (!value_pool)
        bench_die("out of memory");
    bench_fill_pattern(value_pool, BENCH_CHUNK_BYTES, 2);

    double eddy_rps = 0, scan_rps = 0, scan_crc_rps = 0;
    uint64_t eddy_sum = 0, naive_sum = 0;
    int run_eddy = !only || strcmp(only, "eddy") == 0;
    if (run_eddy && eddy_first)
        eddy_rps = eddy_side(&eddy_sum);
    if (!only || strcmp(only, "baseline") == 0)
        naive_side(&scan_rps, &scan_crc_rps, &naive_sum);
    if (run_eddy && !eddy_first)
        eddy_rps = eddy_side(&eddy_sum);
    if (!only && eddy_sum != naive_sum)
        bench_die("eddy read a byte sum of %" PRIu64 ", the naive scans %" PRIu64, eddy_sum,
                  naive_sum);
    printf("consume size=%zu records=%" PRId64 " crc_hw=%d eddy_rps=%.0f base_rps=%.0f "
           "ratio=%.3f scan_rps=%.0f ratio_scan=%.3f\n",
           size, records, eddy__crc32c_hardware(), eddy_rps, scan_crc_rps,
           scan_crc_rps > 0 ? eddy_rps / scan_crc_rps : 0.0, scan_rps,
           scan_rps > 0 ? eddy_rps / scan_rps : 0.0);
    return 0;
}
