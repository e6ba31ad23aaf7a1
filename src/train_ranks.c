// train_ranks.c: the ranks' start-up agreement (trainer_agree_ranks): one collective that
// compares, rank by rank, the effective config, the data and the state each rank starts
// from, so that ranks which would mix gradients of different runs or steps (and then hang
// in a collective of another size, or die in MPI_ERR_TRUNCATE) are refused before the
// first step with a message that names them.
#include "dist.h"
#include "train.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

// Keys that may differ between ranks: where this node has the files, its threads, and how
// its progress is drawn. Every other key changes what the ranks compute together.
static const char *const per_rank_keys[] = {"data.dir", "data.labels", "train.threads", "train.progress", NULL};

// Of one rank: what it starts from, then one hash per config key.
enum { R_STEP, R_STATE, R_TRAIN, R_TEST, R_NKEYS, R_KEYS, MAX_KEYS = 160, R_LEN = R_KEYS + MAX_KEYS };

static uint32_t crc_of(uint32_t crc, const void *p, size_t n) {
    return (uint32_t)crc32_z(crc, p, n);
}

static uint32_t data_crc(const Dataset *d) {
    uint32_t c = crc32_z(0, NULL, 0);
    int dims[4] = {d->n, d->channels, d->height, d->width};
    c = crc_of(c, dims, sizeof dims);
    if (d->labels) c = crc_of(c, d->labels, (size_t)d->n);
    if (d->pixels) c = crc_of(c, d->pixels, (size_t)d->n * dataset_image_bytes(d));
    return c;
}

// Weights, running statistics, optimiser state, loop position, RNG streams and the epoch's
// order: everything a checkpoint restores.
static uint32_t state_crc(const Trainer *t) {
    uint32_t c = crc32_z(0, NULL, 0);
    c = crc_of(c, t->net.params, sizeof(float) * (size_t)t->net.nparams);
    c = crc_of(c, t->net.stats, sizeof(float) * (size_t)t->net.nstats);
    c = crc_of(c, t->optim.v, sizeof(float) * (size_t)t->optim.n);
    if (t->optim.s) c = crc_of(c, t->optim.s, sizeof(float) * (size_t)t->optim.n);
    long loop[5] = {t->step, t->epoch, t->loader.pos, t->loader.in_epoch, t->optim.step};
    c = crc_of(c, loop, sizeof loop);
    Rng rngs[3] = {t->rng_init, t->loader.shuffle, t->loader.aug};
    c = crc_of(c, rngs, sizeof rngs);
    // The order is the epoch's only within one (before, it is not yet drawn).
    return t->loader.in_epoch ? crc_of(c, t->loader.perm, sizeof(int) * (size_t)t->train.n) : c;
}

// One hash per "key = value" line of the config dump (in the schema's order, so the same
// key at the same index on every rank), its section.key name in names[i]; returns the count.
static int key_hashes(const char *text, uint64_t *h, char names[][48]) {
    char section[32] = "";
    int n = 0;
    for (const char *p = text; *p && n < MAX_KEYS;) {
        size_t len = strcspn(p, "\n");
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        p += len + (p[len] == '\n');
        if (line[0] == '[') {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
            continue;
        }
        const char *eq = strstr(line, " = ");
        if (!eq && !(eq = strchr(line, '='))) continue;
        int klen = (int)(eq - line);
        while (klen > 0 && line[klen - 1] == ' ') klen--;
        snprintf(names[n], 48, "%s.%.*s", section, klen, line);
        int skip = 0;
        for (int i = 0; per_rank_keys[i]; i++) skip |= !strcmp(names[n], per_rank_keys[i]);
        h[n] = skip ? 0 : crc_of(crc32_z(0, NULL, 0), line, strlen(line));
        n++;
    }
    return n;
}

