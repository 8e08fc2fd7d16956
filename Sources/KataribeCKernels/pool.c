// A persistent thread pool for the forward pass: one parallel region per matrix product, a few
// hundred per token, so waking threads must cost microseconds. Workers spin on a generation
// counter for a while after each region (the next one usually follows within microseconds), then
// sleep on a condition variable. Tasks are handed out through an atomic counter, so a core that
// another process interrupts simply takes fewer of them.
//
// A region is open (odd generation) while its tasks are handed out and closed (even) once the
// caller has run out of tasks. Workers join only while it is open, and the caller waits only for
// the workers that joined. Counting helpers in up front instead made every region wait until each
// helper had been scheduled at least once: on a machine whose cores are busy with other
// processes a descheduled helper costs a scheduler slice (milliseconds) per region, and
// generation fell 20-60x below one thread.
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
    atomic_uint_fast64_t generation;  // odd while a region is open, even when closed
    atomic_long next_task;
    atomic_int active;            // workers that joined the current region and have not left it
    atomic_int sleepers;
    long tasks;
    int participants;             // workers (not counting the caller) that may join the region
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
    uint_fast64_t generation;  // the generation when this worker was started
} worker_start;

static inline int is_open(uint_fast64_t generation) { return (int)(generation & 1); }

/// Whether `now` is an open region this worker has not handled yet.
static inline int is_new_region(uint_fast64_t now, uint_fast64_t handled) {
    return is_open(now) && now != handled;
}

static void *worker_main(void *arg) {
    worker_start start = *(worker_start *)arg;
    free(arg);
    int index = start.index;
    inside_task = 1;
    // A region published before this thread got to run is joined if it is still open.
    uint_fast64_t handled = start.generation - 1;
    for (;;) {
        uint_fast64_t now = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (!is_new_region(now, handled)) {
            long start_time = monotonic_nanoseconds();
            for (int spin = 1; !is_new_region(now, handled); spin++) {
                cpu_relax();
                now = atomic_load_explicit(&pool.generation, memory_order_acquire);
                if ((spin & 63) == 0) {
                    long waited = monotonic_nanoseconds() - start_time;
                    if (waited > spin_nanoseconds) break;
                    if (waited > pure_spin_nanoseconds) sched_yield();
                }
            }
        }
        if (!is_new_region(now, handled)) {
            pthread_mutex_lock(&pool.sleep_lock);
            // seq_cst pairs with the caller's generation bump then sleepers read: one of the two
            // sees the other, so a wake-up is never lost.
            atomic_fetch_add(&pool.sleepers, 1);
            while (!is_new_region(now = atomic_load(&pool.generation), handled)) {
                pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            }
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.sleep_lock);
        }
        handled = now;
        // Join, then check the region is still open. Both are seq_cst, as are the caller's close
        // and its read of `active`: either the caller sees this worker and waits for it, or this
        // worker sees the region closed and leaves without touching its fields.
        atomic_fetch_add(&pool.active, 1);
        if (atomic_load(&pool.generation) == now && index < pool.participants) run_tasks();
        atomic_fetch_sub_explicit(&pool.active, 1, memory_order_release);
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
    atomic_fetch_add(&pool.generation, 1);  // open
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    inside_task = 1;
    run_tasks();
    inside_task = 0;
    atomic_fetch_add(&pool.generation, 1);  // closed: no worker joins from here on
    // Only workers that joined are waited for, and each of them is running a task it claimed (or
    // about to find none left); yield now and then so one that was preempted gets this core.
    for (int spin = 1; atomic_load(&pool.active) > 0; spin++) {
        cpu_relax();
        if ((spin & 255) == 0) sched_yield();
    }
    pthread_mutex_unlock(&pool.owner);
}
