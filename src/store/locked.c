/* The locking store decorator: a store that several threads may use at once, for a global
 * store (Kafka Streams' GlobalKTable) that the global thread writes while stream threads read.
 *
 * Every other store is used by one thread at a time. This one serialises access to its inner
 * store with a readers-writer lock: put and delete take the write lock; get, approximate_count
 * and flush (which changes no contents) take the read lock; an iterator takes the read lock
 * when it is opened and releases it when it is destroyed, so that no write lands in the middle
 * of a scan. The consequences:
 *
 *   - A writer waits while any other thread has an iterator open over the store (and, with
 *     glibc's default lock, which prefers readers, while readers keep arriving): scans on
 *     reading threads should be short, and iterators destroyed as soon as they are done.
 *   - A thread that has an iterator open must not write the store: its write would wait for
 *     its own read lock forever. Such a write fails with EDDY_ERR_STATE instead.
 *   - A thread's iterators share the read lock it took for its first one (a second read lock
 *     by the same thread could wait behind a queued writer and deadlock); so do its gets
 *     while it holds it.
 *
 * The read lock alone is not enough: stores are single-threaded even for reads (the memory
 * store's get remembers the slot it found, and its iterators sort pending keys into its tree on
 * their first step), so each call into inner under the read lock is also made under a mutex.
 * Readers exclude each other only for the length of one call, never for a whole scan.
 *
 * Values from get. The value a store's get returns is valid until the next call on the store;
 * here another thread's write can come right after the lock is released. So get copies the
 * value into a buffer of the calling thread's, valid until that thread's next call on the
 * store. Each thread that uses the store has a record (found by a lock-free walk of a list that
 * only grows, kept until close) holding that buffer and the count of its open iterators.
 * Iterators need no copy: what an iterator returns is valid until its next step, whatever is
 * done to the store.
 *
 * Limits. The public layer (store.c) keeps each store's list of open iterators, which opening
 * and destroying an iterator change outside any call into this decorator, without a lock; until
 * it guards that list, iterators over a locked store must be opened and destroyed by one thread
 * at a time (any number of threads may get, and one may write, meanwhile). An iterator is
 * destroyed by the thread that opened it, and the store is closed while no other thread uses it
 * (closing destroys the iterators still open, releasing their read locks). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/logging.h"
#include "store/store.h"

typedef struct locked_thread {
    pthread_t thread;
    struct locked_thread *next; /* set before the record is published, then constant */
    eddy__buf value;            /* a copy of the value this thread's last get returned */
    size_t iterators;           /* open iterators of this thread, which hold the read lock */
} locked_thread;

typedef struct locked_store {
    eddy_kv_store *inner;
    pthread_rwlock_t lock;
    pthread_mutex_t inner_mutex; /* one call into inner at a time under the read lock */
    _Atomic(locked_thread *) threads;
} locked_store;

static const char *locked_name(const locked_store *s)
{
    return eddy_kv_store_name(s->inner);
}

/* Lock calls fail only on misuse (a lock not initialised, or not held), which is our bug. */
static void lock_read(pthread_rwlock_t *lock)
{
    int rc = pthread_rwlock_rdlock(lock);
    EDDY_ASSERT(rc == 0);
}

static void lock_write(pthread_rwlock_t *lock)
{
    int rc = pthread_rwlock_wrlock(lock);
    EDDY_ASSERT(rc == 0);
}

static void lock_release(pthread_rwlock_t *lock)
{
    int rc = pthread_rwlock_unlock(lock);
    EDDY_ASSERT(rc == 0);
}

static void mutex_lock(pthread_mutex_t *mutex)
{
    int rc = pthread_mutex_lock(mutex);
    EDDY_ASSERT(rc == 0);
}

static void mutex_unlock(pthread_mutex_t *mutex)
{
    int rc = pthread_mutex_unlock(mutex);
    EDDY_ASSERT(rc == 0);
}

/* The calling thread's record; a new one when create says so and there is none (NULL when out
 * of memory). Only the thread itself changes its record, so no lock is needed for it. */
static locked_thread *locked_thread_find(locked_store *s, int create)
{
    pthread_t self = pthread_self();
    locked_thread *first = atomic_load_explicit(&s->threads, memory_order_acquire);
    for (locked_thread *t = first; t; t = t->next)
        if (pthread_equal(t->thread, self))
            return t;
    if (!create)
        return NULL;
    locked_thread *t = eddy__calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->thread = self;
    t->next = first;
    while (!atomic_compare_exchange_weak_explicit(&s->threads, &t->next, t, memory_order_release,
                                                  memory_order_acquire)) {
    }
    return t;
}

