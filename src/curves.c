// curves.c: log.csv files back into arrays, and the training-curves figure.
#include "curves.h"
#include "plot.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The first NFIELDS columns of every log.csv; a run with a validation split has NFIELDS_VALID.
enum { NFIELDS = 10, NFIELDS_VALID = 12, F_EPOCH = 0, F_ITER = 1, F_LR = 2, F_MOM = 3, F_TRAIN_LOSS = 4,
       F_TRAIN_ACC = 5, F_TEST_LOSS = 6, F_TEST_ACC = 7, F_SECONDS = 8, F_IPS = 9, F_VALID_LOSS = 10,
       F_VALID_ACC = 11 };
static const char *const field_names[NFIELDS_VALID] = {
    "epoch", "iteration", "lr", "momentum", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
    "images_per_sec", "valid_loss", "valid_acc"};

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

void curves_free_log(RunLog *log) {
    free(log->epoch);
    free(log->lr);
    free(log->momentum);
    free(log->train_loss);
    free(log->train_acc);
    free(log->test_loss);
    free(log->test_acc);
    free(log->valid_loss);
    free(log->valid_acc);
    free(log->iteration);
    free(log->seconds);
    free(log->images_per_sec);
    free(log->sched_epoch);
    free(log->sched_lr);
    free(log->sched_mom);
    memset(log, 0, sizeof *log);
}

static void grow(RunLog *log, int cap) {
    double **cols[] = {&log->epoch,     &log->lr,        &log->momentum,  &log->train_loss, &log->train_acc,
                       &log->test_loss, &log->test_acc, &log->iteration, &log->seconds,    &log->images_per_sec,
                       &log->valid_loss, &log->valid_acc};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
        *cols[k] = xrealloc(*cols[k], sizeof(double) * (size_t)cap);
}

// Splits one row into exactly nf numbers (NFIELDS, or NFIELDS_VALID); empty test and
// validation fields become NaN.
static int parse_row(char *line, double *v, int nf, const char *path, int lineno, Err *e) {
    char *p = line;
    for (int k = 0; k < nf; k++) {
        char *end = strchr(p, ',');
        if (!end && k < nf - 1)
            return err_set(e, ERR_INPUT, "%s:%d: expected %d comma-separated fields, got %d", path, lineno, nf, k + 1);
        if (end) {
            if (k == nf - 1)
                return err_set(e, ERR_INPUT, "%s:%d: expected %d comma-separated fields, got more", path, lineno, nf);
            *end = 0;
        }
        if (!*p) {
            if (k != F_TEST_LOSS && k != F_TEST_ACC && k != F_VALID_LOSS && k != F_VALID_ACC)
                return err_set(e, ERR_INPUT, "%s:%d: field %s is empty", path, lineno, field_names[k]);
            v[k] = NAN;
        } else {
            char *stop;
            errno = 0;
            v[k] = strtod(p, &stop);
            if (*stop || stop == p || errno == ERANGE)
                return err_set(e, ERR_INPUT, "%s:%d: field %s: expected a number, got '%.40s'", path, lineno,
                               field_names[k], p);
        }
        p = end ? end + 1 : p + strlen(p);
    }
    if (isnan(v[F_TEST_LOSS]) != isnan(v[F_TEST_ACC]))
        return err_set(e, ERR_INPUT, "%s:%d: test_loss and test_acc must be both given or both empty", path, lineno);
    if (nf == NFIELDS_VALID && isnan(v[F_VALID_LOSS]) != isnan(v[F_VALID_ACC]))
        return err_set(e, ERR_INPUT, "%s:%d: valid_loss and valid_acc must be both given or both empty", path, lineno);
    return ERR_OK;
}

