// test_confusion.c: the confusion matrix and per-class accuracy on a hand-computed case, their
// CSV files and heat map, and `onecycle eval`'s per-class output and --out files (issue 34).
#include "confusion.h"
#include "pngio.h"
#include "test.h"
#include "testdata.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_hand_case(void) {
    test_begin("confusion: a hand-computed case (argmax, ties to the lower class)");
    // Six images, three classes: predictions 0, 1, 0 (a tie of 0 and 1), 1, 2, 0.
    static const float logits[6 * 3] = {2, 1, 0, 0, 3, 1, 1, 1, 0, 0, 5, 0, 0, 0, 9, 4, 0, 2};
    static const int y[6] = {0, 0, 1, 1, 2, 2};
    static const long want[9] = {1, 1, 0, 1, 1, 0, 1, 0, 1};
    Confusion c;
    confusion_init(&c, 3);
    confusion_add(&c, logits, y, 4); // in two batches, as evaluation hands them on
    confusion_add(&c, logits + 12, y + 4, 2);
    int same = 1;
    for (int i = 0; i < 9; i++) same &= c.count[i] == want[i];
    CHECK_MSG(same, "matrix %ld %ld %ld / %ld %ld %ld / %ld %ld %ld", c.count[0], c.count[1], c.count[2], c.count[3],
              c.count[4], c.count[5], c.count[6], c.count[7], c.count[8]);
    for (int t = 0; t < 3; t++) {
        CHECK_EQ_INT(confusion_class_images(&c, t), 2);
        CHECK_EQ_INT(confusion_class_correct(&c, t), 1);
    }
    CHECK_EQ_INT(confusion_total(&c), 6);
    CHECK_EQ_INT(confusion_correct(&c), 3);

    test_begin("confusion: per_class.csv and confusion.csv");
    const char *dir = test_tmpdir();
    static const char *const names[3] = {"cat", "dog", "emu"};
    Err e = {0};
    CHECK_EQ_INT(confusion_write_csv(&c, names, dir, &e), ERR_OK);
    char path[400];
    snprintf(path, sizeof path, "%s/per_class.csv", dir);
    char *s = testdata_slurp(path);
    CHECK_MSG(s && !strcmp(s, "class,name,images,correct,accuracy\n0,cat,2,1,0.500000\n1,dog,2,1,0.500000\n"
                              "2,emu,2,1,0.500000\n"),
              "%s", s ? s : "(none)");
    free(s);
    snprintf(path, sizeof path, "%s/confusion.csv", dir);
    s = testdata_slurp(path);
    CHECK_MSG(s && !strcmp(s, "true\\predicted,cat,dog,emu\ncat,1,1,0\ndog,1,1,0\nemu,1,0,1\n"), "%s",
              s ? s : "(none)");
    free(s);
    CHECK_EQ_INT(confusion_write_csv(&c, NULL, dir, &e), ERR_OK); // no names: "class k"
    s = testdata_slurp(path);
    CHECK_STR_CONTAINS(s ? s : "", "true\\predicted,class 0,class 1,class 2\nclass 0,1,1,0\n");
    free(s);
    CHECK_EQ_INT(confusion_write_csv(&c, names, "/nonexistent-dir/x", &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent-dir/x/per_class.csv");
    confusion_free(&c);

    test_begin("confusion: the heat map shades a cell by its share of the true class");
    // Two classes, every image right: the diagonal cells are full (the plots' blue), the others white.
    static const float l2[4 * 2] = {1, 0, 1, 0, 0, 1, 0, 1};
    static const int y2[4] = {0, 0, 1, 1};
    confusion_init(&c, 2);
    confusion_add(&c, l2, y2, 4);
    snprintf(path, sizeof path, "%s/confusion.png", dir);
    CHECK_EQ_INT(confusion_write_png(&c, names, path, "test", &e), ERR_OK);
    Image img;
    if (!png_read_rgb(path, &img, &e)) {
        long blue = testdata_count_color(&img, 0x0072B2, 0, img.w);
        // Two 56x56 cells less their grid lines and the counts written in them.
        CHECK_MSG(blue > 2 * 50 * 50 && blue <= 2 * 56 * 56, "%ld pixels of full shade", blue);
        image_free(&img);
    } else
        CHECK_MSG(0, "%s", e.msg);
    confusion_free(&c);
}

static long field_sum(const char *csv, int col, int skip_header) {
    long sum = 0;
    const char *p = csv;
    if (skip_header) p = strchr(p, '\n') + 1;
    while (*p) {
        const char *q = p;
        for (int k = 0; k < col; k++) q = strchr(q, ',') + 1;
        sum += strtol(q, NULL, 10);
        p = strchr(p, '\n');
        if (!p) break;
        p++;
    }
    return sum;
}

static void test_eval_cli(void) {
    const char *data = testdata_cifar_dir();
    test_begin("eval: per-class counts sum to the confusion matrix and the accuracy");
    if (!data) {
        test_skip("CIFAR-10 not found (run `make data`)");
        return;
    }
    const char *dir = test_tmpdir();
    char args[1200], path[600];
    snprintf(args, sizeof args, "eval tests/fixtures/export_resnet8_B.ckpt --data %s --threads 1 --out %s/ev", data,
             dir);
    const char *out = testdata_expect("eval --out", 0, "test_images: 10000\n", args);
    CHECK_STR_CONTAINS(out, "per-class accuracy:");
    CHECK_STR_CONTAINS(out, "confusion matrix (rows: true class, columns: predicted class):");
    CHECK_STR_CONTAINS(out, " airplane ");
    CHECK_MSG(!strchr(out, '\r'), "a progress line when stderr is not a terminal: %.300s", out);
    const char *acc = strstr(out, "test_accuracy: ");
    double accuracy = acc ? strtod(acc + 15, NULL) : -1;
    snprintf(path, sizeof path, "%s/ev/per_class.csv", dir);
    char *pc = testdata_slurp(path);
    snprintf(path, sizeof path, "%s/ev/confusion.csv", dir);
    char *cm = testdata_slurp(path);
    if (pc && cm) {
        long images = field_sum(pc, 2, 1), correct = field_sum(pc, 3, 1);
        CHECK_EQ_INT(images, 10000);
        CHECK_CLOSE((double)correct / images, accuracy, 0.00005, 0); // printed to 4 decimals
        // Every row of the matrix sums to its class's images, its diagonal to the class's hits.
        int rows_ok = 1, diag_ok = 1, t = 0;
        const char *r = strchr(cm, '\n') + 1, *p = strchr(pc, '\n') + 1;
        for (; *r && *p; t++) {
            long n = 0, d = 0;
            const char *q = strchr(r, ',');
            for (int k = 0; k < 10; k++) {
                long v = strtol(q + 1, NULL, 10);
                n += v;
                if (k == t) d = v;
                q = strchr(q + 1, ',');
                if (!q) break;
            }
            const char *f = strchr(strchr(p, ',') + 1, ',') + 1; // images,correct,...
            rows_ok &= n == strtol(f, NULL, 10);
            diag_ok &= d == strtol(strchr(f, ',') + 1, NULL, 10);
            r = strchr(r, '\n') + 1;
            p = strchr(p, '\n') + 1;
        }
        CHECK_EQ_INT(t, 10);
        CHECK(rows_ok);
        CHECK(diag_ok);
    } else
        CHECK_MSG(0, "per_class.csv or confusion.csv missing");
    free(pc);
    free(cm);
    snprintf(path, sizeof path, "%s/ev/confusion.png", dir);
    Image img;
    Err e = {0};
    CHECK_EQ_INT(png_read_rgb(path, &img, &e), ERR_OK);
    if (!e.code) image_free(&img);

    // Nothing a user has is overwritten silently: a second eval into DIR needs --force.
    snprintf(path, sizeof path, "%s/ev/per_class.csv", dir);
    testdata_expect("eval --out refuses existing files", 2, "per_class.csv already exists; use --force", args);
    snprintf(args + strlen(args), sizeof args - strlen(args), " --force");
    testdata_expect("eval --out --force", 0, "wrote ", args);
    testdata_expect("eval --force without --out", 2, "--force goes with --out DIR",
                    "eval tests/fixtures/export_resnet8_B.ckpt --force");

    // Two features meeting: --out's files are outputs like any other (outfile.h). A FIFO as
    // confusion.csv blocked eval --force in fopen() after the whole evaluation; now it is
    // refused first, with or without --force, and left alone. timeout: a hang fails.
    test_begin("eval --out: a FIFO among its files is refused (exit 2) before the evaluation");
    char fifo[700], cmd[2000];
    static char res[1 << 14];
    snprintf(fifo, sizeof fifo, "%s/evfifo/confusion.csv", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/evfifo && mkfifo %s", dir, fifo);
    if (CHECK_MSG(testdata_run(cmd, res, sizeof res) == 0, "mkfifo: %s", res)) {
        for (int force = 0; force < 2; force++) {
            snprintf(cmd, sizeof cmd, "timeout 60 %s eval tests/fixtures/export_resnet8_B.ckpt --data %s --threads 1 "
                     "--out %s/evfifo%s", testdata_bin(), data, dir, force ? " --force" : "");
            int rc = testdata_run(cmd, res, sizeof res);
            CHECK_MSG(rc == 2, "exit %d (124: hung), --force %d: %.400s", rc, force, res);
            CHECK_STR_CONTAINS(res, "confusion.csv: is a FIFO (named pipe); outputs are written only as regular files");
            CHECK_MSG(!strstr(res, "test_images:"), "evaluated before refusing: %.300s", res);
            struct stat st;
            CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
        }
    }

    test_begin("eval: a progress line on a terminal");
    static char tty[1 << 16];
    if (testdata_run("command -v script", tty, sizeof tty) != 0) {
        test_skip("no script(1) to give eval a terminal");
        return;
    }
    snprintf(args, sizeof args, "script -qec '%s eval tests/fixtures/export_resnet8_B.ckpt --data %s --threads 1' /dev/null",
             testdata_bin(), data);
    int rc = testdata_run(args, tty, sizeof tty);
    CHECK_MSG(rc == 0, "exit %d: %.500s", rc, tty);
    CHECK_STR_CONTAINS(tty, "\r\033[Keval: 64/10000 images (1%)");
    CHECK_STR_CONTAINS(tty, "eval: 10000/10000 images (100%)\r\033[K");
}

void suite_confusion(void) {
    test_hand_case();
    test_eval_cli();
}
