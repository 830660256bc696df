/* Consumer groups of the embedded log: membership across processes, range assignment,
 * rebalancing without heartbeats, durable committed offsets, and the consumer that reads the
 * partitions it owns.
 *
 * Files (DATA/groups/<group>/)
 * ----------------------------
 *
 *     members.lock   empty; byte i is slot i's liveness lock. A member holds an OFD write lock
 *                    (fcntl F_OFD_SETLK) on its slot's byte for as long as it lives; the kernel
 *                    releases it when the process dies, however it dies. Anyone can ask whether
 *                    a slot's owner lives with F_OFD_GETLK, without heartbeats or timeouts.
 *     state          shared state, mapped MAP_SHARED by every process using the group (below).
 *                    Machine-local runtime state, not data: rebuilt whenever nobody has it open
 *                    (so after every reboot). Byte 0 carries the openers' OFD locks.
 *     offsets        committed offsets (text, below), replaced atomically on every commit.
 *     offsets.tmp    the next `offsets` while it is written; a leftover is overwritten.
 *
 * State file, version 1 (native byte order; layout fields let a different build refuse it)
 * ---------------------------------------------------------------------------------------
 *
 *     offset   size     field
 *          0      8     magic "EDDYGRPS"
 *          8      4     version (1)
 *         12      4     state_bytes: the file's size, sizeof(group_state)
 *         16      4     mutex_bytes: sizeof(pthread_mutex_t) of the writer
 *         20      4     members_max (64), topics_max (256), partitions_max (10000): 3 x 4 bytes
 *         32     64     mutex: pthread mutex, PROCESS_SHARED + ROBUST + ERRORCHECK, guarding
 *                       membership, subscriptions and ownership
 *         96     64     offsets_mutex: the same kind, serialising rewrites of `offsets`
 *        160      8     generation: +1 at every membership change (join, leave, reap, resubscribe)
 *        168      8     change_seq: +1 at every change of anything below (also releases)
 *        176  64x112    slots: in_use (4), pid (4), joined_generation (8), subscription bitmap
 *                       over the topic table (32), member_id (64, NUL-terminated)
 *       7344 256x10264  topics: used (4), owners_span (4), name (256, NUL-terminated),
 *                       owners[10000]: one byte per partition, 0 = no owner, s + 1 = slot s
 *
 * The file is sparse: only pages that were written take space (a group of a few topics with
 * few partitions uses a few pages of its 2.6 MB).
 *
 * Who initialises it: every handle holds an OFD read lock on byte 0 of `state` for as long as it
 * has the file mapped; the kernel drops it when the process dies. An opener first tries a write
 * lock without waiting. Getting it means nobody has the state open, so no member lives, and
 * whatever the file holds (nothing yet; mutexes left locked by a machine that crashed, which no
 * robust-list cleanup will ever release; damage) is rebuilt from zero: truncate, extend, write
 * the header and mutexes, then convert the lock to a read lock (atomic for OFD locks). Otherwise
 * the opener waits for a read lock, which also waits out an initialisation in progress, and
 * checks the header: another version or layout is EDDY_ERR_FORMAT_VERSION. A header that is
 * wrong otherwise means the initialiser died half-way, or damage: the opener lets go of its lock
 * and starts over, so that the openers choose a new initialiser; if the file stays wrong because
 * others keep it open, it is EDDY_ERR_CORRUPT, and nothing is changed.
 *
 * Every update under the mutex keeps the state valid at each store, so that a holder's death
 * mid-update (the next locker gets EOWNERDEAD) needs no undo: a join fills its slot and sets
 * in_use last; a reap or leave clears the slot's owner bytes first and in_use last; an owner
 * byte naming a slot not in use counts as no owner; a joiner clears stale owner bytes of its
 * slot before setting in_use. After EOWNERDEAD the locker bounds every field (ids and names
 * NUL-terminated, owner bytes in range) and bumps both counters so that every member re-checks.
 *
 * Protocol (subscribe joins, poll runs consumer_step, destroy leaves)
 * --------------------------------------------------------------------
 *
 * Under the mutex a member reaps dead slots (in use, lock free: clear its owner bytes, then
 * the slot), computes its own target assignment with the range assignor from the live members'
 * subscriptions, takes the target partitions that have no owner, and notes those it owns but
 * should not. It then, without the mutex, commits those (enable.auto.commit), calls REVOKE, and
 * only after the callback returns clears their owner bytes under the mutex. Target partitions
 * still owned by a live member stay pending until that member releases them. Ownership
 * therefore moves only through an explicit release or the owner's death: no partition is ever
 * owned by two live members, whatever the members' views of the group at any moment.
 * Members notice changes through change_seq (an atomic load per poll; changes also bump the
 * log's append notification, waking waiting polls at once) and notice deaths by probing the
 * slot locks at most every GROUP_PROBE_INTERVAL_MS; a waiting poll wakes that often. A process
 * forked from a member closes its copies of the slot locks (pthread_atfork), so a child that
 * outlives its parent cannot keep a dead member alive, and its copy of the consumer refuses to
 * act (EDDY_ERR_STATE) and leaves the group alone when destroyed. A poll without a record
 * buffer runs this protocol only. Pauses, seeks and positions are the consumer's own,
 * in-process state: the group never sees them.
 *
 * Offsets file, version 1 (text; topic names have no spaces)
 * ----------------------------------------------------------
 *
 *     eddy-group-offsets 1\n
 *     <topic> <partition> <offset>\n      one line per partition, sorted by topic (bytewise)
 *     ...                                  then partition, no duplicates; decimal numbers
 *     crc32c <8 lowercase hex digits>\n    CRC-32C of every byte before this line
 *
 * An offset is the next offset to read, as Kafka's. Commits merge into the file under
 * offsets_mutex (read, merge, write offsets.tmp, fdatasync, rename, fsync the directory), so
 * concurrent commits of different members never lose each other's offsets, and a commit
 * returns only once it would survive a power cut. */
#include "log/group.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/limits.h"
#include "core/logging.h"
#include "log/log_internal.h"
#include "log/notify.h"

#define GROUP_MODULE "group"
#define GROUP_STATE_MAGIC "EDDYGRPS"
#define GROUP_STATE_VERSION 1u
#define GROUP_OFFSETS_HEADER "eddy-group-offsets "
#define GROUP_OFFSETS_VERSION 1
#define GROUP_TOPIC_NAME_SIZE 256

/* How often a member probes the other members' locks, and the longest a poll waits without
 * running the protocol: a SIGKILLed member's partitions move within about this much. */
#define GROUP_PROBE_INTERVAL_MS 100

/* The longest anyone waits for a group mutex. It is held for microseconds (membership) or one
 * fsync'd rewrite (offsets); a longer wait means a stopped (SIGSTOP) process holds it. */
#define GROUP_LOCK_TIMEOUT_MS 10000

/* How often an opener that finds a half-initialised state (its initialiser died) lets go and
 * competes to initialise it, 1-4 ms apart: ample for a handful of openers racing, and a state
 * that stays damaged while others have it open is then reported. */
#define GROUP_INIT_ATTEMPTS 100

/* Records read from one partition in a row before the consumer moves to the next: fair
 * enough across partitions, few switches. */
#define CONSUMER_BURST_RECORDS 64

_Static_assert(EDDY_GROUP_MEMBERS_MAX <= 255, "owner bytes hold slot + 1");
_Static_assert(EDDY_GROUP_TOPICS_MAX % 64 == 0, "subscription bitmaps are whole words");
_Static_assert(EDDY_TOPIC_NAME_MAX < GROUP_TOPIC_NAME_SIZE, "names fit with their NUL");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "atomics in shared memory must be lock-free");

/* ------------------------------------------------------------------------------------------ */
/* Shared state layout                                                                        */

typedef union group_mutex {
    pthread_mutex_t mutex;
    unsigned char bytes[64];
} group_mutex;
_Static_assert(sizeof(pthread_mutex_t) <= 64, "a mutex fits its 64-byte field");

typedef struct group_header {
    char magic[8];
    uint32_t version;
    uint32_t state_bytes;
    uint32_t mutex_bytes;
    uint32_t members_max;
    uint32_t topics_max;
    uint32_t partitions_max;
} group_header;

typedef struct group_slot {
    _Atomic uint32_t in_use;
    int32_t pid;
    uint64_t joined_generation;
    uint64_t topics[EDDY_GROUP_TOPICS_MAX / 64];
    char member_id[EDDY_GROUP_MEMBER_ID_MAX];
} group_slot;

typedef struct group_topic {
    uint32_t used;
    int32_t owners_span;
    char name[GROUP_TOPIC_NAME_SIZE];
    uint8_t owners[EDDY_PARTITIONS_MAX];
} group_topic;

typedef struct group_state {
    group_header header;
    group_mutex mutex;
    group_mutex offsets_mutex;
    _Atomic uint64_t generation;
    _Atomic uint64_t change_seq;
    group_slot slots[EDDY_GROUP_MEMBERS_MAX];
    group_topic topics[EDDY_GROUP_TOPICS_MAX];
} group_state;

_Static_assert(sizeof(group_header) == 32, "layout documented above");
_Static_assert(sizeof(group_slot) == 112, "layout documented above");
_Static_assert(sizeof(group_topic) == 10264, "layout documented above");
_Static_assert(offsetof(group_state, slots) == 176, "layout documented above");
_Static_assert(offsetof(group_state, topics) == 7344, "layout documented above");

/* ------------------------------------------------------------------------------------------ */
/* Group handle                                                                               */

struct eddy__group {
    eddy_log *log;
    char *name;
    char *dir;          /* DATA/groups/<name> */
    int lock_fd;        /* members.lock: this handle's own open file description */
    int state_fd;       /* state, with this handle's read lock on byte 0 */
    int forked;         /* set in a forked child, whose copy of the handle must not act */
    int dirs_synced;    /* the group directory's entry is known durable */
    group_state *state; /* the shared mapping */
    eddy__group *registry_prev, *registry_next;
};

/* Every handle with a members.lock descriptor, so that a forked child can drop its copies:
 * otherwise a child that outlives its parent would keep the parent's member "alive". */
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static eddy__group *registry_head;

static void registry_prepare(void)
{
    pthread_mutex_lock(&registry_mutex);
}

static void registry_parent(void)
{
    pthread_mutex_unlock(&registry_mutex);
}

static void registry_child(void)
{
    for (eddy__group *g = registry_head; g; g = g->registry_next) {
        if (g->lock_fd >= 0)
            close(g->lock_fd);
        g->lock_fd = -1;
        g->forked = 1;
    }
    pthread_mutex_unlock(&registry_mutex);
}

static void registry_init(void)
{
    pthread_atfork(registry_prepare, registry_parent, registry_child);
}

/* Opens the handle's members.lock descriptor and registers the handle, under the registry
 * mutex: a fork() in another thread happens before (no descriptor yet) or after (the child
 * closes it), never in between. */
static eddy_err registry_open_lock(eddy__group *g, const char *path)
{
    pthread_once(&registry_once, registry_init);
    pthread_mutex_lock(&registry_mutex);
    g->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int saved = errno;
    if (g->lock_fd >= 0) {
        g->registry_next = registry_head;
        if (registry_head)
            registry_head->registry_prev = g;
        registry_head = g;
    }
    pthread_mutex_unlock(&registry_mutex);
    return g->lock_fd >= 0 ? EDDY_OK : eddy__fail_errno(saved, "open %s", path);
}

static void registry_remove(eddy__group *g)
{
    pthread_mutex_lock(&registry_mutex);
    if (g->registry_prev)
        g->registry_prev->registry_next = g->registry_next;
    else if (registry_head == g)
        registry_head = g->registry_next;
    if (g->registry_next)
        g->registry_next->registry_prev = g->registry_prev;
    g->registry_prev = g->registry_next = NULL;
    pthread_mutex_unlock(&registry_mutex);
}

/* ------------------------------------------------------------------------------------------ */
/* Names, paths, small file helpers                                                           */