// A row of exactly n numbers (no empty field). Returns ERR_OK or a message naming path:line.
static int parse_numbers(char *line, double *v, int n, const char *header, const char *path, int lineno, Err *e) {
    char *p = line;
    for (int k = 0; k < n; k++) {
        char *end = strchr(p, ',');
        if (!end && k < n - 1)
            return err_set(e, ERR_INPUT, "%s:%d: expected %d comma-separated fields, got %d", path, lineno, n, k + 1);
        if (end && k == n - 1)
            return err_set(e, ERR_INPUT, "%s:%d: expected %d comma-separated fields, got more", path, lineno, n);
        if (end) *end = 0;
        char *stop;
        errno = 0;
        v[k] = strtod(p, &stop);
        if (!*p || *stop || errno == ERANGE)
            return err_set(e, ERR_INPUT, "%s:%d: field %d of '%s': expected a number, got '%.40s'", path, lineno, k + 1,
                           header, p);
        p = end ? end + 1 : p + strlen(p);
    }
    return ERR_OK;
}

// Rows of a CSV file whose header is `header` and whose n fields are numbers, appended as
// columns cols[0..n) (realloc'd). Returns ERR_OK, or ERR_INPUT naming path:line.
static int read_numeric_csv(FILE *f, const char *path, const char *header, int n, double **cols, int *rows, Err *e) {
    char line[4096];
    int lineno = 1, cap = 0;
    *rows = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) return err_set(e, ERR_INPUT, "%s:%d: line too long", path, lineno);
        chomp(line);
        if (!line[0]) continue;
        double v[8];
        if (parse_numbers(line, v, n, header, path, lineno, e)) return e->code;
        if (*rows == cap) {
            cap = cap ? 2 * cap : 256;
            for (int k = 0; k < n; k++) cols[k] = xrealloc(cols[k], sizeof(double) * (size_t)cap);
        }
        for (int k = 0; k < n; k++) cols[k][*rows] = v[k];
        (*rows)++;
    }
    if (ferror(f)) return err_set(e, ERR_INPUT, "%s: read error", path);
    return ERR_OK;
}

// iters.csv: iteration,epoch,lr,momentum,loss,acc -> a per-step RunLog.
static int read_iters(FILE *f, const char *path, RunLog *log, Err *e) {
    double *cols[6] = {0};
    int rows, rc = read_numeric_csv(f, path, CURVES_ITERS_HEADER, 6, cols, &rows, e);
    log->iteration = cols[0];
    log->n = rows;
    log->per_step = 1;
    log->epoch = cols[1];
    log->lr = cols[2];
    log->momentum = cols[3];
    log->train_loss = cols[4];
    log->train_acc = cols[5];
    log->test_loss = xmalloc(sizeof(double) * (size_t)(rows ? rows : 1));
    log->test_acc = xmalloc(sizeof(double) * (size_t)(rows ? rows : 1));
    log->seconds = xmalloc(sizeof(double) * (size_t)(rows ? rows : 1));
    log->images_per_sec = xmalloc(sizeof(double) * (size_t)(rows ? rows : 1));
    log->valid_loss = xmalloc(sizeof(double) * (size_t)(rows ? rows : 1));
    log->valid_acc = xmalloc(sizeof(double) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++)
        log->test_loss[i] = log->test_acc[i] = log->seconds[i] = log->images_per_sec[i] = log->valid_loss[i] =
            log->valid_acc[i] = NAN;
    if (!rc && rows == 0) rc = err_set(e, ERR_INPUT, "%s: no steps logged yet (only the header)", path);
    return rc;
}

int curves_read_schedule(const char *log_path, RunLog *log, Err *e) {
    char path[FS_PATH_MAX];
    if (strlen(log_path) + 16 >= sizeof path) return ERR_OK; // no schedule beside a log the kernel cannot open
    size_t len = strlen(log_path);
    const char *slash = strrchr(log_path, '/'), *base = slash ? slash + 1 : log_path;
    if (!strcmp(base, "log.csv"))
        snprintf(path, sizeof path, "%.*sschedule.csv", (int)(base - log_path), log_path);
    else if (len > 4 && !strcmp(log_path + len - 4, ".csv"))
        snprintf(path, sizeof path, "%.*s.schedule.csv", (int)(len - 4), log_path);
    else
        return ERR_OK;
    if (!fs_exists(path)) return ERR_OK;
    FILE *f = fs_fopen_regular(path, "a regular file (a schedule.csv)", NULL, e);
    if (!f) return e->code;
    char line[256];
    int rc = ERR_OK, rows = 0;
    double *cols[4] = {0};
    if (!fgets(line, sizeof line, f) || (chomp(line), strcmp(line, CURVES_SCHEDULE_HEADER)))
        rc = err_set(e, ERR_INPUT, "%s:1: not a schedule: expected header '%s'", path, CURVES_SCHEDULE_HEADER);
    else
        rc = read_numeric_csv(f, path, CURVES_SCHEDULE_HEADER, 4, cols, &rows, e);
    fclose(f);
    // Up to the last logged epoch: a run that stopped early shows the part it ran.
    double last = log->n ? log->epoch[log->n - 1] : 0;
    int keep = 0;
    while (!rc && keep < rows && cols[1][keep] <= last + 1e-9) keep++;
    free(cols[0]);
    if (rc || keep == 0) {
        free(cols[1]);
        free(cols[2]);
        free(cols[3]);
        return rc;
    }
    log->nsched = keep;
    log->sched_epoch = cols[1];
    log->sched_lr = cols[2];
    log->sched_mom = cols[3];
    return ERR_OK;
}

