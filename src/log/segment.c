/* Segment files and their indexes.
 *
 * A partition directory holds segments. A segment is three files named by the offset of its
 * first record (its base offset), zero-padded to 20 digits as Kafka names them:
 *
 *   00000000000000000000.log        RecordBatch v2 batches, back to back (batch.c)
 *   00000000000000000000.index      sparse offset index
 *   00000000000000000000.timeindex  sparse time index
 *
 * Offset index: one 8-byte entry at least every index.interval.bytes of log:
 *
 *   +-------------------------+-------------------------+
 *   | relative offset (u32 BE)| position (u32 BE)       |   offset = base + relative offset
 *   +-------------------------+-------------------------+
 *
 * The entry says "the batch whose base offset is base+relative starts at byte position".
 * Entries increase in both fields.
 *
 * Time index: one 12-byte entry, written with an offset-index entry when the segment's largest
 * timestamp has grown since the last entry, plus a final entry when the segment is rolled:
 *
 *   +----------------------------------+-------------------------+
 *   | timestamp (i64 BE, ms)           | relative offset (u32 BE)|
 *   +----------------------------------+-------------------------+
 *
 * The entry (T, O) says "every record of this segment with an offset below O has a timestamp
 * <= T". The final entry of a closed segment therefore carries the segment's largest
 * timestamp and its end offset, which retention uses.
 *
 * Indexes are hints, rebuilt on recovery: readers check the batch they are pointed at and
 * fall back to scanning from the start of the segment when it is not what the index said.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "log/log_internal.h"

void eddy__segment_path(const char *dir, int64_t base, const char *ext, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%020" PRId64 "%s", dir, base, ext);
}

/* Parses "<20 digits>.log"; returns 1 and the base offset when the name is a segment. */
static int segment_name_parse(const char *name, int64_t *base)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
        return 0;
    int64_t value = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        if (value > (INT64_MAX - 9) / 10)
            return 0;
        value = value * 10 + (name[i] - '0');
    }
    *base = value;
    return 1;
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

eddy_err eddy__segment_list(const char *dir, int64_t **bases, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return eddy__fail_errno(errno, "cannot list partition directory %s", dir);
    int64_t *list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t base;
        if (!segment_name_parse(e->d_name, &base))
            continue;
        if (n == cap) {
            size_t new_cap = cap ? cap * 2 : 16;
            int64_t *grown = eddy__realloc(list, new_cap * sizeof(*list));
            if (!grown) {
                eddy__free(list);
                closedir(d);
                return eddy__fail(EDDY_ERR_NO_MEMORY, "listing %s: out of memory", dir);
            }
            list = grown;
            cap = new_cap;
        }
        list[n++] = base;
    }
    closedir(d);
    if (n > 1)
        qsort(list, n, sizeof(*list), compare_i64);
    *bases = list;
    *count = n;
    return EDDY_OK;
}

/* Reads a whole index file into memory (indexes are small: 8 bytes per 4 KiB of log). */
static eddy_err index_read(const char *path, size_t entry_size, uint8_t **data, size_t *entries)
{
    *data = NULL;
    *entries = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return EDDY_OK; /* no index: scan from the start */
        return eddy__fail_errno(errno, "cannot open index %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return eddy__fail_errno(err, "cannot stat index %s", path);
    }
    size_t n = (size_t)st.st_size / entry_size;
    if (n == 0) {
        close(fd);
        return EDDY_OK;
    }
    uint8_t *buf = eddy__malloc(n * entry_size);
    if (!buf) {
        close(fd);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "reading index %s: out of memory", path);
    }
    ssize_t got = pread(fd, buf, n * entry_size, 0);
    close(fd);
    if (got < 0) {
        eddy__free(buf);
        return eddy__fail_errno(errno, "cannot read index %s", path);
    }
    *data = buf;
    *entries = (size_t)got / entry_size;
    return EDDY_OK;
}

/* An index entry's sort key: the offset of an offset-index entry, the timestamp of a
 * time-index entry. */
static int64_t entry_key(const uint8_t *entry, size_t entry_size, int64_t base)
{
    if (entry_size == EDDY_INDEX_ENTRY_SIZE)
        return base + eddy__be32_get(entry);
    return (int64_t)eddy__be64_get(entry);
}