/* Kafka's topic name rules, which group ids here follow too since they become directories. */
static int name_valid(const char *name, size_t max)
{
    if (!name)
        return 0;
    size_t len = strnlen(name, max + 1);
    if (len == 0 || len > max)
        return 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static eddy_err group_name_check(const char *group)
{
    if (!name_valid(group, EDDY_GROUP_NAME_MAX))
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "group id '%.*s': must be 1-%d characters of [a-zA-Z0-9._-], not '.' "
                          "or '..'",
                          64, group ? group : "(null)", EDDY_GROUP_NAME_MAX);
    return EDDY_OK;
}

/* Formats a path; a path that does not fit PATH_MAX is an error naming its start. */
static eddy_err path_format(char *out, const char *fmt, const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX, fmt, a, b);
    if (n < 0 || n >= PATH_MAX)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "path '%.64s...' is longer than %d bytes", a,
                          PATH_MAX - 1);
    return EDDY_OK;
}

static eddy_err fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return eddy__fail_errno(errno, "open directory %s", path);
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return eddy__fail_errno(saved, "fsync directory %s", path);
    return EDDY_OK;
}

/* mkdir that accepts an existing directory; *created tells whether this call made it. */
static eddy_err mkdir_exists_ok(const char *path, int *created)
{
    *created = 0;
    if (mkdir(path, 0755) == 0) {
        *created = 1;
        return EDDY_OK;
    }
    if (errno != EEXIST)
        return eddy__fail_errno(errno, "mkdir %s", path);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return eddy__fail(EDDY_ERR_IO, "%s exists and is not a directory", path);
    return EDDY_OK;
}

/* DATA/groups/<group>; with create, makes both levels and syncs their parents' entries. */
static eddy_err group_dir_make(eddy_log *log, const char *group, int create, char *out)
{
    char groups[PATH_MAX];
    eddy_err err = path_format(groups, "%s/%s", eddy_log_dir(log), "groups");
    if (err == EDDY_OK)
        err = path_format(out, "%s/%s", groups, group);
    if (err != EDDY_OK)
        return err;
    if (!create) {
        struct stat st;
        if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
            return eddy__fail(EDDY_ERR_NOT_FOUND, "group '%s' does not exist", group);
        return EDDY_OK;
    }
    int created = 0;
    err = mkdir_exists_ok(groups, &created);
    if (err == EDDY_OK && created)
        err = fsync_dir(eddy_log_dir(log));
    if (err == EDDY_OK)
        err = mkdir_exists_ok(out, &created);
    if (err == EDDY_OK && created)
        err = fsync_dir(groups);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "group '%s'", group);
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Slot locks in members.lock                                                                 */

static int slot_lock_op(int fd, int cmd, short type, off_t start, off_t len, struct flock *out)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    int rc;
    do {
        rc = fcntl(fd, cmd, &fl);
    } while (rc != 0 && errno == EINTR);
    if (out)
        *out = fl;
    return rc;
}

/* Takes slot's lock for this handle: 0 taken, 1 held by someone else, -1 error (errno). */
static int slot_lock_try(int fd, int slot)
{
    if (slot_lock_op(fd, F_OFD_SETLK, F_WRLCK, slot, 1, NULL) == 0)
        return 0;
    return errno == EAGAIN || errno == EACCES ? 1 : -1;
}

static void slot_unlock(int fd, int slot)
{
    if (fd >= 0)
        slot_lock_op(fd, F_OFD_SETLK, F_UNLCK, slot, 1, NULL);
}

/* Whether some other open file description holds a lock in [start, start + len): 1 yes, 0 no.
 * An error counts as held: never declare a member dead on doubt. */
static int slot_range_held(int fd, int start, int len)
{
    struct flock fl;
    if (slot_lock_op(fd, F_OFD_GETLK, F_WRLCK, start, len, &fl) != 0) {
        EDDY_WARN(GROUP_MODULE, "probing member locks: %s", strerror(errno));
        return 1;
    }
    return fl.l_type != F_UNLCK;
}

/* ------------------------------------------------------------------------------------------ */
/* State file: open, check, initialise                                                        */

static size_t state_bytes(void)
{
    return sizeof(group_state);
}

static eddy_err mutex_init_shared(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc == 0)
        rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    if (rc == 0)
        rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0)
        return eddy__fail_errno(rc, "initialising a shared mutex");
    return EDDY_OK;
}

/* (Re)initialises the state file behind fd, which no other process has open (the caller holds
 * the write lock on byte 0). Zeroes every byte (truncate then extend), fills the header and the
 * mutexes, and writes the magic last. */
static eddy_err state_init(int fd, const char *path)
{
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)state_bytes()) != 0)
        return eddy__fail_errno(errno, "resizing %s", path);
    group_state *s = mmap(NULL, state_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED)
        return eddy__fail_errno(errno, "mmap %s", path);
    s->header.version = GROUP_STATE_VERSION;
    s->header.state_bytes = (uint32_t)state_bytes();
    s->header.mutex_bytes = (uint32_t)sizeof(pthread_mutex_t);
    s->header.members_max = EDDY_GROUP_MEMBERS_MAX;
    s->header.topics_max = EDDY_GROUP_TOPICS_MAX;
    s->header.partitions_max = EDDY_PARTITIONS_MAX;
    eddy_err err = mutex_init_shared(&s->mutex.mutex);
    if (err == EDDY_OK)
        err = mutex_init_shared(&s->offsets_mutex.mutex);
    if (err == EDDY_OK) {
        atomic_thread_fence(memory_order_release);
        memcpy(s->header.magic, GROUP_STATE_MAGIC, 8);
    }
    munmap(s, state_bytes());
    return err;
}

/* Checks the header of a state file that other processes have open (so initialised). */
static eddy_err state_header_check(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return eddy__fail_errno(errno, "stat %s", path);
    group_header h;
    if (st.st_size < (off_t)sizeof(h) || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        memcmp(h.magic, GROUP_STATE_MAGIC, 8) != 0)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "%s: not a group state file, and other processes have it open; stop "
                          "them and retry (the state is rebuilt when nobody has it open)",
                          path);
    if (h.version != GROUP_STATE_VERSION || h.state_bytes != state_bytes() ||
        h.mutex_bytes != sizeof(pthread_mutex_t) || h.members_max != EDDY_GROUP_MEMBERS_MAX ||
        h.topics_max != EDDY_GROUP_TOPICS_MAX || h.partitions_max != EDDY_PARTITIONS_MAX)
        return eddy__fail(EDDY_ERR_FORMAT_VERSION,
                          "%s: group state version %u (%u bytes) is in use by another eddy build "
                          "(this one: version %u, %zu bytes)",
                          path, h.version, h.state_bytes, GROUP_STATE_VERSION, state_bytes());
    if (st.st_size != (off_t)state_bytes())
        return eddy__fail(EDDY_ERR_CORRUPT, "%s: %lld bytes, expected %zu", path,
                          (long long)st.st_size, state_bytes());
    return EDDY_OK;
}

/* Takes this handle's read lock on byte 0 of the state, initialising the file first when
 * nobody else has it open (see the top). An initialiser that died half-way leaves the waiters
 * a file that fails its check: they let go and choose a new initialiser, with random pauses so
 * that one of them gets the write lock. */
static eddy_err state_lock(int fd, const char *path)
{
    uint64_t rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)eddy__monotonic_ns();
    for (int attempt = 0;; attempt++) {
        if (slot_lock_op(fd, F_OFD_SETLK, F_WRLCK, 0, 1, NULL) == 0) {
            eddy_err err = state_init(fd, path);
            if (err == EDDY_OK && slot_lock_op(fd, F_OFD_SETLK, F_RDLCK, 0, 1, NULL) != 0)
                err = eddy__fail_errno(errno, "locking %s", path);
            return err;
        }
        if (errno != EAGAIN && errno != EACCES)
            return eddy__fail_errno(errno, "locking %s", path);
        if (slot_lock_op(fd, F_OFD_SETLKW, F_RDLCK, 0, 1, NULL) != 0)
            return eddy__fail_errno(errno, "locking %s", path);
        eddy_err err = state_header_check(fd, path);
        if (err != EDDY_ERR_CORRUPT || attempt == GROUP_INIT_ATTEMPTS)
            return err;
        slot_lock_op(fd, F_OFD_SETLK, F_UNLCK, 0, 1, NULL);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        eddy__sleep_ms(1 + (int64_t)(rng >> 62));
    }
}

/* Opens and maps the state. The descriptor keeps its read lock until eddy__group_close(). */
static eddy_err state_open(eddy__group *g)
{
    char path[PATH_MAX];
    eddy_err err = path_format(path, "%s/%s", g->dir, "state");
    if (err != EDDY_OK)
        return err;
    g->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (g->state_fd < 0)
        return eddy__fail_errno(errno, "open %s", path);
    err = state_lock(g->state_fd, path);
    if (err != EDDY_OK)
        return err;
    g->state = mmap(NULL, state_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, g->state_fd, 0);
    if (g->state == MAP_FAILED) {
        g->state = NULL;
        return eddy__fail_errno(errno, "mmap %s", path);
    }
    return EDDY_OK;
}

eddy_err eddy__group_open(eddy_log *log, const char *group, int create, eddy__group **out)
{
    *out = NULL;
    eddy_err err = group_name_check(group);
    char dir[PATH_MAX], path[PATH_MAX];
    if (err == EDDY_OK)
        err = group_dir_make(log, group, create, dir);
    if (err == EDDY_OK)
        err = path_format(path, "%s/%s", dir, "members.lock");
    if (err != EDDY_OK)
        return err;
    eddy__group *g = eddy__calloc(1, sizeof(*g));
    if (!g)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "group '%s': out of memory", group);
    g->log = log;
    g->lock_fd = -1;
    g->state_fd = -1;
    g->name = eddy__strdup(group);
    g->dir = eddy__strdup(dir);
    if (!g->name || !g->dir) {
        eddy__group_close(g);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "group '%s': out of memory", group);
    }
    err = registry_open_lock(g, path);
    if (err != EDDY_OK) {
        eddy__group_close(g);
        return err;
    }
    err = state_open(g);
    if (err != EDDY_OK) {
        eddy__group_close(g);
        return eddy__fail_context(err, "group '%s'", group);
    }
    *out = g;
    return EDDY_OK;
}

void eddy__group_close(eddy__group *g)
{
    if (!g)
        return;
    registry_remove(g);
    if (g->state)
        munmap(g->state, state_bytes());
    if (g->state_fd >= 0)
        close(g->state_fd);
    if (g->lock_fd >= 0)
        close(g->lock_fd);
    eddy__free(g->name);
    eddy__free(g->dir);
    eddy__free(g);
}

/* ------------------------------------------------------------------------------------------ */
/* Mutexes                                                                                    */

static void state_bump(group_state *s, int generation)
{
    if (generation)
        atomic_fetch_add_explicit(&s->generation, 1, memory_order_acq_rel);
    atomic_fetch_add_explicit(&s->change_seq, 1, memory_order_acq_rel);
}

/* Bounds every field a dead mutex holder may have left half-written, so that no later read
 * can go out of bounds, and makes every member re-check the group. */
static void state_repair(group_state *s)
{
    for (int i = 0; i < EDDY_GROUP_MEMBERS_MAX; i++) {
        group_slot *slot = &s->slots[i];
        slot->member_id[sizeof(slot->member_id) - 1] = '\0';
        if (atomic_load(&slot->in_use) > 1)
            atomic_store(&slot->in_use, 1); /* the lock probe decides */
    }
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++) {
        group_topic *topic = &s->topics[t];
        topic->name[sizeof(topic->name) - 1] = '\0';
        if (topic->owners_span < 0 || topic->owners_span > EDDY_PARTITIONS_MAX)
            topic->owners_span = EDDY_PARTITIONS_MAX;
        for (int32_t p = 0; p < topic->owners_span; p++)
            if (topic->owners[p] > EDDY_GROUP_MEMBERS_MAX)
                topic->owners[p] = 0;
    }
    state_bump(s, 1);
}

static eddy_err group_check_usable(const eddy__group *g)
{
    if (g->forked)
        return eddy__fail(EDDY_ERR_STATE,
                          "group '%s': handle inherited through fork(); create a new consumer "
                          "in the child",
                          g->name);
    return EDDY_OK;
}

