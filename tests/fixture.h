// fixture.h: reads the named float tensors written by scripts/make_reference.py.
#ifndef ONECYCLE_TEST_FIXTURE_H
#define ONECYCLE_TEST_FIXTURE_H

typedef struct FixtureTensor {
    char name[64];
    long n;
    float *data;
} FixtureTensor;

enum { FIXTURE_MAX = 256 };

typedef struct Fixture {
    int n;
    FixtureTensor t[FIXTURE_MAX];
} Fixture;

int fixture_load(Fixture *f, const char *path); // 0 on success
const FixtureTensor *fixture_get(const Fixture *f, const char *name); // NULL if absent
void fixture_free(Fixture *f);
// Largest |a-b| relative to max(|b|) over n values (0 when b is all zero and a == b).
double max_rel_diff(const float *a, const float *b, long n);

#endif
