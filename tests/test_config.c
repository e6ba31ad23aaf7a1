// test_config.c: the config module against a small schema of its own, so these tests do not
// move when the real modules change their keys. Every bad input checks both the return code
// and the message, since the message is what the user acts on.
#include "config.h"
#include "test.h"
#include <stdlib.h>
#include <sys/stat.h>

static const ConfigKey train_keys[] = {
    {"batch_size", "128", "examples per SGD step"},
    {"epochs", "30", "length of the run"},
    {"augment", "true", "random crop and flip"},
    {"data_dir", "data/cifar-10-batches-bin", "where the CIFAR-10 binaries are"},
    {"optimizer", "sgd", "sgd | adam | adamw"},
    {"note", "", "free text"},
    {NULL, NULL, NULL}};
static const ConfigKey schedule_keys[] = {
    {"max_lr", "3.0", "peak learning rate"},
    {"min_lr", "0.1", "floor learning rate"},
    {"use_clr_beta", "", "div, pct, mom_max, mom_min"},
    {"momentum", "0.95, 0.85", "momentum range"},
    {"weight_decay", "1e-4", "L2 penalty"},
    {NULL, NULL, NULL}};
static const ConfigSection schema[] = {
    {"train", train_keys}, {"schedule", schedule_keys}, {NULL, NULL}};

// A Config is ~2 MB: too big for the stack of a test, so each test gets one from the heap.
static Config *fresh(void) {
    Config *c = malloc(sizeof *c);
    config_init(c, schema);
    return c;
}

static const char *write_file(const char *name, const char *text, size_t len) {
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(text, 1, len, f);
    fclose(f);
    return path;
}

// Loads text expecting ERR_INPUT with a message containing want.
static void check_load_error(const char *text, const char *want) {
    Config *c = fresh();
    Err e = {0};
    int rc = config_load_string(c, text, "t.cfg", &e);
    CHECK_EQ_INT(rc, ERR_INPUT);
    CHECK_EQ_INT(e.code, ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, want);
    CHECK_EQ_INT(c->n, 0); // all-or-nothing
    free(c);
}

static void check_set_error(const char *assignment, const char *want) {
    Config *c = fresh();
    Err e = {0};
    CHECK_EQ_INT(config_set(c, assignment, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, want);
    CHECK_EQ_INT(c->n, 0);
    free(c);
}

static void test_defaults(void) {
    test_begin("config defaults");
    Config *c = fresh();
    Err e = {0};
    CHECK(!strcmp(config_str(c, "train", "data_dir"), "data/cifar-10-batches-bin"));
    CHECK(!strcmp(config_str(c, "train", "note"), ""));
    CHECK(!strcmp(config_where(c, "train", "epochs"), "default"));
    CHECK_EQ_INT(config_is_set(c, "train", "epochs"), 0);
    long n = 0;
    CHECK_EQ_INT(config_int(c, "train", "batch_size", &n, &e), ERR_OK);
    CHECK_EQ_INT(n, 128);
    double x = 0;
    CHECK_EQ_INT(config_double(c, "schedule", "weight_decay", &x, &e), ERR_OK);
    CHECK_CLOSE(x, 1e-4, 0, 1e-15);
    int b = 0;
    CHECK_EQ_INT(config_bool(c, "train", "augment", &b, &e), ERR_OK);
    CHECK_EQ_INT(b, 1);
    double v[4];
    int k = -1;
    CHECK_EQ_INT(config_doubles(c, "schedule", "momentum", v, 4, &k, &e), ERR_OK);
    CHECK_EQ_INT(k, 2);
    CHECK_CLOSE(v[0], 0.95, 0, 1e-15);
    CHECK_CLOSE(v[1], 0.85, 0, 1e-15);
    CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", v, 4, &k, &e), ERR_OK);
    CHECK_EQ_INT(k, 0);
    CHECK(c->path[0] == 0);
    free(c);
}

static void test_good_file(void) {
    test_begin("config good file: comments, whitespace, lists, CRLF");
    const char *text = "\xEF\xBB\xBF# a run config\n"               // 1 (with a BOM)
                       "; another comment style\n"                    // 2
                       "\n"                                           // 3
                       "  [ train ]   # trailing comment\n"           // 4
                       "\tbatch_size\t=\t256   \n"                    // 5
                       "epochs=50 ; half a run\r\n"                   // 6
                       "augment = OFF\n"                              // 7
                       "note = #ff0000 a;b stays   # but this goes\n" // 8
                       "   \n"                                        // 9
                       "[schedule]\n"                                 // 10
                       "use_clr_beta = 10, 13.68, 0.95, 0.8\n"        // 11
                       "max_lr =\n"                                   // 12
                       "    # indented comment\n"                     // 13
                       "[train]\n"                                    // 14 (reopened)
                       "optimizer = adamw";                           // 15 (no newline)
    Config *c = fresh();
    Err e = {0};
    int rc = config_load_string(c, text, "good.cfg", &e);
    CHECK_EQ_INT(rc, ERR_OK);
    if (rc) printf("  message: %s\n", e.msg);
    CHECK(!strcmp(config_str(c, "train", "batch_size"), "256"));
    CHECK(!strcmp(config_str(c, "train", "epochs"), "50"));
    CHECK(!strcmp(config_str(c, "train", "note"), "#ff0000 a;b stays"));
    CHECK(!strcmp(config_str(c, "schedule", "max_lr"), ""));
    CHECK(!strcmp(config_str(c, "train", "optimizer"), "adamw"));
    CHECK(!strcmp(config_where(c, "train", "batch_size"), "good.cfg:5"));
    CHECK(!strcmp(config_where(c, "train", "epochs"), "good.cfg:6"));
    CHECK(!strcmp(config_where(c, "schedule", "use_clr_beta"), "good.cfg:11"));
    CHECK(!strcmp(config_where(c, "train", "optimizer"), "good.cfg:15"));
    CHECK(!strcmp(config_where(c, "schedule", "min_lr"), "default"));
    CHECK_EQ_INT(config_is_set(c, "train", "batch_size"), 1);
    CHECK_EQ_INT(config_is_set(c, "schedule", "max_lr"), 1); // set, to empty
    CHECK_EQ_INT(config_is_set(c, "schedule", "min_lr"), 0);
    long n = 0;
    CHECK_EQ_INT(config_int(c, "train", "epochs", &n, &e), ERR_OK);
    CHECK_EQ_INT(n, 50);
    int b = 1;
    CHECK_EQ_INT(config_bool(c, "train", "augment", &b, &e), ERR_OK);
    CHECK_EQ_INT(b, 0);
    double v[4] = {0};
    int k = 0;
    CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", v, 4, &k, &e), ERR_OK);
    CHECK_EQ_INT(k, 4);
    CHECK_CLOSE(v[0], 10, 0, 0);
    CHECK_CLOSE(v[1], 13.68, 0, 1e-15);
    CHECK_CLOSE(v[2], 0.95, 0, 1e-15);
    CHECK_CLOSE(v[3], 0.8, 0, 1e-15);
    // An empty file and a comments-only file are fine and set nothing.
    CHECK_EQ_INT(config_load_string(c, "", "empty.cfg", &e), ERR_OK);
    CHECK_EQ_INT(config_load_string(c, "# nothing\n\n[train]\n", "c.cfg", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "train", "batch_size"), "256"));
    // A value's first character never starts a comment.
    CHECK_EQ_INT(config_load_string(c, "[train]\nnote = # kept;too ; gone\n", "n.cfg", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "train", "note"), "# kept;too"));
    CHECK_EQ_INT(config_load_string(c, "[train]\nnote=;x #y\n", "n.cfg", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "train", "note"), ";x"));
    free(c);
}

