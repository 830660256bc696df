/* The RocksDB key-value store: one RocksDB database per store, in `dir/name`, through RocksDB's
 * C API, configured as Kafka Streams' RocksDBStore configures it.
 *
 * Options (Kafka Streams' RocksDBStore.openDB, with the same values): no compression, universal
 * compaction, 16 MiB write buffers with at most 3 of them, a block-based table with 4 KiB blocks,
 * a 50 MiB LRU block cache and a full Bloom filter (10 bits per key), optimize_filters_for_hits,
 * increase_parallelism(max(CPUs, 2)), the info log at ERROR level. Writes skip the write-ahead
 * log: the changelog topic is the store's durability, and eddy_kv_flush() (a RocksDB flush that
 * waits) is called at each commit, so after a crash the files hold at least what the last
 * checkpoint says and the changelog replays the rest. Two additions of ours: RocksDB keeps at
 * most 4 old info logs (it keeps 1000 by default, one per open), and table files are opened
 * when the database is (max_open_files = -1, RocksDB's default, which also means that a table
 * file with a damaged footer is found at open rather than at some later read).
 *
 * Reads. eddy_kv_get() uses rocksdb_get_pinned: the value is pinned in the block cache (or
 * copied once from a write buffer) and stays valid until the next get or the close, which
 * release it. Iterators carry their own read options with both bounds set, so RocksDB stops at
 * the range's end itself: [from, to] becomes lower bound `from` and upper bound `to` + 0x00 (the
 * smallest key after `to`; RocksDB's upper bound is exclusive). A RocksDB iterator reads from an
 * implicit snapshot taken when it is created.
 *
 * Errors. RocksDB reports errors as strings ("Corruption: ...", "IO error: ..."); each becomes
 * an eddy_err by its status prefix and a message naming the store, the directory and the
 * operation and quoting RocksDB's text. Opening maps anything that says the files are not a
 * database this build can read (corruption, invalid arguments, unsupported formats) to
 * EDDY_ERR_CORRUPT, so that the runtime wipes the directory and restores from the changelog. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "store/store.h"

/* Kafka Streams' RocksDBStore constants. */
#define RDB_WRITE_BUFFER_SIZE (16LL * 1024 * 1024)
#define RDB_MAX_WRITE_BUFFERS 3
#define RDB_BLOCK_CACHE_SIZE (50LL * 1024 * 1024)
#define RDB_BLOCK_SIZE 4096
#define RDB_BLOOM_BITS_PER_KEY 10.0
/* RocksDB's InfoLogLevel::ERROR_LEVEL (DEBUG 0, INFO 1, WARN 2, ERROR 3). */
#define RDB_INFO_LOG_LEVEL_ERROR 3
#define RDB_KEEP_LOG_FILES 4

typedef struct rdb_settings {
    int64_t write_buffer_size;
    int64_t max_write_buffers;
    int64_t block_cache_size;
    int64_t block_size;
} rdb_settings;

typedef struct rdb_store {
    char name[EDDY_STORE_NAME_MAX + 1];
    char path[PATH_MAX];
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_readoptions_t *read;
    rocksdb_writeoptions_t *write;
    rocksdb_flushoptions_t *flush;
    rocksdb_pinnableslice_t *pinned; /* the value of the last get */
} rdb_store;

/* ---- Errors -------------------------------------------------------------------------------- */

/* The eddy_err for a RocksDB status string. When opening, statuses that mean "these files are
 * not a database we can read" are CORRUPT, so that the caller wipes and restores. */
static eddy_err rdb_error_code(const char *message, int opening)
{
    if (strstr(message, "No space left"))
        return EDDY_ERR_NO_SPACE;
    if (strstr(message, "Permission denied"))
        return EDDY_ERR_PERMISSION;
    if (strstr(message, "/LOCK:"))
        return EDDY_ERR_BUSY;
    if (strncmp(message, "Corruption", 10) == 0)
        return EDDY_ERR_CORRUPT;
    /* Opening: our own directory exists (we just made it), so a missing file is one the
     * database refers to (CURRENT names a MANIFEST, a MANIFEST names table files). */
    if (opening && strstr(message, "No such file or directory"))
        return EDDY_ERR_CORRUPT;
    if (opening && (strncmp(message, "Invalid argument", 16) == 0 ||
                    strncmp(message, "Not implemented", 15) == 0 ||
                    strncmp(message, "Operation not supported", 23) == 0))
        return EDDY_ERR_CORRUPT;
    return EDDY_ERR_IO;
}

