// test.h: a tiny test harness. Each tests/test_<module>.c defines `void suite_<module>(void)`
// made of CHECK* assertions; tests/run_tests.c runs every suite and ends with
// "N passed, N failed". A check is one assertion; a failed check prints file:line.
#ifndef ONECYCLE_TEST_H
#define ONECYCLE_TEST_H
#include <math.h>
#include <stdio.h>
#include <string.h>

extern int test_passed, test_failed, test_skipped;
extern const char *test_current; // name of the running test, for messages
extern const char *test_self;    // this runner's path (argv[0])

void test_begin(const char *name); // starts a named test case (prints in verbose mode)
void test_skip(const char *why);   // records a skipped test with its reason (printed)
int test_check(int ok, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
// Path of a fresh empty temporary directory for this test (removed at exit).
const char *test_tmpdir(void);

#define CHECK(cond) test_check(!!(cond), __FILE__, __LINE__, "%s", #cond)
#define CHECK_MSG(cond, ...) test_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_EQ_INT(a, b)                                                                     \
    do {                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                    \
        test_check(a_ == b_, __FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, a_, b_);   \
    } while (0)
// |a-b| <= atol + rtol*|b|
#define CHECK_CLOSE(a, b, atol, rtol)                                                          \
    do {                                                                                       \
        double a_ = (double)(a), b_ = (double)(b);                                             \
        test_check(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), __FILE__, __LINE__,           \
                   "%s ~ %s (%.9g vs %.9g)", #a, #b, a_, b_);                                  \
    } while (0)
#define CHECK_STR_CONTAINS(hay, needle)                                                        \
    test_check(strstr((hay), (needle)) != NULL, __FILE__, __LINE__, "'%s' contains '%s'",    \
               (hay), (needle))

#endif