static eddy_err mutex_lock(eddy__group *g, group_mutex *m, const char *what, int *owner_died)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += GROUP_LOCK_TIMEOUT_MS / 1000;
    deadline.tv_nsec += (long)(GROUP_LOCK_TIMEOUT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    *owner_died = 0;
    int rc = pthread_mutex_clocklock(&m->mutex, CLOCK_MONOTONIC, &deadline);
    if (rc == EOWNERDEAD) {
        EDDY_INFO(GROUP_MODULE, "group '%s': %s mutex recovered from a dead holder", g->name, what);
        pthread_mutex_consistent(&m->mutex);
        *owner_died = 1;
        return EDDY_OK;
    }
    if (rc == 0)
        return EDDY_OK;
    if (rc == ETIMEDOUT)
        return eddy__fail(EDDY_ERR_BUSY,
                          "group '%s': its %s mutex has been held for over %d ms (is a member "
                          "process stopped?)",
                          g->name, what, GROUP_LOCK_TIMEOUT_MS);
    return eddy__fail(EDDY_ERR_CORRUPT, "group '%s': locking its %s mutex: %s", g->name, what,
                      strerror(rc));
}

static eddy_err group_lock(eddy__group *g)
{
    eddy_err err = group_check_usable(g);
    if (err != EDDY_OK)
        return err;
    int owner_died;
    err = mutex_lock(g, &g->state->mutex, "membership", &owner_died);
    if (err == EDDY_OK && owner_died)
        state_repair(g->state);
    return err;
}

static void group_unlock(eddy__group *g)
{
    int rc = pthread_mutex_unlock(&g->state->mutex.mutex);
    EDDY_ASSERT(rc == 0);
}

eddy_err eddy__group_lock(eddy__group *g)
{
    return group_lock(g);
}

void eddy__group_unlock(eddy__group *g)
{
    group_unlock(g);
}

/* ------------------------------------------------------------------------------------------ */
/* Membership and ownership (all under the membership mutex)                                  */

static int slot_in_use(const group_state *s, int slot)
{
    return atomic_load_explicit(&s->slots[slot].in_use, memory_order_acquire) == 1;
}

/* An owner byte names a live owner only when it is in range and its slot is in use. */
static int owner_slot(const group_state *s, uint8_t owner)
{
    if (owner == 0 || owner > EDDY_GROUP_MEMBERS_MAX || !slot_in_use(s, owner - 1))
        return -1;
    return owner - 1;
}

static int32_t topic_span(const group_topic *t)
{
    if (t->owners_span < 0)
        return 0;
    return t->owners_span > EDDY_PARTITIONS_MAX ? EDDY_PARTITIONS_MAX : t->owners_span;
}

static int bit_get(const uint64_t *bits, int i)
{
    return (int)((bits[i / 64] >> (i % 64)) & 1u);
}

static void bit_set(uint64_t *bits, int i)
{
    bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static void slot_clear_owners(group_state *s, int slot)
{
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++) {
        group_topic *topic = &s->topics[t];
        if (!topic->used)
            continue;
        int32_t span = topic_span(topic);
        for (int32_t p = 0; p < span; p++)
            if (topic->owners[p] == (uint8_t)(slot + 1))
                topic->owners[p] = 0;
    }
}

/* Frees topic entries that no live member subscribes to and no member owns partitions of. */
static void topic_gc(group_state *s)
{
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++) {
        group_topic *topic = &s->topics[t];
        if (!topic->used)
            continue;
        int needed = 0;
        for (int i = 0; i < EDDY_GROUP_MEMBERS_MAX && !needed; i++)
            needed = slot_in_use(s, i) && bit_get(s->slots[i].topics, t);
        int32_t span = topic_span(topic);
        for (int32_t p = 0; p < span && !needed; p++)
            needed = owner_slot(s, topic->owners[p]) >= 0;
        if (needed)
            continue;
        memset(topic->owners, 0, (size_t)span);
        topic->owners_span = 0;
        topic->used = 0;
        memset(topic->name, 0, sizeof(topic->name));
    }
}

static int topic_find(const group_state *s, const char *name)
{
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++)
        if (s->topics[t].used && strncmp(s->topics[t].name, name, GROUP_TOPIC_NAME_SIZE) == 0)
            return t;
    return -1;
}

static int topic_intern(group_state *s, const char *name)
{
    int t = topic_find(s, name);
    if (t >= 0)
        return t;
    for (t = 0; t < EDDY_GROUP_TOPICS_MAX; t++) {
        group_topic *topic = &s->topics[t];
        if (topic->used)
            continue;
        memset(topic->owners, 0, (size_t)topic_span(topic));
        topic->owners_span = 0;
        snprintf(topic->name, sizeof(topic->name), "%s", name);
        topic->used = 1;
        return t;
    }
    return -1;
}

static void slot_vacate(group_state *s, int slot)
{
    slot_clear_owners(s, slot);
    memset(s->slots[slot].topics, 0, sizeof(s->slots[slot].topics));
    atomic_store_explicit(&s->slots[slot].in_use, 0, memory_order_release);
}

/* Clears slots whose member died (in use, lock free). Returns how many. */
static int group_reap(eddy__group *g, int self)
{
    group_state *s = g->state;
    int reaped = 0;
    for (int i = 0; i < EDDY_GROUP_MEMBERS_MAX; i++) {
        if (i == self || !slot_in_use(s, i) || slot_range_held(g->lock_fd, i, 1))
            continue;
        EDDY_INFO(GROUP_MODULE, "group '%s': member %.*s (pid %d) died; releasing its partitions",
                  g->name, EDDY_GROUP_MEMBER_ID_MAX - 1, s->slots[i].member_id,
                  (int)s->slots[i].pid);
        slot_vacate(s, i);
        reaped++;
    }
    if (reaped) {
        state_bump(s, 1);
        topic_gc(s);
    }
    return reaped;
}

/* Whether a member looks dead, read without the mutex (in_use is set after the lock is taken
 * and cleared before it is released, so a free lock on an in-use slot means death). */
static int group_any_dead(eddy__group *g, int self)
{
    for (int i = 0; i < EDDY_GROUP_MEMBERS_MAX; i++)
        if (i != self && slot_in_use(g->state, i) && !slot_range_held(g->lock_fd, i, 1))
            return 1;
    return 0;
}

/* Interns the topics and writes the subscription bitmap into bits. */
static eddy_err group_subscription(eddy__group *g, char *const *topics, size_t count,
                                   uint64_t *bits, int *entries)
{
    memset(bits, 0, sizeof(g->state->slots[0].topics));
    for (size_t i = 0; i < count; i++) {
        int t = topic_intern(g->state, topics[i]);
        if (t < 0) {
            topic_gc(g->state);
            return eddy__fail(EDDY_ERR_BUSY,
                              "group '%s': its members subscribe to more than %d distinct topics",
                              g->name, EDDY_GROUP_TOPICS_MAX);
        }
        bit_set(bits, t);
        entries[i] = t;
    }
    return EDDY_OK;
}

/* Takes a free slot for member_id: lock first, slot contents next, in_use last. */
static eddy_err group_join(eddy__group *g, const char *member_id, char *const *topics, size_t count,
                           int *entries, int *slot_out)
{
    group_state *s = g->state;
    group_reap(g, -1);
    uint64_t bits[EDDY_GROUP_TOPICS_MAX / 64];
    eddy_err err = group_subscription(g, topics, count, bits, entries);
    if (err != EDDY_OK)
        return err;
    for (int i = 0; i < EDDY_GROUP_MEMBERS_MAX; i++) {
        if (slot_in_use(s, i))
            continue;
        int rc = slot_lock_try(g->lock_fd, i);
        if (rc > 0)
            continue; /* a leaving member still holds it, or a forked child keeps it */
        if (rc < 0)
            return eddy__fail_errno(errno, "group '%s': locking member slot %d", g->name, i);
        group_slot *slot = &s->slots[i];
        slot_clear_owners(s, i);
        slot->pid = (int32_t)getpid();
        slot->joined_generation = atomic_load(&s->generation) + 1;
        memcpy(slot->topics, bits, sizeof(bits));
        snprintf(slot->member_id, sizeof(slot->member_id), "%s", member_id);
        atomic_store_explicit(&slot->in_use, 1, memory_order_release);
        state_bump(s, 1);
        *slot_out = i;
        return EDDY_OK;
    }
    topic_gc(s);
    return eddy__fail(EDDY_ERR_BUSY, "group '%s' already has %d live members", g->name,
                      EDDY_GROUP_MEMBERS_MAX);
}

