/* The eddy_log handle, the data directory and its topics.
 *
 * Data directory:
 *
 *   DATA/eddy.format            one line, "eddy-log-format <version>"; an eddy refuses to open a
 *                               directory whose version is newer than its own, changing nothing
 *   DATA/.eddy/notify           the shared wake-up counter (notify.c)
 *   DATA/topics/<topic>/        one directory per topic:
 *       topic.properties        "partitions=<N>" and the topic's config, key=value per line
 *       <p>/                    one directory per partition 0..N-1 (partition.c, segment.c)
 *
 * Creating a topic builds it under DATA/topics/+tmp-<topic>-<pid>, fsyncs it and renames it
 * into place, so other processes see a topic whole or not at all, and two processes creating
 * the same topic at once get one success and one EDDY_ERR_EXISTS. Deleting marks every
 * partition's shared state deleted (open handles elsewhere then refuse appends), renames the
 * directory away and removes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/limits.h"
#include "log/log_internal.h"
#include "log/notify.h"

#define FORMAT_PREFIX "eddy-log-format "
#define TOPIC_PROPERTIES "topic.properties"

/* ---- Settings ---------------------------------------------------------------------------- */

eddy_err eddy__topic_settings_from_config(const eddy_config *config, eddy__topic_settings *out)
{
    static const int64_t day_ms = 24LL * 3600 * 1000;
    eddy__topic_settings s = {0};
    eddy_err err;
    eddy_config *empty = NULL;
    if (!config)
        config = empty = eddy_config_new();
    if (!config)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    if ((err = eddy_config_get_i64(config, "segment.bytes", 1073741824LL, EDDY_SEGMENT_BYTES_MIN,
                                   EDDY_SEGMENT_BYTES_MAX, &s.segment_bytes)) != EDDY_OK ||
        (err = eddy_config_get_i64(config, "segment.ms", 7 * day_ms, 1, INT64_MAX,
                                   &s.segment_ms)) != EDDY_OK ||
        (err = eddy_config_get_i64(config, "index.interval.bytes", 4096, 0, INT32_MAX,
                                   &s.index_interval_bytes)) != EDDY_OK ||
        (err = eddy_config_get_i64(config, "retention.ms", 7 * day_ms, -1, INT64_MAX,
                                   &s.retention_ms)) != EDDY_OK ||
        (err = eddy_config_get_i64(config, "retention.bytes", -1, -1, INT64_MAX,
                                   &s.retention_bytes)) != EDDY_OK ||
        (err = eddy_config_get_i64(config, "delete.retention.ms", day_ms, 0, INT64_MAX,
                                   &s.delete_retention_ms)) != EDDY_OK)
        goto out;
    const char *policy = eddy_config_get(config, "cleanup.policy");
    if (!policy)
        policy = "delete";
    s.cleanup_delete = strstr(policy, "delete") != NULL;
    s.cleanup_compact = strstr(policy, "compact") != NULL;
    const char *ts_type = eddy_config_get(config, "message.timestamp.type");
    s.log_append_time = ts_type && strcmp(ts_type, "LogAppendTime") == 0;
    *out = s;
out:
    eddy_config_destroy(empty);
    return err;
}

/* ---- Names and paths --------------------------------------------------------------------- */

eddy_err eddy__topic_name_check(const char *topic)
{
    if (!topic || !*topic)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "topic name is empty");
    size_t len = strlen(topic);
    if (len > EDDY_TOPIC_NAME_MAX)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "topic name '%.40s...' is %zu characters long (at most %d)", topic, len,
                          EDDY_TOPIC_NAME_MAX);
    if (strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "topic name '%s' is not allowed", topic);
    for (size_t i = 0; i < len; i++) {
        char c = topic[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                              "topic name '%s' has character '%c': use only [a-zA-Z0-9._-]",
                              topic, c);
    }
    return EDDY_OK;
}

void eddy__topic_dir(const eddy_log *log, const char *topic, char *buf, size_t size)
{
    snprintf(buf, size, "%s/topics/%s", log->dir, topic);
}