/* Fails with RocksDB's error message (freed here). */
static eddy_err rdb_fail(const rdb_store *s, const char *operation, char *message, int opening)
{
    eddy_err err = rdb_error_code(message, opening);
    err =
        eddy__fail(err, "store '%s' (RocksDB in %s): %s: %s", s->name, s->path, operation, message);
    rocksdb_free(message);
    return err;
}

/* ---- Store operations ---------------------------------------------------------------------- */

static void rdb_release_pinned(rdb_store *s)
{
    if (s->pinned) {
        rocksdb_pinnableslice_destroy(s->pinned);
        s->pinned = NULL;
    }
}

static eddy_err rdb_get(void *self, eddy_slice key, eddy_slice *value)
{
    rdb_store *s = self;
    rdb_release_pinned(s);
    value->data = NULL;
    value->len = 0;
    char *error = NULL;
    s->pinned = rocksdb_get_pinned(s->db, s->read, key.data, key.len, &error);
    if (error)
        return rdb_fail(s, "get", error, 0);
    if (!s->pinned)
        return EDDY_ERR_NOT_FOUND;
    size_t len = 0;
    const char *data = rocksdb_pinnableslice_value(s->pinned, &len);
    value->data = data ? data : ""; /* an empty value is not a null one */
    value->len = len;
    return EDDY_OK;
}

static eddy_err rdb_put(void *self, eddy_slice key, eddy_slice value)
{
    rdb_store *s = self;
    char *error = NULL;
    rocksdb_put(s->db, s->write, key.data, key.len, value.data, value.len, &error);
    return error ? rdb_fail(s, "put", error, 0) : EDDY_OK;
}

static eddy_err rdb_remove(void *self, eddy_slice key)
{
    rdb_store *s = self;
    char *error = NULL;
    rocksdb_delete(s->db, s->write, key.data, key.len, &error);
    return error ? rdb_fail(s, "delete", error, 0) : EDDY_OK;
}

static eddy_err rdb_approximate_count(void *self, uint64_t *count)
{
    rdb_store *s = self;
    if (rocksdb_property_int(s->db, "rocksdb.estimate-num-keys", count) != 0)
        return eddy__fail(EDDY_ERR_IO,
                          "store '%s' (RocksDB in %s): rocksdb.estimate-num-keys is unavailable",
                          s->name, s->path);
    return EDDY_OK;
}

static eddy_err rdb_flush(void *self)
{
    rdb_store *s = self;
    char *error = NULL;
    rocksdb_flush(s->db, s->flush, &error);
    return error ? rdb_fail(s, "flush", error, 0) : EDDY_OK;
}

static void rdb_free(rdb_store *s)
{
    rdb_release_pinned(s);
    if (s->db)
        rocksdb_close(s->db);
    if (s->options)
        rocksdb_options_destroy(s->options);
    if (s->read)
        rocksdb_readoptions_destroy(s->read);
    if (s->write)
        rocksdb_writeoptions_destroy(s->write);
    if (s->flush)
        rocksdb_flushoptions_destroy(s->flush);
    eddy__free(s);
}

static void rdb_close(void *self)
{
    rdb_free(self);
}

/* ---- Iterators ----------------------------------------------------------------------------- */

typedef struct rdb_iter {
    rdb_store *store;
    rocksdb_readoptions_t *read;
    rocksdb_iterator_t *iterator;
    uint8_t *lower; /* the bounds, owned: RocksDB's read options point at them */
    uint8_t *upper;
    int reverse;
    int started;
    int ended;
} rdb_iter;

static eddy_err rdb_iter_next(void *self, eddy_slice *key, eddy_slice *value)
{
    rdb_iter *it = self;
    if (it->ended)
        return EDDY_ERR_END;
    if (!it->started) {
        if (it->reverse)
            rocksdb_iter_seek_to_last(it->iterator);
        else
            rocksdb_iter_seek_to_first(it->iterator);
        it->started = 1;
    } else if (it->reverse) {
        rocksdb_iter_prev(it->iterator);
    } else {
        rocksdb_iter_next(it->iterator);
    }
    if (!rocksdb_iter_valid(it->iterator)) {
        /* An invalid RocksDB iterator must not be moved again: the end (or the error) is
         * final. */
        it->ended = 1;
        char *error = NULL;
        rocksdb_iter_get_error(it->iterator, &error);
        return error ? rdb_fail(it->store, "iterate", error, 0) : EDDY_ERR_END;
    }
    size_t key_len = 0, value_len = 0;
    const char *key_data = rocksdb_iter_key(it->iterator, &key_len);
    const char *value_data = rocksdb_iter_value(it->iterator, &value_len);
    key->data = key_data ? key_data : "";
    key->len = key_len;
    value->data = value_data ? value_data : "";
    value->len = value_len;
    return EDDY_OK;
}