/* The members subscribed to topic entry t, in slot order; self_index receives self's index. */
static size_t topic_members(const group_state *s, int t, int self, const char **ids,
                            size_t *self_index)
{
    size_t n = 0;
    for (int i = 0; i < EDDY_GROUP_MEMBERS_MAX; i++) {
        if (!slot_in_use(s, i) || !bit_get(s->slots[i].topics, t))
            continue;
        if (i == self)
            *self_index = n;
        ids[n++] = s->slots[i].member_id;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Range assignment                                                                           */

/* Position of member `self` in the order of ids (strcmp, then index). */
static size_t range_rank(const char *const *ids, size_t count, size_t self)
{
    size_t rank = 0;
    for (size_t j = 0; j < count; j++) {
        int c = strcmp(ids[j], ids[self]);
        if (c < 0 || (c == 0 && j < self))
            rank++;
    }
    return rank;
}

static void range_of_rank(int32_t partitions, size_t count, size_t rank, int32_t *first, int32_t *n)
{
    int32_t members = (int32_t)count;
    int32_t each = partitions / members, extra = partitions % members;
    int32_t r = (int32_t)rank;
    *first = each * r + (r < extra ? r : extra);
    *n = each + (r < extra ? 1 : 0);
}

void eddy__group_range_of(int32_t partitions, const char *const *member_ids, size_t count,
                          size_t self, int32_t *first, int32_t *n)
{
    EDDY_ASSERT(self < count && partitions >= 0);
    range_of_rank(partitions, count, range_rank(member_ids, count, self), first, n);
}

void eddy__group_range_assign(int32_t partitions, const char *const *member_ids, size_t count,
                              int32_t *owner)
{
    for (int32_t p = 0; p < partitions; p++)
        owner[p] = -1;
    for (size_t m = 0; m < count; m++) {
        int32_t first, n;
        eddy__group_range_of(partitions, member_ids, count, m, &first, &n);
        for (int32_t p = first; p < first + n; p++)
            owner[p] = (int32_t)m;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Offsets file codec                                                                         */

void eddy__group_offsets_free(eddy__group_offsets *o)
{
    eddy__free(o->entries);
    eddy__free(o->text);
    memset(o, 0, sizeof(*o));
}

static int offset_cmp(const char *topic_a, int32_t part_a, const char *topic_b, int32_t part_b)
{
    int c = strcmp(topic_a, topic_b);
    if (c != 0)
        return c;
    return part_a < part_b ? -1 : part_a > part_b ? 1 : 0;
}

static eddy_err offsets_reserve(eddy__group_offsets *o, size_t extra)
{
    if (o->count + extra <= o->cap)
        return EDDY_OK;
    size_t cap = o->cap ? o->cap : 16;
    while (cap < o->count + extra)
        cap *= 2;
    eddy__group_offset *e = eddy__realloc(o->entries, cap * sizeof(*e));
    if (!e)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "offsets: out of memory for %zu entries", cap);
    o->entries = e;
    o->cap = cap;
    return EDDY_OK;
}

/* Parses an unsigned decimal in [0, max] ending at `end`; no sign, no leading zeros. */
static int parse_decimal(const char *p, const char *end, int64_t max, int64_t *out)
{
    if (p == end || end - p > 19 || (*p == '0' && end - p > 1))
        return 0;
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        int digit = *p - '0';
        if (v > (max - digit) / 10)
            return 0;
        v = v * 10 + digit;
    }
    *out = v;
    return 1;
}

/* One "<topic> <partition> <offset>" line, NUL-terminating the topic in place. */
static int offsets_parse_line(char *line, char *end, eddy__group_offset *e)
{
    char *sp1 = memchr(line, ' ', (size_t)(end - line));
    if (!sp1)
        return 0;
    char *sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
    if (!sp2)
        return 0;
    int64_t partition, offset;
    if (!parse_decimal(sp1 + 1, sp2, EDDY_PARTITIONS_MAX - 1, &partition) ||
        !parse_decimal(sp2 + 1, end, INT64_MAX, &offset))
        return 0;
    *sp1 = '\0';
    if (!name_valid(line, EDDY_TOPIC_NAME_MAX) || strlen(line) != (size_t)(sp1 - line))
        return 0;
    e->topic = line;
    e->partition = (int32_t)partition;
    e->offset = offset;
    return 1;
}

static eddy_err offsets_parse_header(const char *text, size_t len, const char *what, size_t *body)
{
    size_t hlen = strlen(GROUP_OFFSETS_HEADER);
    const char *nl = memchr(text, '\n', len);
    if (!nl || (size_t)(nl - text) <= hlen || memcmp(text, GROUP_OFFSETS_HEADER, hlen) != 0)
        return eddy__fail(EDDY_ERR_CORRUPT, "%s: line 1: not an eddy offsets file header", what);
    int64_t version;
    if (!parse_decimal(text + hlen, nl, INT32_MAX, &version))
        return eddy__fail(EDDY_ERR_CORRUPT, "%s: line 1: bad version", what);
    if (version > GROUP_OFFSETS_VERSION)
        return eddy__fail(EDDY_ERR_FORMAT_VERSION,
                          "%s: offsets format version %" PRId64 " is newer than this eddy's (%d)",
                          what, version, GROUP_OFFSETS_VERSION);
    if (version != GROUP_OFFSETS_VERSION)
        return eddy__fail(EDDY_ERR_CORRUPT, "%s: line 1: unknown version %" PRId64, what, version);
    *body = (size_t)(nl - text) + 1;
    return EDDY_OK;
}

/* Checks the final "crc32c xxxxxxxx" line; *crc_line receives where it starts. */
static eddy_err offsets_parse_crc(const char *text, size_t len, size_t body, const char *what,
                                  size_t *crc_line)
{
    const size_t line_len = 16; /* "crc32c " + 8 hex + "\n" */
    if (len < body + line_len || text[len - 1] != '\n' ||
        memcmp(text + len - line_len, "crc32c ", 7) != 0 ||
        (len > line_len && text[len - line_len - 1] != '\n'))
        return eddy__fail(EDDY_ERR_CORRUPT, "%s: missing its final crc32c line (truncated?)", what);
    uint32_t stored = 0;
    for (size_t i = len - 9; i < len - 1; i++) {
        char ch = text[i];
        int digit = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (digit < 0)
            return eddy__fail(EDDY_ERR_CORRUPT, "%s: bad crc32c line", what);
        stored = stored << 4 | (uint32_t)digit;
    }
    uint32_t actual = eddy__crc32c(0, text, len - line_len);
    if (stored != actual)
        return eddy__fail(EDDY_ERR_CORRUPT, "%s: crc32c %08x does not match the content (%08x)",
                          what, stored, actual);
    *crc_line = len - line_len;
    return EDDY_OK;
}

eddy_err eddy__group_offsets_parse(char *text, size_t len, const char *what,
                                   eddy__group_offsets *out)
{
    memset(out, 0, sizeof(*out));
    out->text = text;
    text[len] = '\0';
    size_t body = 0, crc_line = 0;
    eddy_err err = offsets_parse_header(text, len, what, &body);
    if (err == EDDY_OK)
        err = offsets_parse_crc(text, len, body, what, &crc_line);
    int line_no = 1;
    for (size_t pos = body; err == EDDY_OK && pos < crc_line; line_no++) {
        char *nl = memchr(text + pos, '\n', crc_line - pos);
        EDDY_ASSERT(nl); /* the byte before the crc line is a newline */
        eddy__group_offset e;
        if (!offsets_parse_line(text + pos, nl, &e)) {
            err =
                eddy__fail(EDDY_ERR_CORRUPT, "%s: line %d: expected '<topic> <partition> <offset>'",
                           what, line_no + 1);
            break;
        }
        const eddy__group_offset *prev = out->count ? &out->entries[out->count - 1] : NULL;
        if (prev && offset_cmp(prev->topic, prev->partition, e.topic, e.partition) >= 0) {
            err = eddy__fail(EDDY_ERR_CORRUPT, "%s: line %d: out of order or repeated", what,
                             line_no + 1);
            break;
        }
        err = offsets_reserve(out, 1);
        if (err == EDDY_OK)
            out->entries[out->count++] = e;
        pos = (size_t)(nl - text) + 1;
    }
    if (err != EDDY_OK)
        eddy__group_offsets_free(out);
    return err;
}

eddy_err eddy__group_offsets_format(const eddy__group_offsets *o, char **text, size_t *len)
{
    size_t cap = strlen(GROUP_OFFSETS_HEADER) + 16 + 16 + 1;
    for (size_t i = 0; i < o->count; i++)
        cap += strlen(o->entries[i].topic) + 1 + 11 + 1 + 20 + 1;
    char *buf = eddy__malloc(cap);
    if (!buf)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "offsets: out of memory for %zu bytes", cap);
    size_t n = (size_t)snprintf(buf, cap, "%s%d\n", GROUP_OFFSETS_HEADER, GROUP_OFFSETS_VERSION);
    for (size_t i = 0; i < o->count; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s %" PRId32 " %" PRId64 "\n", o->entries[i].topic,
                              o->entries[i].partition, o->entries[i].offset);
    uint32_t crc = eddy__crc32c(0, buf, n);
    n += (size_t)snprintf(buf + n, cap - n, "crc32c %08x\n", crc);
    EDDY_ASSERT(n < cap);
    *text = buf;
    *len = n;
    return EDDY_OK;
}

/* Binary search: the index of (topic, partition), or where it would go (*found = 0). */
static size_t offsets_find(const eddy__group_offsets *o, const char *topic, int32_t partition,
                           int *found)
{
    size_t lo = 0, hi = o->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = offset_cmp(o->entries[mid].topic, o->entries[mid].partition, topic, partition);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static eddy_err offsets_merge(eddy__group_offsets *o, const eddy__group_offset *update)
{
    int found;
    size_t at = offsets_find(o, update->topic, update->partition, &found);
    if (found) {
        o->entries[at].offset = update->offset;
        return EDDY_OK;
    }
    eddy_err err = offsets_reserve(o, 1);
    if (err != EDDY_OK)
        return err;
    memmove(&o->entries[at + 1], &o->entries[at], (o->count - at) * sizeof(o->entries[0]));
    o->entries[at] = *update;
    o->count++;
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Offsets file I/O                                                                           */

/* Reads DATA/groups/<group>/offsets from group directory `dir`; a missing file is empty. */
static eddy_err offsets_load(const char *dir, eddy__group_offsets *out)
{
    memset(out, 0, sizeof(*out));
    char path[PATH_MAX];
    eddy_err err = path_format(path, "%s/%s", dir, "offsets");
    if (err != EDDY_OK)
        return err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? EDDY_OK : eddy__fail_errno(errno, "open %s", path);
    struct stat st;
    char *text = NULL;
    if (fstat(fd, &st) != 0) {
        err = eddy__fail_errno(errno, "stat %s", path);
    } else if (st.st_size > (off_t)EDDY_GROUP_OFFSETS_BYTES_MAX) {
        err = eddy__fail(EDDY_ERR_CORRUPT,
                         "%s: %lld bytes, more than the %u an offsets file may "
                         "have",
                         path, (long long)st.st_size, EDDY_GROUP_OFFSETS_BYTES_MAX);
    } else if (!(text = eddy__malloc((size_t)st.st_size + 1))) {
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    size_t got = 0;
    while (err == EDDY_OK && got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? eddy__fail_errno(errno, "read %s", path)
                        : eddy__fail(EDDY_ERR_CORRUPT, "%s: shorter than its size", path);
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (err != EDDY_OK) {
        eddy__free(text);
        return err;
    }
    return eddy__group_offsets_parse(text, got, path, out);
}

static eddy_err write_all(int fd, const char *data, size_t len, const char *path)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return eddy__fail_errno(errno, "write %s", path);
        data += n;
        len -= (size_t)n;
    }
    return EDDY_OK;
}

/* Replaces the offsets file with `text`: temp file, fdatasync, rename, directory fsync. A
 * failed sync is returned, never retried on the same pages: the next commit writes a new
 * temp file from memory. */
static eddy_err offsets_store(const char *dir, const char *text, size_t len)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    eddy_err err = path_format(tmp, "%s/%s", dir, "offsets.tmp");
    if (err == EDDY_OK)
        err = path_format(path, "%s/%s", dir, "offsets");
    if (err != EDDY_OK)
        return err;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return eddy__fail_errno(errno, "create %s", tmp);
    err = write_all(fd, text, len, tmp);
    int injected = err == EDDY_OK ? eddy__fault_check(EDDY_FAULT_FSYNC) : 0;
    if (err == EDDY_OK && (injected || fdatasync(fd) != 0))
        err = eddy__fail_errno(injected ? injected : errno, "fdatasync %s", tmp);
    close(fd);
    if (err == EDDY_OK && rename(tmp, path) != 0)
        err = eddy__fail_errno(errno, "rename %s to %s", tmp, path);
    if (err == EDDY_OK)
        err = fsync_dir(dir);
    return err;
}

/* The group directory's own entry must be durable before a commit can be: done once. */
static eddy_err group_dirs_sync(eddy__group *g)
{
    if (g->dirs_synced)
        return EDDY_OK;
    char groups[PATH_MAX];
    eddy_err err = path_format(groups, "%s/%s", eddy_log_dir(g->log), "groups");
    if (err == EDDY_OK)
        err = fsync_dir(groups);
    if (err == EDDY_OK)
        err = fsync_dir(eddy_log_dir(g->log));
    if (err == EDDY_OK)
        g->dirs_synced = 1;
    return err;
}

/* Merges `count` offsets into the group's file, durably. */
static eddy_err group_commit(eddy__group *g, const eddy__group_offset *updates, size_t count)
{
    eddy_err err = group_check_usable(g);
    if (err == EDDY_OK)
        err = group_dirs_sync(g);
    if (err != EDDY_OK || count == 0)
        return err;
    int owner_died;
    err = mutex_lock(g, &g->state->offsets_mutex, "offsets", &owner_died);
    if (err != EDDY_OK)
        return err;
    eddy__group_offsets o;
    char *text = NULL;
    size_t len = 0;
    err = offsets_load(g->dir, &o);
    for (size_t i = 0; err == EDDY_OK && i < count; i++)
        err = offsets_merge(&o, &updates[i]);
    if (err == EDDY_OK)
        err = eddy__group_offsets_format(&o, &text, &len);
    if (err == EDDY_OK)
        err = offsets_store(g->dir, text, len);
    pthread_mutex_unlock(&g->state->offsets_mutex.mutex);
    eddy__free(text);
    eddy__group_offsets_free(&o);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "group '%s': commit", g->name);
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer                                                                                   */

enum { RESET_EARLIEST, RESET_LATEST, RESET_NONE };
enum { MODE_NONE, MODE_SUBSCRIBED, MODE_MANUAL };

typedef struct consumer_partition {
    char *topic;
    int32_t partition;
    int topic_index;         /* into the subscription; -1 when manual or no longer subscribed */
    int state_topic;         /* entry in the state's topic table (subscribed mode) */
    eddy_log_reader *reader; /* opened at the first read */
    int64_t start;           /* an offset, EDDY_OFFSET_BEGINNING/END, or EDDY_OFFSET_STORED */
    int64_t committed;       /* the group's committed offset as last known; -1 none */
    int paused;              /* eddy_log_consumer_pause(): poll skips it, the reader stays */
} consumer_partition;

struct eddy_log_consumer {
    eddy_log *log;
    char *group_id; /* NULL: no group */
    eddy__group *group;
    int offset_reset;
    int auto_commit;
    int mode;
    int slot; /* -1 until joined */
    char member_id[EDDY_GROUP_MEMBER_ID_MAX];
    char **topics; /* subscription */
    size_t topic_count;
    int topic_entries[EDDY_SUBSCRIPTION_TOPICS_MAX]; /* their state topic entries */
    eddy_rebalance_cb cb;
    void *opaque;
    consumer_partition *parts; /* the assignment */
    size_t part_count, part_cap;
    /* Arrays sized with parts (part_cap), so that giving partitions up never allocates: a
     * REVOKE callback runs even when memory is short. */
    eddy_topic_partition *view;         /* for eddy_log_consumer_assignment() */
    eddy_topic_partition *callback_tps; /* the partitions passed to a callback */
    char *mark;                         /* which parts a step gives up */
    size_t next_part;                   /* round robin */
    int burst;
    uint64_t seen_change_seq;
    int64_t next_probe_ns;
    size_t pending; /* target partitions still owned by others */
    int in_callback;
};

static _Atomic uint32_t member_counter;

static eddy_err consumer_config(eddy_log_consumer *c, const eddy_config *config)
{
    c->offset_reset = RESET_LATEST;
    c->auto_commit = 1;
    /* eddy_config_set() validates both keys already; this guards configs built otherwise. */
    const char *v = config ? eddy_config_get(config, "auto.offset.reset") : NULL;
    if (v) {
        if (strcmp(v, "earliest") == 0)
            c->offset_reset = RESET_EARLIEST;
        else if (strcmp(v, "latest") == 0)
            c->offset_reset = RESET_LATEST;
        else if (strcmp(v, "none") == 0)
            c->offset_reset = RESET_NONE;
        else
            return eddy__fail(EDDY_ERR_CONFIG,
                              "config auto.offset.reset: '%s' is not one of earliest, latest, none",
                              v);
    }
    v = config ? eddy_config_get(config, "enable.auto.commit") : NULL;
    if (v) {
        if (strcasecmp(v, "true") == 0)
            c->auto_commit = 1;
        else if (strcasecmp(v, "false") == 0)
            c->auto_commit = 0;
        else
            return eddy__fail(EDDY_ERR_CONFIG,
                              "config enable.auto.commit: '%s' is not one of true, false", v);
    }
    return EDDY_OK;
}

eddy_err eddy_log_consumer_new(eddy_log *log, const char *group_id, const eddy_config *config,
                               eddy_log_consumer **out)
{
    *out = NULL;
    if (!log)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "consumer: log is NULL");
    if (group_id) {
        eddy_err err = group_name_check(group_id);
        if (err != EDDY_OK)
            return err;
    }
    eddy_log_consumer *c = eddy__calloc(1, sizeof(*c));
    if (!c)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    c->log = log;
    c->slot = -1;
    eddy_err err = consumer_config(c, config);
    if (err == EDDY_OK && group_id && !(c->group_id = eddy__strdup(group_id)))
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    if (err != EDDY_OK) {
        eddy__free(c);
        return err;
    }
    *out = c;
    return EDDY_OK;
}

static eddy_err consumer_group(eddy_log_consumer *c)
{
    if (!c->group_id)
        return eddy__fail(EDDY_ERR_STATE, "consumer has no group id");
    if (c->group)
        return EDDY_OK;
    return eddy__group_open(c->log, c->group_id, 1, &c->group);
}

static int64_t reset_offset(const eddy_log_consumer *c)
{
    return c->offset_reset == RESET_EARLIEST ? EDDY_OFFSET_BEGINNING : EDDY_OFFSET_END;
}

static eddy_err reset_refused(const eddy_log_consumer *c, const consumer_partition *part,
                              const char *why)
{
    return eddy__fail(EDDY_ERR_OFFSET_OUT_OF_RANGE,
                      "group '%s': topic '%s' partition %d: %s and auto.offset.reset is none",
                      c->group_id ? c->group_id : "(none)", part->topic, (int)part->partition, why);
}

/* Opens a partition's reader where its position starts: an explicit offset, the committed
 * offset, or per auto.offset.reset; an offset retention deleted also resets. */
static eddy_err part_open_reader(eddy_log_consumer *c, consumer_partition *part)
{
    int64_t start = part->start;
    if (start == EDDY_OFFSET_STORED) {
        if (part->committed < 0 && c->offset_reset == RESET_NONE)
            return reset_refused(c, part, "no committed offset");
        start = part->committed >= 0 ? part->committed : reset_offset(c);
    }
    eddy_err err = eddy_log_reader_new(c->log, part->topic, part->partition, start, &part->reader);
    if (err == EDDY_ERR_OFFSET_OUT_OF_RANGE && start >= 0) {
        if (c->offset_reset == RESET_NONE)
            return reset_refused(c, part, "the start offset is out of range");
        EDDY_INFO(GROUP_MODULE,
                  "topic '%s' partition %d: offset %" PRId64 " out of range, "
                  "resetting to the %s",
                  part->topic, (int)part->partition, start,
                  c->offset_reset == RESET_EARLIEST ? "beginning" : "end");
        err = eddy_log_reader_new(c->log, part->topic, part->partition, reset_offset(c),
                                  &part->reader);
    }
    if (err != EDDY_OK) {
        part->reader = NULL;
        return err;
    }
    part->start = eddy_log_reader_position(part->reader);
    return EDDY_OK;
}

/* The offset a commit of this partition would write, or -1 when its position is unknown. */
static int64_t part_position(const consumer_partition *part)
{
    if (part->reader)
        return eddy_log_reader_position(part->reader);
    return part->start >= 0 ? part->start : -1;
}

static void part_free(consumer_partition *part)
{
    eddy_log_reader_destroy(part->reader);
    eddy__free(part->topic);
    memset(part, 0, sizeof(*part));
}

/* Commits the positions of the partitions whose mark[i] is set (all when mark is NULL) that
 * moved since their last commit. */
static eddy_err consumer_commit_marked(eddy_log_consumer *c, const char *mark)
{
    eddy_err err = consumer_group(c);
    if (err != EDDY_OK)
        return err;
    if (c->part_count == 0)
        return EDDY_OK;
    eddy__group_offset *updates = eddy__malloc(c->part_count * sizeof(*updates));
    if (!updates)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->part_count; i++) {
        consumer_partition *part = &c->parts[i];
        int64_t position = part_position(part);
        if ((mark && !mark[i]) || position < 0 || position == part->committed)
            continue;
        updates[n++] = (eddy__group_offset){part->topic, part->partition, position};
    }
    err = group_commit(c->group, updates, n);
    for (size_t i = 0, u = 0; err == EDDY_OK && u < n; i++) {
        if (c->parts[i].topic == updates[u].topic)
            c->parts[i].committed = updates[u++].offset;
    }
    eddy__free(updates);
    return err;
}