eddy_err eddy__topic_read_meta(const eddy_log *log, const char *topic, int32_t *partitions,
                               eddy_config **config)
{
    eddy_err err = eddy__topic_name_check(topic);
    if (err != EDDY_OK)
        return err;
    char path[EDDY_PATH_MAX];
    eddy__topic_dir(log, topic, path, sizeof(path));
    size_t len = strlen(path);
    snprintf(path + len, sizeof(path) - len, "/%s", TOPIC_PROPERTIES);
    if (access(path, F_OK) != 0)
        return eddy__fail(EDDY_ERR_UNKNOWN_TOPIC, "topic '%s' does not exist", topic);
    eddy_config *c = eddy_config_new();
    if (!c)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    int64_t count = 0;
    if ((err = eddy_config_load_file(c, path)) != EDDY_OK ||
        (err = eddy_config_get_i64(c, "partitions", 0, 1, EDDY_PARTITIONS_MAX, &count)) !=
            EDDY_OK) {
        eddy_config_destroy(c);
        return eddy__fail_context(err, "topic '%s'", topic);
    }
    if (count == 0) {
        eddy_config_destroy(c);
        return eddy__fail(EDDY_ERR_CORRUPT, "%s has no partitions= line", path);
    }
    *partitions = (int32_t)count;
    if (config)
        *config = c;
    else
        eddy_config_destroy(c);
    return EDDY_OK;
}

/* ---- Opening the data directory ---------------------------------------------------------- */

static eddy_err format_check_or_write(const char *dir, int create)
{
    char path[EDDY_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, EDDY_LOG_FORMAT_FILE);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[128] = {0};
        int version = -1;
        if (fgets(line, sizeof(line), f) && strncmp(line, FORMAT_PREFIX, strlen(FORMAT_PREFIX)) == 0)
            version = atoi(line + strlen(FORMAT_PREFIX));
        fclose(f);
        if (version < 1)
            return eddy__fail(EDDY_ERR_CORRUPT, "%s is not an eddy format file", path);
        if (version > EDDY_LOG_FORMAT_VERSION)
            return eddy__fail(EDDY_ERR_FORMAT_VERSION,
                              "%s was written by a newer eddy (format %d; this eddy reads up to %d)",
                              dir, version, EDDY_LOG_FORMAT_VERSION);
        return EDDY_OK;
    }
    if (errno != ENOENT)
        return eddy__fail_errno(errno, "cannot read %s", path);
    if (!create)
        return eddy__fail(EDDY_ERR_NOT_FOUND, "%s is not an eddy data directory (no %s)", dir,
                          EDDY_LOG_FORMAT_FILE);
    /* Written whole under a temporary name, then renamed: never a half-written format file. */
    char tmp[EDDY_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    f = fopen(tmp, "w");
    if (!f)
        return eddy__fail_errno(errno, "cannot create %s", tmp);
    fprintf(f, FORMAT_PREFIX "%d\n", EDDY_LOG_FORMAT_VERSION);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        int err = errno;
        fclose(f);
        unlink(tmp);
        return eddy__fail_errno(err, "cannot write %s", tmp);
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return eddy__fail_errno(err, "cannot create %s", path);
    }
    return eddy__fsync_dir(dir);
}

static eddy_err mkdir_if_missing(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return EDDY_OK;
    return eddy__fail_errno(errno, "cannot create directory %s", path);
}

static eddy_err notify_map(eddy_log *log)
{
    char path[EDDY_PATH_MAX];
    snprintf(path, sizeof(path), "%s/.eddy/notify", log->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return eddy__fail_errno(errno, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_size < 4096 && ftruncate(fd, 4096) != 0)) {
        int err = errno;
        close(fd);
        return eddy__fail_errno(err, "cannot size %s", path);
    }
    void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED)
        return eddy__fail_errno(err, "cannot map %s", path);
    log->notify = map;
    return EDDY_OK;
}

eddy_err eddy_log_open(const char *dir, int flags, eddy_log **out)
{
    if (!dir || !*dir || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_log_open: no directory given");
    if (strlen(dir) > EDDY_PATH_MAX - 512)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "data directory path is too long");
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || !(flags & EDDY_LOG_CREATE))
            return eddy__fail_errno(errno, "cannot open data directory %s", dir);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return eddy__fail_errno(errno, "cannot create data directory %s", dir);
    } else if (!S_ISDIR(st.st_mode)) {
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "data directory %s is not a directory", dir);
    }
    eddy_err err = format_check_or_write(dir, flags & EDDY_LOG_CREATE);
    if (err != EDDY_OK)
        return err;
    eddy_log *log = eddy__calloc(1, sizeof(*log));
    if (!log)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "opening %s: out of memory", dir);
    snprintf(log->dir, sizeof(log->dir), "%s", dir);
    pthread_mutex_init(&log->lock, NULL);
    char path[EDDY_PATH_MAX];
    snprintf(path, sizeof(path), "%s/.eddy", dir);
    if ((err = mkdir_if_missing(path)) != EDDY_OK)
        goto fail;
    snprintf(path, sizeof(path), "%s/topics", dir);
    if ((err = mkdir_if_missing(path)) != EDDY_OK || (err = notify_map(log)) != EDDY_OK)
        goto fail;
    *out = log;
    return EDDY_OK;
