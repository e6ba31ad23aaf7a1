// test_progress.c: the live progress line of train, fitted to the terminal's width.
#include "progress.h"
#include "test.h"
#include "testdata.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static TrainProgress sample(void) {
    return (TrainProgress){.event = TRAIN_STEP, .epoch = 37, .epochs = 95, .batch = 412, .batches = 782,
                           .loss = 1.23456, .acc = 0.5678, .lr = 0.123456, .momentum = 0.875, .images_per_sec = 1234.4,
                           .eta_seconds = 4 * 3600 + 5 * 60 + 6};
}

static void test_full_line(void) {
    test_begin("progress line: every field when the width is unknown (plain lines)");
    TrainProgress p = sample();
    char buf[256];
    int n = progress_line(buf, sizeof buf, &p, 0);
    CHECK_EQ_INT(n, (int)strlen(buf));
    CHECK(!strcmp(buf, "epoch 37/95  batch 412/782  loss 1.2346  acc 56.78%  lr 0.1235  mom 0.875  1234 img/s  "
                       "ETA 4:05:06"));
    CHECK(!strchr(buf, '\r') && !strchr(buf, '\n'));
}

static void test_fitted(void) {
    test_begin("progress line: fits one row short of any width (regression: it wrapped on 80 columns)");
    TrainProgress p = sample();
    char buf[256];
    int full = progress_line(buf, sizeof buf, &p, 0), ok = 1;
    CHECK(full > 79); // the case the issue saw
    for (int w = 1; w <= 200; w++) {
        int n = progress_line(buf, sizeof buf, &p, w);
        ok &= n == (int)strlen(buf) && n <= (w > 1 ? w - 1 : 0) && (n == full || w - 1 < full);
    }
    CHECK_MSG(ok, "a width where the line does not fit or is cut needlessly");
    progress_line(buf, sizeof buf, &p, 80);
    CHECK(!strcmp(buf, "epoch 37/95  batch 412/782  loss 1.2346  acc 56.78%  lr 0.1235  ETA 4:05:06"));
    progress_line(buf, sizeof buf, &p, 60);
    CHECK(!strcmp(buf, "epoch 37/95  batch 412/782  loss 1.2346  ETA 4:05:06"));
    progress_line(buf, sizeof buf, &p, 30);
    CHECK(!strcmp(buf, "epoch 37/95  loss 1.2346"));
    progress_line(buf, sizeof buf, &p, 10); // nothing left to drop: cut
    CHECK(!strcmp(buf, "epoch 37/"));
    // Whole fields only: nothing is cut in the middle while a field can still go.
    progress_line(buf, sizeof buf, &p, 45);
    CHECK(!strcmp(buf, "epoch 37/95  batch 412/782  loss 1.2346"));
}

static void test_width(void) {
    test_begin("terminal width: 0 for what is not a terminal (plain lines then)");
    int fd = open("/dev/null", O_WRONLY);
    CHECK(fd >= 0);
    CHECK_EQ_INT(progress_term_width(fd), 0);
    if (fd >= 0) close(fd);
    CHECK_EQ_INT(progress_term_width(-1), 0);
}

// A 1-epoch ResNet-8 run on 300 images: 10 steps, each a progress update.
static const char *tiny_run(const char *data, const char *dir) {
    static char text[1024];
    snprintf(text, sizeof text,
             "[data]\ndir = %s\ntrain_images = 300\ntest_images = 100\n[model]\ndepth = 8\n[train]\nbatch_size = 32\n"
             "threads = 1\n[schedule]\nlr = 0.1\nepochs = 1\n",
             data);
    return testdata_write(dir, "tiny.cfg", text);
}

static void test_train_terminal(void) {
    test_begin("train on a 60-column terminal: each update fits one row, nothing stale (regression)");
    const char *data = testdata_cifar_dir();
    if (!data) {
        test_skip("needs CIFAR-10");
        return;
    }
    if (system("command -v script >/dev/null 2>&1 && command -v stty >/dev/null 2>&1") != 0) {
        test_skip("needs script(1) and stty(1) for a pseudo-terminal");
        return;
    }
    const char *dir = test_tmpdir();
    char cfg[600], cmd[2048];
    static char out[65536];
    snprintf(cfg, sizeof cfg, "%s", tiny_run(data, dir));
    snprintf(cmd, sizeof cmd, "script -qec 'stty cols 60; %s train %s --out %s/tty' /dev/null", testdata_bin(), cfg,
             dir);
    int rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, out);
    // Every update starts with "\r\033[K" (back to the start, clear the row), then at most
    // 59 characters: a wider one would wrap and leave its first row behind.
    int updates = 0, widest = 0;
    for (char *p = strstr(out, "\r\033[K"); p; p = strstr(p + 1, "\r\033[K")) {
        char *q = p + 4;
        int n = (int)strcspn(q, "\r\n"), update = !strncmp(q, "epoch 1/1  batch", 16);
        updates += update;
        if (update && n > widest) widest = n; // (the epoch's summary ends its own line)
    }
    CHECK_MSG(updates == 10, "%d live updates, want 10", updates);
    CHECK_MSG(widest <= 59, "an update of %d characters on a 60-column terminal", widest);

    test_begin("train not on a terminal: plain lines, no carriage returns or escapes");
    snprintf(cmd, sizeof cmd, "%s train %s --out %s/plain", testdata_bin(), cfg, dir);
    rc = testdata_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, out);
    CHECK(!strchr(out, '\r') && !strchr(out, '\033'));
    CHECK_STR_CONTAINS(out, "epoch 1/1  batch 10/10  loss ");
    CHECK_STR_CONTAINS(out, ", 1 thread"); // not "1 threads"
    CHECK(!strstr(out, "1 threads"));
    CHECK_STR_CONTAINS(out, "1 epoch x 10 steps of batch 32 = 10 steps");
}

void suite_progress(void) {
    test_full_line();
    test_fitted();
    test_width();
    test_train_terminal();
}
