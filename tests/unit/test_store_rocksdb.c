/* The RocksDB store's own promises: data survives a close and reopen, a damaged database is
 * reported (naming the directory and quoting RocksDB) and can be wiped and reopened empty, a
 * database open twice is BUSY, size options are read from the configuration. */
#include "test_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eddy/config.h"
#include "eddy/store.h"
#include "test.h"

static const char *state_dir(void)
{
    static char dir[4200];
    snprintf(dir, sizeof(dir), "%s/state/task-0_1", test_tmpdir());
    return dir;
}

static eddy_kv_store *open_store(const char *name)
{
    eddy_kv_store *s = NULL;
    EXPECT_OK(eddy_kv_store_open_rocksdb(name, state_dir(), NULL, &s));
    return s;
}

static void put_numbered(eddy_kv_store *s, int count)
{
    for (int i = 0; i < count; i++) {
        char key[32], value[32];
        snprintf(key, sizeof(key), "key-%06d", i);
        snprintf(value, sizeof(value), "value-%d", i);
        EXPECT_OK(eddy_kv_put(s, S(key), S(value)));
    }
}

static void expect_numbered(eddy_kv_store *s, int count)
{
    for (int i = 0; i < count; i++) {
        char key[32], value[32];
        snprintf(key, sizeof(key), "key-%06d", i);
        snprintf(value, sizeof(value), "value-%d", i);
        eddy_slice v;
        EXPECT_OK(eddy_kv_get(s, S(key), &v));
        EXPECT_MEMEQ(v.data, v.len, value, strlen(value));
    }
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    eddy_slice k, v;
    int n = 0;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK)
        n++;
    eddy_kv_iter_destroy(it);
    EXPECT_EQ(n, count);
}

/* The path of the first file in the store's directory whose name ends with suffix (or starts
 * with it when prefix is set). */
