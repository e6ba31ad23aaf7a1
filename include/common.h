// common.h: error reporting and checked allocation shared by every module.
// Library code never prints or exits: it fills an Err and returns its code up to main.
#ifndef ONECYCLE_COMMON_H
#define ONECYCLE_COMMON_H
#include <stddef.h>
#include <stdint.h>

enum {
    ERR_OK = 0,
    ERR_RUNTIME = 1, // a failure at run time (I/O error, out of memory, divergence)
    ERR_INPUT = 2,   // bad usage, config, data file or checkpoint: the user can fix it
    ERR_INTERRUPTED = 3 // SIGINT/SIGTERM: state saved, run can be resumed
};

typedef struct Err {
    int code;
    char msg[1024];
} Err;

// Sets e->code and e->msg (printf-style) and returns code, so callers can write
//   return err_set(e, ERR_INPUT, "%s: bad label %d", path, lab);
int err_set(Err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Prefixes an existing message: "ctx: old message". Returns e->code.
int err_prefix(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Allocation that fails loudly: on failure prints file:line and exits(1).
// Only used at set-up time; nothing allocates in the training step.
#define xmalloc(n) xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, s) xcalloc_at((n), (s), __FILE__, __LINE__)
void *xmalloc_at(size_t n, const char *file, int line);
void *xcalloc_at(size_t n, size_t size, const char *file, int line);
// Zeroed, 64-byte aligned (blocks of 4 MB and more: 2 MB, on transparent huge pages); free
// with free().
#define xalloc_aligned(n) xalloc_aligned_at((n), __FILE__, __LINE__)
void *xalloc_aligned_at(size_t n, const char *file, int line);

double now_seconds(void); // monotonic clock

// "s" unless n is exactly 1, for counts in messages: "%ld epoch%s", n, plural_s(n).
static inline const char *plural_s(double n) {
    return n == 1 ? "" : "s";
}

// The filesystem helpers of the commands: create a directory and its parents; whether a
// path (or dir/name) exists; write a whole text file.
int fs_mkdir_p(const char *path, Err *e);
int fs_exists(const char *path);
int fs_exists_in(const char *dir, const char *name);
int fs_write_text(const char *path, const char *text, Err *e);

// n floats rounded up to whole 64-byte cache lines (16 floats): keeps slices of one buffer
// aligned for AVX-512 and off each other's lines.
static inline size_t floats_to_lines(size_t n) {
    return (n + 15) & ~(size_t)15;
}

#endif
