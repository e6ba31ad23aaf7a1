// test_fuzzreplay.c: replays every input the fuzzers ever crashed on, and the seed corpus,
// through the fuzzers' own entry points (their sources are included below), so that a
// fixed bug stays fixed. An input lives in tests/fuzz/regressions/{config,checkpoint,datafile}/,
// named after what it found; see `make fuzz`.
#include "test.h"
#include "testdata.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

// The harnesses abort on a broken invariant; here it is a failed check naming the input.
static const char *replay_input = "";
#define FUZZ_ASSERT(cond)                                                                      \
    do {                                                                                       \
        if (!(cond)) CHECK_MSG(0, "%s: fuzz invariant failed: %s", replay_input, #cond);       \
    } while (0)

#include "fuzz/fuzz_checkpoint.c"
#include "fuzz/fuzz_config.c"
#include "fuzz/fuzz_datafile.c"

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Feeds every file of dir to fn, in name order. Returns how many there were.
static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t)) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *names[1024];
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 1024;)
        if (de->d_name[0] != '.') names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_names);
    for (int i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        replay_input = path;
        FILE *f = fopen(path, "rb");
        CHECK_MSG(f != NULL, "cannot open %s", path);
        if (f) {
            static uint8_t buf[1 << 20];
            size_t len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            int before = test_failed;
            fn(buf, len);
            CHECK_MSG(test_failed == before, "%s: replay failed", path);
        }
        free(names[i]);
    }
    return n;
}

void suite_fuzzreplay(void) {
    static const struct {
        const char *name;
        int (*fn)(const uint8_t *, size_t);
    } targets[] = {{"config", fuzz_config_input},
                   {"checkpoint", fuzz_checkpoint_input},
                   {"datafile", fuzz_datafile_input}};
    for (int t = 0; t < 3; t++) {
        char dir[200];
        test_begin(targets[t].name);
        snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", targets[t].name);
        int seeds = replay_dir(dir, targets[t].fn);
        CHECK_MSG(seeds > 0, "no seed corpus in %s", dir);
        snprintf(dir, sizeof dir, "tests/fuzz/regressions/%s", targets[t].name);
        int found = replay_dir(dir, targets[t].fn);
        printf("  %s: %d seeds, %d regression inputs replayed\n", targets[t].name, seeds, found);
    }
    // The valid checkpoint the patches start from must load as it is.
    test_begin("checkpoint base loads");
    Err e = {0};
    fuzz_ckpt_write(fz.base, fz.base_size);
    CHECK_EQ_INT(checkpoint_load(&fz.sgd, fz.path, &e), ERR_OK);
    CHECK_EQ_INT(fz.nsec, 11); // the header and 10 sections: the tensor table, then the data set last
    // The data-file seeds reach the readers' success paths, and their error paths.
    static const struct {
        const char *seed;
        int rc;
    } seeds[] = {{"fmnist_2_plain_idx", ERR_OK},     {"fmnist_2_keep1", ERR_OK},
                 {"fmnist_2_raw_gzip", ERR_OK},      {"fmnist_uncompressed_raw", ERR_INPUT},
                 {"cifar10_2_records", ERR_OK},      {"cifar100_2_records", ERR_OK}};
    for (int i = 0; i < (int)(sizeof seeds / sizeof seeds[0]); i++) {
        char path[200];
        snprintf(path, sizeof path, "tests/fuzz/corpus/datafile/%s", seeds[i].seed);
        test_begin(path);
        size_t n;
        char *buf = testdata_slurp_n(path, &n);
        CHECK_MSG(buf != NULL, "cannot read %s", path);
        if (buf) CHECK_EQ_INT(fuzz_datafile_run((const uint8_t *)buf, n), seeds[i].rc);
        free(buf);
    }
}
