// common.c: error helpers and checked allocation.

#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int err_set(Err *e, int code, const char *fmt, ...) {
    if (!e) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return code;
}

int err_prefix(Err *e, const char *fmt, ...) {
    if (!e) return ERR_RUNTIME;
    char pre[sizeof e->msg], old[sizeof e->msg]; // a prefix may be a whole path
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t n = strlen(pre);
    if (n > sizeof e->msg - 3) n = sizeof e->msg - 3;
    memcpy(e->msg, pre, n);
    memcpy(e->msg + n, ": ", 2);
    size_t room = sizeof e->msg - n - 3, m = strlen(old);
    if (m > room) m = room;
    memcpy(e->msg + n + 2, old, m);
    e->msg[n + 2 + m] = 0;
    return e->code;
}

static void oom(size_t n, const char *file, int line) {
    fprintf(stderr, "onecycle: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    exit(ERR_RUNTIME);
}

void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n, file, line);
    return p;
}

void *xcalloc_at(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size, file, line);
    return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n, file, line);
    return q;
}

// Blocks of 4 MB and more (the activations, hundreds of MB) are 2 MB aligned and asked to
// be backed by transparent huge pages: touching them costs 512x fewer page faults, which
// in this VM took about 3 s at startup for ResNet-56 at batch 128.
void *xalloc_aligned_at(size_t n, const char *file, int line) {
    const size_t huge = (size_t)2 << 20;
    size_t align = n >= 2 * huge ? huge : 64, m = (n + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, m ? m : 64);
    if (!p) oom(n, file, line);
#ifdef MADV_HUGEPAGE
    if (align == huge) madvise(p, m, MADV_HUGEPAGE); // advice only: failure changes nothing
#endif
    memset(p, 0, m ? m : 64);
    return p;
}

void text_printf(Text *t, const char *fmt, ...) {
    for (;;) {
        size_t room = t->cap - t->n;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(room ? t->s + t->n : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0) return; // an encoding error: nothing to append
        if ((size_t)k < room) {
            t->n += (size_t)k;
            return;
        }
        t->cap = 2 * t->cap + (size_t)k + 1;
        t->s = xrealloc(t->s, t->cap);
    }
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t sys_memory_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (size_t)pages * (size_t)size : 0;
}

int fs_mkdir_p(const char *path, Err *e) {
    char tmp[FS_PATH_MAX];
    if (strlen(path) >= sizeof tmp) return fs_check_path("directory", path, e);
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = 0;
        if (mkdir(tmp, 0777) && errno != EEXIST) return err_set(e, ERR_RUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
        if (!c) return ERR_OK;
        *p = c;
    }
}

int fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int fs_exists_in(const char *dir, const char *name) {
    char path[FS_PATH_MAX];
    return !fs_join(path, sizeof path, dir, name, NULL) && fs_exists(path);
}

int fs_join(char *out, size_t cap, const char *dir, const char *name, Err *e) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        if (cap) out[0] = 0;
        return err_set(e, ERR_INPUT, "%s/%s: path too long (%zu characters; at most %zu)", dir, name,
                       strlen(dir) + 1 + strlen(name), cap - 1);
    }
    return ERR_OK;
}

int fs_check_path(const char *what, const char *path, Err *e) {
    size_t n = strlen(path), max = FS_PATH_MAX - FS_PATH_RESERVE;
    if (!n) return err_set(e, ERR_INPUT, "%s: the path is empty", what);
    if (n > max)
        return err_set(e, ERR_INPUT, "%s: path too long (%zu characters; at most %zu): %.80s...", what, n, max, path);
    return ERR_OK;
}

const char *fs_file_kind(unsigned mode) {
    mode_t m = (mode_t)mode;
    if (S_ISLNK(m)) return "a symbolic link";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

int fs_open_regular(const char *path, const char *expected, int *fd, long long *size, Err *e) {
    struct stat st;
    // A stat first, so that a FIFO is refused without opening it at all.
    if (stat(path, &st) != 0) {
        return err_set(e, ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return err_set(e, ERR_INPUT, "%s: is %s, expected %s", path, fs_file_kind(st.st_mode), expected);
    // O_NONBLOCK: should a FIFO have replaced the file since the stat, the open returns at
    // once instead of waiting for a writer; the fstat below then refuses it.
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) return err_set(e, ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
    if (fstat(f, &st) != 0) {
        int en = errno;
        close(f);
        return err_set(e, ERR_INPUT, "%s: cannot read: %s", path, strerror(en));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return err_set(e, ERR_INPUT, "%s: is %s, expected %s", path, fs_file_kind(st.st_mode), expected);
    }
    // Back to blocking reads: for a regular file the flag changes nothing, but stdio does
    // not expect EAGAIN.
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0) (void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *fd = f;
    if (size) *size = (long long)st.st_size;
    return ERR_OK;
}

FILE *fs_fopen_regular(const char *path, const char *expected, long long *size, Err *e) {
    int fd = -1;
    if (fs_open_regular(path, expected, &fd, size, e)) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        err_set(e, ERR_RUNTIME, "%s: cannot read: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(const double *v, int n, double *scratch) {
    if (n <= 0) return 0;
    memcpy(scratch, v, sizeof(double) * (size_t)n);
    qsort(scratch, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
}