static void consumer_callback(eddy_log_consumer *c, eddy_rebalance_event event,
                              const eddy_topic_partition *tps, size_t count)
{
    if (!c->cb || count == 0)
        return;
    c->in_callback = 1;
    c->cb(c, event, tps, count, c->opaque);
    c->in_callback = 0;
}

/* Grows the assignment arrays together for `extra` more partitions. */
static eddy_err consumer_reserve(eddy_log_consumer *c, size_t extra)
{
    if (c->part_count + extra <= c->part_cap)
        return EDDY_OK;
    size_t cap = c->part_cap ? c->part_cap * 2 : 8;
    if (cap < c->part_count + extra)
        cap = c->part_count + extra;
    consumer_partition *parts = eddy__realloc(c->parts, cap * sizeof(*parts));
    if (parts)
        c->parts = parts;
    eddy_topic_partition *view = parts ? eddy__realloc(c->view, cap * sizeof(*view)) : NULL;
    if (view)
        c->view = view;
    eddy_topic_partition *tps = view ? eddy__realloc(c->callback_tps, cap * sizeof(*tps)) : NULL;
    if (tps)
        c->callback_tps = tps;
    char *mark = tps ? eddy__realloc(c->mark, cap) : NULL;
    if (!mark)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory for %zu partitions", cap);
    c->mark = mark;
    c->part_cap = cap;
    return EDDY_OK;
}

/* Gives up the partitions marked in c->mark: commit (enable.auto.commit), REVOKE, and only
 * then clear their owner bytes, so that nobody else reads them before the callback returned.
 * Allocates nothing but the commit's buffers: the callback always runs. */
static eddy_err consumer_revoke(eddy_log_consumer *c, size_t count, int commit)
{
    if (count == 0)
        return EDDY_OK;
    EDDY_ASSERT(c->slot >= 0 && c->part_count <= c->part_cap);
    if (commit && c->auto_commit && consumer_commit_marked(c, c->mark) != EDDY_OK)
        EDDY_WARN(GROUP_MODULE, "group '%s': auto-commit before revoking partitions: %s",
                  c->group_id, eddy_last_error());
    size_t n = 0;
    for (size_t i = 0; i < c->part_count; i++)
        if (c->mark[i])
            c->callback_tps[n++] = (eddy_topic_partition){c->parts[i].topic, c->parts[i].partition};
    EDDY_ASSERT(n == count);
    consumer_callback(c, EDDY_REBALANCE_REVOKE, c->callback_tps, n);
    /* The partitions leave the assignment now whatever happens next: the application was told.
     * Should the mutex be unavailable, their owner bytes stay set and the next step releases
     * them as orphans. */
    eddy_err err = group_lock(c->group);
    group_state *s = c->group->state;
    size_t kept = 0;
    for (size_t i = 0; i < c->part_count; i++) {
        consumer_partition *part = &c->parts[i];
        if (!c->mark[i]) {
            c->parts[kept++] = *part;
            continue;
        }
        EDDY_ASSERT(part->state_topic >= 0 && part->state_topic < EDDY_GROUP_TOPICS_MAX);
        group_topic *topic = &s->topics[part->state_topic];
        if (err == EDDY_OK && topic->owners[part->partition] == (uint8_t)(c->slot + 1))
            topic->owners[part->partition] = 0;
        part_free(part);
    }
    c->part_count = kept;
    c->next_part = 0;
    c->burst = 0;
    if (err != EDDY_OK)
        return err;
    state_bump(s, 0);
    group_unlock(c->group);
    eddy__log_notify_bump(c->log);
    return EDDY_OK;
}

/* A partition taken in the state, to add to the assignment. */
typedef struct taken_partition {
    int topic_index;
    int32_t partition;
} taken_partition;

/* Adds partitions taken in the state to the assignment, starting at the committed offsets,
 * and calls ASSIGN. On failure they stay owned in the state: the next step finds them as
 * orphans and retries. */
static eddy_err consumer_add_taken(eddy_log_consumer *c, const taken_partition *taken, size_t count)
{
    if (count == 0)
        return EDDY_OK;
    eddy__group_offsets committed;
    eddy_err err = consumer_reserve(c, count);
    if (err != EDDY_OK)
        return err;
    err = offsets_load(c->group->dir, &committed);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "group '%s'", c->group_id);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        consumer_partition *part = &c->parts[c->part_count];
        memset(part, 0, sizeof(*part));
        part->topic = eddy__strdup(c->topics[taken[i].topic_index]);
        if (!part->topic) {
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "consumer: out of memory");
            break;
        }
        part->partition = taken[i].partition;
        part->topic_index = taken[i].topic_index;
        part->state_topic = c->topic_entries[taken[i].topic_index];
        part->start = EDDY_OFFSET_STORED;
        int found;
        size_t at = offsets_find(&committed, part->topic, part->partition, &found);
        part->committed = found ? committed.entries[at].offset : -1;
        c->callback_tps[n++] = (eddy_topic_partition){part->topic, part->partition};
        c->part_count++;
    }
    eddy__group_offsets_free(&committed);
    consumer_callback(c, EDDY_REBALANCE_ASSIGN, c->callback_tps, n);
    return err;
}

/* This member's target: partitions [first[i], first[i] + n[i]) of subscribed topic i. */
typedef struct consumer_target {
    int32_t first[EDDY_SUBSCRIPTION_TOPICS_MAX];
    int32_t n[EDDY_SUBSCRIPTION_TOPICS_MAX];
} consumer_target;