/* Takes the read lock unless the thread already holds it through its iterators. */
static void locked_read_begin(locked_store *s, const locked_thread *t)
{
    if (!t || t->iterators == 0)
        lock_read(&s->lock);
    mutex_lock(&s->inner_mutex);
}

static void locked_read_end(locked_store *s, const locked_thread *t)
{
    mutex_unlock(&s->inner_mutex);
    if (!t || t->iterators == 0)
        lock_release(&s->lock);
}

/* ---- Store operations ------------------------------------------------------------------------ */

static eddy_err locked_get(void *self, eddy_slice key, eddy_slice *value)
{
    locked_store *s = self;
    locked_thread *t = locked_thread_find(s, 1);
    if (!t) {
        *value = (eddy_slice){NULL, 0};
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory reading", locked_name(s));
    }
    locked_read_begin(s, t);
    eddy_slice found;
    eddy_err err = eddy_kv_get(s->inner, key, &found);
    if (err == EDDY_OK) {
        /* One byte more, so that an empty value still has a non-null pointer. */
        t->value.len = 0;
        if (eddy__buf_reserve(&t->value, found.len + 1) == EDDY_OK) {
            if (found.len)
                memcpy(t->value.data, found.data, found.len);
            t->value.len = found.len;
        } else {
            err =
                eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory copying a %zu-byte value",
                           locked_name(s), found.len);
        }
    }
    locked_read_end(s, t);
    *value = err == EDDY_OK ? (eddy_slice){t->value.data, t->value.len} : (eddy_slice){NULL, 0};
    return err;
}

/* Writes (value null: deletes) under the write lock. */
static eddy_err locked_write(locked_store *s, eddy_slice key, eddy_slice value)
{
    const locked_thread *t = locked_thread_find(s, 0);
    if (t && t->iterators)
        return eddy__fail(EDDY_ERR_STATE,
                          "store '%s': a write from a thread with %zu iterators open over the "
                          "store would wait for their read lock forever; destroy them first",
                          locked_name(s), t->iterators);
    lock_write(&s->lock);
    eddy_err err = value.data ? eddy_kv_put(s->inner, key, value) : eddy_kv_delete(s->inner, key);
    lock_release(&s->lock);
    return err;
}

static eddy_err locked_put(void *self, eddy_slice key, eddy_slice value)
{
    EDDY_ASSERT(value.data);
    return locked_write(self, key, value);
}

static eddy_err locked_remove(void *self, eddy_slice key)
{
    return locked_write(self, key, (eddy_slice){NULL, 0});
}

static eddy_err locked_approximate_count(void *self, uint64_t *count)
{
    locked_store *s = self;
    const locked_thread *t = locked_thread_find(s, 0);
    locked_read_begin(s, t);
    eddy_err err = eddy_kv_approximate_count(s->inner, count);
    locked_read_end(s, t);
    return err;
}

static eddy_err locked_flush(void *self)
{
    locked_store *s = self;
    const locked_thread *t = locked_thread_find(s, 0);
    locked_read_begin(s, t);
    eddy_err err = eddy_kv_flush(s->inner);
    locked_read_end(s, t);
    return err;
}

static void locked_close(void *self)
{
    locked_store *s = self;
    eddy_kv_store_close(s->inner);
    locked_thread *t = atomic_load_explicit(&s->threads, memory_order_acquire);
    while (t) {
        locked_thread *next = t->next;
        eddy__buf_free(&t->value);
        eddy__free(t);
        t = next;
    }
    pthread_mutex_destroy(&s->inner_mutex);
    pthread_rwlock_destroy(&s->lock);
    eddy__free(s);
}

/* ---- Iterators ------------------------------------------------------------------------------- */

/* An iterator of inner over the same bounds. The public functions only open ranges inclusive at
 * both ends, so an exclusive upper bound (a prefix scan's) is opened inclusive and the key equal
 * to it, the last one forward or the first one in reverse, is skipped here. */
typedef struct locked_iter {
    locked_store *store;
    locked_thread *thread; /* the thread that opened it, whose read lock it shares */
    eddy_kv_iter *inner;
    int skip_to;
    size_t to_len;
    uint8_t to[]; /* a copy of the upper bound, when skip_to */
} locked_iter;