int curves_read_log(const char *path, RunLog *log, Err *e) {
    memset(log, 0, sizeof *log);
    FILE *f = fs_fopen_regular(path, "a regular file (a log.csv)", NULL, e);
    if (!f) return e->code;
    char line[4096];
    int lineno = 1, cap = 0, rc = ERR_OK;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s: empty file; expected a log.csv with header '%s'", path, CURVES_HEADER);
    }
    chomp(line);
    if (!strcmp(line, CURVES_ITERS_HEADER)) {
        int rc = read_iters(f, path, log, e);
        fclose(f);
        if (rc) curves_free_log(log);
        return rc;
    }
    if (!strcmp(line, CURVES_VALID_HEADER)) log->has_valid = 1;
    else if (strcmp(line, CURVES_HEADER)) {
        fclose(f);
        return err_set(e, ERR_INPUT, "%s:1: not a training log: expected header '%s' (log.csv, with '%s' after it when "
                       "the run has a validation split) or '%s' (iters.csv), got '%.80s'", path,
                       CURVES_HEADER, RUNLOG_VALID_COLUMNS + 1, CURVES_ITERS_HEADER, line);
    }
    const int nf = log->has_valid ? NFIELDS_VALID : NFIELDS;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = err_set(e, ERR_INPUT, "%s:%d: line too long", path, lineno);
            break;
        }
        chomp(line);
        if (!line[0]) continue; // a trailing blank line is harmless
        double v[NFIELDS_VALID] = {0};
        v[F_VALID_LOSS] = v[F_VALID_ACC] = NAN;
        if ((rc = parse_row(line, v, nf, path, lineno, e))) break;
        if (log->n == cap) grow(log, cap = cap ? 2 * cap : 64);
        int i = log->n++;
        log->epoch[i] = v[F_EPOCH];
        log->lr[i] = v[F_LR];
        log->momentum[i] = v[F_MOM];
        log->train_loss[i] = v[F_TRAIN_LOSS];
        log->train_acc[i] = v[F_TRAIN_ACC];
        log->test_loss[i] = v[F_TEST_LOSS];
        log->test_acc[i] = v[F_TEST_ACC];
        log->iteration[i] = v[F_ITER];
        log->seconds[i] = v[F_SECONDS];
        log->images_per_sec[i] = v[F_IPS];
        log->valid_loss[i] = v[F_VALID_LOSS];
        log->valid_acc[i] = v[F_VALID_ACC];
    }
    if (!rc && ferror(f)) rc = err_set(e, ERR_INPUT, "%s: read error", path);
    fclose(f);
    if (!rc && log->n == 0) rc = err_set(e, ERR_INPUT, "%s: no epochs logged yet (only the header)", path);
    if (rc) curves_free_log(log);
    return rc;
}

void curves_default_label(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        size_t len = strlen(path);
        if (len > 4 && !strcmp(path + len - 4, ".csv")) len -= 4;
        snprintf(buf, cap, "%.*s", (int)len, path);
        return;
    }
    const char *end = slash;
    while (end > path && end[-1] == '/') end--; // "runs/a//log.csv"
    const char *start = end;
    while (start > path && start[-1] != '/') start--;
    if (start == end) // "/log.csv"
        snprintf(buf, cap, "%s", slash + 1);
    else
        snprintf(buf, cap, "%.*s", (int)(end - start), start);
}