fail:
    eddy_log_close(log);
    return err;
}

void eddy_log_close(eddy_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->partitions_count; i++)
        eddy__partition_close(log->partitions[i]);
    for (size_t i = 0; i < log->retired_count; i++)
        eddy__partition_close(log->retired[i]);
    for (size_t i = 0; i < log->topics_count; i++)
        eddy__free(log->topics[i].name);
    eddy__free(log->partitions);
    eddy__free(log->retired);
    eddy__free(log->topics);
    if (log->notify)
        munmap(log->notify, 4096);
    pthread_mutex_destroy(&log->lock);
    eddy__free(log);
}

const char *eddy_log_dir(const eddy_log *log)
{
    return log->dir;
}

/* ---- The partition and topic caches ------------------------------------------------------ */

static eddy_err grow(void **array, size_t *cap, size_t count, size_t item)
{
    if (count < *cap)
        return EDDY_OK;
    size_t new_cap = *cap ? *cap * 2 : 8;
    void *grown = eddy__realloc(*array, new_cap * item);
    if (!grown)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    *array = grown;
    *cap = new_cap;
    return EDDY_OK;
}

/* Forgets the cached partition count of a topic (it was deleted, maybe recreated). */
static void topic_cache_forget(eddy_log *log, const char *topic)
{
    for (size_t i = 0; i < log->topics_count; i++) {
        if (strcmp(log->topics[i].name, topic) == 0) {
            eddy__free(log->topics[i].name);
            log->topics[i] = log->topics[--log->topics_count];
            return;
        }
    }
}

/* Under log->lock: a cached handle of a deleted topic moves to the retired list (readers may
 * still point at it) and the lookup opens afresh. */
static eddy_err partition_cached(eddy_log *log, const char *topic, int32_t partition,
                                 eddy__partition **out)
{
    for (size_t i = 0; i < log->partitions_count; i++) {
        eddy__partition *p = log->partitions[i];
        if (p->id != partition || strcmp(p->topic, topic) != 0)
            continue;
        if (!atomic_load(&p->state->deleted)) {
            *out = p;
            return EDDY_OK;
        }
        size_t retired_cap = log->retired_count; /* grow exactly: rare */
        eddy__partition **r = eddy__realloc(log->retired, (retired_cap + 1) * sizeof(*r));
        if (!r)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
        log->retired = r;
        log->retired[log->retired_count++] = p;
        log->partitions[i] = log->partitions[--log->partitions_count];
        topic_cache_forget(log, topic);
        break;
    }
    return EDDY_ERR_NOT_FOUND;
}

eddy_err eddy__log_partition(eddy_log *log, const char *topic, int32_t partition,
                             eddy__partition **out)
{
    pthread_mutex_lock(&log->lock);
    eddy_err err = partition_cached(log, topic, partition, out);
    if (err == EDDY_ERR_NOT_FOUND) {
        eddy__partition *p = NULL;
        err = grow((void **)&log->partitions, &log->partitions_cap, log->partitions_count,
                   sizeof(*log->partitions));
        if (err == EDDY_OK)
            err = eddy__partition_open(log, topic, partition, &p);
        if (err == EDDY_OK) {
            log->partitions[log->partitions_count++] = p;
            *out = p;
        }
    }
    pthread_mutex_unlock(&log->lock);
    return err;
}

static eddy_err topic_partitions_cached(eddy_log *log, const char *topic, int32_t *partitions)
{
    pthread_mutex_lock(&log->lock);
    for (size_t i = 0; i < log->topics_count; i++) {
        if (strcmp(log->topics[i].name, topic) == 0) {
            *partitions = log->topics[i].partitions;
            pthread_mutex_unlock(&log->lock);
            return EDDY_OK;
        }
    }
    eddy_err err = eddy__topic_read_meta(log, topic, partitions, NULL);
    size_t cap = log->topics_count; /* grow one at a time: topics are few */
    if (err == EDDY_OK) {
        eddy__topic_entry *t = eddy__realloc(log->topics, (cap + 1) * sizeof(*t));
        char *name = eddy__strdup(topic);
        if (t)
            log->topics = t;
        if (t && name) {
            log->topics[log->topics_count].name = name;
            log->topics[log->topics_count].partitions = *partitions;
            log->topics_count++;
        } else {
            eddy__free(name);
        }
    }
    pthread_mutex_unlock(&log->lock);
    return err;
}

