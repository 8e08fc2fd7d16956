#ifndef KATARIBE_FUZZ_SUPPORT_H
#define KATARIBE_FUZZ_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// Saves the input being run when the process dies of a signal (SIGSEGV incl. stack overflow,
/// SIGBUS, SIGILL/SIGTRAP from Swift traps, SIGABRT, SIGFPE) to `crash_path`, and when one input
/// runs longer than `timeout_seconds` to `timeout_path` (then exits with status 70).
/// Returns 0 on success.
int kf_install(const char *crash_path, const char *timeout_path, int timeout_seconds);

/// The input about to run; the pointer must stay valid until the next call or `kf_input_done`.
void kf_input_begin(const uint8_t *bytes, size_t count);
void kf_input_done(void);

/// Makes stdout line-buffered, so summaries printed before a crash reach a redirected log.
void kf_line_buffer_stdout(void);

#endif
