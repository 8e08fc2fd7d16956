// Crash and hang capture for the fuzzing runner. Everything the signal handler touches is set up
// in advance (paths copied, alternate stack allocated) and it calls only async-signal-safe
// functions: open, write, close, signal, raise.
#define _DEFAULT_SOURCE  // sigaltstack and SA_ONSTACK are XSI, not plain POSIX
#include "KataribeFuzzSupport.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char crash_path[4096];
static char timeout_path[4096];
static const uint8_t *volatile current_bytes;
static volatile size_t current_count;
static atomic_long input_started;  // monotonic ms, 0 when no input runs
static int timeout_limit;

static long now_milliseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void save_input(const char *path) {
    const uint8_t *bytes = current_bytes;
    size_t count = current_count;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    while (bytes && count > 0) {
        ssize_t written = write(fd, bytes, count);
        if (written <= 0) break;
        bytes += written;
        count -= (size_t)written;
    }
    close(fd);
}

static void on_fatal_signal(int signal_number) {
    save_input(crash_path);
    static const char message[] = "\nkataribe-fuzz: a crash; the input is saved as crash-TARGET in the artifacts folder\n";
    ssize_t ignored = write(2, message, sizeof message - 1);
    (void)ignored;
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

static void *watchdog(void *unused) {
    (void)unused;
    for (;;) {
        sleep(1);
        long started = atomic_load(&input_started);
        if (started != 0 && now_milliseconds() - started > (long)timeout_limit * 1000L) {
            save_input(timeout_path);
            static const char message[] = "\nkataribe-fuzz: one input ran past the time limit; it was saved\n";
            ssize_t ignored = write(2, message, sizeof message - 1);
            (void)ignored;
            _exit(70);
        }
    }
    return NULL;
}

int kf_install(const char *crash, const char *timeout, int timeout_seconds) {
    if (strlen(crash) >= sizeof crash_path || strlen(timeout) >= sizeof timeout_path) return -1;
    strcpy(crash_path, crash);
    strcpy(timeout_path, timeout);
    timeout_limit = timeout_seconds;
    // A stack overflow leaves no stack for the handler: give it its own.
    stack_t alternate;
    alternate.ss_size = 1 << 16;
    alternate.ss_sp = malloc(alternate.ss_size);
    alternate.ss_flags = 0;
    if (!alternate.ss_sp || sigaltstack(&alternate, NULL) != 0) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_fatal_signal;
    action.sa_flags = SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &action, NULL) != 0) return -1;
    }
    pthread_t thread;
    if (timeout_seconds > 0 && pthread_create(&thread, NULL, watchdog, NULL) == 0) pthread_detach(thread);
    return 0;
}

void kf_input_begin(const uint8_t *bytes, size_t count) {
    current_bytes = bytes;
    current_count = count;
    atomic_store(&input_started, now_milliseconds());
}

void kf_input_done(void) { atomic_store(&input_started, 0); }

void kf_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