/* ---- Topics ------------------------------------------------------------------------------ */

static eddy_err write_properties(const char *path, int32_t partitions, const eddy_config *config)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return eddy__fail_errno(errno, "cannot create %s", path);
    fprintf(f, "# eddy topic configuration\npartitions=%d\n", partitions);
    size_t n = config ? eddy_config_count(config) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *key, *value;
        eddy_config_at(config, i, &key, &value);
        fprintf(f, "%s=%s\n", key, value);
    }
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : errno;
    fclose(f);
    return rc == 0 ? EDDY_OK : eddy__fail_errno(rc, "cannot write %s", path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static eddy_err topic_config_check(const eddy_config *config)
{
    if (!config)
        return EDDY_OK;
    if (eddy_config_get(config, "partitions"))
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config partitions: set the partition count with -p, not a config key");
    eddy__topic_settings settings;
    return eddy__topic_settings_from_config(config, &settings);
}

eddy_err eddy_log_topic_create(eddy_log *log, const char *topic, int32_t partitions,
                               const eddy_config *config)
{
    eddy_err err = eddy__topic_name_check(topic);
    if (err != EDDY_OK)
        return err;
    if (partitions < 1 || partitions > EDDY_PARTITIONS_MAX)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "topic '%s': %d partitions is out of range (1 to %d)", topic,
                          partitions, EDDY_PARTITIONS_MAX);
    if ((err = topic_config_check(config)) != EDDY_OK)
        return err;
    char final_dir[EDDY_PATH_MAX], tmp[EDDY_PATH_MAX], path[EDDY_PATH_MAX];
    eddy__topic_dir(log, topic, final_dir, sizeof(final_dir));
    if (access(final_dir, F_OK) == 0)
        return eddy__fail(EDDY_ERR_EXISTS, "topic '%s' already exists", topic);
    snprintf(tmp, sizeof(tmp), "%s/topics/+tmp-%s-%d-%" PRId64, log->dir, topic, (int)getpid(),
             eddy__monotonic_ns());
    if (mkdir(tmp, 0755) != 0)
        return eddy__fail_errno(errno, "cannot create %s", tmp);
    for (int32_t i = 0; i < partitions && err == EDDY_OK; i++) {
        snprintf(path, sizeof(path), "%s/%d", tmp, i);
        if (mkdir(path, 0755) != 0)
            err = eddy__fail_errno(errno, "cannot create %s", path);
    }
    snprintf(path, sizeof(path), "%s/%s", tmp, TOPIC_PROPERTIES);
    if (err == EDDY_OK)
        err = write_properties(path, partitions, config);
    if (err == EDDY_OK)
        err = eddy__fsync_dir(tmp);
    if (err == EDDY_OK && rename(tmp, final_dir) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            err = eddy__fail(EDDY_ERR_EXISTS, "topic '%s' already exists", topic);
        else
            err = eddy__fail_errno(errno, "cannot create topic directory %s", final_dir);
    }
    if (err != EDDY_OK) {
        remove_tree(tmp);
        return err;
    }
    snprintf(path, sizeof(path), "%s/topics", log->dir);
    return eddy__fsync_dir(path);
}

