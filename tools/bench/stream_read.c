// A STREAM-like read-bandwidth probe: each thread sums its slice of a large buffer with AVX2 loads
// (what a GEMV does to its weights), best of several passes. Build and run:
//   clang -O2 -march=native -pthread tools/bench/stream_read.c -o /tmp/stream_read && /tmp/stream_read 2
// Prints GB/s for a read-only sweep and for the classic STREAM triad (a = b + s*c), which counts
// read + write traffic.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

enum { BYTES = 1 << 30 };  // 1 GiB: far past any cache
static float *buffer, *out_a, *out_b;
static int threads;
static volatile float sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct { int index; int mode; } job;

static void *work(void *arg) {
    job *j = arg;
    size_t n = BYTES / sizeof(float) / threads, start = n * j->index;
    if (j->mode == 0) {
        const float *p = buffer + start;
#if defined(__AVX2__)
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i + 32 <= n; i += 32) {
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
            a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
            a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
        }
        float tmp[8];
        _mm256_storeu_ps(tmp, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        sink = tmp[0];
#else
        float s = 0;
        for (size_t i = 0; i < n; i++) s += p[i];
        sink = s;
#endif
    } else {
        size_t m = n / 3;  // triad over a third of the buffer each for a, b, c
        float *a = out_a + m * j->index, *b = buffer + m * j->index, *c = out_b + m * j->index;
        for (size_t i = 0; i < m; i++) a[i] = b[i] + 3.0f * c[i];
    }
    return NULL;
}

static double run(int mode) {
    pthread_t t[64];
    job jobs[64];
    double best = 1e9;
    for (int pass = 0; pass < 5; pass++) {
        double start = now();
        for (int i = 0; i < threads; i++) {
            jobs[i] = (job){i, mode};
            pthread_create(&t[i], NULL, work, &jobs[i]);
        }
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double elapsed = now() - start;
        if (elapsed < best) best = elapsed;
    }
    return best;
}

int main(int argc, char **argv) {
    threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) threads = 1;
    buffer = aligned_alloc(64, BYTES);
    out_a = aligned_alloc(64, BYTES);
    out_b = aligned_alloc(64, BYTES);
    memset(buffer, 1, BYTES);
    memset(out_a, 0, BYTES);
    memset(out_b, 1, BYTES);
    double read = run(0), triad = run(1);
    size_t triadBytes = (size_t)(BYTES / sizeof(float) / threads / 3) * threads * 3 * sizeof(float);
    printf("threads %d  read %.1f GB/s  triad %.1f GB/s\n", threads, BYTES / read / 1e9, triadBytes / triad / 1e9);
    return 0;
}
