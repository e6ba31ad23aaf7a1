// summary.c: DIR/summary.json of a training run (summary.h).
#include "summary.h"
#include "cli.h"
#include "conv.h"
#include "curves.h"
#include "outfile.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// A JSON string: quotes, backslashes and control characters escaped; NULL is null.
static void put_str(Text *j, const char *s) {
    if (!s) {
        text_printf(j, "null");
        return;
    }
    text_printf(j, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            text_printf(j, "\\%c", *p);
        else if (*p == '\n')
            text_printf(j, "\\n");
        else if (*p == '\t')
            text_printf(j, "\\t");
        else if (*p < 0x20)
            text_printf(j, "\\u%04x", *p);
        else
            text_printf(j, "%c", *p);
    }
    text_printf(j, "\"");
}

// A number, or null when it is not finite (JSON has no NaN).
static void put_num(Text *j, double v, const char *fmt) {
    if (isfinite(v))
        text_printf(j, fmt, v);
    else
        text_printf(j, "null");
}

// One "name": value of an object: a string (NULL: null), an integer, or a number printed
// with fmt (null when it is not finite).
typedef struct Field {
    const char *name;
    enum { FIELD_STR, FIELD_INT, FIELD_NUM } kind;
    const char *s;
    long i;
    double num;
    const char *fmt;
} Field;

// The fields in order, sep between them.
static void put_fields(Text *j, const Field *f, size_t n, const char *sep) {
    for (size_t k = 0; k < n; k++) {
        text_printf(j, "%s", k ? sep : "");
        put_str(j, f[k].name);
        text_printf(j, ": ");
        if (f[k].kind == FIELD_STR)
            put_str(j, f[k].s);
        else if (f[k].kind == FIELD_INT)
            text_printf(j, "%ld", f[k].i);
        else
            put_num(j, f[k].num, f[k].fmt);
    }
}

#ifdef __VERSION__
#define COMPILER "gcc-compatible " __VERSION__
#else
#define COMPILER NULL
#endif

