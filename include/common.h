// common.h: error reporting and checked allocation shared by every module.
// Library code never prints or exits: it fills an Err and returns its code up to main.
#ifndef ONECYCLE_COMMON_H
#define ONECYCLE_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    ERR_OK = 0,
    ERR_RUNTIME = 1, // a failure at run time (I/O error, out of memory, divergence)
    ERR_INPUT = 2,   // bad usage, config, data file or checkpoint: the user can fix it
    ERR_INTERRUPTED = 3 // SIGINT/SIGTERM: state saved, run can be resumed
};

// The longest path the kernel takes (Linux PATH_MAX, with its NUL): a longer one fails with
// ENAMETOOLONG, so a path buffer of this size never needs to truncate.
#define FS_PATH_MAX 4096
// Room kept for the names the program appends to a directory it is given
// ("/checkpoint.ckpt.tmp.PID" ...): a directory argument may be this much shorter at most.
#define FS_PATH_RESERVE 64

typedef struct Err {
    int code;
    char msg[FS_PATH_MAX + 1024]; // room for the longest path and the reason after it
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
#define xrealloc(p, n) xrealloc_at((p), (n), __FILE__, __LINE__)
void *xrealloc_at(void *p, size_t n, const char *file, int line);
// Zeroed, 64-byte aligned (blocks of 4 MB and more: 2 MB, on transparent huge pages); free
// with free().
#define xalloc_aligned(n) xalloc_aligned_at((n), __FILE__, __LINE__)
void *xalloc_aligned_at(size_t n, const char *file, int line);

// A text that grows as it is written: the SVG of a plot, summary.json. Start from
// `Text t = {0}`; t.s is 0-terminated once anything was written (NULL before); free(t.s).
typedef struct Text {
    char *s;
    size_t n, cap; // length, and bytes allocated
} Text;
// Appends printf-style; out of memory exits, as xmalloc does.
void text_printf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

double now_seconds(void); // monotonic clock
size_t sys_memory_bytes(void); // physical memory of the machine (0: unknown)

// The median of v[0..n) (the mean of the middle two when n is even; 0 when n is 0), sorted
// in scratch (room for n values), so that v is left as it is and nothing is allocated.
double median(const double *v, int n, double *scratch);

// "s" unless n is exactly 1, for counts in messages: "%ld epoch%s", n, plural_s(n).
static inline const char *plural_s(double n) {
    return n == 1 ? "" : "s";
}

// The filesystem helpers of the commands: create a directory and its parents; whether a
// path (or dir/name) exists. Output files are written through outfile.h.
int fs_mkdir_p(const char *path, Err *e);
int fs_exists(const char *path);
int fs_exists_in(const char *dir, const char *name);
// dir + "/" + name into out (cap bytes): ERR_INPUT "path too long" rather than a truncated
// path when it does not fit.
int fs_join(char *out, size_t cap, const char *dir, const char *name, Err *e);
// A path from the user (what: "--out", "data.dir" ...): ERR_INPUT when it is empty or too
// long for the program to append its file names (FS_PATH_MAX - FS_PATH_RESERVE).
int fs_check_path(const char *what, const char *path, Err *e);
// What a file that is not a regular one is, for messages: "a FIFO (named pipe)", "a
// directory", "a symbolic link" ... (mode: st_mode of a stat or lstat).
const char *fs_file_kind(unsigned mode);
// Opens path for reading, refusing anything that is not a regular file (a symlink to one
// is fine) before it can block: a FIFO would wait for a writer in open() or read(), a
// device or a directory is never an input. The check is made on the descriptor (opened
// non-blocking, then set back to blocking), so a path swapped in between is refused too.
// `expected` ends the message: "PATH: is a FIFO (named pipe), expected EXPECTED".
// On success *fd is open (the caller closes it) and *size (may be NULL) is the file size.
int fs_open_regular(const char *path, const char *expected, int *fd, long long *size, Err *e);
// The same as a stdio stream ("rb"); NULL with e set on error.
FILE *fs_fopen_regular(const char *path, const char *expected, long long *size, Err *e);

// n floats rounded up to whole 64-byte cache lines (16 floats): keeps slices of one buffer
// aligned for AVX-512 and off each other's lines.
static inline size_t floats_to_lines(size_t n) {
    return (n + 15) & ~(size_t)15;
}

#endif