static void test_load_file(void) {
    test_begin("config load from a file");
    const char *text = "[train]\nbatch_size = 64\n\n[schedule]\nmax_lr = 1.5\n";
    const char *path = write_file("a.cfg", text, strlen(text));
    CHECK(path != NULL);
    char want[450];
    snprintf(want, sizeof want, "%s:5", path);
    Config *c = fresh();
    Err e = {0};
    int rc = config_load(c, path, &e);
    CHECK_EQ_INT(rc, ERR_OK);
    if (rc) printf("  message: %s\n", e.msg);
    CHECK(!strcmp(c->path, path));
    CHECK(!strcmp(config_where(c, "schedule", "max_lr"), want));
    double x = 0;
    CHECK_EQ_INT(config_double(c, "schedule", "max_lr", &x, &e), ERR_OK);
    CHECK_CLOSE(x, 1.5, 0, 0);
    // A second file overrides the first; keys it does not mention keep their values.
    const char *p2 = write_file("b.cfg", "[train]\nbatch_size = 32\n", 23);
    CHECK_EQ_INT(config_load(c, p2, &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "train", "batch_size"), "32"));
    CHECK(!strcmp(config_str(c, "schedule", "max_lr"), "1.5"));
    CHECK_EQ_INT(c->n, 2);

    // Missing file, directory, NUL byte, too-long path.
    snprintf(want, sizeof want, "%s/nope.cfg", test_tmpdir());
    char msg[600];
    snprintf(msg, sizeof msg, "%s: cannot open config: No such file or directory", want);
    Config *d = fresh();
    CHECK_EQ_INT(config_load(d, want, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, msg);
    const char *dir = test_tmpdir();
    CHECK_EQ_INT(config_load(d, dir, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, dir);
    CHECK_STR_CONTAINS(e.msg, "config");
    CHECK_STR_CONTAINS(e.msg, "directory");
    const char *pn = write_file("nul.cfg", "[train]\nepochs = 3\0 4\n", 22);
    CHECK_EQ_INT(config_load(d, pn, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "nul.cfg:2: NUL byte");
    // Paths up to 4,032 characters are used whole (issue 35: a config path of 256 or more
    // characters was refused); a longer one is refused before it is opened.
    static char longp[4200];
    int lp = snprintf(longp, sizeof longp, "%s", dir);
    while (lp + 201 + 10 <= 4032) {
        lp += snprintf(longp + lp, sizeof longp - (size_t)lp, "/%0200d", 0);
        mkdir(longp, 0755);
    }
    snprintf(longp + lp, sizeof longp - (size_t)lp, "/%0*d.cfg", 4032 - lp - 5, 0); // 4,032 in all
    FILE *lf = fopen(longp, "w");
    if (lf) fputs("[train]\nepochs = 7\n", lf), fclose(lf);
    CHECK_MSG(config_load(d, longp, &e) == ERR_OK, "%s", e.msg);
    CHECK_MSG(!strcmp(d->path, longp) && strlen(longp) == 4032, "the config's path is kept whole (%zu characters)",
              strlen(longp));
    CHECK(!strcmp(config_str(d, "train", "epochs"), "7"));
    memset(longp + strlen(longp), 'x', 4100 - strlen(longp));
    longp[4100] = 0;
    config_init(d, schema);
    CHECK_EQ_INT(config_load(d, longp, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "config file: path too long (4100 characters; at most 4032)");
    CHECK_EQ_INT(strlen(d->path), 0);
    CHECK_EQ_INT(d->n, 0);
    CHECK(d->path[0] == 0);
    free(d);
    free(c);
}

static void test_syntax_errors(void) {
    test_begin("config syntax errors");
    check_load_error("[train]\nbatch_size 128\n",
                     "t.cfg:2: missing '=' in 'batch_size 128' (expected 'key = value')");
    check_load_error("# c\n[train\nepochs = 1\n", "t.cfg:2: unterminated '[' in '[train'");
    check_load_error("[train] epochs = 1\n", "t.cfg:1: unexpected text after ']': 'epochs = 1'");
    check_load_error("\n\nepochs = 1\n[train]\n",
                     "t.cfg:3: key 'epochs' comes before any [section] header");
    check_load_error("[train]\n = 5\n", "t.cfg:2: empty key before '='");
    check_load_error("[ ]\n", "t.cfg:1: empty section name '[]'");
    check_load_error("[train]\nepochs = 1\naugment = no\n\nepochs = 2\n",
                     "t.cfg:5: duplicate key 'epochs' in [train]; first set at line 2");
    // Reopening a section does not hide a duplicate.
    check_load_error("[train]\nepochs = 1\n[schedule]\n[train]\nepochs = 2\n",
                     "t.cfg:5: duplicate key 'epochs' in [train]; first set at line 2");
    // CRLF files count lines the same way.
    check_load_error("[train]\r\n\r\nepochs\r\n", "t.cfg:3: missing '='");

    // A value over CONFIG_MAX_VALUE-1 characters is an error, not a silent truncation.
    char *big = malloc(CONFIG_MAX_VALUE + 64);
    int k = sprintf(big, "[train]\nnote = ");
    memset(big + k, 'v', CONFIG_MAX_VALUE);
    strcpy(big + k + CONFIG_MAX_VALUE, "\n");
    check_load_error(big, "t.cfg:2: train.note: value is too long (4096 characters, limit 4095)");
    // Exactly at the limit is fine.
    big[k + CONFIG_MAX_VALUE - 1] = '\n';
    big[k + CONFIG_MAX_VALUE] = 0;
    Config *c = fresh();
    Err e = {0};
    CHECK_EQ_INT(config_load_string(c, big, "t.cfg", &e), ERR_OK);
    CHECK_EQ_INT((long)strlen(config_str(c, "train", "note")), CONFIG_MAX_VALUE - 1);
    free(c);
    free(big);

    // A 100 kB line: a clear error with a short quote, never an overflow.
    size_t n = 100000;
    char *huge = malloc(n + 32);
    k = sprintf(huge, "[train]\n");
    memset(huge + k, 'k', n);
    strcpy(huge + k + n, " = 1\n");
    check_load_error(huge, "t.cfg:2: unknown key 'kkkk");
    huge[k + n] = '\n'; // now no '=' at all
    check_load_error(huge, "t.cfg:2: missing '=' in 'kkkk");
    check_load_error(huge, "...'");
    huge[k] = '[';
    check_load_error(huge, "t.cfg:2: unterminated '['");
    free(huge);
}

static void test_unknown_names(void) {
    test_begin("config unknown sections and keys, with suggestions");
    check_load_error("[schedule]\n\nlr_max = 3\n",
                     "t.cfg:3: unknown key 'lr_max' in [schedule]; did you mean 'max_lr'?");
    check_load_error("[schedule]\nmax_lrr = 3\n",
                     "t.cfg:2: unknown key 'max_lrr' in [schedule]; did you mean 'max_lr'?");
    check_load_error("[schedule]\nMAX_LR = 3\n", "did you mean 'max_lr'?");
    check_load_error("[train]\nbatchsize = 3\n", "did you mean 'batch_size'?");
    check_load_error("[train]\nbacth_size = 3\n", "did you mean 'batch_size'?");
    check_load_error("[schedule]\nwieght_decay = 0\n", "did you mean 'weight_decay'?");
    // The right key in the wrong section.
    check_load_error("[train]\nmax_lr = 3\n",
                     "t.cfg:2: unknown key 'max_lr' in [train]; it belongs in [schedule]");
    // Nothing close: no guess, but the valid keys are listed.
    check_load_error("[schedule]\nzzz = 3\n",
                     "t.cfg:2: unknown key 'zzz' in [schedule]; valid keys: max_lr, min_lr, "
                     "use_clr_beta, momentum, weight_decay");
    check_load_error("[train]\nlr = 1\n", "valid keys: batch_size,");
    // Sections.
    check_load_error("[trian]\n", "t.cfg:1: unknown section [trian]; did you mean [train]?");
    check_load_error("\n[schedul]\n",
                     "t.cfg:2: unknown section [schedul]; did you mean [schedule]?");
    check_load_error("[model]\n",
                     "t.cfg:1: unknown section [model]; valid sections: [train], [schedule]");
}

static void test_set(void) {
    test_begin("config --set overrides");
    Config *c = fresh();
    Err e = {0};
    CHECK_EQ_INT(config_load_string(c, "[train]\nepochs = 50\n", "f.cfg", &e), ERR_OK);
    CHECK_EQ_INT(config_set(c, "train.epochs=60", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "train", "epochs"), "60"));
    CHECK(!strcmp(config_where(c, "train", "epochs"), "--set"));
    CHECK_EQ_INT(config_set(c, " train.epochs = 70 ", &e), ERR_OK); // spaces trimmed
    CHECK(!strcmp(config_str(c, "train", "epochs"), "70"));
    CHECK_EQ_INT(config_set(c, "schedule.use_clr_beta=10, 13.68, 0.95, 0.8", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "schedule", "use_clr_beta"), "10, 13.68, 0.95, 0.8"));
    CHECK_EQ_INT(config_set(c, "train.note=#a=b.c;x", &e), ERR_OK); // only the first '=' splits
    CHECK(!strcmp(config_str(c, "train", "note"), "#a=b.c;x"));
    CHECK_EQ_INT(c->n, 3); // overrides replace, they do not pile up
    CHECK_EQ_INT(config_set(c, "train.note=", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "train", "note"), ""));
    CHECK_EQ_INT(config_is_set(c, "train", "note"), 0);
    CHECK_EQ_INT(c->n, 2);

    test_begin("config --set key= clears the key back to its default (regression)");
    // Before, it stored an empty value: a policy switch then failed on the unused key.
    CHECK_EQ_INT(config_load_string(c, "[schedule]\nmax_lr = 0.8\n", "h.cfg", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "schedule", "max_lr"), "0.8"));
    CHECK_EQ_INT(config_set(c, "schedule.max_lr=", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "schedule", "max_lr"), "3.0")); // the schema's default
    CHECK_EQ_INT(config_is_set(c, "schedule", "max_lr"), 0);
    CHECK(!strcmp(config_where(c, "schedule", "max_lr"), "default"));
    CHECK_EQ_INT(config_set(c, " schedule.max_lr =  ", &e), ERR_OK); // clearing twice: no error
    CHECK_EQ_INT(config_set(c, "schedule.max_lr=1", &e), ERR_OK);    // and it can be set again
    CHECK(!strcmp(config_str(c, "schedule", "max_lr"), "1"));
    CHECK_EQ_INT(config_set(c, "schedule.max_lrr=", &e), ERR_INPUT); // still a known key only
    CHECK_STR_CONTAINS(e.msg, "did you mean");
    // The other entries are untouched by a clear in between.
    CHECK(!strcmp(config_str(c, "train", "epochs"), "70"));
    CHECK(!strcmp(config_str(c, "schedule", "use_clr_beta"), "10, 13.68, 0.95, 0.8"));
    // A file loaded after --set wins in turn.
    CHECK_EQ_INT(config_load_string(c, "[train]\nepochs = 80\n", "g.cfg", &e), ERR_OK);
    CHECK(!strcmp(config_str(c, "train", "epochs"), "80"));
    CHECK(!strcmp(config_where(c, "train", "epochs"), "g.cfg:2"));
    long n = 0;
    CHECK_EQ_INT(config_set(c, "train.epochs=abc", &e), ERR_OK); // text is checked on get
    CHECK_EQ_INT(config_int(c, "train", "epochs", &n, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "--set: train.epochs: expected an integer, got 'abc'");
    free(c);

    const char *form = "expected the form --set section.key=value";
    check_set_error("epochs=5", "--set 'epochs=5': expected the form --set section.key=value");
    check_set_error("train.epochs", form);
    check_set_error("train=a.b", form);
    check_set_error("", form);
    check_set_error(".epochs=5", "(section and key must not be empty)");
    check_set_error("train.=5", form);
    check_set_error("schedule.lr_max=1", "--set: unknown key 'schedule.lr_max'; did you mean "
                                         "'schedule.max_lr'?");
    check_set_error("train.max_lr=1", "--set: unknown key 'train.max_lr'; did you mean "
                                      "'schedule.max_lr'?");
    check_set_error("train.zzz=1", "--set: unknown key 'train.zzz'; valid keys: batch_size");
    check_set_error("shedule.max_lr=1",
                    "--set: unknown section 'shedule'; did you mean 'schedule'?");
    check_set_error("model.depth=56", "--set: unknown section 'model'; valid sections:");
    check_set_error("train.note=a # b", "--set: train.note: value contains '#' after a space");
    check_set_error("train.note=a\tb ;c", "value contains ';' after a space");
    check_set_error("train.note=a\nb", "--set: train.note: value contains a control character");
    char big[CONFIG_MAX_VALUE + 40];
    int k = sprintf(big, "train.note=");
    memset(big + k, 'v', CONFIG_MAX_VALUE);
    big[k + CONFIG_MAX_VALUE] = 0;
    check_set_error(big, "--set: train.note: value is too long (4096 characters, limit 4095)");
}

