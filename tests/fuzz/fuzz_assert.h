// fuzz_assert.h: FUZZ_ASSERT for the fuzz targets. A broken invariant is a finding: abort so
// the fuzzer keeps the input. tests/test_fuzzreplay.c defines it first, as a failed CHECK.
#ifndef ONECYCLE_FUZZ_ASSERT_H
#define ONECYCLE_FUZZ_ASSERT_H
#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_ASSERT
#define FUZZ_ASSERT(cond)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                           \
        }                                                                                      \
    } while (0)
#endif

#endif