static int target_has(const consumer_target *t, int topic_index, int32_t partition)
{
    return topic_index >= 0 && partition >= t->first[topic_index] &&
           partition < t->first[topic_index] + t->n[topic_index];
}

static eddy_err taken_push(taken_partition **taken, size_t *count, size_t *cap, int topic_index,
                           int32_t partition)
{
    if (*count == *cap) {
        size_t grown = *cap ? *cap * 2 : 16;
        taken_partition *t = eddy__realloc(*taken, grown * sizeof(*t));
        if (!t)
            return EDDY_ERR_NO_MEMORY; /* not taken now; retried at the next step */
        *taken = t;
        *cap = grown;
    }
    (*taken)[(*count)++] = (taken_partition){topic_index, partition};
    return EDDY_OK;
}

/* Under the mutex: computes this member's range of each subscribed topic, takes the free
 * partitions of it, and marks (c->mark) owned partitions outside it. */
static size_t consumer_plan(eddy_log_consumer *c, const int32_t *counts, consumer_target *target,
                            taken_partition **taken, size_t *taken_count, size_t *taken_cap)
{
    group_state *s = c->group->state;
    EDDY_ASSERT(c->slot >= 0 && c->slot < EDDY_GROUP_MEMBERS_MAX);
    c->pending = 0;
    for (size_t i = 0; i < c->topic_count; i++) {
        const char *ids[EDDY_GROUP_MEMBERS_MAX];
        size_t self = 0, members = topic_members(s, c->topic_entries[i], c->slot, ids, &self);
        target->first[i] = target->n[i] = 0;
        if (members == 0)
            continue; /* only a damaged state loses this member's own bit */
        eddy__group_range_of(counts[i], ids, members, self, &target->first[i], &target->n[i]);
        group_topic *topic = &s->topics[c->topic_entries[i]];
        for (int32_t p = target->first[i]; p < target->first[i] + target->n[i]; p++) {
            int owner = owner_slot(s, topic->owners[p]);
            if (owner == c->slot)
                continue; /* ours already */
            if (owner >= 0 || taken_push(taken, taken_count, taken_cap, (int)i, p) != EDDY_OK) {
                c->pending++;
                continue;
            }
            topic->owners[p] = (uint8_t)(c->slot + 1);
            if (topic->owners_span <= p)
                topic->owners_span = p + 1;
        }
    }
    size_t revoke = 0;
    for (size_t j = 0; j < c->part_count; j++) {
        const consumer_partition *part = &c->parts[j];
        c->mark[j] = !target_has(target, part->topic_index, part->partition);
        revoke += (size_t)c->mark[j];
    }
    return revoke;
}

static int assigned_has(const eddy_log_consumer *c, int state_topic, int32_t partition)
{
    for (size_t j = 0; j < c->part_count; j++)
        if (c->parts[j].state_topic == state_topic && c->parts[j].partition == partition)
            return 1;
    return 0;
}

/* Under the mutex: partitions owned in the state but missing from the assignment (an earlier
 * step failed between the state and the assignment) are taken into the assignment when they
 * are in the target, and released otherwise. Costs one pass over the owner bytes when there
 * are none. */
static void consumer_settle_orphans(eddy_log_consumer *c, const consumer_target *target,
                                    taken_partition **taken, size_t *taken_count, size_t *taken_cap)
{
    group_state *s = c->group->state;
    uint8_t me = (uint8_t)(c->slot + 1);
    size_t owned = 0;
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++)
        for (int32_t p = 0, span = s->topics[t].used ? topic_span(&s->topics[t]) : 0; p < span; p++)
            owned += s->topics[t].owners[p] == me;
    if (owned == c->part_count + *taken_count)
        return; /* every owner byte of ours is accounted for */
    size_t fresh = *taken_count, released = 0;
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++) {
        group_topic *topic = &s->topics[t];
        int32_t span = topic->used ? topic_span(topic) : 0;
        int index = -1;
        for (size_t i = 0; i < c->topic_count && index < 0; i++)
            if (c->topic_entries[i] == t)
                index = (int)i;
        for (int32_t p = 0; p < span; p++) {
            if (topic->owners[p] != me || assigned_has(c, t, p))
                continue;
            int just_taken = 0;
            for (size_t k = 0; k < fresh && !just_taken; k++)
                just_taken = (*taken)[k].topic_index == index && (*taken)[k].partition == p;
            if (just_taken)
                continue;
            if (!target_has(target, index, p) ||
                taken_push(taken, taken_count, taken_cap, index, p) != EDDY_OK) {
                topic->owners[p] = 0;
                released++;
            }
        }
    }
    if (released) {
        state_bump(s, 0);
        EDDY_WARN(GROUP_MODULE, "group '%s': %s released %zu partitions left over", c->group_id,
                  c->member_id, released);
    }
}

static eddy_err consumer_rejoin(eddy_log_consumer *c);

/* The partition counts of the subscribed topics (0 for a deleted topic: give it up). */
static eddy_err consumer_counts(eddy_log_consumer *c, int32_t *counts)
{
    for (size_t i = 0; i < c->topic_count; i++) {
        eddy_err err = eddy_log_topic_partitions(c->log, c->topics[i], &counts[i]);
        if (err == EDDY_ERR_UNKNOWN_TOPIC)
            counts[i] = 0;
        else if (err != EDDY_OK)
            return err;
        if (counts[i] < 0 || counts[i] > EDDY_PARTITIONS_MAX)
            counts[i] = 0;
    }
    return EDDY_OK;
}

/* One round of the group protocol for this member. */
static eddy_err consumer_step(eddy_log_consumer *c)
{
    int32_t counts[EDDY_SUBSCRIPTION_TOPICS_MAX];
    eddy_err err = consumer_counts(c, counts);
    if (err == EDDY_OK)
        err = consumer_reserve(c, 1); /* c->mark exists */
    if (err == EDDY_OK)
        err = group_lock(c->group);
    if (err != EDDY_OK)
        return err;
    group_state *s = c->group->state;
    if (group_reap(c->group, c->slot))
        eddy__log_notify_bump(c->log);
    c->seen_change_seq = atomic_load(&s->change_seq);
    if (!slot_in_use(s, c->slot) ||
        strncmp(s->slots[c->slot].member_id, c->member_id, sizeof(c->member_id)) != 0) {
        group_unlock(c->group);
        return consumer_rejoin(c);
    }
    consumer_target target;
    taken_partition *taken = NULL;
    size_t taken_count = 0, taken_cap = 0;
    size_t revoke = consumer_plan(c, counts, &target, &taken, &taken_count, &taken_cap);
    consumer_settle_orphans(c, &target, &taken, &taken_count, &taken_cap);
    group_unlock(c->group);
    err = consumer_revoke(c, revoke, 1);
    if (err == EDDY_OK)
        err = consumer_add_taken(c, taken, taken_count);
    eddy__free(taken);
    return err;
}

/* Runs the protocol when something may have changed: the group's change counter moved, or a
 * probe interval passed and either partitions are pending or a member looks dead. */
static eddy_err consumer_rebalance(eddy_log_consumer *c)
{
    eddy_err err = group_check_usable(c->group);
    if (err != EDDY_OK)
        return err;
    int64_t now = eddy__monotonic_coarse_ns(); /* on every poll: a cheap clock */
    uint64_t seq = atomic_load_explicit(&c->group->state->change_seq, memory_order_acquire);
    if (seq == c->seen_change_seq) {
        if (now < c->next_probe_ns)
            return EDDY_OK;
        c->next_probe_ns = now + (int64_t)GROUP_PROBE_INTERVAL_MS * 1000000;
        if (c->pending == 0 && !group_any_dead(c->group, c->slot))
            return EDDY_OK;
    }
    c->next_probe_ns = now + (int64_t)GROUP_PROBE_INTERVAL_MS * 1000000;
    if (c->slot < 0)
        err = consumer_rejoin(c); /* an earlier rejoin failed (group full) */
    return err != EDDY_OK ? err : consumer_step(c);
}

static void consumer_member_id(eddy_log_consumer *c)
{
    uint32_t n = atomic_fetch_add(&member_counter, 1) + 1;
    snprintf(c->member_id, sizeof(c->member_id), "eddy-%d-%u", (int)getpid(), n);
}

/* Joins with the current subscription. After losing the slot, which only a damaged state
 * file can cause, whatever was assigned is revoked first, without commit: it may be another
 * member's by now. */
static eddy_err consumer_rejoin(eddy_log_consumer *c)
{
    if (c->slot >= 0) {
        EDDY_WARN(GROUP_MODULE, "group '%s': member %s lost its slot; rejoining", c->group_id,
                  c->member_id);
        slot_unlock(c->group->lock_fd, c->slot);
        c->slot = -1;
        for (size_t i = 0; i < c->part_count; i++)
            c->callback_tps[i] = (eddy_topic_partition){c->parts[i].topic, c->parts[i].partition};
        consumer_callback(c, EDDY_REBALANCE_REVOKE, c->callback_tps, c->part_count);
        for (size_t i = 0; i < c->part_count; i++)
            part_free(&c->parts[i]);
        c->part_count = 0;
    }
    eddy_err err = group_lock(c->group);
    if (err != EDDY_OK)
        return err;
    consumer_member_id(c);
    err = group_join(c->group, c->member_id, c->topics, c->topic_count, c->topic_entries, &c->slot);
    group_unlock(c->group);
    if (err != EDDY_OK) {
        c->slot = -1;
        return err;
    }
    c->seen_change_seq = 0; /* run the protocol at the next poll */
    eddy__log_notify_bump(c->log);
    EDDY_INFO(GROUP_MODULE, "group '%s': %s joined in slot %d", c->group_id, c->member_id, c->slot);
    return EDDY_OK;
}

static void topics_free(char **topics, size_t count)
{
    for (size_t i = 0; i < count; i++)
        eddy__free(topics[i]);
    eddy__free(topics);
}

/* Checks and copies a subscription (duplicates dropped). */
static eddy_err subscription_copy(eddy_log_consumer *c, const char *const *topics, size_t count,
                                  char ***out, size_t *out_count)
{
    if (!topics || count == 0 || count > EDDY_SUBSCRIPTION_TOPICS_MAX)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "subscribe: %zu topics; a subscription has 1-%d", count,
                          EDDY_SUBSCRIPTION_TOPICS_MAX);
    char **copy = eddy__calloc(count, sizeof(*copy));
    if (!copy)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "subscribe: out of memory");
    size_t n = 0;
    eddy_err err = EDDY_OK;
    for (size_t i = 0; i < count && err == EDDY_OK; i++) {
        int32_t partitions;
        if (!name_valid(topics[i], EDDY_TOPIC_NAME_MAX))
            err = eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "subscribe: bad topic name '%.64s'",
                             topics[i] ? topics[i] : "(null)");
        else
            err = eddy_log_topic_partitions(c->log, topics[i], &partitions);
        int dup = 0;
        for (size_t j = 0; err == EDDY_OK && j < n && !dup; j++)
            dup = strcmp(copy[j], topics[i]) == 0;
        if (err != EDDY_OK || dup)
            continue;
        if (!(copy[n] = eddy__strdup(topics[i])))
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "subscribe: out of memory");
        else
            n++;
    }
    if (err != EDDY_OK) {
        topics_free(copy, n);
        return err;
    }
    *out = copy;
    *out_count = n;
    return EDDY_OK;
}

/* Changes a member's subscription in place; the next step revokes what no longer fits. */
static eddy_err consumer_resubscribe(eddy_log_consumer *c)
{
    eddy_err err = group_lock(c->group);
    if (err != EDDY_OK)
        return err;
    group_state *s = c->group->state;
    uint64_t bits[EDDY_GROUP_TOPICS_MAX / 64];
    err = group_subscription(c->group, c->topics, c->topic_count, bits, c->topic_entries);
    if (err == EDDY_OK) {
        memcpy(s->slots[c->slot].topics, bits, sizeof(bits));
        state_bump(s, 1);
    }
    group_unlock(c->group);
    if (err == EDDY_OK)
        eddy__log_notify_bump(c->log);
    return err;
}

