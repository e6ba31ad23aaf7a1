// test_curves.c: the training-curve plots: log.csv parsing, default labels, the 3-panel
// figure for one and two logs, the plot command, and bad logs; and what issue 14 found:
// LR and momentum drawn once per epoch hid a 1cycle peak that falls mid-epoch, one huge test
// loss flattened every other loss curve, and `plot` refused iters.csv.
#include "cmd.h"
#include "curves.h"
#include "pngio.h"
#include "test.h"
#include "testdata.h"
#include <math.h>
#include <stdlib.h>

static const char good_log[] =
    "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
    "1,98,0.08,0.95,1.9,0.30,,,10.5,4700\n"
    "2,196,0.2,0.9,1.5,0.45,1.4,0.50,21.0,4710\n"
    "3,294,0.4,0.85,1.2,0.57,,,31.5,4720\n"
    "4,392,0.2,0.9,1.0,0.65,0.9,0.69,42.0,4705.5\n";

static void test_curves(void) {
    test_begin("curves: parse a log with empty test fields");
    const char *dir = test_tmpdir();
    char runa[400], runb[400], loga[500], logb[500], png[500], mk[600];
    snprintf(runa, sizeof runa, "%s/run_a", dir);
    snprintf(runb, sizeof runb, "%s/run_b", dir);
    snprintf(mk, sizeof mk, "mkdir -p '%s' '%s'", runa, runb);
    CHECK(system(mk) == 0);
    snprintf(loga, sizeof loga, "%s/log.csv", runa);
    snprintf(logb, sizeof logb, "%s/log.csv", runb);
    snprintf(png, sizeof png, "%s/curves.png", dir);
    testdata_put(loga, good_log);
    testdata_put(logb, "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\r\n"
                     "1,98,0.1,0.9,2.0,0.25,1.8,0.33,10,4000\r\n2,196,0.1,0.9,1.6,0.40,1.5,0.45,20,4000\r\n\n");
    RunLog L;
    Err e = {0};
    if (CHECK_MSG(curves_read_log(loga, &L, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(L.n, 4);
        CHECK(L.epoch[3] == 4 && L.lr[2] == 0.4 && L.momentum[2] == 0.85);
        CHECK(L.train_loss[0] == 1.9 && L.train_acc[3] == 0.65);
        CHECK(isnan(L.test_loss[0]) && isnan(L.test_acc[2]));
        CHECK(L.test_loss[1] == 1.4 && L.test_acc[3] == 0.69);
        curves_free_log(&L);
    }
    if (CHECK_MSG(curves_read_log(logb, &L, &e) == ERR_OK, "CRLF and a blank last line: %s", e.msg)) {
        CHECK_EQ_INT(L.n, 2);
        curves_free_log(&L);
    }

    test_begin("curves: default labels are run directory names");
    char lab[64];
    curves_default_label("runs/smith_1cycle/log.csv", lab, sizeof lab);
    CHECK(!strcmp(lab, "smith_1cycle"));
    curves_default_label("log.csv", lab, sizeof lab);
    CHECK(!strcmp(lab, "log"));
    curves_default_label("/log.csv", lab, sizeof lab);
    CHECK(!strcmp(lab, "log.csv"));

    test_begin("curves: one log, and two overlaid, as 3-panel PNGs");
    const char *one[] = {loga};
    CHECK_EQ_INT(curves_write_png(one, NULL, 1, png, &e), ERR_OK);
    Image img = {0};
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        CHECK(img.w == 1800 && img.h == 500);
        for (int p = 0; p < 3; p++) { // train (blue) and test / momentum (vermilion) in every panel
            CHECK_MSG(testdata_count_color(&img, 0x0072B2, 600 * p, 600 * p + 600) > 50, "panel %d blue", p);
            CHECK_MSG(testdata_count_color(&img, 0xD55E00, 600 * p, 600 * p + 600) > 20, "panel %d vermilion", p);
        }
        image_free(&img);
    }
    const char *two[] = {loga, logb}, *labels[] = {"1cycle", "const"};
    CHECK_EQ_INT(curves_write_png(two, labels, 2, png, &e), ERR_OK);
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        for (int p = 0; p < 3; p++) { // log 1 blue, log 2 vermilion
            CHECK_MSG(testdata_count_color(&img, 0x0072B2, 600 * p, 600 * p + 600) > 50, "panel %d log 1", p);
            CHECK_MSG(testdata_count_color(&img, 0xD55E00, 600 * p, 600 * p + 600) > 50, "panel %d log 2", p);
        }
        image_free(&img);
    }
    char *pargv[] = {loga, logb, "--png", png, "--labels", "x,y", NULL};
    CHECK_EQ_INT(cmd_plot(6, pargv), ERR_OK);
    char *pbad[] = {loga, logb, "--png", png, "--labels", "x", NULL};
    CHECK_EQ_INT(cmd_plot(6, pbad), ERR_INPUT);

    test_begin("curves: bad logs give messages naming file and line");
    struct {
        const char *text, *want;
    } bad[] = {
        {"epoch,iteration,lr\n1,2,3\n", ":1: not a training log"},
        {"", "empty file"},
        {"epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n", "no epochs"},
        {"epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
         "1,98,0.08,0.95,1.9,0.30,,,10.5,4700\n1,98,abc,0.95,1.9,0.30,,,10.5,4700\n",
         ":3: field lr: expected a number, got 'abc'"},
        {"epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n1,98,0.08\n",
         ":2: expected 10 comma-separated fields, got 3"},
        {"epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
         "1,98,0.08,0.95,1.9,0.30,,,10.5,4700,7\n",
         ":2: expected 10 comma-separated fields, got more"},
        {"epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
         "1,98,0.08,0.95,,0.30,,,10.5,4700\n",
         ":2: field train_loss is empty"},
        {"epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
         "1,98,0.08,0.95,1.9,0.30,1.2,,10.5,4700\n",
         ":2: test_loss and test_acc must be both given"},
    };
    char path[500];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        testdata_put(path, bad[k].text);
        e = (Err){0};
        CHECK_EQ_INT(curves_read_log(path, &L, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, bad[k].want);
        CHECK_STR_CONTAINS(e.msg, path);
    }
    const char *missing[] = {"/nonexistent/log.csv"};
    CHECK_EQ_INT(curves_write_png(missing, NULL, 1, png, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent/log.csv: cannot open");
    const char *mixed[] = {loga, path};
    CHECK_EQ_INT(curves_write_png(mixed, NULL, 2, png, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, path);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

// Rows (y) of panel p (600 px wide) holding a pixel of this colour: the vertical extent
// of that colour's lines.
static int rows_with(const Image *img, uint32_t rgb, int p) {
    int rows = 0;
    for (int y = 0; y < img->h; y++) {
        int hit = 0;
        for (int x = 600 * p + 90; x < 600 * p + 540 && !hit; x++) { // inside the axes, not the legend
            const uint8_t *q = img->rgb + ((size_t)y * img->w + x) * 3;
            hit = q[0] == (rgb >> 16 & 255) && q[1] == (rgb >> 8 & 255) && q[2] == (rgb & 255);
        }
        rows += hit;
    }
    return rows;
}

#define HEADER CURVES_HEADER "\n"

static void test_curves_per_step(void) {
    const char *dir = test_tmpdir();
    char run[400], log[500], sched[500], png[500], cmd[600];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", run);
    CHECK(system(cmd) == 0);
    snprintf(log, sizeof log, "%s/log.csv", run);
    snprintf(sched, sizeof sched, "%s/schedule.csv", run);
    snprintf(png, sizeof png, "%s/curves.png", dir);
    // Two epochs of 4 steps; the logged LR is the same at both epoch ends, the schedule
    // peaks at 1.0 in the middle of epoch 2. A third epoch is planned but was not run.
    write_file(log, HEADER "1,4,0.1,0.95,2.0,0.3,6380,0.1,1,100\n2,8,0.1,0.95,1.5,0.5,1.2,0.6,2,100\n");
    char text[2000] = CURVES_SCHEDULE_HEADER "\n";
    const double lr[12] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 0.4, 0.1, 0.1, 0.1, 0.1};
    for (int i = 0; i < 12; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%g,%g,%g\n", i, i / 4.0, lr[i], 0.95 - lr[i] / 10);
    write_file(sched, text);

    test_begin("the schedule beside a log, up to its last epoch");
    RunLog L;
    Err e = {0};
    CHECK(curves_read_log(log, &L, &e) == ERR_OK);
    CHECK_MSG(curves_read_schedule(log, &L, &e) == ERR_OK, "%s", e.msg);
    CHECK_EQ_INT(L.nsched, 9); // steps 0..8 = epochs 0..2
    CHECK(L.nsched == 9 && L.sched_lr[6] == 1.0 && L.sched_epoch[8] == 2.0);
    curves_free_log(&L);
    char other[500];
    snprintf(other, sizeof other, "%s/mean.csv", dir); // NAME.csv -> NAME.schedule.csv
    write_file(other, HEADER "1,4,0.1,0.95,2.0,0.3,1.5,0.4,1,100\n");
    CHECK(curves_read_log(other, &L, &e) == ERR_OK && curves_read_schedule(other, &L, &e) == ERR_OK);
    CHECK_EQ_INT(L.nsched, 0);
    curves_free_log(&L);
    snprintf(cmd, sizeof cmd, "%s/mean.schedule.csv", dir);
    write_file(cmd, text);
    CHECK(curves_read_log(other, &L, &e) == ERR_OK && curves_read_schedule(other, &L, &e) == ERR_OK);
    CHECK_EQ_INT(L.nsched, 5);
    curves_free_log(&L);
    write_file(cmd, "iteration,epoch,lr,momentum\n0,0,x,0.9\n");
    CHECK(curves_read_log(other, &L, &e) == ERR_OK);
    CHECK_EQ_INT(curves_read_schedule(other, &L, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "mean.schedule.csv:2:");
    curves_free_log(&L);

    test_begin("LR per step shows the peak; the loss axis is logarithmic");
    const char *one[] = {log};
    CHECK_EQ_INT(curves_write_png(one, NULL, 1, png, &e), ERR_OK);
    Image img = {0};
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        // Drawn per epoch the LR would be one flat line (a few rows); per step it climbs to 1.0.
        int lr_rows = rows_with(&img, 0x0072B2, 2);
        CHECK_MSG(lr_rows > 150, "LR line spans %d rows", lr_rows);
        // Linear, a test loss of 6380 squeezes the train losses 2.0 and 1.5 into 1 row; on
        // a log axis they span a visible part of the panel.
        int loss_rows = rows_with(&img, 0x0072B2, 0);
        CHECK_MSG(loss_rows > 8, "train loss spans %d rows", loss_rows);
        image_free(&img);
    }

    test_begin("plot accepts iters.csv");
    char iters[500];
    snprintf(iters, sizeof iters, "%s/iters.csv", run);
    write_file(iters, CURVES_ITERS_HEADER "\n0,0,0.1,0.95,2.3,0.1\n1,0.25,0.5,0.9,2.1,0.2\n2,0.5,1.0,0.85,1.9,0.3\n");
    CHECK(curves_read_log(iters, &L, &e) == ERR_OK);
    CHECK(L.per_step && L.n == 3 && L.lr[2] == 1.0 && L.train_loss[1] == 2.1 && isnan(L.test_loss[0]));
    curves_free_log(&L);
    char *argv[] = {iters, "--png", png, NULL};
    CHECK_EQ_INT(cmd_plot(3, argv), ERR_OK);
    write_file(iters, CURVES_ITERS_HEADER "\n0,0,0.1,0.95,2.3\n");
    CHECK_EQ_INT(curves_read_log(iters, &L, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "iters.csv:2: expected 6 comma-separated fields, got 5");
    write_file(iters, CURVES_ITERS_HEADER "\n");
    CHECK_EQ_INT(curves_read_log(iters, &L, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "no steps logged yet");
}

// Issue 34: an iters.csv has no test points, so no "test" legend entry; an LR (momentum)
// curve the same as an earlier log's, drawn under it, is named as such in the legend.
static void test_curves_legend(void) {
    const char *dir = test_tmpdir();
    char iters[500], svg[500], a[500], b[500], cmd[1200];
    snprintf(iters, sizeof iters, "%s/legend_iters.csv", dir);
    snprintf(svg, sizeof svg, "%s/legend.svg", dir);
    write_file(iters, CURVES_ITERS_HEADER "\n0,0,0.1,0.95,2.3,0.1\n1,0.25,0.5,0.9,2.1,0.2\n2,0.5,1.0,0.85,1.9,0.3\n");
    Err e = {0};
    const char *logs1[1] = {iters};
    test_begin("iters.csv: no 'test' legend entry without test points (regression)");
    CHECK_MSG(curves_write_png(logs1, NULL, 1, svg, &e) == ERR_OK, "%s", e.msg);
    char *t = testdata_slurp_n(svg, NULL);
    if (CHECK(t != NULL)) {
        CHECK_STR_CONTAINS(t, ">train</text>");
        CHECK_MSG(!strstr(t, ">test</text>"), "a 'test' legend entry without a line");
        CHECK_MSG(!strstr(t, "(test dashed)"), "a title about a test line that is not there");
    }
    free(t);

    test_begin("identical LR curves of overlaid logs are named in the legend (regression)");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/ra' '%s/rb'", dir, dir);
    CHECK(system(cmd) == 0);
    snprintf(a, sizeof a, "%s/ra/log.csv", dir);
    snprintf(b, sizeof b, "%s/rb/log.csv", dir);
    write_file(a, good_log);
    write_file(b, "epoch,iteration,lr,momentum,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec\n"
                  "1,98,0.08,0.95,2.0,0.25,,,10.5,4700\n2,196,0.2,0.9,1.6,0.40,1.5,0.45,21.0,4710\n"
                  "3,294,0.4,0.85,1.3,0.52,,,31.5,4720\n4,392,0.2,0.9,1.1,0.60,1.0,0.62,42.0,4705.5\n");
    const char *logs2[2] = {a, b};
    CHECK_MSG(curves_write_png(logs2, NULL, 2, svg, &e) == ERR_OK, "%s", e.msg);
    t = testdata_slurp_n(svg, NULL);
    if (CHECK(t != NULL)) {
        CHECK_STR_CONTAINS(t, ">rb LR (= ra)</text>");
        CHECK_STR_CONTAINS(t, ">rb momentum (= ra)</text>");
        CHECK_STR_CONTAINS(t, ">ra LR</text>");
        CHECK_STR_CONTAINS(t, ">rb train</text>"); // the loss curves differ: no note
    }
    free(t);
}

// Issue 34: a run with a validation split has valid_loss,valid_acc after the other columns.
static void test_curves_valid(void) {
    test_begin("curves: a log with the validation columns, and one without");
    const char *dir = test_tmpdir();
    char log[400], old[400], bad[400], png[400];
    snprintf(log, sizeof log, "%s/v.csv", dir);
    snprintf(old, sizeof old, "%s/o.csv", dir);
    snprintf(bad, sizeof bad, "%s/b.csv", dir);
    snprintf(png, sizeof png, "%s/v.png", dir);
    testdata_put(log, CURVES_HEADER ",valid_loss,valid_acc\n"
                      "1,98,0.1,0.9,2.0,0.25,1.8,0.33,10,4000,1.9,0.30\n"
                      "2,196,0.1,0.9,1.6,0.40,,,20,4000,1.2,0.55\n"
                      "3,294,0.1,0.9,1.2,0.60,1.1,0.61,30,4000,1.0,0.65\n");
    testdata_put(old, CURVES_HEADER "\n1,98,0.1,0.9,2.0,0.25,1.8,0.33,10,4000\n2,196,0.1,0.9,1.6,0.40,,,20,4000\n"
                      "3,294,0.1,0.9,1.2,0.60,1.1,0.61,30,4000\n");
    RunLog L;
    Err e = {0};
    if (CHECK_MSG(curves_read_log(log, &L, &e) == ERR_OK, "%s", e.msg)) {
        CHECK(L.has_valid && L.n == 3);
        CHECK(L.valid_loss[0] == 1.9 && L.valid_acc[1] == 0.55 && L.valid_acc[2] == 0.65);
        CHECK(L.test_acc[0] == 0.33 && isnan(L.test_acc[1]) && L.images_per_sec[2] == 4000); // columns in place
        curves_free_log(&L);
    }
    if (CHECK_MSG(curves_read_log(old, &L, &e) == ERR_OK, "%s", e.msg)) {
        CHECK(!L.has_valid && isnan(L.valid_acc[0]) && isnan(L.valid_loss[2]));
        curves_free_log(&L);
    }
    testdata_put(bad, CURVES_HEADER ",valid_loss,valid_acc\n1,98,0.1,0.9,2.0,0.25,1.8,0.33,10,4000\n");
    CHECK_EQ_INT(curves_read_log(bad, &L, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "b.csv:2: expected 12 comma-separated fields, got 10");
    testdata_put(bad, CURVES_HEADER ",valid_loss,valid_acc\n1,98,0.1,0.9,2.0,0.25,1.8,0.33,10,4000,1.5,\n");
    CHECK_EQ_INT(curves_read_log(bad, &L, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "valid_loss and valid_acc must be both given or both empty");
    testdata_put(bad, CURVES_HEADER "\n1,98,0.1,0.9,2.0,0.25,1.8,0.33,10,4000,1.5,0.5\n");
    CHECK_EQ_INT(curves_read_log(bad, &L, &e), ERR_INPUT); // no header for them: not a log.csv row
    CHECK_STR_CONTAINS(e.msg, "got more");

    test_begin("curves: the run's figure draws the validation curves (green), only when logged");
    Image img;
    const char *one[] = {log}, *plain[] = {old};
    CHECK_EQ_INT(curves_write_png(one, NULL, 1, png, &e), ERR_OK);
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        CHECK(rows_with(&img, 0x009E73, 0) > 5 && rows_with(&img, 0x009E73, 1) > 5);
        image_free(&img);
    }
    CHECK_EQ_INT(curves_write_png(plain, NULL, 1, png, &e), ERR_OK);
    if (CHECK_MSG(png_read_rgb(png, &img, &e) == ERR_OK, "%s", e.msg)) {
        CHECK_EQ_INT(rows_with(&img, 0x009E73, 0) + rows_with(&img, 0x009E73, 1), 0);
        image_free(&img);
    }
}

void suite_curves(void) {
    test_curves_valid();
    test_curves();
    test_curves_per_step();
    test_curves_legend();
}
