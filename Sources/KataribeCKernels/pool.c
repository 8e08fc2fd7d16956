// A persistent thread pool for the forward pass: one parallel region per matrix product, a few
// hundred per token, so waking threads must cost microseconds. Workers spin on a generation
// counter for a while after each region (the next one usually follows within microseconds), then
// sleep on a condition variable. Tasks are handed out through an atomic counter, so a core that
// another process interrupts simply takes fewer of them.
#define _POSIX_C_SOURCE 200809L  // clock_gettime under strict C modes
#include "internal.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <time.h>

enum { KC_MAX_WORKERS = 255 };
/// How long an idle worker waits actively before sleeping. Regions of one token follow each other
/// within microseconds; sleeping between them would add a wake-up (~10-50 µs) to each. After the
/// first few microseconds of pure spinning the wait yields the core, so on a machine with more
/// runnable threads than cores the thread doing real work is not starved by a spinning one.
static const long spin_nanoseconds = 300000, pure_spin_nanoseconds = 20000;

typedef struct {
    pthread_mutex_t owner;      // held by the thread running a region
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t generation;  // bumped once per region
    atomic_long next_task;
    atomic_int active;            // workers still inside the current region
    atomic_int sleepers;
    long tasks;
    int participants;             // workers (not counting the caller) in the current region
    kc_task_fn fn;
    void *context;
    int workers;                  // started so far
} kc_pool;

static kc_pool pool = {
    .owner = PTHREAD_MUTEX_INITIALIZER,
    .sleep_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};
static _Thread_local int inside_task;

static inline void cpu_relax(void) {
#if KC_X86
    _mm_pause();
#else
    sched_yield();
#endif
}

static long monotonic_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static void run_tasks(void) {
    long tasks = pool.tasks;
    kc_task_fn fn = pool.fn;
    void *context = pool.context;
    for (;;) {
        long t = atomic_fetch_add_explicit(&pool.next_task, 1, memory_order_relaxed);
        if (t >= tasks) break;
        fn(context, t);
    }
}

typedef struct {
    int index;
    uint_fast64_t generation;  // the last region before this worker existed
} worker_start;

static void *worker_main(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    int index = start.index;
    inside_task = 1;
    // Not the current generation: a region published before this thread got to run must still
    // be joined, since the caller counted this worker in.
    uint_fast64_t seen = start.generation;
    for (;;) {
        uint_fast64_t now = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (now == seen) {
            long start = monotonic_nanoseconds();
            for (int spin = 1; now == seen; spin++) {
                cpu_relax();
                now = atomic_load_explicit(&pool.generation, memory_order_acquire);
                if ((spin & 63) == 0) {
                    long waited = monotonic_nanoseconds() - start;
                    if (waited > spin_nanoseconds) break;
                    if (waited > pure_spin_nanoseconds) sched_yield();
                }
            }
        }
        if (now == seen) {
            pthread_mutex_lock(&pool.sleep_lock);
            // seq_cst pairs with the caller's generation bump then sleepers read: one of the two
            // sees the other, so a wake-up is never lost.
            atomic_fetch_add(&pool.sleepers, 1);
            while ((now = atomic_load(&pool.generation)) == seen) {
                pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            }
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.sleep_lock);
        }
        seen = now;
        // Only the first `participants` workers join; the rest go back to waiting. The caller
        // counted the participants into `active` before publishing the generation.
        if (index < pool.participants) {
            run_tasks();
            atomic_fetch_sub_explicit(&pool.active, 1, memory_order_release);
        }
    }
    return NULL;
}

/// Called by the pool's owner before it publishes a region, so `generation` is stable here.
static void ensure_workers(int count) {
    if (count > KC_MAX_WORKERS) count = KC_MAX_WORKERS;
    if (pool.workers >= count) return;
    while (pool.workers < count) {
        pthread_t thread;
        pthread_attr_t attributes;
        worker_start *start = malloc(sizeof *start);
        if (!start) break;
        start->index = pool.workers;
        start->generation = atomic_load(&pool.generation);
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attributes, worker_main, start) != 0) {
            free(start);
            pthread_attr_destroy(&attributes);
            break;  // run with the workers we have
        }
        pthread_attr_destroy(&attributes);
        pool.workers++;
    }
}

static void run_serially(long tasks, kc_task_fn fn, void *context) {
    for (long t = 0; t < tasks; t++) fn(context, t);
}

void kc_parallel_for(int threads, long tasks, kc_task_fn fn, void *context) {
    if (tasks <= 0) return;
    if (threads <= 1 || tasks == 1 || inside_task || pthread_mutex_trylock(&pool.owner) != 0) {
        run_serially(tasks, fn, context);
        return;
    }
    ensure_workers(threads - 1);
    int helpers = kc_min(kc_min(threads - 1, pool.workers), tasks - 1);
    if (helpers <= 0) {
        pthread_mutex_unlock(&pool.owner);
        run_serially(tasks, fn, context);
        return;
    }
    pool.tasks = tasks;
    pool.fn = fn;
    pool.context = context;
    pool.participants = helpers;
    atomic_store_explicit(&pool.next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.active, helpers, memory_order_relaxed);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    inside_task = 1;
    run_tasks();
    inside_task = 0;
    // A worker still busy (or not yet scheduled) finishes soon; yield if it takes a while so a
    // descheduled worker can get this core.
    for (int spin = 1; atomic_load_explicit(&pool.active, memory_order_acquire) > 0; spin++) {
        cpu_relax();
        if ((spin & 255) == 0) sched_yield();
    }
    pthread_mutex_unlock(&pool.owner);
}