eddy_err eddy_log_consumer_subscribe(eddy_log_consumer *c, const char *const *topics, size_t count,
                                     eddy_rebalance_cb cb, void *opaque)
{
    if (c->in_callback)
        return eddy__fail(EDDY_ERR_STATE, "subscribe called from a rebalance callback");
    if (!c->group_id)
        return eddy__fail(EDDY_ERR_STATE, "subscribe: the consumer has no group id");
    if (c->mode == MODE_MANUAL)
        return eddy__fail(EDDY_ERR_STATE, "subscribe: the consumer has manual assignments");
    char **copy = NULL;
    size_t n = 0;
    eddy_err err = subscription_copy(c, topics, count, &copy, &n);
    if (err != EDDY_OK)
        return err;
    err = consumer_group(c);
    if (err == EDDY_OK)
        err = group_check_usable(c->group);
    if (err != EDDY_OK) {
        topics_free(copy, n);
        return err;
    }
    char **old = c->topics;
    size_t old_count = c->topic_count;
    int old_entries[EDDY_SUBSCRIPTION_TOPICS_MAX];
    memcpy(old_entries, c->topic_entries, sizeof(old_entries));
    c->topics = copy;
    c->topic_count = n;
    err = c->slot < 0 ? consumer_rejoin(c) : consumer_resubscribe(c);
    if (err != EDDY_OK) {
        c->topics = old;
        c->topic_count = old_count;
        memcpy(c->topic_entries, old_entries, sizeof(old_entries));
        topics_free(copy, n);
        return err;
    }
    topics_free(old, old_count);
    for (size_t j = 0; j < c->part_count; j++) {
        c->parts[j].topic_index = -1;
        for (size_t i = 0; i < n; i++)
            if (strcmp(c->parts[j].topic, copy[i]) == 0)
                c->parts[j].topic_index = (int)i;
    }
    c->cb = cb;
    c->opaque = opaque;
    c->mode = MODE_SUBSCRIBED;
    c->seen_change_seq = 0;
    return EDDY_OK;
}

/* Leaves the group: REVOKE everything (with auto-commit), then vacate the slot, then drop the
 * slot lock (after in_use is cleared, so the slot never looks dead). Without the mutex, the
 * lock is dropped anyway and the others reap the slot as a dead member's. */
static eddy_err consumer_leave(eddy_log_consumer *c)
{
    if (c->part_count > 0)
        memset(c->mark, 1, c->part_count);
    eddy_err err = consumer_revoke(c, c->part_count, 1);
    eddy_err lock_err = group_lock(c->group);
    if (lock_err == EDDY_OK) {
        group_state *s = c->group->state;
        if (slot_in_use(s, c->slot) &&
            strncmp(s->slots[c->slot].member_id, c->member_id, sizeof(c->member_id)) == 0)
            slot_vacate(s, c->slot);
        state_bump(s, 1);
        topic_gc(s);
        group_unlock(c->group);
    }
    slot_unlock(c->group->lock_fd, c->slot);
    c->slot = -1;
    eddy__log_notify_bump(c->log);
    return err != EDDY_OK ? err : lock_err;
}

void eddy_log_consumer_destroy(eddy_log_consumer *c)
{
    if (!c)
        return;
    if (c->group && !c->group->forked) {
        eddy_err err = EDDY_OK;
        if (c->slot >= 0)
            err = consumer_leave(c);
        else if (c->mode == MODE_MANUAL && c->auto_commit)
            err = consumer_commit_marked(c, NULL);
        if (err != EDDY_OK)
            EDDY_WARN(GROUP_MODULE, "group '%s': closing consumer: %s", c->group_id,
                      eddy_last_error());
    }
    for (size_t i = 0; i < c->part_count; i++)
        part_free(&c->parts[i]);
    eddy__free(c->parts);
    eddy__free(c->view);
    eddy__free(c->callback_tps);
    eddy__free(c->mark);
    topics_free(c->topics, c->topic_count);
    eddy__group_close(c->group);
    eddy__free(c->group_id);
    eddy__free(c);
}

static eddy_err part_append_manual(eddy_log_consumer *c, const char *topic, int32_t partition,
                                   consumer_partition **out)
{
    eddy_err err = consumer_reserve(c, 1);
    if (err != EDDY_OK)
        return err;
    consumer_partition *part = &c->parts[c->part_count];
    memset(part, 0, sizeof(*part));
    if (!(part->topic = eddy__strdup(topic)))
        return eddy__fail(EDDY_ERR_NO_MEMORY, "assign: out of memory");
    part->partition = partition;
    part->topic_index = -1;
    part->state_topic = -1;
    part->committed = -1;
    c->part_count++;
    *out = part;
    return EDDY_OK;
}

eddy_err eddy_log_consumer_assign(eddy_log_consumer *c, const char *topic, int32_t partition,
                                  int64_t offset)
{
    if (c->in_callback || c->mode == MODE_SUBSCRIBED)
        return eddy__fail(EDDY_ERR_STATE, "assign: the consumer is subscribed to a group");
    if (offset < 0 && offset != EDDY_OFFSET_BEGINNING && offset != EDDY_OFFSET_END &&
        offset != EDDY_OFFSET_STORED)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "assign: bad offset %" PRId64, offset);
    int32_t partitions;
    eddy_err err = eddy_log_topic_partitions(c->log, topic, &partitions);
    if (err != EDDY_OK)
        return err;
    if (partition < 0 || partition >= partitions)
        return eddy__fail(EDDY_ERR_UNKNOWN_PARTITION,
                          "assign: topic '%s' has no partition %d (it has %d)", topic,
                          (int)partition, (int)partitions);
    eddy__group_offsets committed = {0};
    if (c->group_id) {
        err = consumer_group(c);
        if (err == EDDY_OK)
            err = offsets_load(c->group->dir, &committed);
        if (err != EDDY_OK)
            return err;
    }
    consumer_partition *part = NULL;
    for (size_t i = 0; i < c->part_count && !part; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            part = &c->parts[i];
    if (part) {
        eddy_log_reader_destroy(part->reader);
        part->reader = NULL;
    } else {
        err = part_append_manual(c, topic, partition, &part);
    }
    if (err == EDDY_OK) {
        int found;
        size_t at = offsets_find(&committed, topic, partition, &found);
        part->committed = found ? committed.entries[at].offset : -1;
        part->start = offset;
        part->paused = 0; /* a fresh assignment starts unpaused, as librdkafka's */
        c->mode = MODE_MANUAL;
    }
    eddy__group_offsets_free(&committed);
    return err;
}

/* One record from any assigned partition, without waiting; EDDY_ERR_TIMED_OUT when none. */
static eddy_err consumer_read(eddy_log_consumer *c, eddy_record *record)
{
    for (size_t k = 0; k < c->part_count; k++) {
        size_t i = (c->next_part + k) % c->part_count;
        consumer_partition *part = &c->parts[i];
        if (part->paused)
            continue;
        eddy_err err = part->reader ? EDDY_OK : part_open_reader(c, part);
        if (err == EDDY_OK)
            err = eddy_log_reader_next(part->reader, 0, record);
        if (err == EDDY_ERR_OFFSET_OUT_OF_RANGE && part->reader) {
            if (c->offset_reset == RESET_NONE)
                return reset_refused(c, part, "retention deleted the position");
            EDDY_INFO(GROUP_MODULE,
                      "topic '%s' partition %d: position %" PRId64 " deleted, "
                      "resetting",
                      part->topic, (int)part->partition, eddy_log_reader_position(part->reader));
            err = eddy_log_reader_seek(part->reader, reset_offset(c));
            if (err == EDDY_OK)
                err = eddy_log_reader_next(part->reader, 0, record);
        }
        if (err == EDDY_ERR_TIMED_OUT)
            continue;
        if ((err == EDDY_ERR_UNKNOWN_TOPIC || err == EDDY_ERR_UNKNOWN_PARTITION) &&
            c->mode == MODE_SUBSCRIBED) {
            c->seen_change_seq = 0; /* deleted: the next step gives it up */
            continue;
        }
        if (err != EDDY_OK)
            return err;
        if (i != c->next_part) {
            c->next_part = i; /* stay on this partition for a burst */
            c->burst = 1;
        } else if (++c->burst >= CONSUMER_BURST_RECORDS) {
            c->next_part = (i + 1) % c->part_count;
            c->burst = 0;
        }
        return EDDY_OK;
    }
    return EDDY_ERR_TIMED_OUT;
}

eddy_err eddy_log_consumer_poll(eddy_log_consumer *c, int timeout_ms, eddy_record *record)
{
    if (c->in_callback)
        return eddy__fail(EDDY_ERR_STATE, "poll called from a rebalance callback");
    if (c->mode == MODE_NONE)
        return eddy__fail(EDDY_ERR_STATE, "poll: the consumer is neither subscribed nor assigned");
    if (!record) /* the group protocol only: no record is read, no waiting */
        return c->mode == MODE_SUBSCRIBED ? consumer_rebalance(c) : EDDY_OK;
    int64_t deadline_ns = -1; /* taken when the first read finds nothing: reads cost no clock */
    for (;;) {
        uint32_t seen = eddy__log_notify_seq(c->log);
        eddy_err err = c->mode == MODE_SUBSCRIBED ? consumer_rebalance(c) : EDDY_OK;
        if (err == EDDY_OK)
            err = consumer_read(c, record);
        if (err != EDDY_ERR_TIMED_OUT || timeout_ms == 0)
            return err;
        int64_t now = eddy__monotonic_ns();
        if (deadline_ns < 0)
            deadline_ns = now + (int64_t)timeout_ms * 1000000;
        int wait_ms = -1;
        if (timeout_ms > 0) {
            if (now >= deadline_ns)
                return EDDY_ERR_TIMED_OUT;
            wait_ms = (int)((deadline_ns - now + 999999) / 1000000);
        }
        if (c->mode == MODE_SUBSCRIBED) {
            int64_t until_probe = (c->next_probe_ns - now + 999999) / 1000000;
            if (until_probe < 1)
                until_probe = 1;
            if (wait_ms < 0 || until_probe < wait_ms)
                wait_ms = (int)until_probe;
        }
        eddy__log_notify_wait(c->log, seen, wait_ms);
    }
}

eddy_err eddy_log_consumer_commit(eddy_log_consumer *c)
{
    if (!c->group_id)
        return eddy__fail(EDDY_ERR_STATE, "commit: the consumer has no group id");
    return consumer_commit_marked(c, NULL);
}

/* The assigned partition (topic, partition), or NULL. */
static consumer_partition *part_find(eddy_log_consumer *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; topic && i < c->part_count; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return &c->parts[i];
    return NULL;
}

static eddy_err not_assigned(const eddy_log_consumer *c, const char *what, const char *topic,
                             int32_t partition)
{
    return eddy__fail(EDDY_ERR_STATE, "%s: topic '%.64s' partition %d is not assigned to %s%s%s",
                      what, topic ? topic : "(null)", (int)partition,
                      c->mode == MODE_SUBSCRIBED ? c->member_id : "this consumer",
                      c->group_id ? " of group " : "", c->group_id ? c->group_id : "");
}

/* Checks one offset to commit; a subscribed member commits only what it owns: ownership
 * changes only through this member's own release, so its assignment is the truth, and a late
 * commit cannot move another member's offsets. */
static eddy_err commit_check(eddy_log_consumer *c, const eddy_topic_partition *tp, int64_t offset)
{
    if (offset < 0 || !name_valid(tp->topic, EDDY_TOPIC_NAME_MAX) || tp->partition < 0 ||
        tp->partition >= EDDY_PARTITIONS_MAX)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "commit: bad topic, partition or offset ('%.64s', %d, %" PRId64 ")",
                          tp->topic ? tp->topic : "(null)", (int)tp->partition, offset);
    if (c->mode == MODE_SUBSCRIBED && !part_find(c, tp->topic, tp->partition))
        return not_assigned(c, "commit", tp->topic, tp->partition);
    return EDDY_OK;
}