static int find_file(const char *name, const char *pattern, int prefix, char *out, size_t size)
{
    char dir[4400];
    snprintf(dir, sizeof(dir), "%s/%s", state_dir(), name);
    DIR *d = opendir(dir);
    EXPECT_TRUE(d != NULL);
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), plen = strlen(pattern);
        int match = prefix ? strncmp(e->d_name, pattern, plen) == 0
                           : len >= plen && strcmp(e->d_name + len - plen, pattern) == 0;
        if (match) {
            snprintf(out, size, "%s/%s", dir, e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static void overwrite(const char *path, off_t offset, const char *garbage, size_t len)
{
    int fd = open(path, O_WRONLY);
    EXPECT_TRUE(fd >= 0);
    EXPECT_EQ(pwrite(fd, garbage, len, offset), (ssize_t)len);
    close(fd);
}

TEST(rocksdb_creates_directories_and_reopens_with_data)
{
    eddy_kv_store *s = open_store("counts");
    char path[4400];
    snprintf(path, sizeof(path), "%s/counts/CURRENT", state_dir());
    EXPECT_EQ(access(path, F_OK), 0);
    put_numbered(s, 5000);
    EXPECT_OK(eddy_kv_delete(s, S("key-000007")));
    EXPECT_OK(eddy_kv_put(s, S("key-000007"), S("value-7")));
    EXPECT_OK(eddy_kv_flush(s));
    eddy_kv_store_close(s);
    s = open_store("counts");
    expect_numbered(s, 5000);
    uint64_t count = 0;
    EXPECT_OK(eddy_kv_approximate_count(s, &count));
    EXPECT_GE(count, 4000);
    EXPECT_LE(count, 6000);
    /* Writes after the last flush: RocksDB flushes its write buffers at close when the WAL is
     * off, so a clean close keeps them too. */
    EXPECT_OK(eddy_kv_put(s, S("after-flush"), S("kept")));
    eddy_kv_store_close(s);
    s = open_store("counts");
    eddy_slice v;
    EXPECT_OK(eddy_kv_get(s, S("after-flush"), &v));
    EXPECT_MEMEQ(v.data, v.len, "kept", 4);
    eddy_kv_store_close(s);
}

TEST(rocksdb_open_twice_is_busy)
{
    eddy_kv_store *s = open_store("locked");
    eddy_kv_store *t = NULL;
    EXPECT_ERR(eddy_kv_store_open_rocksdb("locked", state_dir(), NULL, &t), EDDY_ERR_BUSY);
    EXPECT_CONTAINS(eddy_last_error(), "locked");
    EXPECT_TRUE(t == NULL);
    eddy_kv_store_close(s);
    s = open_store("locked");
    eddy_kv_store_close(s);
}

static void expect_wipe_and_reopen_empty(const char *name)
{
    EXPECT_OK(eddy_kv_store_wipe_rocksdb(state_dir(), name));
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", state_dir(), name);
    EXPECT_EQ(access(path, F_OK), -1);
    eddy_kv_store *s = open_store(name);
    eddy_kv_iter *it;
    char out[64];
    EXPECT_OK(eddy_kv_all(s, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    put_numbered(s, 10);
    expect_numbered(s, 10);
    eddy_kv_store_close(s);
}

TEST(rocksdb_corrupt_current_is_reported_then_wiped)
{
    eddy_kv_store *s = open_store("current");
    put_numbered(s, 100);
    EXPECT_OK(eddy_kv_flush(s));
    eddy_kv_store_close(s);
    char path[4400];
    snprintf(path, sizeof(path), "%s/current/CURRENT", state_dir());
    overwrite(path, 0, "garbage\n", 8);
    eddy_kv_store *t = NULL;
    eddy_err err = eddy_kv_store_open_rocksdb("current", state_dir(), NULL, &t);
    EXPECT_TRUE(err == EDDY_ERR_CORRUPT || err == EDDY_ERR_IO);
    EXPECT_TRUE(t == NULL);
    char dir[4400];
    snprintf(dir, sizeof(dir), "%s/current", state_dir());
    EXPECT_CONTAINS(eddy_last_error(), dir);
    EXPECT_CONTAINS(eddy_last_error(), "store 'current'");
    printf("    open after a damaged CURRENT: %s: %s\n", eddy_err_name(err), eddy_last_error());
    expect_wipe_and_reopen_empty("current");
}

TEST(rocksdb_corrupt_current_without_newline_is_corrupt)
{
    eddy_kv_store *s = open_store("current2");
    eddy_kv_store_close(s);
    char path[4400];
    snprintf(path, sizeof(path), "%s/current2/CURRENT", state_dir());
    EXPECT_EQ(truncate(path, 0), 0);
    overwrite(path, 0, "\x01\x02\x03", 3);
    eddy_kv_store *t = NULL;
    EXPECT_ERR(eddy_kv_store_open_rocksdb("current2", state_dir(), NULL, &t), EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "Corruption");
    expect_wipe_and_reopen_empty("current2");
}

TEST(rocksdb_corrupt_table_file_is_reported_then_wiped)
{
    eddy_kv_store *s = open_store("table");
    put_numbered(s, 2000);
    EXPECT_OK(eddy_kv_flush(s));
    eddy_kv_store_close(s);
    char sst[4400];
    EXPECT_TRUE(find_file("table", ".sst", 0, sst, sizeof(sst)));
    struct stat st;
    EXPECT_EQ(stat(sst, &st), 0);
    /* Garbage over the footer, where RocksDB looks first. */
    char garbage[64];
    memset(garbage, 0x5a, sizeof(garbage));
    overwrite(sst, st.st_size - (off_t)sizeof(garbage), garbage, sizeof(garbage));
    eddy_kv_store *t = NULL;
    eddy_err err = eddy_kv_store_open_rocksdb("table", state_dir(), NULL, &t);
    EXPECT_ERR(err, EDDY_ERR_CORRUPT);
    char dir[4400];
    snprintf(dir, sizeof(dir), "%s/table", state_dir());
    EXPECT_CONTAINS(eddy_last_error(), dir);
    printf("    open after a damaged table footer: %s\n", eddy_last_error());
    expect_wipe_and_reopen_empty("table");
}

TEST(rocksdb_corrupt_data_block_fails_reads)
{
    eddy_kv_store *s = open_store("block");
    put_numbered(s, 2000);
    EXPECT_OK(eddy_kv_flush(s));
    eddy_kv_store_close(s);
    char sst[4400];
    EXPECT_TRUE(find_file("block", ".sst", 0, sst, sizeof(sst)));
    /* Garbage at the start, in the first data block: found by its checksum when read. */
    char garbage[256];
    memset(garbage, 0xa5, sizeof(garbage));
    overwrite(sst, 64, garbage, sizeof(garbage));
    eddy_kv_store *t = NULL;
    eddy_err err = eddy_kv_store_open_rocksdb("block", state_dir(), NULL, &t);
    if (err == EDDY_OK) {
        eddy_kv_iter *it;
        EXPECT_OK(eddy_kv_all(t, &it));
        eddy_slice k, v;
        while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK) {
        }
        EXPECT_ERR(err, EDDY_ERR_CORRUPT);
        EXPECT_CONTAINS(eddy_last_error(), "iterate");
        EXPECT_ERR(eddy_kv_iter_next(it, &k, &v), EDDY_ERR_END); /* final */
        eddy_kv_iter_destroy(it);
        EXPECT_ERR(eddy_kv_get(t, S("key-000000"), &v), EDDY_ERR_CORRUPT);
        EXPECT_CONTAINS(eddy_last_error(), "get");
        eddy_kv_store_close(t);
    } else {
        EXPECT_ERR(err, EDDY_ERR_CORRUPT);
    }
    expect_wipe_and_reopen_empty("block");
}

TEST(rocksdb_missing_manifest)
{
    eddy_kv_store *s = open_store("manifest");
    put_numbered(s, 10);
    EXPECT_OK(eddy_kv_flush(s));
    eddy_kv_store_close(s);
    char manifest[4400];
    EXPECT_TRUE(find_file("manifest", "MANIFEST-", 1, manifest, sizeof(manifest)));
    EXPECT_EQ(unlink(manifest), 0);
    eddy_kv_store *t = NULL;
    /* A file the database refers to is missing: the database is corrupt, not the disk. */
    EXPECT_ERR(eddy_kv_store_open_rocksdb("manifest", state_dir(), NULL, &t), EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "MANIFEST-");
    expect_wipe_and_reopen_empty("manifest");
}

TEST(rocksdb_wipe)
{
    /* Missing: fine. Bad names are refused before touching the disk. */
    EXPECT_OK(eddy_kv_store_wipe_rocksdb(state_dir(), "never-opened"));
    EXPECT_ERR(eddy_kv_store_wipe_rocksdb(state_dir(), ".."), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_kv_store_wipe_rocksdb(state_dir(), "a/b"), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_kv_store_wipe_rocksdb(NULL, "a"), EDDY_ERR_INVALID_ARGUMENT);
    /* Unknown files and subdirectories go too. */
    eddy_kv_store *s = open_store("wiped");
    put_numbered(s, 100);
    eddy_kv_store_close(s);
    char path[4400];
    snprintf(path, sizeof(path), "%s/wiped/sub", state_dir());
    EXPECT_EQ(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/wiped/sub/extra", state_dir());
    FILE *f = fopen(path, "w");
    EXPECT_TRUE(f != NULL);
    fclose(f);
    expect_wipe_and_reopen_empty("wiped");
    /* Siblings are untouched. */
    s = open_store("sibling");
    put_numbered(s, 3);
    eddy_kv_store_close(s);
    EXPECT_OK(eddy_kv_store_wipe_rocksdb(state_dir(), "wiped"));
    s = open_store("sibling");
    expect_numbered(s, 3);
    eddy_kv_store_close(s);
}

TEST(rocksdb_unusable_directory)
{
    /* The directory's place is taken by a file. */
    char parent[4400], file[4400];
    snprintf(parent, sizeof(parent), "%s/flat", test_tmpdir());
    EXPECT_EQ(mkdir(parent, 0755), 0);
    snprintf(file, sizeof(file), "%s/store", parent);
    FILE *f = fopen(file, "w");
    EXPECT_TRUE(f != NULL);
    fclose(f);
    eddy_kv_store *s = NULL;
    eddy_err err = eddy_kv_store_open_rocksdb("store", parent, NULL, &s);
    EXPECT_TRUE(err == EDDY_ERR_IO || err == EDDY_ERR_EXISTS);
    EXPECT_CONTAINS(eddy_last_error(), file);
    /* A parent that is a file. */
    snprintf(parent, sizeof(parent), "%s/flat/store/deeper", test_tmpdir());
    err = eddy_kv_store_open_rocksdb("store", parent, NULL, &s);
    EXPECT_TRUE(err != EDDY_OK);
    EXPECT_CONTAINS(eddy_last_error(), "cannot create directory");
    EXPECT_ERR(eddy_kv_store_open_rocksdb("store", "", NULL, &s), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_kv_store_open_rocksdb("store", NULL, NULL, &s), EDDY_ERR_INVALID_ARGUMENT);
}

TEST(rocksdb_config_options)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "rocksdb.write.buffer.size", "1048576"));
    EXPECT_OK(eddy_config_set(config, "rocksdb.max.write.buffers", "2"));
    EXPECT_OK(eddy_config_set(config, "rocksdb.block.cache.size", "0"));
    EXPECT_OK(eddy_config_set(config, "rocksdb.block.size", "16384"));
    eddy_kv_store *s = NULL;
    EXPECT_OK(eddy_kv_store_open_rocksdb("configured", state_dir(), config, &s));
    put_numbered(s, 20000);
    EXPECT_OK(eddy_kv_flush(s));
    expect_numbered(s, 20000);
    eddy_kv_store_close(s);

    EXPECT_OK(eddy_config_set(config, "rocksdb.max.write.buffers", "1"));
    EXPECT_ERR(eddy_kv_store_open_rocksdb("configured", state_dir(), config, &s), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "rocksdb.max.write.buffers");
    EXPECT_CONTAINS(eddy_last_error(), "store 'configured'");
    EXPECT_OK(eddy_config_set(config, "rocksdb.max.write.buffers", "3"));
    EXPECT_OK(eddy_config_set(config, "rocksdb.block.size", "big"));
    EXPECT_ERR(eddy_kv_store_open_rocksdb("configured", state_dir(), config, &s), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "rocksdb.block.size");
    eddy_config_destroy(config);
}

TEST(rocksdb_large_values_and_flushes_while_iterating)
{
    /* Write-buffer flushes (1 MiB buffers) during an iteration: the iterator keeps its
     * snapshot and its slices. */
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "rocksdb.write.buffer.size", "1048576"));
    eddy_kv_store *s = NULL;
    EXPECT_OK(eddy_kv_store_open_rocksdb("flushing", state_dir(), config, &s));
    eddy_config_destroy(config);
    static char big[100000];
    memset(big, 'b', sizeof(big));
    for (int i = 0; i < 30; i++) {
        char key[16];
        snprintf(key, sizeof(key), "big-%02d", i);
        EXPECT_OK(eddy_kv_put(s, S(key), B(big, sizeof(big))));
    }
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    eddy_slice k, v;
    int n = 0;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK) {
        EXPECT_EQ(v.len, sizeof(big));
        EXPECT_OK(eddy_kv_put(s, k, S("small")));
        EXPECT_OK(eddy_kv_flush(s));
        EXPECT_EQ(v.len, sizeof(big));
        EXPECT_TRUE(((const char *)v.data)[sizeof(big) - 1] == 'b');
        n++;
    }
    eddy_kv_iter_destroy(it);
    EXPECT_EQ(n, 30);
    eddy_kv_store_close(s);
}