static eddy_err locked_iter_next(void *self, eddy_slice *key, eddy_slice *value)
{
    locked_iter *it = self;
    /* The read lock is held since open; the mutex keeps this step apart from other readers. */
    mutex_lock(&it->store->inner_mutex);
    eddy_err err;
    for (;;) {
        err = eddy_kv_iter_next(it->inner, key, value);
        if (err != EDDY_OK || !it->skip_to ||
            eddy__kv_compare(key->data, key->len, it->to, it->to_len) != 0)
            break;
        it->skip_to = 0; /* each key comes at most once */
    }
    mutex_unlock(&it->store->inner_mutex);
    return err;
}

/* Gives back the thread's share of the read lock, releasing it with its last iterator. */
static void locked_iter_release(locked_store *s, locked_thread *t)
{
    EDDY_ASSERT(t->iterators > 0);
    if (--t->iterators == 0)
        lock_release(&s->lock);
}

static void locked_iter_destroy(void *self)
{
    locked_iter *it = self;
    locked_store *s = it->store;
    mutex_lock(&s->inner_mutex);
    eddy_kv_iter_destroy(it->inner);
    mutex_unlock(&s->inner_mutex);
    locked_iter_release(s, it->thread);
    eddy__free(it);
}

static const eddy__kv_iter_ops locked_iter_ops = {
    .next = locked_iter_next,
    .destroy = locked_iter_destroy,
};

static eddy_err locked_iter_open(void *self, const eddy__kv_bounds *bounds,
                                 const eddy__kv_iter_ops **iter_ops, void **iter)
{
    locked_store *s = self;
    int skip_to = bounds->to.data && !bounds->to_inclusive;
    size_t to_len = skip_to ? bounds->to.len : 0;
    locked_iter *it = eddy__malloc(sizeof(*it) + to_len);
    locked_thread *t = locked_thread_find(s, 1);
    if (!it || !t) {
        eddy__free(it);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening an iterator",
                          locked_name(s));
    }
    it->store = s;
    it->thread = t;
    it->skip_to = skip_to;
    it->to_len = to_len;
    if (to_len)
        memcpy(it->to, bounds->to.data, to_len);

    if (t->iterators++ == 0)
        lock_read(&s->lock);
    mutex_lock(&s->inner_mutex);
    eddy_err err = bounds->reverse
                       ? eddy_kv_reverse_range(s->inner, bounds->from, bounds->to, &it->inner)
                       : eddy_kv_range(s->inner, bounds->from, bounds->to, &it->inner);
    mutex_unlock(&s->inner_mutex);
    if (err != EDDY_OK) {
        locked_iter_release(s, t);
        eddy__free(it);
        return err;
    }
    *iter_ops = &locked_iter_ops;
    *iter = it;
    return EDDY_OK;
}

static const eddy__kv_store_ops locked_ops = {
    .get = locked_get,
    .put = locked_put,
    .remove = locked_remove,
    .iter_open = locked_iter_open,
    .approximate_count = locked_approximate_count,
    .flush = locked_flush,
    .close = locked_close,
};

eddy_err eddy__kv_store_locked(eddy_kv_store *inner, eddy_kv_store **out)
{
    EDDY_ASSERT(inner && out);
    *out = NULL;
    locked_store *s = eddy__calloc(1, sizeof(*s));
    if (!s)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory adding a lock",
                          eddy_kv_store_name(inner));
    if (pthread_rwlock_init(&s->lock, NULL) != 0) {
        eddy__free(s);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': cannot create a readers-writer lock",
                          eddy_kv_store_name(inner));
    }
    if (pthread_mutex_init(&s->inner_mutex, NULL) != 0) {
        pthread_rwlock_destroy(&s->lock);
        eddy__free(s);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': cannot create a mutex",
                          eddy_kv_store_name(inner));
    }
    s->inner = inner;
    atomic_init(&s->threads, NULL);
    eddy_err err = eddy__kv_store_wrap(eddy_kv_store_name(inner), &locked_ops, s, out);
    if (err == EDDY_OK) {
        /* Threads open iterators on this store at once; inner's are opened and destroyed under
         * inner_mutex, so inner's list needs no lock of its own. */
        eddy__kv_store_concurrent(*out);
    } else {
        pthread_mutex_destroy(&s->inner_mutex); /* not locked_close: the caller keeps inner */
        pthread_rwlock_destroy(&s->lock);
        eddy__free(s);
    }
    return err;
}