eddy_err eddy_log_consumer_commit_offsets(eddy_log_consumer *c, const eddy_topic_partition *tps,
                                          const int64_t *offsets, size_t count)
{
    if (!c->group_id)
        return eddy__fail(EDDY_ERR_STATE, "commit: the consumer has no group id");
    if (count > 0 && (!tps || !offsets))
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "commit: %zu offsets but no array", count);
    if (count > SIZE_MAX / sizeof(eddy__group_offset))
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "commit: %zu offsets", count);
    for (size_t i = 0; i < count; i++) {
        eddy_err err = commit_check(c, &tps[i], offsets[i]);
        if (err != EDDY_OK)
            return err;
    }
    eddy_err err = consumer_group(c);
    if (err != EDDY_OK || count == 0)
        return err;
    eddy__group_offset *updates = eddy__malloc(count * sizeof(*updates));
    if (!updates)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "commit: out of memory for %zu offsets", count);
    for (size_t i = 0; i < count; i++)
        updates[i] = (eddy__group_offset){tps[i].topic, tps[i].partition, offsets[i]};
    err = group_commit(c->group, updates, count);
    eddy__free(updates);
    for (size_t i = 0; err == EDDY_OK && i < count; i++) {
        consumer_partition *part = part_find(c, tps[i].topic, tps[i].partition);
        if (part)
            part->committed = offsets[i];
    }
    return err;
}

eddy_err eddy_log_consumer_commit_offset(eddy_log_consumer *c, const char *topic, int32_t partition,
                                         int64_t offset)
{
    eddy_topic_partition tp = {topic, partition};
    return eddy_log_consumer_commit_offsets(c, &tp, &offset, 1);
}

/* Sets the paused flag of every listed partition, all or none: an unassigned one is refused. */
static eddy_err consumer_pause_set(eddy_log_consumer *c, const char *what,
                                   const eddy_topic_partition *tps, size_t count, int paused)
{
    if (count > 0 && !tps)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: %zu partitions but no array", what,
                          count);
    for (size_t i = 0; i < count; i++)
        if (!part_find(c, tps[i].topic, tps[i].partition))
            return not_assigned(c, what, tps[i].topic, tps[i].partition);
    for (size_t i = 0; i < count; i++)
        part_find(c, tps[i].topic, tps[i].partition)->paused = paused;
    return EDDY_OK;
}

eddy_err eddy_log_consumer_pause(eddy_log_consumer *c, const eddy_topic_partition *tps,
                                 size_t count)
{
    return consumer_pause_set(c, "pause", tps, count, 1);
}

eddy_err eddy_log_consumer_resume(eddy_log_consumer *c, const eddy_topic_partition *tps,
                                  size_t count)
{
    return consumer_pause_set(c, "resume", tps, count, 0);
}

eddy_err eddy_log_consumer_seek(eddy_log_consumer *c, const char *topic, int32_t partition,
                                int64_t offset)
{
    if (offset < 0 && offset != EDDY_OFFSET_BEGINNING && offset != EDDY_OFFSET_END)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "seek: bad offset %" PRId64, offset);
    consumer_partition *part = part_find(c, topic, partition);
    if (!part)
        return not_assigned(c, "seek", topic, partition);
    /* Moving the open reader keeps its buffers; an offset it refuses (out of range) is left to
     * the next read, which resets it per auto.offset.reset, as Kafka does after a seek. */
    if (part->reader && eddy_log_reader_seek(part->reader, offset) == EDDY_OK) {
        part->start = eddy_log_reader_position(part->reader);
        return EDDY_OK;
    }
    eddy_log_reader_destroy(part->reader);
    part->reader = NULL;
    part->start = offset;
    return EDDY_OK;
}

eddy_err eddy_log_consumer_position(eddy_log_consumer *c, const char *topic, int32_t partition,
                                    int64_t *offset)
{
    consumer_partition *part = part_find(c, topic, partition);
    if (!part)
        return not_assigned(c, "position", topic, partition);
    /* An unresolved start (stored, beginning, end) is resolved now by opening the reader, which
     * the next poll then reads from. */
    eddy_err err = part->reader ? EDDY_OK : part_open_reader(c, part);
    if (err != EDDY_OK)
        return err;
    *offset = eddy_log_reader_position(part->reader);
    return EDDY_OK;
}

eddy_err eddy_log_consumer_unassign(eddy_log_consumer *c)
{
    if (c->in_callback || c->mode == MODE_SUBSCRIBED)
        return eddy__fail(EDDY_ERR_STATE, "unassign: the consumer is subscribed to group '%s'",
                          c->group_id ? c->group_id : "(none)");
    if (c->mode == MODE_NONE)
        return EDDY_OK;
    if (c->group_id && c->auto_commit) {
        eddy_err err = consumer_commit_marked(c, NULL);
        if (err != EDDY_OK)
            return err;
    }
    for (size_t i = 0; i < c->part_count; i++)
        part_free(&c->parts[i]);
    c->part_count = 0;
    c->next_part = 0;
    c->burst = 0;
    c->mode = MODE_NONE;
    return EDDY_OK;
}

eddy_err eddy_log_consumer_assignment(eddy_log_consumer *c, const eddy_topic_partition **partitions,
                                      size_t *count)
{
    for (size_t i = 0; i < c->part_count; i++)
        c->view[i] = (eddy_topic_partition){c->parts[i].topic, c->parts[i].partition};
    *partitions = c->view;
    *count = c->part_count;
    return EDDY_OK;
}

const char *eddy_log_consumer_member_id(const eddy_log_consumer *c)
{
    return c->slot >= 0 ? c->member_id : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Group inspection                                                                           */

/* Whether a group directory holds offsets or a live member (any slot lock held). */
static int group_dir_active(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/offsets", dir) < (int)sizeof(path) &&
        access(path, F_OK) == 0)
        return 1;
    if (snprintf(path, sizeof(path), "%s/members.lock", dir) >= (int)sizeof(path))
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int held = slot_range_held(fd, 0, EDDY_GROUP_MEMBERS_MAX);
    close(fd);
    return held;
}

eddy_err eddy_log_group_list(eddy_log *log, char ***names, size_t *count)
{
    char groups[PATH_MAX], dir[PATH_MAX];
    eddy_err err = path_format(groups, "%s/%s", eddy_log_dir(log), "groups");
    if (err == EDDY_OK)
        err = eddy__list_dir_names(groups, names, count);
    if (err != EDDY_OK)
        return err;
    /* Keep the directories that are groups with members or committed offsets. */
    size_t kept = 0;
    for (size_t i = 0; i < *count; i++) {
        char *name = (*names)[i];
        if (name_valid(name, EDDY_GROUP_NAME_MAX) &&
            path_format(dir, "%s/%s", groups, name) == EDDY_OK && group_dir_active(dir))
            (*names)[kept++] = name;
        else
            eddy__free(name);
    }
    *count = kept;
    return EDDY_OK;
}

/* Loads a group's committed offsets (without creating the group). */
static eddy_err group_offsets_read(eddy_log *log, const char *group, eddy__group_offsets *o)
{
    char dir[PATH_MAX];
    eddy_err err = group_name_check(group);
    if (err == EDDY_OK)
        err = group_dir_make(log, group, 0, dir);
    if (err == EDDY_OK)
        err = offsets_load(dir, o);
    return err;
}

eddy_err eddy_log_group_committed(eddy_log *log, const char *group, const char *topic,
                                  int32_t partition, int64_t *offset)
{
    eddy__group_offsets o;
    eddy_err err = group_offsets_read(log, group, &o);
    if (err != EDDY_OK)
        return err;
    int found = 0;
    size_t at = topic ? offsets_find(&o, topic, partition, &found) : 0;
    if (found)
        *offset = o.entries[at].offset;
    eddy__group_offsets_free(&o);
    if (!found)
        return eddy__fail(EDDY_ERR_NOT_FOUND,
                          "group '%s' has no committed offset for topic '%.64s' partition %d",
                          group, topic ? topic : "(null)", (int)partition);
    return EDDY_OK;
}

eddy_err eddy_log_group_offsets(eddy_log *log, const char *group, eddy_group_offset_cb cb,
                                void *opaque)
{
    eddy__group_offsets o;
    eddy_err err = group_offsets_read(log, group, &o);
    if (err != EDDY_OK)
        return err;
    for (size_t i = 0; i < o.count; i++)
        cb(o.entries[i].topic, o.entries[i].partition, o.entries[i].offset, opaque);
    eddy__group_offsets_free(&o);
    return EDDY_OK;
}

/* A copy of the live members and what they own, taken under the mutex. */
typedef struct describe_member {
    char member_id[EDDY_GROUP_MEMBER_ID_MAX];
    int pid;
    size_t first, count; /* into the owned array */
} describe_member;

typedef struct describe_snapshot {
    describe_member members[EDDY_GROUP_MEMBERS_MAX];
    size_t member_count;
    eddy_topic_partition *owned;
    size_t owned_count;
    char *names[EDDY_GROUP_TOPICS_MAX];
    int64_t generation;
} describe_snapshot;

static int owned_cmp(const void *a, const void *b)
{
    const eddy_topic_partition *x = a, *y = b;
    return offset_cmp(x->topic, x->partition, y->topic, y->partition);
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const describe_member *)a)->member_id, ((const describe_member *)b)->member_id);
}

static eddy_err describe_take(const group_state *s, describe_snapshot *snap)
{
    size_t total = 0;
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++) {
        const group_topic *topic = &s->topics[t];
        int32_t span = topic->used ? topic_span(topic) : 0;
        for (int32_t p = 0; p < span; p++)
            total += owner_slot(s, topic->owners[p]) >= 0;
        if (span > 0 && !(snap->names[t] = eddy__strndup(topic->name, EDDY_TOPIC_NAME_MAX)))
            return eddy__fail(EDDY_ERR_NO_MEMORY, "describe: out of memory");
    }
    snap->owned = eddy__malloc((total + 1) * sizeof(*snap->owned));
    if (!snap->owned)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "describe: out of memory");
    for (int i = 0; i < EDDY_GROUP_MEMBERS_MAX; i++) {
        if (!slot_in_use(s, i))
            continue;
        describe_member *m = &snap->members[snap->member_count++];
        snprintf(m->member_id, sizeof(m->member_id), "%s", s->slots[i].member_id);
        m->pid = s->slots[i].pid;
        m->first = snap->owned_count;
        for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++) {
            int32_t span = snap->names[t] ? topic_span(&s->topics[t]) : 0;
            for (int32_t p = 0; p < span && snap->owned_count < total; p++)
                if (owner_slot(s, s->topics[t].owners[p]) == i)
                    snap->owned[snap->owned_count++] = (eddy_topic_partition){snap->names[t], p};
        }
        m->count = snap->owned_count - m->first;
        qsort(snap->owned + m->first, m->count, sizeof(*snap->owned), owned_cmp);
    }
    snap->generation = (int64_t)atomic_load(&s->generation);
    return EDDY_OK;
}

static void describe_free(describe_snapshot *snap)
{
    for (int t = 0; t < EDDY_GROUP_TOPICS_MAX; t++)
        eddy__free(snap->names[t]);
    eddy__free(snap->owned);
    eddy__free(snap);
}

eddy_err eddy_log_group_describe(eddy_log *log, const char *group, eddy_group_member_cb member_cb,
                                 void *opaque, int64_t *generation)
{
    eddy__group *g;
    eddy_err err = eddy__group_open(log, group, 0, &g);
    if (err != EDDY_OK)
        return err;
    describe_snapshot *snap = eddy__calloc(1, sizeof(*snap));
    if (!snap) {
        eddy__group_close(g);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "describe: out of memory");
    }
    err = group_lock(g);
    if (err == EDDY_OK) {
        if (group_reap(g, -1))
            eddy__log_notify_bump(log);
        err = describe_take(g->state, snap);
        group_unlock(g);
    }
    if (err == EDDY_OK) {
        qsort(snap->members, snap->member_count, sizeof(snap->members[0]), member_cmp);
        for (size_t i = 0; member_cb && i < snap->member_count; i++) {
            const describe_member *m = &snap->members[i];
            member_cb(m->member_id, m->pid, snap->owned + m->first, m->count, opaque);
        }
        if (generation)
            *generation = snap->generation;
    }
    describe_free(snap);
    eddy__group_close(g);
    return err;
}
