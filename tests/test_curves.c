// test_curves.c: the training-curve plots: log.csv parsing, default labels, the 3-panel
// figure for one and two logs, the plot command, and bad logs.
#include "cmd.h"
#include "curves.h"
#include "pngio.h"
#include "test.h"
#include "testdata.h"
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

void suite_curves(void) {
    test_curves();
}
