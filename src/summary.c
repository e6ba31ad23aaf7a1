// summary.c: DIR/summary.json of a training run (summary.h).
#include "summary.h"
#include "cli.h"
#include "conv.h"
#include "curves.h"
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
    FILE *f = fopen(path, "r");
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
    int last = have_log ? log.n - 1 : -1, last_eval = -1, best = -1, nips = 0;
    double ips = 0;
    for (int i = 0; i <= last; i++) {
        if (isfinite(log.test_acc[i])) {
            last_eval = i;
            if (best < 0 || log.test_acc[i] > log.test_acc[best]) best = i;
        }
        if (isfinite(log.images_per_sec[i]) && log.images_per_sec[i] > 0) ips += log.images_per_sec[i], nips++;
    }
    text_printf(&j, "{\n  \"format\": %d,\n  \"status\": ", SUMMARY_FORMAT);
    put_str(&j, s->status);
    text_printf(&j, ",\n  \"message\": ");
    put_str(&j, s->message && *s->message ? s->message : NULL);
    text_printf(&j, ",\n  \"started\": ");
    put_str(&j, s->started);
    text_printf(&j, ",\n  \"ended\": ");
    put_str(&j, s->ended);
    text_printf(&j, ",\n  \"wall_seconds\": ");
    put_num(&j, s->seconds, "%.2f");
    text_printf(&j, ",\n  \"epochs_done\": %d,\n  \"epochs_planned\": %ld", last >= 0 ? (int)log.epoch[last] : 0,
        s->epochs_planned);
    text_printf(&j, ",\n  \"steps_done\": %ld,\n  \"steps_planned\": %ld", s->steps_done, s->steps_planned);
    text_printf(&j, ",\n  \"final_test_acc\": ");
    put_num(&j, last_eval >= 0 ? log.test_acc[last_eval] : NAN, "%.6f");
    text_printf(&j, ",\n  \"final_test_loss\": ");
    put_num(&j, last_eval >= 0 ? log.test_loss[last_eval] : NAN, "%.6f");
    text_printf(&j, ",\n  \"final_test_epoch\": ");
    put_num(&j, last_eval >= 0 ? log.epoch[last_eval] : NAN, "%.0f");
    text_printf(&j, ",\n  \"best_test_acc\": ");
    put_num(&j, best >= 0 ? log.test_acc[best] : NAN, "%.6f");
    text_printf(&j, ",\n  \"best_test_epoch\": ");
    put_num(&j, best >= 0 ? log.epoch[best] : NAN, "%.0f");
    text_printf(&j, ",\n  \"final_train_loss\": ");
    put_num(&j, last >= 0 ? log.train_loss[last] : NAN, "%.6f");
    text_printf(&j, ",\n  \"final_train_acc\": ");
    put_num(&j, last >= 0 ? log.train_acc[last] : NAN, "%.6f");
    text_printf(&j, ",\n  \"images_per_sec\": ");
    put_num(&j, nips ? ips / nips : NAN, "%.1f");
    text_printf(&j, ",\n  \"program\": {\"name\": \"onecycle\", \"version\": ");
    put_str(&j, ONECYCLE_VERSION);
    text_printf(&j, ", \"compiler\": ");
#ifdef __VERSION__
    put_str(&j, "gcc-compatible " __VERSION__);
#else
    put_str(&j, NULL);
#endif
    char kn[160];
    text_printf(&j, ", \"kernels\": ");
    put_str(&j, kernels(kn, sizeof kn));
    text_printf(&j, ", \"openblas_core\": ");
    put_str(&j, s->openblas_core);
    text_printf(&j, ", \"threads\": %d},\n  \"config\": {", s->threads);
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
    char path[FS_PATH_MAX], tmp[FS_PATH_MAX];
    if (fs_join(path, sizeof path, dir, "summary.json", e) || fs_join(tmp, sizeof tmp, dir, "summary.json.tmp", e))
        return e->code;
    char *text = summary_json(dir, s);
    FILE *f = fopen(tmp, "w");
    int bad = !f;
    if (f) {
        bad = fputs(text, f) < 0 || fflush(f) || fsync(fileno(f));
        bad |= fclose(f) != 0;
    }
    free(text);
    if (bad || rename(tmp, path)) {
        int err = errno;
        if (f) unlink(tmp);
        return err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(err));
    }
    return ERR_OK;
}
