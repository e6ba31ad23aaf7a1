// imageset.c: see include/imageset.h.
#include "imageset.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
void dataset_free(Dataset *d) {
    free(d->labels);
    free(d->pixels);
    memset(d, 0, sizeof *d);
}

void dataset_channel_stats(const Dataset *d, double *mean, double *std) {
    size_t plane = (size_t)d->height * (size_t)d->width;
    for (int c = 0; c < d->channels; c++) {
        // A histogram keeps the sums exact: 70 million bytes summed as doubles one by one
        // would lose digits, and counts of 256 values cannot.
        unsigned long long hist[256] = {0};
        for (int i = 0; i < d->n; i++) {
            const uint8_t *p = d->pixels + ((size_t)i * d->channels + c) * plane;
            for (size_t k = 0; k < plane; k++) hist[p[k]]++;
        }
        double count = (double)d->n * (double)plane, s = 0, s2 = 0;
        for (int v = 0; v < 256; v++) {
            double x = v / 255.0;
            s += (double)hist[v] * x;
            s2 += (double)hist[v] * x * x;
        }
        double m = count > 0 ? s / count : 0;
        double var = count > 0 ? s2 / count - m * m : 0;
        mean[c] = m;
        std[c] = sqrt(var > 0 ? var : 0);
    }
}

int dataset_open_file(const char *path, const char *what, const char *hint, int *fd, long long *size, Err *e) {
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) return err_set(e, ERR_INPUT, "%s: not found; %s", path, hint);
    return fs_open_regular(path, what, fd, size, e);
}

int dataset_check_dir(const char *dir, const char *what, const char *hint, Err *e) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT && dir[0] != '/') { // say where a relative path was looked for
            char cwd[FS_PATH_MAX];
            if (getcwd(cwd, sizeof cwd))
                return err_set(e, ERR_INPUT,
                               "%s directory '%s' not found: a relative data.dir is read from the current "
                               "directory, so it looked in %s/%s; run from the directory it is relative to (e.g. "
                               "the project root) or give data.dir as an absolute path; %s",
                               what, dir, cwd, dir, hint);
        }
        if (errno == ENOENT) return err_set(e, ERR_INPUT, "%s directory '%s' not found; %s", what, dir, hint);
        return err_set(e, ERR_INPUT, "%s directory '%s': %s", what, dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) return err_set(e, ERR_INPUT, "%s directory '%s' is not a directory", what, dir);
    DIR *d = opendir(dir);
    if (!d) return err_set(e, ERR_INPUT, "%s directory '%s' is unreadable: %s", what, dir, strerror(errno));
    closedir(d);
    return ERR_OK;
}