static void rdb_iter_destroy(void *self)
{
    rdb_iter *it = self;
    if (it->iterator)
        rocksdb_iter_destroy(it->iterator);
    if (it->read)
        rocksdb_readoptions_destroy(it->read);
    eddy__free(it->lower);
    eddy__free(it->upper);
    eddy__free(it);
}

static const eddy__kv_iter_ops rdb_iter_ops = {
    .next = rdb_iter_next,
    .destroy = rdb_iter_destroy,
};

static eddy_err rdb_iter_open(void *self, const eddy__kv_bounds *bounds,
                              const eddy__kv_iter_ops **iter_ops, void **iter)
{
    rdb_store *s = self;
    rdb_iter *it = eddy__calloc(1, sizeof(*it));
    if (!it)
        goto no_memory;
    it->store = s;
    it->reverse = bounds->reverse;
    it->read = rocksdb_readoptions_create();
    if (bounds->from.data) {
        it->lower = eddy__malloc(bounds->from.len);
        if (!it->lower)
            goto no_memory;
        memcpy(it->lower, bounds->from.data, bounds->from.len);
        rocksdb_readoptions_set_iterate_lower_bound(it->read, (const char *)it->lower,
                                                    bounds->from.len);
    }
    if (bounds->to.data) {
        size_t len = bounds->to.len + (bounds->to_inclusive ? 1 : 0);
        it->upper = eddy__malloc(len);
        if (!it->upper)
            goto no_memory;
        memcpy(it->upper, bounds->to.data, bounds->to.len);
        if (bounds->to_inclusive)
            it->upper[bounds->to.len] = 0; /* the first key after `to` */
        rocksdb_readoptions_set_iterate_upper_bound(it->read, (const char *)it->upper, len);
    }
    it->iterator = rocksdb_create_iterator(s->db, it->read);
    *iter_ops = &rdb_iter_ops;
    *iter = it;
    return EDDY_OK;
no_memory:
    if (it)
        rdb_iter_destroy(it);
    return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening an iterator", s->name);
}

static const eddy__kv_store_ops rdb_ops = {
    .get = rdb_get,
    .put = rdb_put,
    .remove = rdb_remove,
    .iter_open = rdb_iter_open,
    .approximate_count = rdb_approximate_count,
    .flush = rdb_flush,
    .close = rdb_close,
};

/* ---- Opening ------------------------------------------------------------------------------- */

static eddy_err rdb_settings_read(const eddy_config *config, rdb_settings *out)
{
    const int64_t tebibyte = 1LL << 40;
    eddy_err err = eddy_config_get_i64(config, "rocksdb.write.buffer.size", RDB_WRITE_BUFFER_SIZE,
                                       64 * 1024, tebibyte, &out->write_buffer_size);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(config, "rocksdb.max.write.buffers", RDB_MAX_WRITE_BUFFERS, 2, 64,
                                  &out->max_write_buffers);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(config, "rocksdb.block.cache.size", RDB_BLOCK_CACHE_SIZE, 0,
                                  tebibyte, &out->block_cache_size);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(config, "rocksdb.block.size", RDB_BLOCK_SIZE, 256,
                                  16 * 1024 * 1024, &out->block_size);
    return err;
}

/* Creates path and its missing parents (mkdir -p). */
static eddy_err make_directories(const char *path)
{
    char partial[PATH_MAX];
    size_t len = strlen(path);
    EDDY_ASSERT(len < sizeof(partial));
    memcpy(partial, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (partial[i] != '/' && partial[i] != '\0')
            continue;
        char saved = partial[i];
        partial[i] = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST)
            return eddy__fail_errno(errno, "cannot create directory %s", partial);
        partial[i] = saved;
    }
    return EDDY_OK;
}