eddy_err eddy_log_topic_delete(eddy_log *log, const char *topic)
{
    int32_t partitions;
    eddy_err err = eddy__topic_read_meta(log, topic, &partitions, NULL);
    if (err != EDDY_OK)
        return err;
    for (int32_t i = 0; i < partitions; i++) {
        eddy__partition *p;
        if (eddy__log_partition(log, topic, i, &p) == EDDY_OK)
            atomic_store(&p->state->deleted, 1);
    }
    char dir[EDDY_PATH_MAX], graveyard[EDDY_PATH_MAX];
    eddy__topic_dir(log, topic, dir, sizeof(dir));
    snprintf(graveyard, sizeof(graveyard), "%s/topics/+deleted-%s-%d-%" PRId64, log->dir, topic,
             (int)getpid(), eddy__monotonic_ns());
    if (rename(dir, graveyard) != 0)
        return eddy__fail_errno(errno, "cannot delete topic directory %s", dir);
    remove_tree(graveyard);
    pthread_mutex_lock(&log->lock);
    topic_cache_forget(log, topic);
    pthread_mutex_unlock(&log->lock);
    snprintf(dir, sizeof(dir), "%s/topics", log->dir);
    return eddy__fsync_dir(dir);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

eddy_err eddy__list_dir_names(const char *dir, char ***names, size_t *count)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return EDDY_OK;
        return eddy__fail_errno(errno, "cannot list %s", dir);
    }
    char **list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    eddy_err err = EDDY_OK;
    while ((e = readdir(d)) != NULL) {
        /* Skip "." and "..", and entries being created or deleted: their names start with
         * '+', which no topic or group name may contain (Kafka allows a leading '.'). */
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || e->d_name[0] == '+')
            continue;
        if ((err = grow((void **)&list, &cap, n, sizeof(*list))) != EDDY_OK)
            break;
        if (!(list[n] = eddy__strdup(e->d_name))) {
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (err != EDDY_OK) {
        eddy_log_names_free(list, n);
        return err;
    }
    if (n > 1)
        qsort(list, n, sizeof(*list), compare_names);
    *names = list;
    *count = n;
    return EDDY_OK;
}

eddy_err eddy_log_topic_list(eddy_log *log, char ***names, size_t *count)
{
    char dir[EDDY_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/topics", log->dir);
    return eddy__list_dir_names(dir, names, count);
}

void eddy_log_names_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        eddy__free(names[i]);
    eddy__free(names);
}

eddy_err eddy_log_topic_partitions(eddy_log *log, const char *topic, int32_t *partitions)
{
    return eddy__topic_read_meta(log, topic, partitions, NULL);
}

eddy_err eddy_log_topic_config(eddy_log *log, const char *topic, eddy_config **out)
{
    int32_t partitions;
    eddy_config *all = NULL;
    eddy_err err = eddy__topic_read_meta(log, topic, &partitions, &all);
    if (err != EDDY_OK)
        return err;
    eddy_config *config = eddy_config_new();
    if (!config) {
        eddy_config_destroy(all);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < eddy_config_count(all) && err == EDDY_OK; i++) {
        const char *key, *value;
        eddy_config_at(all, i, &key, &value);
        if (strcmp(key, "partitions") != 0)
            err = eddy_config_set(config, key, value);
    }
    eddy_config_destroy(all);
    if (err != EDDY_OK) {
        eddy_config_destroy(config);
        return err;
    }
    *out = config;
    return EDDY_OK;
}

eddy_err eddy_log_partition_info(eddy_log *log, const char *topic, int32_t partition,
                                 int64_t *start_offset, int64_t *end_offset, int64_t *bytes,
                                 int32_t *segments)
{
    eddy__partition *p;
    eddy_err err = eddy__log_partition(log, topic, partition, &p);
    if (err != EDDY_OK)
        return err;
    if (start_offset)
        *start_offset = atomic_load(&p->state->start_offset);
    if (end_offset)
        *end_offset = atomic_load(&p->state->end_offset);
    if (!bytes && !segments)
        return EDDY_OK;
    int64_t *bases;
    size_t count;
    if ((err = eddy__segment_list(p->dir, &bases, &count)) != EDDY_OK)
        return err;
    int64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        char path[EDDY_PATH_MAX];
        struct stat st;
        eddy__segment_path(p->dir, bases[i], ".log", path, sizeof(path));
        if (stat(path, &st) == 0)
            total += st.st_size;
    }
    eddy__free(bases);
    if (bytes)
        *bytes = total;
    if (segments)
        *segments = (int32_t)count;
    return EDDY_OK;
}

int32_t eddy_log_partition_for_key(eddy_slice key, int32_t partitions)
{
    if (!key.data || partitions <= 0)
        return -1;
    return eddy__partition_for_key(key.data, key.len, partitions);
}

eddy_err eddy_log_roll(eddy_log *log, const char *topic, int32_t partition)
{
    eddy__partition *p;
    eddy_err err = eddy__log_partition(log, topic, partition, &p);
    return err != EDDY_OK ? err : eddy__partition_roll(p);
}

/* ---- Appending --------------------------------------------------------------------------- */

