// fixture.c: loader for the PyTorch reference fixtures (tests/fixture.h).
#include "fixture.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fixture_load(Fixture *f, const char *path) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    uint32_t len, count;
    while (fread(&len, 4, 1, fp) == 1) {
        if (f->n >= FIXTURE_MAX || len >= sizeof f->t[0].name) break;
        FixtureTensor *t = &f->t[f->n];
        if (fread(t->name, 1, len, fp) != len || fread(&count, 4, 1, fp) != 1) break;
        t->name[len] = 0;
        t->n = count;
        t->data = malloc(sizeof(float) * (count ? count : 1));
        if (fread(t->data, sizeof(float), count, fp) != count) {
            free(t->data);
            break;
        }
        f->n++;
    }
    int ok = feof(fp);
    fclose(fp);
    return ok ? 0 : -1;
}

const FixtureTensor *fixture_get(const Fixture *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

void fixture_free(Fixture *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].data);
    f->n = 0;
}

double max_rel_diff(const float *a, const float *b, long n) {
    double mx = 0, md = 0;
    for (long i = 0; i < n; i++) {
        if (fabs(b[i]) > mx) mx = fabs(b[i]);
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d; // NaN propagates as a failure
    }
    return mx > 0 ? md / mx : md;
}