// Test points gathered apart from the NaN rows, so evaluations every few epochs still
// join into a line.
static int gather(const double *x, const double *y, int n, double scale, double *ox, double *oy) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(y[i])) {
            ox[m] = x[i];
            oy[m++] = y[i] * scale;
        }
    return m;
}

enum { S_LOSS = 0, S_ACC, S_LR }; // panels

// Two curves with the same points (x and y equal to 1e-9 relative).
static int same_curve(const PlotSeries *a, const PlotSeries *b) {
    if (a->n != b->n || a->n == 0) return 0;
    for (int i = 0; i < a->n; i++) {
        double ax = a->x[i], bx = b->x[i], ay = a->y[i], by = b->y[i];
        if (fabs(ax - bx) > 1e-9 * fmax(1, fabs(ax)) || fabs(ay - by) > 1e-9 * fmax(1e-12, fabs(ay))) return 0;
    }
    return 1;
}

int curves_write_png(const char *const *logs, const char *const *labels, int nlogs, const char *png, Err *e) {
    if (nlogs < 1) return err_set(e, ERR_INPUT, "plot: no log files given");
    RunLog *L = xcalloc((size_t)nlogs, sizeof(RunLog));
    PlotSeries *s = xcalloc((size_t)nlogs * 9, sizeof(PlotSeries)); // per log: up to 3 per panel
    double *buf = NULL;
    char (*names)[160] = xcalloc((size_t)nlogs * 6, sizeof *names);
    char (*labs)[128] = xcalloc((size_t)nlogs, sizeof *labs);
    int rc = ERR_OK, total = 0;
    int per_step = 1;
    for (int k = 0; k < nlogs && !rc; k++) {
        rc = curves_read_log(logs[k], &L[k], e);
        if (!rc && !L[k].per_step) rc = curves_read_schedule(logs[k], &L[k], e);
        total += L[k].n;
        per_step &= L[k].per_step || L[k].nsched > 0;
    }
    if (!rc) {
        // Per log: gathered test x, test loss, test acc, train acc in %, gathered validation x,
        // loss, acc in %.
        buf = xmalloc(sizeof(double) * (size_t)total * 7);
        static const uint32_t pal[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0xE69F00, 0x56B4E9, 0x1A1A1A, 0xB8A000};
        double *p = buf;
        int ns[3] = {0, 0, 0}, any_test = 0;
        PlotSeries *ps[3] = {s, s + 3 * nlogs, s + 6 * nlogs};
        for (int k = 0; k < nlogs; k++) {
            RunLog *g = &L[k];
            char label[128];
            if (labels && labels[k])
                snprintf(label, sizeof label, "%s", labels[k]);
            else
                curves_default_label(logs[k], label, sizeof label);
            double *tx = p, *tl = p + g->n, *ta = p + 2 * g->n, *tr = p + 3 * g->n;
            double *vx = p + 4 * g->n, *vl = p + 5 * g->n, *va = p + 6 * g->n;
            p += 7 * g->n;
            int m = gather(g->epoch, g->test_loss, g->n, 1, tx, tl);
            gather(g->epoch, g->test_acc, g->n, 100, tx, ta);
            for (int i = 0; i < g->n; i++) tr[i] = 100 * g->train_acc[i];
            // One log: colours tell train from test. Several: one colour per log, and the
            // dash tells test (or momentum) from train (or LR).
            uint32_t c0 = nlogs == 1 ? pal[0] : pal[k % 8], c1 = nlogs == 1 ? pal[1] : pal[k % 8];
            const char *sep = nlogs > 1 ? " " : "", *lab = nlogs > 1 ? label : "";
            char(*nm)[160] = names + 6 * k;
            snprintf(nm[0], sizeof nm[0], "%s%strain", lab, sep);
            snprintf(nm[1], sizeof nm[1], "%s%stest", lab, sep);
            snprintf(nm[2], sizeof nm[2], "%s%strain", lab, sep);
            snprintf(nm[3], sizeof nm[3], "%s%stest", lab, sep);
            snprintf(nm[4], sizeof nm[4], "%s%sLR", lab, sep);
            snprintf(nm[5], sizeof nm[5], "%s%smomentum", lab, sep);
            // No test points (an iters.csv, or no evaluation yet): no "test" legend entry either.
            ps[S_LOSS][ns[S_LOSS]++] = (PlotSeries){nm[0], g->epoch, g->train_loss, g->n, 0, c0, 0};
            ps[S_LOSS][ns[S_LOSS]++] = (PlotSeries){m ? nm[1] : NULL, tx, tl, m, 0, c1, 1};
            ps[S_ACC][ns[S_ACC]++] = (PlotSeries){nm[2], g->epoch, tr, g->n, 0, c0, 0};
            ps[S_ACC][ns[S_ACC]++] = (PlotSeries){m ? nm[3] : NULL, tx, ta, m, 0, c1, 1};
            any_test |= m > 0;
            if (g->has_valid && nlogs == 1) { // the run's own figure: the validation split too
                int mv = gather(g->epoch, g->valid_loss, g->n, 1, vx, vl);
                gather(g->epoch, g->valid_acc, g->n, 100, vx, va);
                ps[S_LOSS][ns[S_LOSS]++] = (PlotSeries){"validation", vx, vl, mv, 0, pal[2], 0};
                ps[S_ACC][ns[S_ACC]++] = (PlotSeries){"validation", vx, va, mv, 0, pal[2], 0};
            }
            // LR and momentum per step where known: a 1cycle peak mid-epoch shows as a peak.
            const double *sx = g->nsched ? g->sched_epoch : g->epoch, *slr = g->nsched ? g->sched_lr : g->lr,
                         *smom = g->nsched ? g->sched_mom : g->momentum;
            int sn = g->nsched ? g->nsched : g->n;
            ps[S_LR][ns[S_LR]++] = (PlotSeries){nm[4], sx, slr, sn, 0, c0, 0};
            ps[S_LR][ns[S_LR]++] = (PlotSeries){nm[5], sx, smom, sn, 1, c1, 1};
            snprintf(labs[k], sizeof labs[k], "%s", label);
        }
        // An LR or momentum curve the same as an earlier log's is drawn under it and would
        // be lost: its legend entry says so.
        for (int k = 1; k < nlogs; k++)
            for (int c = 0; c < 2; c++) {
                PlotSeries *me = &ps[S_LR][2 * k + c];
                for (int j = 0; j < k; j++)
                    if (same_curve(me, &ps[S_LR][2 * j + c])) {
                        char *nm = names[6 * k + 4 + c];
                        size_t len = strlen(nm);
                        snprintf(nm + len, sizeof names[0] - len, " (= %s)", labs[j]);
                        break;
                    }
            }
        PlotPanel panels[3] = {
            // A log axis: one test loss in the thousands after a wild first epoch leaves the
            // others readable.
            {.title = any_test ? "loss, log scale (test dashed)" : "loss, log scale", .xlabel = "epoch",
             .ylabel = "cross-entropy loss", .logy = 1, .series = ps[S_LOSS], .nseries = ns[S_LOSS]},
            {.title = any_test ? "accuracy (test dashed)" : "accuracy", .xlabel = "epoch",
             .ylabel = "accuracy (%)", .series = ps[S_ACC], .nseries = ns[S_ACC]},
            {.title = per_step ? "LR and momentum (dashed), per step" : "LR and momentum (dashed), per epoch",
             .xlabel = "epoch", .ylabel = "learning rate",
             .y2label = "momentum", .series = ps[S_LR], .nseries = ns[S_LR]},
        };
        // Taller with many logs: their legends go under the panels (about 3 entries a row).
        int height = 500 + (nlogs > 2 ? 9 * (nlogs < 80 ? nlogs : 80) : 0);
        rc = plot_write(png, 1800, height, panels, 3, e); // PNG, or SVG for a .svg path
    }
    for (int k = 0; k < nlogs; k++) curves_free_log(&L[k]);
    free(L);
    free(s);
    free(buf);
    free(names);
    free(labs);
    return rc;
}