void summary_now(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int summary_read_started(const char *dir, char *buf, size_t cap) {
    char path[FS_PATH_MAX];
    Err e = {0};
    if (fs_join(path, sizeof path, dir, "summary.json", &e)) return 0;
    Err ignored = {0};
    FILE *f = fs_fopen_regular(path, "a regular file (the run's summary.json)", NULL, &ignored); // a FIFO would block
    if (!f) return 0;
    char text[16384]; // a long message (a path of up to FS_PATH_MAX) comes before "started"
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *p = strstr(text, "\"started\": \"");
    if (!p) return 0;
    p += strlen("\"started\": \"");
    size_t len = strcspn(p, "\"\n");
    if (p[len] != '"' || len == 0 || len >= cap) return 0;
    memcpy(buf, p, len);
    buf[len] = 0;
    return 1;
}

// What computed the convolutions: the own kernels conv_pick may choose now, by bench's names.
static const char *kernels(char *buf, size_t size) {
#ifdef __AVX512F__
    char names[96];
    conv_kernels_string(conv_kernels(), names, sizeof names);
    snprintf(buf, size, "AVX-512 kernels: %s; OpenBLAS sgemm for the rest", names);
#else
    snprintf(buf, size, "portable: im2col + OpenBLAS sgemm");
#endif
    return buf;
}

char *summary_json(const char *dir, const RunSummary *s) {
    Text j = {0};
    char path[FS_PATH_MAX];
    RunLog log = {0};
    Err le = {0};
    int have_log = !fs_join(path, sizeof path, dir, "log.csv", &le) && curves_read_log(path, &log, &le) == ERR_OK &&
                   !log.per_step;
    // From the log: the last epoch, the last evaluated one, the best one, mean img/s.
    int last = have_log ? log.n - 1 : -1, last_eval = -1, best = -1, nips = 0, last_valid = -1, best_valid = -1;
    double ips = 0;
    for (int i = 0; i <= last; i++) {
        if (isfinite(log.valid_acc[i])) { // the validation split (data.valid_images)
            last_valid = i;
            if (best_valid < 0 || log.valid_acc[i] > log.valid_acc[best_valid]) best_valid = i;
        }
        if (isfinite(log.test_acc[i])) {
            last_eval = i;
            if (best < 0 || log.test_acc[i] > log.test_acc[best]) best = i;
        }
        if (isfinite(log.images_per_sec[i]) && log.images_per_sec[i] > 0) ips += log.images_per_sec[i], nips++;
    }
    const Field top[] = {
        {"format", FIELD_INT, .i = SUMMARY_FORMAT},
        {"status", FIELD_STR, .s = s->status},
        {"message", FIELD_STR, .s = s->message && *s->message ? s->message : NULL},
        {"started", FIELD_STR, .s = s->started},
        {"ended", FIELD_STR, .s = s->ended},
        {"wall_seconds", FIELD_NUM, .num = s->seconds, .fmt = "%.2f"},
        {"epochs_done", FIELD_INT, .i = last >= 0 ? (long)log.epoch[last] : 0},
        {"epochs_planned", FIELD_INT, .i = s->epochs_planned},
        {"steps_done", FIELD_INT, .i = s->steps_done},
        {"steps_planned", FIELD_INT, .i = s->steps_planned},
        {"final_test_acc", FIELD_NUM, .num = last_eval >= 0 ? log.test_acc[last_eval] : NAN, .fmt = "%.6f"},
        {"final_test_loss", FIELD_NUM, .num = last_eval >= 0 ? log.test_loss[last_eval] : NAN, .fmt = "%.6f"},
        {"final_test_epoch", FIELD_NUM, .num = last_eval >= 0 ? log.epoch[last_eval] : NAN, .fmt = "%.0f"},
        {"best_test_acc", FIELD_NUM, .num = best >= 0 ? log.test_acc[best] : NAN, .fmt = "%.6f"},
        {"best_test_epoch", FIELD_NUM, .num = best >= 0 ? log.epoch[best] : NAN, .fmt = "%.0f"},
        {"final_train_loss", FIELD_NUM, .num = last >= 0 ? log.train_loss[last] : NAN, .fmt = "%.6f"},
        {"final_train_acc", FIELD_NUM, .num = last >= 0 ? log.train_acc[last] : NAN, .fmt = "%.6f"},
        {"images_per_sec", FIELD_NUM, .num = nips ? ips / nips : NAN, .fmt = "%.1f"},
        {"final_valid_acc", FIELD_NUM, .num = last_valid >= 0 ? log.valid_acc[last_valid] : NAN, .fmt = "%.6f"},
        {"final_valid_loss", FIELD_NUM, .num = last_valid >= 0 ? log.valid_loss[last_valid] : NAN, .fmt = "%.6f"},
        {"best_valid_acc", FIELD_NUM, .num = best_valid >= 0 ? log.valid_acc[best_valid] : NAN, .fmt = "%.6f"},
        {"best_valid_epoch", FIELD_NUM, .num = best_valid >= 0 ? log.epoch[best_valid] : NAN, .fmt = "%.0f"},
        // The honest figure of a run tuned on the split: the test accuracy of the epoch the
        // split picks (null when the test set was not evaluated after it).
        {"test_acc_at_best_valid", FIELD_NUM, .num = best_valid >= 0 ? log.test_acc[best_valid] : NAN, .fmt = "%.6f"},
    };
    char kn[160];
    const Field program[] = {
        {"name", FIELD_STR, .s = "onecycle"},
        {"version", FIELD_STR, .s = ONECYCLE_VERSION},
        {"compiler", FIELD_STR, .s = COMPILER},
        {"kernels", FIELD_STR, .s = kernels(kn, sizeof kn)},
        {"openblas_core", FIELD_STR, .s = s->openblas_core},
        {"threads", FIELD_INT, .i = s->threads},
    };
    text_printf(&j, "{\n  ");
    put_fields(&j, top, sizeof top / sizeof top[0], ",\n  ");
    text_printf(&j, ",\n  \"program\": {");
    put_fields(&j, program, sizeof program / sizeof program[0], ", ");
    text_printf(&j, "},\n  \"config\": {");
    // Every key of the schema with its value as text, as in config.cfg.
    for (const ConfigSection *sec = s->config ? s->config->schema : NULL; sec && sec->name; sec++) {
        text_printf(&j, "%s\n    ", sec == s->config->schema ? "" : ",");
        put_str(&j, sec->name);
        text_printf(&j, ": {");
        for (const ConfigKey *k = sec->keys; k && k->key; k++) {
            text_printf(&j, "%s", k == sec->keys ? "" : ", ");
            put_str(&j, k->key);
            text_printf(&j, ": ");
            put_str(&j, config_str(s->config, sec->name, k->key));
        }
        text_printf(&j, "}");
    }
    text_printf(&j, "%s}\n}\n", s->config ? "\n  " : "");
    if (have_log) curves_free_log(&log);
    return j.s;
}

int summary_write(const char *dir, const RunSummary *s, Err *e) {
    char path[FS_PATH_MAX];
    if (fs_join(path, sizeof path, dir, "summary.json", e)) return e->code;
    char *text = summary_json(dir, s);
    int rc = outfile_write_text(path, text, e); // temp file, fsync, rename
    free(text);
    return rc;
}