/* Each thread encodes into its own reused buffer: no allocation per append. */
static pthread_key_t batch_buffer_key;
static pthread_once_t batch_buffer_once = PTHREAD_ONCE_INIT;

static void batch_buffer_free(void *buf)
{
    eddy__buf_free(buf);
    eddy__free(buf);
}

static void batch_buffer_key_create(void)
{
    pthread_key_create(&batch_buffer_key, batch_buffer_free);
}

static eddy__buf *batch_buffer(void)
{
    pthread_once(&batch_buffer_once, batch_buffer_key_create);
    eddy__buf *buf = pthread_getspecific(batch_buffer_key);
    if (!buf) {
        buf = eddy__calloc(1, sizeof(*buf));
        if (buf)
            pthread_setspecific(batch_buffer_key, buf);
    }
    return buf;
}

static eddy_err choose_partition(eddy_log *log, const char *topic, int32_t partition,
                                 eddy_slice key, int32_t *chosen)
{
    int32_t partitions;
    eddy_err err = topic_partitions_cached(log, topic, &partitions);
    if (err != EDDY_OK)
        return err;
    if (partition >= partitions || partition < -1)
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                          "topic '%s' has no partition %d (it has %d)", topic, partition,
                          partitions);
    if (partition >= 0)
        *chosen = partition;
    else if (key.data)
        *chosen = eddy__partition_for_key(key.data, key.len, partitions);
    else
        *chosen = (int32_t)(atomic_fetch_add(&log->round_robin, 1) % (uint32_t)partitions);
    return EDDY_OK;
}

/* message.timestamp.type=LogAppendTime: as a Kafka broker does, mark the batch and set its
 * maxTimestamp to the append time (readers then report it for every record). The CRC covers
 * both fields, so it is computed again. */
static void stamp_log_append_time(eddy__buf *batch, int64_t now_ms)
{
    uint16_t attributes = eddy__be16_get(batch->data + EDDY_BATCH_ATTRIBUTES_OFFSET);
    eddy__be16_put(batch->data + EDDY_BATCH_ATTRIBUTES_OFFSET,
                   (uint16_t)(attributes | EDDY_BATCH_ATTR_TIMESTAMP_TYPE));
    eddy__be64_put(batch->data + 35, (uint64_t)now_ms);
    uint32_t crc = eddy__crc32c(0, batch->data + EDDY_BATCH_ATTRIBUTES_OFFSET,
                                batch->len - EDDY_BATCH_ATTRIBUTES_OFFSET);
    eddy__be32_put(batch->data + EDDY_BATCH_CRC_OFFSET, crc);
}

eddy_err eddy_log_append(eddy_log *log, const char *topic, int32_t partition,
                         const eddy_record *records, size_t count, eddy_acks acks,
                         int64_t *base_offset, int32_t *partition_out)
{
    if (!log || !topic || !records || count == 0)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_log_append: no records given");
    if (acks != EDDY_ACKS_ALL && acks != EDDY_ACKS_LEADER)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "acks must be all (-1) or 1, not %d",
                          (int)acks);
    if (count > EDDY_BATCH_RECORDS_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "%zu records in one append (at most %d)", count,
                          EDDY_BATCH_RECORDS_MAX);
    int32_t chosen = -1;
    eddy_err err = choose_partition(log, topic, partition, records[0].key, &chosen);
    eddy__partition *p;
    if (err == EDDY_OK)
        err = eddy__log_partition(log, topic, chosen, &p);
    if (err != EDDY_OK)
        return err;
    eddy__buf *buf = batch_buffer();
    if (!buf)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    buf->len = 0;
    int64_t now_ms = eddy__now_ms();
    if ((err = eddy__batch_encode(buf, records, count, now_ms)) != EDDY_OK)
        return eddy__fail_context(err, "topic '%s' partition %d", topic, chosen);
    if (p->settings.log_append_time)
        stamp_log_append_time(buf, now_ms);
    /* maxTimestamp sits at byte 35 of the header (after baseOffset .. firstTimestamp). */
    int64_t max_timestamp = (int64_t)eddy__be64_get(buf->data + 35);
    int64_t base;
    err = eddy__partition_append(p, buf, (int32_t)count, max_timestamp, acks, &base);
    if (err != EDDY_OK)
        return err;
    if (base_offset)
        *base_offset = base;
    if (partition_out)
        *partition_out = chosen;
    return EDDY_OK;
}