// Appends "rank 1" or "ranks 1, 3, 4" (the ranks with bad[r] set) to buf; returns how many.
static int rank_list(char *buf, size_t cap, const int *bad, int world) {
    int count = 0;
    for (int r = 0; r < world; r++) count += bad[r];
    size_t at = strlen(buf);
    at += (size_t)snprintf(buf + at, at < cap ? cap - at : 0, "rank%s", count > 1 ? "s" : "");
    int k = 0;
    for (int r = 0; r < world && at < cap; r++)
        if (bad[r]) at += (size_t)snprintf(buf + at, cap - at, "%s %d", k++ ? "," : "", r);
    return count;
}

int trainer_agree_ranks(const Trainer *t, const char *config_text, Err *e) {
    const int world = dist_world();
    if (world == 1) return ERR_OK;
    static char names[MAX_KEYS][48];
    uint64_t mine[R_LEN] = {0};
    mine[R_STEP] = (uint64_t)t->step;
    mine[R_STATE] = state_crc(t);
    mine[R_TRAIN] = data_crc(&t->train);
    mine[R_TEST] = data_crc(&t->test);
    mine[R_NKEYS] = (uint64_t)key_hashes(config_text, mine + R_KEYS, names);
    uint64_t *all = xmalloc(sizeof(uint64_t) * R_LEN * (size_t)world);
    dist_gather_u64(mine, R_LEN, all);
    int *bad = xcalloc((size_t)world, sizeof(int));
    int any = 0, rc = ERR_OK;
    char msg[sizeof e->msg] = "";
    // The config first: a rank with another config also trains on other data or state.
    char keys[400] = "";
    for (int r = 1; r < world; r++) {
        const uint64_t *o = all + (size_t)r * R_LEN;
        if (o[R_NKEYS] != all[R_NKEYS]) {
            bad[r] = any = 1;
            continue;
        }
        for (uint64_t k = 0; k < o[R_NKEYS]; k++)
            if (o[R_KEYS + k] != all[R_KEYS + k]) {
                bad[r] = any = 1;
                if (!strstr(keys, names[k]) && strlen(keys) + strlen(names[k]) + 3 < sizeof keys)
                    snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", keys[0] ? ", " : "", names[k]);
            }
    }
    if (any) {
        snprintf(msg, sizeof msg, "ranks disagree at start-up: the effective config of ");
        rank_list(msg, sizeof msg, bad, world);
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
                 " differs from rank 0's%s%s; every rank must run the same config (only data.dir, data.labels, "
                 "train.threads and train.progress may differ)",
                 keys[0] ? " in " : "", keys);
        rc = ERR_INPUT;
    }
    for (int r = 1; !rc && r < world; r++) {
        const uint64_t *o = all + (size_t)r * R_LEN;
        bad[r] = o[R_TRAIN] != all[R_TRAIN] || o[R_TEST] != all[R_TEST];
        any |= bad[r];
    }
    if (!rc && any) {
        snprintf(msg, sizeof msg, "ranks disagree at start-up: ");
        rank_list(msg, sizeof msg, bad, world);
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
                 " loaded other data than rank 0 under the same config (other files in data.dir); every rank needs "
                 "the same data set");
        rc = ERR_INPUT;
    }
    for (int r = 1; !rc && r < world; r++) {
        const uint64_t *o = all + (size_t)r * R_LEN;
        bad[r] = o[R_STEP] != all[R_STEP] || o[R_STATE] != all[R_STATE];
        any |= bad[r];
    }
    if (!rc && any) {
        snprintf(msg, sizeof msg, "ranks disagree at start-up: they start from different states (");
        for (int r = 0; r < world && strlen(msg) + 48 < sizeof msg; r++)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%srank %d: step %llu, state %08llx", r ? "; " : "",
                     r, (unsigned long long)all[(size_t)r * R_LEN + R_STEP],
                     (unsigned long long)all[(size_t)r * R_LEN + R_STATE]);
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "): ");
        const int n = rank_list(msg, sizeof msg, bad, world);
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
                 " differ%s from rank 0; with --resume every rank must read the same checkpoint (a node with an older "
                 "copy of the run directory?)",
                 n == 1 ? "s" : "");
        rc = ERR_INPUT;
    }
    free(all);
    free(bad);
    return rc ? err_set(e, rc, "%s", msg) : ERR_OK;
}
