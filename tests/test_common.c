// test_common.c: the helpers every module shares (common.c) that no other suite covers.
#include "common.h"
#include "test.h"

static void test_median(void) {
    test_begin("common: median of odd and even counts, input left as it is");
    double s[8];
    CHECK(median(NULL, 0, s) == 0);
    double one[] = {7};
    CHECK(median(one, 1, s) == 7);
    double odd[] = {5, -1, 9, 3, 3};
    CHECK(median(odd, 5, s) == 3);
    CHECK(odd[0] == 5 && odd[1] == -1 && odd[2] == 9 && odd[3] == 3 && odd[4] == 3);
    double even[] = {4, 1, 100, 2};
    CHECK_CLOSE(median(even, 4, s), 3, 0, 0); // the mean of 2 and 4, not the lower or upper
    double spike[] = {1, 1, 1e9, 1, 1, 1, 1e9};
    CHECK(median(spike, 7, s) == 1);
}

// Issue 35, item 1: err_prefix cut its prefix at 511 characters, so a message naming a
// long path ("PATH: cannot write PNG") named another one.
static void test_err_prefix_whole_path(void) {
    test_begin("common: err_prefix keeps a prefix of 4,032 characters whole");
    static char path[4033];
    memset(path, 'p', 4032);
    path[4032] = 0;
    Err e = {0};
    err_set(&e, ERR_RUNTIME, "cannot write");
    err_prefix(&e, "%s", path);
    CHECK_EQ_INT(strlen(e.msg), 4032 + strlen(": cannot write"));
    CHECK(!strncmp(e.msg, path, 4032) && !strcmp(e.msg + 4032, ": cannot write"));
}

void suite_common(void) {
    test_median();
    test_err_prefix_whole_path();
}