static void rdb_configure(rdb_store *s, const rdb_settings *settings)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_error_if_exists(o, 0);
    rocksdb_options_set_compression(o, rocksdb_no_compression);
    rocksdb_options_set_compaction_style(o, rocksdb_universal_compaction);
    rocksdb_options_set_write_buffer_size(o, (size_t)settings->write_buffer_size);
    rocksdb_options_set_max_write_buffer_number(o, (int)settings->max_write_buffers);
    rocksdb_options_set_optimize_filters_for_hits(o, 1);
    rocksdb_options_set_info_log_level(o, RDB_INFO_LOG_LEVEL_ERROR);
    rocksdb_options_set_keep_log_file_num(o, RDB_KEEP_LOG_FILES);
    rocksdb_options_set_max_open_files(o, -1);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    rocksdb_options_increase_parallelism(o, cpus > 2 ? (int)cpus : 2);

    rocksdb_block_based_table_options_t *table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(table, (size_t)settings->block_size);
    if (settings->block_cache_size > 0) {
        rocksdb_cache_t *cache = rocksdb_cache_create_lru((size_t)settings->block_cache_size);
        rocksdb_block_based_options_set_block_cache(table, cache);
        rocksdb_cache_destroy(cache); /* the table options hold their own reference */
    } else {
        rocksdb_block_based_options_set_no_block_cache(table, 1);
    }
    /* The table options take ownership of the filter policy. */
    rocksdb_block_based_options_set_filter_policy(
        table, rocksdb_filterpolicy_create_bloom_full(RDB_BLOOM_BITS_PER_KEY));
    rocksdb_options_set_block_based_table_factory(o, table); /* copies the table options */
    rocksdb_block_based_options_destroy(table);
    s->options = o;

    s->read = rocksdb_readoptions_create();
    s->write = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(s->write, 1);
    s->flush = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(s->flush, 1);
}

static eddy_err rdb_path(const char *dir, const char *name, char *path, size_t size)
{
    if (!dir || !*dir)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': the directory is %s", name,
                          dir ? "empty" : "NULL");
    int n = snprintf(path, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': path %s/%s is too long", name,
                          dir, name);
    return EDDY_OK;
}

eddy_err eddy_kv_store_open_rocksdb(const char *name, const char *dir, const eddy_config *config,
                                    eddy_kv_store **out)
{
    if (!out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "open_rocksdb: out is NULL");
    *out = NULL;
    eddy_err err = eddy__kv_store_name_check(name);
    if (err != EDDY_OK)
        return err;
    rdb_settings settings;
    err = rdb_settings_read(config, &settings);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "store '%s'", name);
    rdb_store *s = eddy__calloc(1, sizeof(*s));
    if (!s)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening", name);
    snprintf(s->name, sizeof(s->name), "%s", name);
    err = rdb_path(dir, name, s->path, sizeof(s->path));
    if (err == EDDY_OK)
        err = make_directories(s->path);
    if (err != EDDY_OK) {
        rdb_free(s);
        return err;
    }
    rdb_configure(s, &settings);
    char *error = NULL;
    s->db = rocksdb_open(s->options, s->path, &error);
    if (error) {
        err = rdb_fail(s, "cannot open", error, 1);
        s->db = NULL;
        rdb_free(s);
        return err;
    }
    err = eddy__kv_store_wrap(name, &rdb_ops, s, out);
    if (err != EDDY_OK)
        rdb_free(s);
    return err;
}

/* ---- Wiping -------------------------------------------------------------------------------- */

static _Thread_local int wipe_errno;
static _Thread_local char wipe_failed_path[PATH_MAX];

static int wipe_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP || flag == FTW_D) ? rmdir(path) : unlink(path);
    if (rc != 0 && errno != ENOENT) {
        wipe_errno = errno;
        snprintf(wipe_failed_path, sizeof(wipe_failed_path), "%s", path);
        return 1; /* stop the walk */
    }
    return 0;
}

eddy_err eddy_kv_store_wipe_rocksdb(const char *dir, const char *name)
{
    eddy_err err = eddy__kv_store_name_check(name);
    if (err != EDDY_OK)
        return err;
    char path[PATH_MAX];
    err = rdb_path(dir, name, path, sizeof(path));
    if (err != EDDY_OK)
        return err;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return EDDY_OK;
        return eddy__fail_errno(errno, "store '%s': cannot wipe %s", name, path);
    }
    wipe_errno = 0;
    if (nftw(path, wipe_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        int errnum = wipe_errno ? wipe_errno : errno;
        return eddy__fail_errno(errnum, "store '%s': cannot wipe %s: cannot remove %s", name, path,
                                wipe_errno ? wipe_failed_path : path);
    }
    return EDDY_OK;
}
