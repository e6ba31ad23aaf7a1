// fuzz_config.c: libFuzzer target for the config parser over the real schema.
//
// Input: config file text, optionally followed by '\x01'-separated --set assignments
// ("TEXT\x01schedule.lr=0.1\x01model.depth=20"). Every accepted config is then read back
// through every getter and every module's option reader, as the commands do, and
// config_dump must give text that loads again to the same values.
//
// Built two ways: with -DFUZZ_MAIN as a libFuzzer binary (make fuzz), and #included by
// tests/test_fuzzreplay.c, which replays tests/fuzz/regressions/config/* in `make test`.
#include "cifar.h"
#include "cli.h"
#include "config.h"
#include "optim.h"
#include "resnet.h"
#include "schedule.h"
#include "train.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"

// An error must carry its code and a message.
static void fuzz_config_check_err(int rc, const Err *e) {
    if (rc) FUZZ_ASSERT(rc == e->code && e->msg[0] && memchr(e->msg, 0, sizeof e->msg));
}

// Every typed getter on every key of the schema; results are not checked, only that
// nothing crashes and that errors are well formed.
static void fuzz_config_getters(const Config *c) {
    static const char *const choices[] = {"A", "B", "sgd", "adam", "auto", "plain", NULL};
    for (const ConfigSection *s = c->schema; s->name; s++) {
        for (const ConfigKey *k = s->keys; k->key; k++) {
            Err e = {0};
            double d, list[8];
            long l;
            int b, n;
            const char *v = config_str(c, s->name, k->key);
            FUZZ_ASSERT(v && strlen(v) < CONFIG_MAX_VALUE);
            FUZZ_ASSERT(config_where(c, s->name, k->key)[0]);
            (void)config_is_set(c, s->name, k->key);
            fuzz_config_check_err(config_double(c, s->name, k->key, &d, &e), &e);
            fuzz_config_check_err(config_int(c, s->name, k->key, &l, &e), &e);
            fuzz_config_check_err(config_bool(c, s->name, k->key, &b, &e), &e);
            fuzz_config_check_err(config_doubles(c, s->name, k->key, list, 8, &n, &e), &e);
            fuzz_config_check_err(config_doubles(c, s->name, k->key, list, 0, &n, &e), &e);
            fuzz_config_check_err(config_choice(c, s->name, k->key, choices, &n, &e), &e);
            fuzz_config_check_err(config_double_in(c, s->name, k->key, 0, 1, &d, &e), &e);
            fuzz_config_check_err(config_int_in(c, s->name, k->key, -5, 5, &l, &e), &e);
        }
    }
    Err e = {0};
    double d;
    FUZZ_ASSERT(config_double(c, "nosuch", "key", &d, &e) == ERR_RUNTIME);
}

// The module readers, in the order trainer_create calls them, and the schedule for a few
// batch sizes' worth of steps per epoch.
static void fuzz_config_modules(const Config *c) {
    Err e = {0};
    TrainOptions to;
    DataOptions co;
    ModelOptions mo;
    OptimOptions oo;
    fuzz_config_check_err(train_options_from_config(&to, c, &e), &e);
    fuzz_config_check_err(dataset_options_from_config(&co, c, &e), &e);
    fuzz_config_check_err(model_options_from_config(&mo, c, &cifar10_shape, &e), &e);
    fuzz_config_check_err(optim_options_from_config(&oo, c, &e), &e);
    static const long spes[] = {1, 7, 391};
    for (int i = 0; i < 3; i++) {
        Schedule s;
        int rc = schedule_from_config(&s, c, spes[i], &e);
        fuzz_config_check_err(rc, &e);
        if (rc) continue;
        FUZZ_ASSERT(s.n > 0 && s.total > 0 && s.steps_per_epoch == spes[i]);
        const long at[] = {0, 1, s.total / 2, s.total - 1, s.total, s.total + 1000};
        for (int k = 0; k < 6; k++) {
            double lr, mom;
            schedule_at(&s, at[k], &lr, &mom);
        }
        FUZZ_ASSERT(schedule_epochs(&s) >= 1);
        schedule_free(&s);
    }
}

// config_dump's text must load again, into the same values.
static void fuzz_config_roundtrip(const Config *c) {
    static char dump[1 << 17], dump2[1 << 17];
    static Config c2;
    size_t n = config_dump(c, dump, sizeof dump);
    FUZZ_ASSERT(n < sizeof dump - 1);
    char small[64];
    FUZZ_ASSERT(config_dump(c, small, sizeof small) <= sizeof small - 1);
    FUZZ_ASSERT(config_dump(c, small, 1) == 0 && small[0] == 0);
    Err e = {0};
    config_init(&c2, c->schema);
    int rc = config_load_string(&c2, dump, "dump", &e);
    if (rc) fprintf(stderr, "dump does not reload: %s\n--- dump ---\n%s\n", e.msg, dump);
    FUZZ_ASSERT(rc == ERR_OK);
    for (const ConfigSection *s = c->schema; s->name; s++)
        for (const ConfigKey *k = s->keys; k->key; k++)
            FUZZ_ASSERT(!strcmp(config_str(c, s->name, k->key), config_str(&c2, s->name, k->key)));
    config_dump(&c2, dump2, sizeof dump2);
    FUZZ_ASSERT(!strcmp(dump, dump2));
}

// One input. Returns 0 (libFuzzer's convention); aborts on a finding.
static int fuzz_config_input(const uint8_t *data, size_t size) {
    static Config c, before;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    char *sets = memchr(text, '\x01', size);
    if (sets) *sets++ = 0;
    Err e = {0};
    config_init(&c, cli_schema());
    int rc = config_load_string(&c, text, "fuzz.cfg", &e);
    fuzz_config_check_err(rc, &e);
    if (rc) {
        // All or nothing: a failed load leaves the config untouched (still empty).
        FUZZ_ASSERT(c.n == 0);
    } else {
        // Each --set either applies or leaves the config exactly as it was.
        for (char *s = sets; s;) {
            char *next = strchr(s, '\x01');
            if (next) *next++ = 0;
            memcpy(&before, &c, sizeof c);
            rc = config_set(&c, s, &e);
            fuzz_config_check_err(rc, &e);
            if (rc) FUZZ_ASSERT(!memcmp(&before, &c, sizeof c));
            s = next;
        }
        fuzz_config_getters(&c);
        fuzz_config_modules(&c);
        fuzz_config_roundtrip(&c);
    }
    free(text);
    return 0;
}

#ifdef FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_config_input(data, size); }
#endif
