// test_dataset.c: the [data] section (every data set: its place, sizes and shape), the shared
// data set representation: channel statistics, freeing, and the
// file and directory checks every reader goes through (FIFOs and devices refused).
#include "dataset.h"
#include "cifar.h"
#include "test.h"
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
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
    if (CHECK_MSG(dataset_open_file(p, "a test file", "HINT", &fd, &size, &e) == ERR_OK, "%s", e.msg)) {
        char buf[8] = {0};
        CHECK_EQ_INT(read(fd, buf, sizeof buf), 5);
        CHECK(memcmp(buf, "hello", 5) == 0);
        CHECK_EQ_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); // handed back blocking
        close(fd);
    }
    CHECK_EQ_INT(size, 5);

    snprintf(p, sizeof p, "%s/missing.bin", dir);
    CHECK_EQ_INT(dataset_open_file(p, "a test file", "get it with HINT", &fd, &size, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "missing.bin: not found; get it with HINT");

    CHECK_EQ_INT(dataset_open_file(dir, "a test file", "HINT", &fd, &size, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "is a directory");

    // A FIFO must be refused without opening it: an open for reading would wait for a
    // writer forever, so a hang here is the failure.
    snprintf(p, sizeof p, "%s/fifo", dir);
    if (mkfifo(p, 0600) != 0) {
        test_skip("mkfifo failed: cannot test the FIFO case here");
    } else {
        CHECK_EQ_INT(dataset_open_file(p, "a test file", "HINT", &fd, &size, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "fifo: is a FIFO (named pipe), expected a test file");
    }

    CHECK_EQ_INT(dataset_open_file("/dev/null", "a test file", "HINT", &fd, &size, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "/dev/null: is a character device");

    snprintf(p, sizeof p, "%s/good.bin", dir);
    if (geteuid() == 0) {
        test_skip("unreadable file: running as root, permissions are not enforced");
    } else {
        chmod(p, 0);
        CHECK_EQ_INT(dataset_open_file(p, "a test file", "HINT", &fd, &size, &e), ERR_INPUT);
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

    test_begin("a relative data.dir not found names where it looked and what would work (regression)");
    char cwd[2048], want[2200];
    if (CHECK(getcwd(cwd, sizeof cwd) != NULL)) {
        CHECK_EQ_INT(dataset_check_dir("no-such/cifar-dir", "CIFAR-10", "run HINT", &e), ERR_INPUT);
        snprintf(want, sizeof want, "looked in %s/no-such/cifar-dir;", cwd);
        CHECK_STR_CONTAINS(e.msg, want);
        CHECK_STR_CONTAINS(e.msg, "CIFAR-10 directory 'no-such/cifar-dir' not found");
        CHECK_STR_CONTAINS(e.msg, "run from the directory it is relative to (e.g. the project root) or give "
                                  "data.dir as an absolute path; run HINT");
    }
}

static void test_options(void) {
    test_begin("options");
    const ConfigSection schema[] = {{"data", dataset_config_keys}, {NULL, NULL}};
    static Config c;
    DataOptions o;
    Err e = {0};
    config_init(&c, schema);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK(!strcmp(o.dir, "data/cifar-10-batches-bin"));
    CHECK_EQ_INT(o.train_images, 50000);
    CHECK_EQ_INT(o.test_images, 10000);
    CHECK_EQ_INT(o.augment, AUG_CROP_FLIP);
    CHECK_EQ_INT(o.pad, 4);
    CHECK_EQ_INT(o.pad_mode, PAD_ZERO);

    const char *good[] = {"data.augment=flip", "data.pad_mode=reflect", "data.pad=0", "data.train_images=1",
                          "data.test_images=500", "data.dir=/x/y"};
    for (int i = 0; i < 6; i++) CHECK_EQ_INT(config_set(&c, good[i], &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.augment, AUG_FLIP);
    CHECK_EQ_INT(o.pad_mode, PAD_REFLECT);
    CHECK_EQ_INT(config_set(&c, "data.pad_mode=symmetric", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.pad_mode, PAD_SYMMETRIC);
    CHECK_EQ_INT(o.pad, 0);
    CHECK_EQ_INT(o.train_images, 1);
    CHECK_EQ_INT(o.test_images, 500);
    CHECK(!strcmp(o.dir, "/x/y"));
    CHECK_EQ_INT(config_set(&c, "data.augment=none", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.augment, AUG_NONE);

    struct {
        const char *set, *needle;
    } bad[] = {
        {"data.train_images=0", "train_images"},  {"data.train_images=50001", "train_images"},
        {"data.test_images=10001", "test_images"}, {"data.pad=17", "pad"},
        {"data.pad=-1", "pad"},                    {"data.augment=crop", "augment"},
        {"data.pad_mode=edge", "pad_mode"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_init(&c, schema);
        CHECK_EQ_INT(config_set(&c, bad[i].set, &e), ERR_OK);
        CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, bad[i].needle);
    }
    // An empty directory (from a file, or an empty --set clearing the key) is the data set's
    // own place.
    config_init(&c, schema);
    CHECK_EQ_INT(config_load_string(&c, "[data]\ndir =\n", "d.cfg", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK(!strcmp(o.dir, "data/cifar-10-batches-bin"));
    CHECK_EQ_INT(config_set(&c, "data.dir=", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK(!strcmp(o.dir, "data/cifar-10-batches-bin"));

    // Each data set: its place, its sizes (the whole set by default, no more than it has),
    // and the shape and classes the model gets.
    test_begin("options_datasets");
    struct {
        const char *name, *dir;
        int dataset, train, channels, side, classes;
    } sets[] = {
        {"cifar10", "data/cifar-10-batches-bin", DATASET_CIFAR10, 50000, 3, 32, 10},
        {"cifar100", "data/cifar-100-binary", DATASET_CIFAR100, 50000, 3, 32, 100},
        {"fashion-mnist", "/usr/share/datasets/fashion-mnist", DATASET_FMNIST, 60000, 1, 28, 10},
    };
    for (int i = 0; i < 3; i++) {
        char set[64], over[64];
        config_init(&c, schema);
        snprintf(set, sizeof set, "data.dataset=%s", sets[i].name);
        CHECK_EQ_INT(config_set(&c, set, &e), ERR_OK);
        if (!CHECK_MSG(dataset_options_from_config(&o, &c, &e) == ERR_OK, "%s", e.msg)) continue;
        CHECK_EQ_INT(o.dataset, sets[i].dataset);
        CHECK(!strcmp(o.dir, sets[i].dir));
        CHECK_EQ_INT(o.train_images, sets[i].train);
        CHECK_EQ_INT(o.test_images, 10000);
        DataShape sh = dataset_shape(&o);
        CHECK(sh.channels == sets[i].channels && sh.height == sets[i].side && sh.width == sets[i].side);
        CHECK_EQ_INT(sh.classes, sets[i].classes);
        CHECK(sh.name && !strcmp(sh.name, sets[i].name));
        snprintf(over, sizeof over, "data.train_images=%d", sets[i].train);
        CHECK_EQ_INT(config_set(&c, over, &e), ERR_OK);
        CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
        snprintf(over, sizeof over, "data.train_images=%d", sets[i].train + 1);
        CHECK_EQ_INT(config_set(&c, over, &e), ERR_OK);
        CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "train_images");
    }
    // cifar100's coarse labels: 20 classes. data.labels means nothing for the others.
    config_init(&c, schema);
    CHECK_EQ_INT(config_set(&c, "data.dataset=cifar100", &e), ERR_OK);
    CHECK_EQ_INT(config_set(&c, "data.labels=coarse", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.labels, CIFAR100_LABELS_COARSE);
    CHECK_EQ_INT(dataset_shape(&o).classes, 20);
    CHECK_EQ_INT(config_set(&c, "data.dataset=fashion-mnist", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "data.labels: only cifar100 has a choice of labels, the data set is fashion-mnist");
    // Regression: a config dumped with every key (config.cfg, the one inside a checkpoint)
    // must read back for every data set; data.labels defaulting to "fine" made eval of a
    // fashion-mnist checkpoint fail on its own config.
    test_begin("options_dump_reads_back");
    for (int i = 0; i < 3; i++) {
        static Config d;
        static char dump[8192];
        char set[64];
        config_init(&c, schema);
        snprintf(set, sizeof set, "data.dataset=%s", sets[i].name);
        CHECK_EQ_INT(config_set(&c, set, &e), ERR_OK);
        config_dump(&c, dump, sizeof dump);
        config_init(&d, schema);
        CHECK_MSG(config_load_string(&d, dump, "dump.cfg", &e) == ERR_OK, "%s", e.msg);
        CHECK_MSG(dataset_options_from_config(&o, &d, &e) == ERR_OK, "%s: %s", sets[i].name, e.msg);
        CHECK_EQ_INT(o.dataset, sets[i].dataset);
    }
    config_init(&c, schema);
    CHECK_EQ_INT(config_set(&c, "data.dataset=mnist", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "dataset");
}

// A synthetic set of n 1x2x2 images: image i has pixels (i & 255, i >> 8, 7, 9) and label i % 10,
// so every image is told apart by its first two bytes.
static void synthetic(Dataset *d, int n) {
    *d = (Dataset){.n = n, .channels = 1, .height = 2, .width = 2, .classes = 10};
    d->labels = malloc((size_t)n);
    d->pixels = malloc((size_t)n * 4);
    for (int i = 0; i < n; i++) {
        d->labels[i] = (uint8_t)(i % 10);
        uint8_t px[4] = {(uint8_t)(i & 255), (uint8_t)(i >> 8), 7, 9};
        memcpy(d->pixels + 4 * i, px, 4);
    }
}

static int image_id(const Dataset *d, int k) {
    return d->pixels[4 * k] | d->pixels[4 * k + 1] << 8;
}

static void test_hold_out(void) {
    test_begin("hold_out: a seeded split, disjoint, covering the set, both parts in the set's order");
    Dataset d, v, d2, v2;
    synthetic(&d, 1000);
    dataset_hold_out(&d, &v, 100, 7);
    CHECK_EQ_INT(d.n, 900);
    CHECK_EQ_INT(v.n, 100);
    CHECK_EQ_INT(v.channels, 1);
    CHECK_EQ_INT(v.classes, 10);
    int seen[1000] = {0}, ordered = 1, labels_ok = 1;
    for (int k = 0; k < d.n; k++) {
        int id = image_id(&d, k);
        seen[id] |= 1;
        ordered &= !k || id > image_id(&d, k - 1);
        labels_ok &= d.labels[k] == id % 10;
    }
    for (int k = 0; k < v.n; k++) {
        int id = image_id(&v, k);
        seen[id] |= 2;
        ordered &= !k || id > image_id(&v, k - 1);
        labels_ok &= v.labels[k] == id % 10;
    }
    int once = 1;
    for (int i = 0; i < 1000; i++) once &= seen[i] == 1 || seen[i] == 2; // in exactly one part
    CHECK_MSG(once, "an image is in both parts or in neither");
    CHECK(ordered);
    CHECK(labels_ok);
    // Not simply the first or last 100: the held-out images spread over the set.
    CHECK(image_id(&v, 0) < 500 && image_id(&v, v.n - 1) >= 500);

    // The same seed holds out the same images (a resume, every rank); another seed others.
    synthetic(&d2, 1000);
    dataset_hold_out(&d2, &v2, 100, 7);
    CHECK(d2.n == d.n && !memcmp(d2.pixels, d.pixels, 4 * (size_t)d.n) && !memcmp(v2.pixels, v.pixels, 400));
    dataset_free(&d2);
    dataset_free(&v2);
    synthetic(&d2, 1000);
    dataset_hold_out(&d2, &v2, 100, 8);
    CHECK(memcmp(v2.pixels, v.pixels, 400) != 0);
    dataset_free(&d2);
    dataset_free(&v2);
    dataset_free(&d);
    dataset_free(&v);

    test_begin("hold_out 0 leaves the set as it was");
    synthetic(&d, 50);
    synthetic(&d2, 50);
    dataset_hold_out(&d, &v, 0, 7);
    CHECK_EQ_INT(v.n, 0);
    CHECK(v.pixels == NULL && v.labels == NULL);
    CHECK(d.n == 50 && !memcmp(d.pixels, d2.pixels, 200) && !memcmp(d.labels, d2.labels, 50));
    dataset_free(&d);
    dataset_free(&d2);
}

static void test_valid_options(void) {
    test_begin("data.valid_images: taken out of train_images, at least one image left to train on");
    const ConfigSection schema[] = {{"data", dataset_config_keys}, {NULL, NULL}};
    static Config c;
    DataOptions o;
    Err e = {0};
    config_init(&c, schema);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.valid_images, 0);
    CHECK_EQ_INT(o.train_images, 50000);
    CHECK_EQ_INT(config_set(&c, "data.valid_images=5000", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.valid_images, 5000);
    CHECK_EQ_INT(o.train_images, 45000);
    CHECK_EQ_INT(config_set(&c, "data.train_images=600", &e), ERR_OK);
    CHECK_EQ_INT(config_set(&c, "data.valid_images=100", &e), ERR_OK);
    CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_OK);
    CHECK_EQ_INT(o.train_images, 500);
    const char *bad[] = {"data.valid_images=600", "data.valid_images=-1", "data.valid_images=x"};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(config_set(&c, bad[i], &e), ERR_OK);
        CHECK_EQ_INT(dataset_options_from_config(&o, &c, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, "data.valid_images");
    }
}

void suite_dataset(void) {
    test_options();
    test_hold_out();
    test_valid_options();
    test_stats();
    test_open_file();
    test_check_dir();
}