static void test_types(void) {
    test_begin("config typed getters");
    Config *c = fresh();
    Err e = {0};
    double x = -1;
    long n = -1;
    int b = -1;
#define SET(a) CHECK_EQ_INT(config_set(c, a, &e), ERR_OK)
    SET("schedule.max_lr=2.5e-1 ");
    CHECK_EQ_INT(config_double(c, "schedule", "max_lr", &x, &e), ERR_OK);
    CHECK_CLOSE(x, 0.25, 0, 0);
    const char *bad_num[] = {"abc", "1.5x", "1,5", "1 2", NULL}; // (an empty --set clears the key)
    for (int i = 0; bad_num[i]; i++) {
        char a[64], want[128];
        snprintf(a, sizeof a, "schedule.max_lr=%s", bad_num[i]);
        SET(a);
        x = -7;
        CHECK_EQ_INT(config_double(c, "schedule", "max_lr", &x, &e), ERR_INPUT);
        snprintf(want, sizeof want, "--set: schedule.max_lr: expected a number, got '%s'",
                 bad_num[i]);
        CHECK_STR_CONTAINS(e.msg, want);
        CHECK_CLOSE(x, -7, 0, 0); // untouched on error
    }
    // Empty from a file: not a number.
    Config *f = fresh();
    CHECK_EQ_INT(config_load_string(f, "[schedule]\nmax_lr =\n[train]\nepochs =\n", "f.cfg", &e), ERR_OK);
    x = -7;
    CHECK_EQ_INT(config_double(f, "schedule", "max_lr", &x, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "f.cfg:2: schedule.max_lr: expected a number, got ''");
    CHECK_CLOSE(x, -7, 0, 0);
    n = -7;
    CHECK_EQ_INT(config_int(f, "train", "epochs", &n, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "f.cfg:4: train.epochs: expected an integer, got ''");
    CHECK_EQ_INT(n, -7);
    free(f);
    const char *nonfinite[] = {"nan", "inf", "-Infinity", "1e999", NULL};
    for (int i = 0; nonfinite[i]; i++) {
        char a[64], want[128];
        snprintf(a, sizeof a, "schedule.max_lr=%s", nonfinite[i]);
        SET(a);
        CHECK_EQ_INT(config_double(c, "schedule", "max_lr", &x, &e), ERR_INPUT);
        snprintf(want, sizeof want, "schedule.max_lr: expected a finite number, got '%s'",
                 nonfinite[i]);
        CHECK_STR_CONTAINS(e.msg, want);
    }

    SET("train.epochs=50000");
    CHECK_EQ_INT(config_int(c, "train", "epochs", &n, &e), ERR_OK);
    CHECK_EQ_INT(n, 50000);
    SET("train.epochs=-3");
    CHECK_EQ_INT(config_int(c, "train", "epochs", &n, &e), ERR_OK);
    CHECK_EQ_INT(n, -3);
    const char *bad_int[] = {"1e3", "1.5", "12abc", "0x10", "five", NULL};
    for (int i = 0; bad_int[i]; i++) {
        char a[64], want[128];
        snprintf(a, sizeof a, "train.epochs=%s", bad_int[i]);
        SET(a);
        n = -7;
        CHECK_EQ_INT(config_int(c, "train", "epochs", &n, &e), ERR_INPUT);
        snprintf(want, sizeof want, "--set: train.epochs: expected an integer, got '%s'",
                 bad_int[i]);
        CHECK_STR_CONTAINS(e.msg, want);
        CHECK_EQ_INT(n, -7);
    }
    SET("train.epochs=99999999999999999999999");
    CHECK_EQ_INT(config_int(c, "train", "epochs", &n, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "expected an integer in the range of long");

    const char *yes[] = {"true", "1", "yes", "on", "TRUE", "Yes", "On", NULL};
    const char *no[] = {"false", "0", "no", "off", "False", "NO", "oFF", NULL};
    for (int i = 0; yes[i]; i++) {
        char a[64];
        snprintf(a, sizeof a, "train.augment=%s", yes[i]);
        SET(a);
        b = -1;
        CHECK_EQ_INT(config_bool(c, "train", "augment", &b, &e), ERR_OK);
        CHECK_EQ_INT(b, 1);
        snprintf(a, sizeof a, "train.augment=%s", no[i]);
        SET(a);
        CHECK_EQ_INT(config_bool(c, "train", "augment", &b, &e), ERR_OK);
        CHECK_EQ_INT(b, 0);
    }
    SET("train.augment=maybe");
    b = -1;
    CHECK_EQ_INT(config_bool(c, "train", "augment", &b, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "--set: train.augment: expected true/false (or yes/no, on/off, "
                              "1/0), got 'maybe'");
    CHECK_EQ_INT(b, -1);

    // Lists.
    double v[4];
    int k = -1;
    SET("schedule.use_clr_beta=  1,2 ,  3e-1,-4  ");
    CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", v, 4, &k, &e), ERR_OK);
    CHECK_EQ_INT(k, 4);
    CHECK_CLOSE(v[2], 0.3, 0, 1e-15);
    CHECK_CLOSE(v[3], -4, 0, 0);
    SET("schedule.use_clr_beta=7");
    CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", v, 4, &k, &e), ERR_OK);
    CHECK_EQ_INT(k, 1);
    SET("schedule.use_clr_beta=   ");
    CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", v, 4, &k, &e), ERR_OK);
    CHECK_EQ_INT(k, 0);
    CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", NULL, 0, &k, &e), ERR_OK);
    SET("schedule.use_clr_beta=1,2,3,4,5");
    k = -1;
    CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", v, 4, &k, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "--set: schedule.use_clr_beta: at most 4 numbers allowed, got 5");
    CHECK_EQ_INT(k, -1);
    struct {
        const char *value, *want;
    } bad_lists[] = {
        {"1, x, 3", "schedule.use_clr_beta: expected a comma-separated list of numbers, "
                    "item 2 is 'x'"},
        {"1 2, 3", "item 1 is '1 2'"},
        {"1,,3", "schedule.use_clr_beta: item 2 of the list is empty"},
        {"1, 2,", "item 3 of the list is empty"},
        {", 1", "item 1 of the list is empty"},
        {"1, nan", "list of finite numbers, item 2 is 'nan'"},
        {NULL, NULL}};
    for (int i = 0; bad_lists[i].value; i++) {
        char a[64];
        snprintf(a, sizeof a, "schedule.use_clr_beta=%s", bad_lists[i].value);
        SET(a);
        CHECK_EQ_INT(config_doubles(c, "schedule", "use_clr_beta", v, 4, &k, &e), ERR_INPUT);
        CHECK_STR_CONTAINS(e.msg, bad_lists[i].want);
        CHECK_STR_CONTAINS(e.msg, "--set: ");
    }

    // Choices.
    const char *const opts[] = {"sgd", "adam", "adamw", NULL};
    int which = -1;
    CHECK_EQ_INT(config_choice(c, "train", "optimizer", opts, &which, &e), ERR_OK); // default
    CHECK_EQ_INT(which, 0);
    SET("train.optimizer=adamw");
    CHECK_EQ_INT(config_choice(c, "train", "optimizer", opts, &which, &e), ERR_OK);
    CHECK_EQ_INT(which, 2);
    SET("train.optimizer=rmsprop");
    which = -1;
    CHECK_EQ_INT(config_choice(c, "train", "optimizer", opts, &which, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "--set: train.optimizer: expected one of {sgd, adam, adamw}, got "
                              "'rmsprop'");
    CHECK_EQ_INT(which, -1);
    SET("train.optimizer=adamm");
    CHECK_EQ_INT(config_choice(c, "train", "optimizer", opts, &which, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "got 'adamm'; did you mean 'adam'?");
#undef SET
    free(c);
}

static void test_ranges_and_where(void) {
    test_begin("config range getters and where");
    Config *c = fresh();
    Err e = {0};
    const char *text = "[train]\n"
                       "batch_size = 0\n"      // 2
                       "epochs = 30\n"         // 3
                       "[schedule]\n"
                       "max_lr = 1.0000001\n"  // 5
                       "min_lr = 0.5\n";       // 6
    CHECK_EQ_INT(config_load_string(c, text, "configs/a.cfg", &e), ERR_OK);
    long n = -1;
    CHECK_EQ_INT(config_int_in(c, "train", "batch_size", 1, 65536, &n, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "configs/a.cfg:2: train.batch_size: must be in [1, 65536], got 0");
    CHECK_EQ_INT(n, -1);
    CHECK_EQ_INT(config_int_in(c, "train", "epochs", 1, 30, &n, &e), ERR_OK); // inclusive
    CHECK_EQ_INT(n, 30);
    CHECK_EQ_INT(config_int_in(c, "train", "epochs", 31, 40, &n, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "configs/a.cfg:3: train.epochs: must be in [31, 40], got 30");
    double x = -1;
    CHECK_EQ_INT(config_double_in(c, "schedule", "max_lr", 0, 1, &x, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "configs/a.cfg:5: schedule.max_lr: must be in [0, 1], got 1.0000001");
    CHECK_CLOSE(x, -1, 0, 0);
    CHECK_EQ_INT(config_double_in(c, "schedule", "min_lr", 1e-6, 0.5, &x, &e), ERR_OK);
    CHECK_CLOSE(x, 0.5, 0, 0);
    CHECK_EQ_INT(config_double_in(c, "schedule", "weight_decay", 0, 1e-5, &x, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "default: schedule.weight_decay: must be in [0, 1e-05], got 1e-4");
    // A type error takes precedence over the range.
    CHECK_EQ_INT(config_set(c, "train.batch_size=big", &e), ERR_OK);
    CHECK_EQ_INT(config_int_in(c, "train", "batch_size", 1, 65536, &n, &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "--set: train.batch_size: expected an integer, got 'big'");

    CHECK(!strcmp(config_where(c, "train", "epochs"), "configs/a.cfg:3"));
    CHECK(!strcmp(config_where(c, "train", "batch_size"), "--set"));
    CHECK(!strcmp(config_where(c, "train", "note"), "default"));
    CHECK_EQ_INT(config_is_set(c, "train", "epochs"), 1);
    CHECK_EQ_INT(config_is_set(c, "train", "note"), 0);

    // A very long file name keeps its tail, so the line number survives.
    char name[400];
    memset(name, 'd', sizeof name - 1);
    name[sizeof name - 1] = 0;
    CHECK_EQ_INT(config_load_string(c, "[train]\nnote = x\n", name, &e), ERR_OK);
    const char *w = config_where(c, "train", "note");
    CHECK(strlen(w) < sizeof c->e[0].where);
    CHECK(!strncmp(w, "...", 3));
    CHECK_STR_CONTAINS(w, "ddd:2");
    free(c);
}

static void test_not_in_schema(void) {
    test_begin("config keys missing from the schema are programming errors");
    Config *c = fresh();
    Err e = {0};
    double x = 0;
    long n = 0;
    int b = 0, k = 0, w = 0;
    const char *const opts[] = {"a", NULL};
    CHECK_EQ_INT(config_double(c, "schedule", "lr", &x, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "schedule.lr is not in the schema (programming error)");
    CHECK_EQ_INT(config_int(c, "nosuch", "epochs", &n, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "nosuch.epochs is not in the schema");
    CHECK_EQ_INT(config_bool(c, "train", "x", &b, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "train.x is not in the schema");
    CHECK_EQ_INT(config_doubles(c, "train", "x", &x, 1, &k, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "train.x is not in the schema");
    CHECK_EQ_INT(config_choice(c, "train", "x", opts, &w, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "train.x is not in the schema");
    CHECK_EQ_INT(config_int_in(c, "train", "x", 0, 1, &n, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "train.x is not in the schema");
    CHECK_EQ_INT(config_double_in(c, "train", "x", 0, 1, &x, &e), ERR_RUNTIME);
    CHECK_STR_CONTAINS(e.msg, "train.x is not in the schema");
    CHECK(!strcmp(config_str(c, "train", "x"), ""));
    CHECK_EQ_INT(config_is_set(c, "train", "x"), 0);
    CHECK(!strcmp(config_where(c, "train", "x"), "(not in schema)"));
    // A config over no schema at all rejects everything without crashing.
    Config *z = malloc(sizeof *z);
    config_init(z, NULL);
    CHECK_EQ_INT(config_load_string(z, "[train]\n", "z.cfg", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "z.cfg:1: unknown section [train]; valid sections: (none)");
    CHECK_EQ_INT(config_int(z, "train", "epochs", &n, &e), ERR_RUNTIME);
    char buf[16];
    CHECK_EQ_INT(config_dump(z, buf, sizeof buf), 0);
    free(z);
    free(c);
}

static void test_atomic_load(void) {
    test_begin("config failed load leaves the config unchanged");
    Config *c = fresh();
    Err e = {0};
    CHECK_EQ_INT(config_load_string(c, "[train]\nepochs = 5\n", "a.cfg", &e), ERR_OK);
    CHECK_EQ_INT(config_load_string(c, "[train]\nepochs = 6\nbatch_size = 7\nbogus = 1\n",
                                    "b.cfg", &e),
                 ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "b.cfg:4: unknown key 'bogus' in [train]");
    CHECK(!strcmp(config_str(c, "train", "epochs"), "5"));
    CHECK(!strcmp(config_where(c, "train", "epochs"), "a.cfg:2"));
    CHECK_EQ_INT(config_is_set(c, "train", "batch_size"), 0);
    CHECK_EQ_INT(c->n, 1);
    free(c);
}

static void test_dump_round_trip(void) {
    test_begin("config dump round trip");
    Config *c = fresh();
    Err e = {0};
    const char *text = "[schedule]\nuse_clr_beta = 10, 13.68, 0.95, 0.8  # fastai values\n"
                       "[train]\nnote = #ff0000;x\n";
    CHECK_EQ_INT(config_load_string(c, text, "a.cfg", &e), ERR_OK);
    CHECK_EQ_INT(config_set(c, "train.epochs=60", &e), ERR_OK);
    CHECK_EQ_INT(config_set(c, "schedule.max_lr=", &e), ERR_OK);
    CHECK_EQ_INT(config_set(c, "train.data_dir=;odd dir;name", &e), ERR_OK);
    char buf[4096];
    size_t len = config_dump(c, buf, sizeof buf);
    CHECK_EQ_INT(len, strlen(buf));
    CHECK_STR_CONTAINS(buf, "[train]\nbatch_size = 128\nepochs = 60\n");
    CHECK_STR_CONTAINS(buf, "\n\n[schedule]\nmax_lr = 3.0\n"); // cleared: the default
    CHECK_STR_CONTAINS(buf, "use_clr_beta = 10, 13.68, 0.95, 0.8\n");
    CHECK(!strncmp(buf, "[train]\n", 8)); // schema order, not file order
    Config *d = fresh();
    int rc = config_load_string(d, buf, "dump", &e);
    CHECK_EQ_INT(rc, ERR_OK);
    if (rc) printf("  message: %s\n", e.msg);
    for (const ConfigSection *s = schema; s->name; s++) {
        for (const ConfigKey *k = s->keys; k->key; k++) {
            const char *a = config_str(c, s->name, k->key), *b = config_str(d, s->name, k->key);
            CHECK_MSG(!strcmp(a, b), "%s.%s: '%s' vs '%s'", s->name, k->key, a, b);
            CHECK_EQ_INT(config_is_set(d, s->name, k->key), 1);
        }
    }
    // Dumping the reloaded config gives the same text.
    char buf2[4096];
    CHECK_EQ_INT(config_dump(d, buf2, sizeof buf2), len);
    CHECK(!strcmp(buf, buf2));
    // Truncation: always 0-terminated, length cap-1; cap 0 writes nothing.
    char small[20];
    memset(small, 'z', sizeof small);
    CHECK_EQ_INT(config_dump(c, small, sizeof small), sizeof small - 1);
    CHECK_EQ_INT(small[sizeof small - 1], 0);
    CHECK(!strncmp(small, buf, sizeof small - 1));
    CHECK_EQ_INT(config_dump(c, small, 1), 0);
    CHECK_EQ_INT(small[0], 0);
    CHECK_EQ_INT(config_dump(c, NULL, 0), 0);
    free(d);
    free(c);
}

static void test_print_schema(void) {
    test_begin("config schema as Markdown");
    static const ConfigKey odd_keys[] = {
        {"sep", "a|b", "x | y"}, {"empty", "", NULL}, {NULL, NULL, NULL}};
    static const ConfigSection odd[] = {{"train", train_keys}, {"odd", odd_keys}, {NULL, NULL}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (!f) return;
    config_print_schema(odd, f);
    fclose(f);
    CHECK(!strncmp(text, "### [train]\n\n| key | default | meaning |\n|---|---|---|\n", 52));
    CHECK_STR_CONTAINS(text, "| `batch_size` | `128` | examples per SGD step |\n");
    CHECK_STR_CONTAINS(text, "| `note` |  | free text |\n");
    CHECK_STR_CONTAINS(text, "\n\n### [odd]\n\n| key | default | meaning |\n");
    CHECK_STR_CONTAINS(text, "| `sep` | `a\\|b` | x \\| y |\n");
    CHECK_STR_CONTAINS(text, "| `empty` |  |  |\n");
    free(text);
}

// A schema with more keys than CONFIG_MAX_ENTRIES: the limit is an error, not an overflow.
static void test_too_many_entries(void) {
    test_begin("config entry limit");
    enum { K = CONFIG_MAX_ENTRIES + 10 };
    static char names[K][16];
    static ConfigKey keys[K + 1];
    for (int i = 0; i < K; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        keys[i] = (ConfigKey){names[i], "0", "a key"};
    }
    keys[K] = (ConfigKey){NULL, NULL, NULL};
    const ConfigSection big[] = {{"many", keys}, {NULL, NULL}};
    size_t cap = (size_t)K * 16 + 16;
    char *text = malloc(cap);
    size_t len = (size_t)sprintf(text, "[many]\n");
    for (int i = 0; i < K; i++) len += (size_t)sprintf(text + len, "k%d = %d\n", i, i);
    Config *c = malloc(sizeof *c);
    config_init(c, big);
    Err e = {0};
    char want[64];
    snprintf(want, sizeof want, "big.cfg:%d: too many config entries (limit %d)",
             CONFIG_MAX_ENTRIES + 2, CONFIG_MAX_ENTRIES);
    CHECK_EQ_INT(config_load_string(c, text, "big.cfg", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, want);
    CHECK_EQ_INT(c->n, 0);
    for (int i = 0; i < CONFIG_MAX_ENTRIES; i++) {
        char a[32];
        snprintf(a, sizeof a, "many.k%d=%d", i, i);
        CHECK_EQ_INT(config_set(c, a, &e), ERR_OK);
    }
    CHECK_EQ_INT(config_set(c, "many.k5=55", &e), ERR_OK); // replacing needs no new slot
    CHECK_EQ_INT(config_set(c, "many.k260=1", &e), ERR_INPUT);
    CHECK_STR_CONTAINS(e.msg, "--set: too many config entries (limit 256)");
    CHECK_EQ_INT(c->n, CONFIG_MAX_ENTRIES);
    CHECK(!strcmp(config_str(c, "many", "k5"), "55"));
    CHECK(!strcmp(config_str(c, "many", "k260"), "0"));
    free(c);
    free(text);
}

void suite_config(void) {
    test_defaults();
    test_good_file();
    test_load_file();
    test_syntax_errors();
    test_unknown_names();
    test_set();
    test_types();
    test_ranges_and_where();
    test_not_in_schema();
    test_atomic_load();
    test_dump_round_trip();
    test_print_schema();
    test_too_many_entries();
}