/* Binary search: how many leading entries have a key below `limit` (keys never decrease). */
static size_t entries_below(const uint8_t *data, size_t n, size_t entry_size, int64_t base,
                            int64_t limit)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_key(data + mid * entry_size, entry_size, base) < limit)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

eddy_err eddy__index_lookup(const char *index_path, int64_t base, int64_t target,
                            int64_t *position)
{
    uint8_t *data;
    size_t n;
    *position = 0;
    eddy_err err = index_read(index_path, EDDY_INDEX_ENTRY_SIZE, &data, &n);
    if (err != EDDY_OK || n == 0)
        return err;
    /* The last entry whose offset is <= target. */
    size_t below = target == INT64_MAX ? n
                                       : entries_below(data, n, EDDY_INDEX_ENTRY_SIZE, base,
                                                       target + 1);
    if (below > 0)
        *position = eddy__be32_get(data + (below - 1) * EDDY_INDEX_ENTRY_SIZE + 4);
    eddy__free(data);
    return EDDY_OK;
}

eddy_err eddy__timeindex_lookup(const char *path, int64_t base, int64_t target_ms,
                                int64_t *offset)
{
    uint8_t *data;
    size_t n;
    *offset = base;
    eddy_err err = index_read(path, EDDY_TIMEINDEX_ENTRY_SIZE, &data, &n);
    if (err != EDDY_OK || n == 0)
        return err;
    /* The last entry whose timestamp is < target. */
    size_t below = entries_below(data, n, EDDY_TIMEINDEX_ENTRY_SIZE, base, target_ms);
    if (below > 0)
        *offset = base + eddy__be32_get(data + (below - 1) * EDDY_TIMEINDEX_ENTRY_SIZE + 8);
    eddy__free(data);
    return EDDY_OK;
}

eddy_err eddy__timeindex_last(const char *path, int64_t *timestamp_ms, int64_t *offset)
{
    uint8_t *data;
    size_t n;
    eddy_err err = index_read(path, EDDY_TIMEINDEX_ENTRY_SIZE, &data, &n);
    if (err != EDDY_OK)
        return err;
    if (n == 0)
        return EDDY_ERR_NOT_FOUND;
    const uint8_t *last = data + (n - 1) * EDDY_TIMEINDEX_ENTRY_SIZE;
    *timestamp_ms = (int64_t)eddy__be64_get(last);
    *offset = eddy__be32_get(last + 8); /* relative: the caller adds the base */
    eddy__free(data);
    return EDDY_OK;
}

eddy_err eddy__segment_walk(const uint8_t *data, int64_t size, int64_t position,
                            eddy__batch_visit cb, void *opaque, int64_t *valid_end)
{
    eddy_err err = EDDY_OK;
    while (position < size) {
        eddy__batch_header h;
        err = eddy__batch_parse_header(data + position, (size_t)(size - position), &h);
        if (err == EDDY_OK)
            err = eddy__batch_check_crc(data + position, &h);
        if (err != EDDY_OK)
            break;
        if (cb && cb(data + position, &h, position, opaque) != 0) {
            err = EDDY_ERR_CORRUPT;
            break;
        }
        position += (int64_t)eddy__batch_size(&h);
    }
    *valid_end = position;
    return err;
}

eddy_err eddy__segment_map(const char *path, int64_t reserve, const uint8_t **data,
                           int64_t *size, int64_t *mapped)
{
    *data = NULL;
    *size = 0;
    *mapped = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return eddy__fail_errno(errno, "cannot open segment %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return eddy__fail_errno(err, "cannot stat segment %s", path);
    }
    *size = st.st_size;
    if (reserve < st.st_size)
        reserve = st.st_size;
    if (reserve == 0) {
        close(fd);
        return EDDY_OK;
    }
    void *map = mmap(NULL, (size_t)reserve, PROT_READ, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED)
        return eddy__fail_errno(err, "cannot map segment %s", path);
    *data = map;
    *mapped = reserve;
    return EDDY_OK;
}

void eddy__segment_unmap(const uint8_t *data, int64_t mapped)
{
    if (data && mapped > 0)
        munmap((void *)data, (size_t)mapped);
}

eddy_err eddy__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return eddy__fail_errno(errno, "cannot open directory %s", dir);
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0)
        return eddy__fail_errno(err, "cannot fsync directory %s", dir);
    return EDDY_OK;
}
