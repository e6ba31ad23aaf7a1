// test_dataset.c: the shared data set representation: channel statistics, freeing, and the
// file and directory checks every reader goes through (FIFOs and devices refused).
#include "dataset.h"
#include "test.h"
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_stats(void) {
    test_begin("channel_stats");
    // Two 3x2x2 images. Channel 0: image 0 all 0, image 1 all 255 (mean 0.5, std 0.5);
    // channel 1: 51 everywhere (0.2, 0); channel 2: 0, 51, 102, 153 in each image
    // (mean 0.3, std sqrt(0.05)). A layout other than (n, c, h, w) would mix channels.
    Dataset d = {.n = 2, .channels = 3, .height = 2, .width = 2, .classes = 1};
    CHECK_EQ_INT(dataset_image_bytes(&d), 12);
    d.labels = calloc(2, 1);
    d.pixels = malloc(24);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) {
            d.pixels[i * 12 + 0 * 4 + k] = i ? 255 : 0;
            d.pixels[i * 12 + 1 * 4 + k] = 51;
            d.pixels[i * 12 + 2 * 4 + k] = (uint8_t)(51 * k);
        }
    double mean[3], std[3];
    dataset_channel_stats(&d, mean, std);
    CHECK_CLOSE(mean[0], 0.5, 1e-15, 0);
    CHECK_CLOSE(std[0], 0.5, 1e-15, 0);
    CHECK_CLOSE(mean[1], 0.2, 1e-15, 0);
    CHECK_CLOSE(std[1], 0.0, 1e-7, 0); // sqrt of a rounding-level variance
    CHECK_CLOSE(mean[2], 0.3, 1e-15, 0);
    CHECK_CLOSE(std[2], sqrt(0.05), 1e-12, 0);

    test_begin("free");
    dataset_free(&d);
    CHECK(d.labels == NULL && d.pixels == NULL && d.n == 0 && d.channels == 0);
    dataset_free(&d); // twice is harmless
    CHECK(d.pixels == NULL);
}

static void test_open_file(void) {
    test_begin("open_file");
    const char *dir = test_tmpdir();
    char p[400];
    Err e = {0};
    int fd = -1;
    long long size = -1;

    snprintf(p, sizeof p, "%s/good.bin", dir);
    FILE *f = fopen(p, "wb");
    fputs("hello", f);
    fclose(f);
    if (CHECK_MSG(dataset_open_file(p, "HINT", &fd, &size, &e) == ERR_OK, "%s", e.msg)) {
        char buf[8] = {0};
        CHECK_EQ_INT(read(fd, buf, sizeof buf), 5);
        CHECK(memcmp(buf, "hello", 5) == 0);
        CHECK_EQ_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); // handed back blocking
        close(fd);
    }
    CHECK_EQ_INT(size, 5);

    snprintf(p, sizeof p, "%s/missing.bin", dir);
    CHECK_EQ_INT(dataset_open_file(p, "get it with HINT", &fd, &size, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "missing.bin: not found; get it with HINT");

    CHECK_EQ_INT(dataset_open_file(dir, "HINT", &fd, &size, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "is a directory");

    // A FIFO must be refused without opening it: an open for reading would wait for a
    // writer forever, so a hang here is the failure.
    snprintf(p, sizeof p, "%s/fifo", dir);
    if (mkfifo(p, 0600) != 0) {
        test_skip("mkfifo failed: cannot test the FIFO case here");
    } else {
        CHECK_EQ_INT(dataset_open_file(p, "HINT", &fd, &size, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "fifo: is a FIFO (named pipe), expected a regular data file");
    }

    CHECK_EQ_INT(dataset_open_file("/dev/null", "HINT", &fd, &size, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "/dev/null: is a character device");

    snprintf(p, sizeof p, "%s/good.bin", dir);
    if (geteuid() == 0) {
        test_skip("unreadable file: running as root, permissions are not enforced");
    } else {
        chmod(p, 0);
        CHECK_EQ_INT(dataset_open_file(p, "HINT", &fd, &size, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "good.bin: cannot read");
        chmod(p, 0644);
    }
}

static void test_check_dir(void) {
    test_begin("check_dir");
    const char *dir = test_tmpdir();
    char p[400];
    Err e = {0};
    CHECK_EQ_INT(dataset_check_dir(dir, "Fashion-MNIST", "HINT", &e), ERR_OK);
    snprintf(p, sizeof p, "%s/nope", dir);
    CHECK_EQ_INT(dataset_check_dir(p, "Fashion-MNIST", "run HINT", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "Fashion-MNIST directory '");
    CHECK_STR_CONTAINS(e.msg, "/nope' not found; run HINT");
    snprintf(p, sizeof p, "%s/file", dir);
    FILE *f = fopen(p, "w");
    fclose(f);
    CHECK_EQ_INT(dataset_check_dir(p, "CIFAR-100", "HINT", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "/file' is not a directory");
    CHECK_STR_CONTAINS(e.msg, "CIFAR-100 directory");
}

void suite_dataset(void) {
    test_stats();
    test_open_file();
    test_check_dir();
}
