// statedict.c: ResNet <-> PyTorch state_dict in an .npz (include/statedict.h).
#include "statedict.h"
#include "npz.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const bn_buffers[3] = {"running_mean", "running_var", "num_batches_tracked"};

int statedict_count(const ResNet *m) { return m->ntensors + 3 * m->nbns; }

// The state_dict as arrays whose data points into m (and at *tracked for the counters).
// Returns the number of entries written to out (statedict_count(m) of them).
static int describe(ResNet *m, int64_t *tracked, NpzArray *out) {
    int k = 0, bn = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        NpzArray *a = &out[k++];
        memset(a, 0, sizeof *a);
        snprintf(a->name, sizeof a->name, "%s", t->name);
        a->dtype = NPZ_F32;
        a->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) a->shape[d] = t->shape[d];
        a->n = t->n;
        a->data = m->params + t->off;
        if (t->kind != PARAM_BN_BETA) continue;
        // The batchnorm whose bias this is: the model lists them in parameter order.
        const BnLayer *b = m->bns[bn++];
        size_t prefix = strlen(t->name) - strlen(".bias");
        for (int j = 0; j < 3; j++) {
            a = &out[k++];
            memset(a, 0, sizeof *a);
            snprintf(a->name, sizeof a->name, "%.*s.%s", (int)prefix, t->name, bn_buffers[j]);
            a->dtype = j < 2 ? NPZ_F32 : NPZ_I64;
            a->ndim = j < 2;
            a->shape[0] = b->C;
            a->n = j < 2 ? b->C : 1;
            a->data = j < 2 ? (void *)(m->stats + b->run + (long)j * b->C) : (void *)tracked;
        }
    }
    return k;
}

int statedict_write_npz(const ResNet *m, long batches_tracked, const char *path, Err *e) {
    int64_t tracked = batches_tracked;
    NpzArray *arrays = xcalloc((size_t)statedict_count(m), sizeof(NpzArray));
    int n = describe((ResNet *)m, &tracked, arrays); // read only: npz_write does not write through data
    int rc = npz_write(path, arrays, n, 1, e);
    free(arrays);
    return rc;
}

int statedict_read_npz(ResNet *m, const char *path, Err *e) {
    NpzArray *got;
    int ngot;
    if (npz_read(path, &got, &ngot, e)) return e->code;
    int64_t tracked;
    int n = statedict_count(m);
    NpzArray *want = xcalloc((size_t)n, sizeof(NpzArray));
    describe(m, &tracked, want);
    int rc = ERR_OK;
    for (int i = 0; i < n && !rc; i++) {
        const NpzArray *w = &want[i], *g = npz_find(got, ngot, w->name);
        if (!g) {
            char name[64];
            rc = err_set(e, ERR_INPUT, "%s: no array '%s' (not a state_dict of %s)", path, w->name,
                         model_name(&m->opt, name, sizeof name));
            break;
        }
        int same = g->dtype == w->dtype && g->ndim == w->ndim;
        for (int d = 0; same && d < w->ndim; d++) same = g->shape[d] == w->shape[d];
        if (!same) {
            rc = err_set(e, ERR_INPUT, "%s: array '%s' has another shape or dtype than the model's", path, w->name);
            break;
        }
        if (w->dtype == NPZ_F32) memcpy(w->data, g->data, sizeof(float) * (size_t)w->n);
    }
    if (!rc && ngot != n)
        rc = err_set(e, ERR_INPUT, "%s: %d arrays, the model's state_dict has %d", path, ngot, n);
    free(want);
    npz_free(got, ngot);
    return rc;
}
