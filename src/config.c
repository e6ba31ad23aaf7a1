// config.c: the INI-style run configuration: parsing against a schema, --set overrides,
// typed getters, and the dump / Markdown views of the schema.
//
// Values stay text until a module asks for them with a typed getter, so a message about a
// bad value can always name where the text came from. Each (section, key) has at most one
// entry: a later file or --set replaces the earlier value in place, which keeps the entry
// count bounded by the schema size rather than by how many overrides a user stacks up.
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// A config file bigger than this is not a config file (think /dev/zero or a dataset passed
// by mistake); refusing it early beats reading it all into memory.
#define CONFIG_MAX_FILE (1 << 20)

// ----------------------------------------------------------------------------------------
// small text helpers

static int is_space(char ch) { return isspace((unsigned char)ch) != 0; }

// Trims [*s, *end) in place of its surrounding whitespace.
static void trim_span(const char **s, const char **end) {
    while (*s < *end && is_space(**s)) (*s)++;
    while (*end > *s && is_space((*end)[-1])) (*end)--;
}

// Copies at most cap-1 characters of s[0..n) into out, ending with "..." when cut, so that
// a 100 kB line quoted in a message stays readable and cannot overflow anything.
static const char *excerpt(char *out, size_t cap, const char *s, size_t n) {
    if (n < cap) {
        memcpy(out, s, n);
        out[n] = 0;
    } else {
        memcpy(out, s, cap - 4);
        memcpy(out + cap - 4, "...", 4);
    }
    return out;
}

// Appends printf-style to buf[*len..cap), stopping silently at cap-1 (the buffer stays
// 0-terminated). Returns 0 once the buffer is full, so loops can stop early.
__attribute__((format(printf, 4, 5))) static int append(char *buf, size_t cap, size_t *len,
                                                         const char *fmt, ...) {
    if (*len + 1 >= cap) return 0;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k < 0) return 0;
    if ((size_t)k >= cap - *len) {
        *len = cap - 1;
        return 0;
    }
    *len += (size_t)k;
    return 1;
}

// "name:line"; a very long name keeps its tail so the line number always survives.
static void make_where(char *out, size_t cap, const char *name, int line) {
    char num[24];
    int k = snprintf(num, sizeof num, ":%d", line);
    size_t nn = strlen(name), room = cap - 1 - (size_t)k;
    if (nn <= room) {
        memcpy(out, name, nn);
    } else {
        memcpy(out, "...", 3);
        memcpy(out + 3, name + nn - (room - 3), room - 3);
        nn = room;
    }
    memcpy(out + nn, num, (size_t)k + 1);
}

// ----------------------------------------------------------------------------------------
// "did you mean": nearest name by edit distance

#define NAME_MAX_CMP 64

// Optimal string alignment distance (Levenshtein plus adjacent transposition), ignoring
// case so that MAX_LR finds max_lr. Names longer than NAME_MAX_CMP are never close.
static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n >= NAME_MAX_CMP || m >= NAME_MAX_CMP) return 1 << 20;
    int d[NAME_MAX_CMP + 1][NAME_MAX_CMP + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

static int cmp_token(const void *x, const void *y) {
    return strcasecmp(*(const char *const *)x, *(const char *const *)y);
}

// s with its '_'-separated words sorted, so that lr_max and max_lr compare equal: swapped
// words are the typo edit distance handles worst.
static void sort_words(char *out, const char *s) {
    char tmp[NAME_MAX_CMP];
    const char *w[NAME_MAX_CMP];
    int n = 0;
    memcpy(tmp, s, strlen(s) + 1);
    for (char *p = tmp;;) {
        w[n++] = p;
        char *u = strchr(p, '_');
        if (!u) break;
        *u = 0;
        p = u + 1;
    }
    qsort(w, (size_t)n, sizeof w[0], cmp_token);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strcat(out, "_");
        strcat(out, w[i]);
    }
}

static int name_distance(const char *typed, const char *cand) {
    int d = edit_distance(typed, cand);
    if (strlen(typed) < NAME_MAX_CMP && strlen(cand) < NAME_MAX_CMP &&
        (strchr(typed, '_') || strchr(cand, '_'))) {
        char a[NAME_MAX_CMP], b[NAME_MAX_CMP];
        sort_words(a, typed);
        sort_words(b, cand);
        int dw = edit_distance(a, b) + 1; // a reordering still costs one edit
        if (dw < d) d = dw;
    }
    return d;
}

typedef struct Nearest {
    const char *name;
    int dist;
} Nearest;

// Keeps cand if it is the closest so far and close enough to be a plausible typo: within
// max(2, len/3) edits, and not a complete rewrite of a short name ("lr" is not "wd").
static void nearest_consider(Nearest *best, const char *typed, const char *cand) {
    int d = name_distance(typed, cand);
    int len = (int)strlen(typed), limit = len / 3 > 2 ? len / 3 : 2;
    if (d > limit || d >= (int)strlen(cand)) return;
    if (!best->name || d < best->dist) {
        best->name = cand;
        best->dist = d;
    }
}

const char *config_nearest_name(const char *typed, const char *const *names) {
    Nearest best = {0};
    for (int i = 0; names[i]; i++) nearest_consider(&best, typed, names[i]);
    return best.name;
}

// ----------------------------------------------------------------------------------------
// schema lookup

static const ConfigSection *find_section(const ConfigSection *schema, const char *name) {
    for (const ConfigSection *s = schema; s && s->name; s++)
        if (!strcmp(s->name, name)) return s;
    return NULL;
}

static const ConfigKey *find_key(const ConfigSection *s, const char *key) {
    for (const ConfigKey *k = s->keys; k && k->key; k++)
        if (!strcmp(k->key, key)) return k;
    return NULL;
}

static const ConfigKey *schema_key(const Config *c, const char *sec, const char *key) {
    const ConfigSection *s = find_section(c->schema, sec);
    return s ? find_key(s, key) : NULL;
}

// The unknown-section error. dotted: the user wrote section.key (from --set), so the
// suggestion is given in that form too, ready to paste back.
static int unknown_section(Err *e, const char *where, const ConfigSection *schema,
                           const char *typed, int dotted) {
    char q[80], list[400];
    size_t len = 0;
    Nearest best = {0};
    list[0] = 0;
    for (const ConfigSection *s = schema; s && s->name; s++) {
        nearest_consider(&best, typed, s->name);
        if (len < sizeof list - 1 &&
            !append(list, sizeof list, &len, "%s[%s]", s == schema ? "" : ", ", s->name))
            memcpy(list + sizeof list - 4, "...", 4);
    }
    excerpt(q, sizeof q, typed, strlen(typed));
    const char *open = dotted ? "'" : "[", *close = dotted ? "'" : "]";
    if (best.name)
        return err_set(e, ERR_INPUT, "%s: unknown section %s%s%s; did you mean %s%s%s?", where,
                       open, q, close, open, best.name, close);
    return err_set(e, ERR_INPUT, "%s: unknown section %s%s%s; valid sections: %s", where, open,
                   q, close, list[0] ? list : "(none)");
}

static int unknown_key(Err *e, const char *where, const ConfigSection *schema,
                       const ConfigSection *sec, const char *typed, int dotted) {
    char q[80], list[400];
    size_t len = 0;
    excerpt(q, sizeof q, typed, strlen(typed));
    char shown[160]; // the key as the user wrote it
    if (dotted)
        snprintf(shown, sizeof shown, "'%s.%s'", sec->name, q);
    else
        snprintf(shown, sizeof shown, "'%s' in [%s]", q, sec->name);
    // The right name in the wrong section is the likeliest mistake of all.
    for (const ConfigSection *s = schema; s && s->name; s++) {
        if (s != sec && find_key(s, typed)) {
            if (dotted)
                return err_set(e, ERR_INPUT, "%s: unknown key %s; did you mean '%s.%s'?", where,
                               shown, s->name, typed);
            return err_set(e, ERR_INPUT, "%s: unknown key %s; it belongs in [%s]", where, shown,
                           s->name);
        }
    }
    Nearest best = {0};
    list[0] = 0;
    for (const ConfigKey *k = sec->keys; k && k->key; k++) {
        nearest_consider(&best, typed, k->key);
        if (len < sizeof list - 1 &&
            !append(list, sizeof list, &len, "%s%s", k == sec->keys ? "" : ", ", k->key))
            memcpy(list + sizeof list - 4, "...", 4);
    }
    if (best.name && dotted)
        return err_set(e, ERR_INPUT, "%s: unknown key %s; did you mean '%s.%s'?", where, shown,
                       sec->name, best.name);
    if (best.name)
        return err_set(e, ERR_INPUT, "%s: unknown key %s; did you mean '%s'?", where, shown,
                       best.name);
    return err_set(e, ERR_INPUT, "%s: unknown key %s; valid keys: %s", where, shown,
                   list[0] ? list : "(none)");
}

// ----------------------------------------------------------------------------------------
// entries

static int entry_index(const Config *c, const char *sec, const char *key) {
    for (int i = c->n - 1; i >= 0; i--)
        if (!strcmp(c->e[i].section, sec) && !strcmp(c->e[i].key, key)) return i;
    return -1;
}

// Sets sec.key (both already checked against the schema) to val[0..vn). *index receives the
// entry's slot, for the duplicate check of the file parser.
static int put_entry(Config *c, const char *sec, const char *key, const char *val, size_t vn,
                     const char *where, int *index, Err *e) {
    if (vn >= CONFIG_MAX_VALUE)
        return err_set(e, ERR_INPUT, "%s: %s.%s: value is too long (%zu characters, limit %d)",
                       where, sec, key, vn, CONFIG_MAX_VALUE - 1);
    int i = entry_index(c, sec, key);
    if (i < 0) {
        size_t sn = strlen(sec), kn = strlen(key);
        if (sn >= sizeof c->e[0].section || kn >= sizeof c->e[0].key)
            return err_set(e, ERR_RUNTIME, "config: schema name %s.%s is too long (limit %zu/%zu)",
                           sec, key, sizeof c->e[0].section - 1, sizeof c->e[0].key - 1);
        if (c->n >= CONFIG_MAX_ENTRIES)
            return err_set(e, ERR_INPUT, "%s: too many config entries (limit %d)", where,
                           CONFIG_MAX_ENTRIES);
        i = c->n++;
        memcpy(c->e[i].section, sec, sn + 1);
        memcpy(c->e[i].key, key, kn + 1);
    }
    memcpy(c->e[i].value, val, vn);
    c->e[i].value[vn] = 0;
    size_t wn = strlen(where);
    if (wn >= sizeof c->e[i].where) wn = sizeof c->e[i].where - 1;
    memcpy(c->e[i].where, where, wn);
    c->e[i].where[wn] = 0;
    if (index) *index = i;
    return ERR_OK;
}

void config_init(Config *c, const ConfigSection *schema) {
    memset(c, 0, sizeof *c);
    c->schema = schema;
}

// ----------------------------------------------------------------------------------------
// the file parser

typedef struct Parser {
    Config *c;
    const char *name;
    const ConfigSection *sec; // current [section], NULL before the first header
    int line;
    int first_line[CONFIG_MAX_ENTRIES]; // line where this file set entry i (0 = not here)
    char where[300];
} Parser;

// A comment after a value starts at '#' or ';' preceded by whitespace, so values such as
// "a;b" survive. The value's first character never starts one ("#ff0000" is a value): that
// way any value --set accepts can be written back as `key = value` and reads the same.
// s is the value's first non-blank character; returns the end of the value.
static const char *value_end(const char *s, const char *end) {
    for (const char *p = s + 1; p < end; p++)
        if ((*p == '#' || *p == ';') && is_space(p[-1])) return p;
    return end;
}

static int parse_section(Parser *ps, const char *s, const char *end, Err *e) {
    char q[80];
    const char *close = memchr(s, ']', (size_t)(end - s));
    if (!close)
        return err_set(e, ERR_INPUT, "%s: unterminated '[' in '%s' (expected '[section]')",
                       ps->where, excerpt(q, sizeof q, s, (size_t)(end - s)));
    const char *rest = close + 1;
    while (rest < end && is_space(*rest)) rest++;
    if (rest < end && *rest != '#' && *rest != ';')
        return err_set(e, ERR_INPUT, "%s: unexpected text after ']': '%s'", ps->where,
                       excerpt(q, sizeof q, rest, (size_t)(end - rest)));
    const char *n0 = s + 1, *n1 = close;
    trim_span(&n0, &n1);
    if (n0 == n1) return err_set(e, ERR_INPUT, "%s: empty section name '[]'", ps->where);
    char name[NAME_MAX_CMP * 2];
    excerpt(name, sizeof name, n0, (size_t)(n1 - n0));
    ps->sec = find_section(ps->c->schema, name);
    if (!ps->sec) return unknown_section(e, ps->where, ps->c->schema, name, 0);
    return ERR_OK;
}

static int parse_assignment(Parser *ps, const char *s, const char *end, Err *e) {
    char q[80];
    const char *eq = memchr(s, '=', (size_t)(end - s));
    if (!eq)
        return err_set(e, ERR_INPUT, "%s: missing '=' in '%s' (expected 'key = value')",
                       ps->where, excerpt(q, sizeof q, s, (size_t)(end - s)));
    const char *k0 = s, *k1 = eq;
    trim_span(&k0, &k1);
    if (k0 == k1) return err_set(e, ERR_INPUT, "%s: empty key before '='", ps->where);
    char key[NAME_MAX_CMP * 2];
    excerpt(key, sizeof key, k0, (size_t)(k1 - k0));
    if (!ps->sec)
        return err_set(e, ERR_INPUT, "%s: key '%s' comes before any [section] header", ps->where,
                       key);
    const ConfigKey *k = find_key(ps->sec, key);
    if (!k) return unknown_key(e, ps->where, ps->c->schema, ps->sec, key, 0);
    const char *v0 = eq + 1;
    while (v0 < end && is_space(*v0)) v0++;
    const char *v1 = v0 < end ? value_end(v0, end) : end;
    trim_span(&v0, &v1);
    int i = -1;
    int rc = put_entry(ps->c, ps->sec->name, k->key, v0, (size_t)(v1 - v0), ps->where, &i, e);
    if (rc) return rc;
    if (ps->first_line[i])
        return err_set(e, ERR_INPUT, "%s: duplicate key '%s' in [%s]; first set at line %d",
                       ps->where, k->key, ps->sec->name, ps->first_line[i]);
    ps->first_line[i] = ps->line;
    return ERR_OK;
}

static int parse_line(Parser *ps, const char *s, const char *end, Err *e) {
    trim_span(&s, &end);
    if (s == end || *s == '#' || *s == ';') return ERR_OK;
    if (*s == '[') return parse_section(ps, s, end, e);
    return parse_assignment(ps, s, end, e);
}

// Parses text[0..len) into c. All or nothing: the work happens on a copy, so a file that
// fails at line 40 leaves no trace of lines 1..39 behind.
static int parse_text(Config *c, const char *text, size_t len, const char *name, Err *e) {
    Parser *ps = xcalloc(1, sizeof *ps);
    Config *t = xmalloc(sizeof *t);
    memcpy(t, c, sizeof *t);
    ps->c = t;
    ps->name = name;
    const char *p = text, *end = text + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; // UTF-8 byte-order mark
    int rc = ERR_OK;
    for (ps->line = 1; p < end && !rc; ps->line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        make_where(ps->where, sizeof ps->where, name, ps->line);
        if (memchr(p, '\0', (size_t)(eol - p)))
            rc = err_set(e, ERR_INPUT, "%s: NUL byte in the line (not a text file?)", ps->where);
        else
            rc = parse_line(ps, p, eol, e);
        p = nl ? nl + 1 : end;
    }
    if (!rc) memcpy(c, t, sizeof *t);
    free(t);
    free(ps);
    return rc;
}

int config_load_string(Config *c, const char *text, const char *name, Err *e) {
    return parse_text(c, text, strlen(text), name, e);
}

int config_load(Config *c, const char *path, Err *e) {
    if (fs_check_path("config file", path, e)) return e->code; // used whole, or refused
    struct stat st;
    if (stat(path, &st)) return err_set(e, ERR_INPUT, "%s: cannot open config: %s", path, strerror(errno));
    FILE *f = fs_fopen_regular(path, "a config file", NULL, e); // a FIFO would block
    if (!f) return e->code;
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    int rc = ERR_OK;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = err_set(e, ERR_RUNTIME, "%s: out of memory reading config", path);
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
        if (len > CONFIG_MAX_FILE) {
            rc = err_set(e, ERR_INPUT, "%s: too large for a config file (over %d bytes)", path,
                         CONFIG_MAX_FILE);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = err_set(e, ERR_INPUT, "%s: cannot read config: %s", path, strerror(errno));
    fclose(f);
    if (!rc) rc = parse_text(c, buf, len, path, e);
    if (!rc) memcpy(c->path, path, strlen(path) + 1);
    free(buf);
    return rc;
}

// ----------------------------------------------------------------------------------------
// --set section.key=value

int config_set(Config *c, const char *assignment, Err *e) {
    const char *form = "expected the form --set section.key=value";
    char q[80];
    size_t n = strlen(assignment);
    const char *eq = strchr(assignment, '='), *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq)
        return err_set(e, ERR_INPUT, "--set '%s': %s", excerpt(q, sizeof q, assignment, n), form);
    const char *s0 = assignment, *s1 = dot, *k0 = dot + 1, *k1 = eq;
    const char *v0 = eq + 1, *v1 = assignment + n;
    trim_span(&s0, &s1);
    trim_span(&k0, &k1);
    trim_span(&v0, &v1);
    if (s0 == s1 || k0 == k1)
        return err_set(e, ERR_INPUT, "--set '%s': %s (section and key must not be empty)",
                       excerpt(q, sizeof q, assignment, n), form);
    char sec[NAME_MAX_CMP * 2], key[NAME_MAX_CMP * 2];
    excerpt(sec, sizeof sec, s0, (size_t)(s1 - s0));
    excerpt(key, sizeof key, k0, (size_t)(k1 - k0));
    const ConfigSection *s = find_section(c->schema, sec);
    if (!s) return unknown_section(e, "--set", c->schema, sec, 1);
    const ConfigKey *k = find_key(s, key);
    if (!k) return unknown_key(e, "--set", c->schema, s, key, 1);
    // Every stored value must be writable back as a file line (config_dump), so refuse
    // what a file could not hold rather than dump something that reloads differently.
    for (const char *p = v0; p < v1; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return err_set(e, ERR_INPUT, "--set: %s.%s: value contains a control character",
                           s->name, k->key);
        if ((*p == '#' || *p == ';') && p > v0 && is_space(p[-1]))
            return err_set(e, ERR_INPUT,
                           "--set: %s.%s: value contains '%c' after a space, which a config file "
                           "would read as a comment",
                           s->name, k->key, *p);
    }
    // An empty value clears the key: back to its default, as if no file or earlier --set had
    // named it (so `--set schedule.lr=` takes a now-unused key out when switching policy).
    if (v0 == v1) {
        int i = entry_index(c, s->name, k->key);
        if (i >= 0) {
            memmove(&c->e[i], &c->e[i + 1], sizeof c->e[0] * (size_t)(c->n - i - 1));
            c->n--;
        }
        return ERR_OK;
    }
    return put_entry(c, s->name, k->key, v0, (size_t)(v1 - v0), "--set", NULL, e);
}

// ----------------------------------------------------------------------------------------
// getters

const char *config_str(const Config *c, const char *sec, const char *key) {
    const ConfigKey *k = schema_key(c, sec, key);
    if (!k) return "";
    int i = entry_index(c, sec, key);
    if (i >= 0) return c->e[i].value;
    return k->def ? k->def : "";
}

int config_is_set(const Config *c, const char *sec, const char *key) {
    return schema_key(c, sec, key) && entry_index(c, sec, key) >= 0;
}

const char *config_where(const Config *c, const char *sec, const char *key) {
    if (!schema_key(c, sec, key)) return "(not in schema)";
    int i = entry_index(c, sec, key);
    return i >= 0 ? c->e[i].where : "default";
}

// The common start of every typed getter: the key must be in the schema (asking for one
// that is not is a bug in the calling module, not the user's fault).
static int lookup(const Config *c, const char *sec, const char *key, const char **val, Err *e) {
    if (!schema_key(c, sec, key))
        return err_set(e, ERR_RUNTIME, "config: %s.%s is not in the schema (programming error)",
                       sec, key);
    *val = config_str(c, sec, key);
    return ERR_OK;
}

static int bad_value(const Config *c, const char *sec, const char *key, const char *what,
                     const char *val, Err *e) {
    char q[80];
    return err_set(e, ERR_INPUT, "%s: %s.%s: expected %s, got '%s'", config_where(c, sec, key),
                   sec, key, what, excerpt(q, sizeof q, val, strlen(val)));
}

// strtod over the whole of s (surrounding spaces allowed). 0 ok, 1 not a number, 2 not
// finite: NaN or Inf in a learning rate is never what the user meant.
static int parse_number(const char *s, const char **stop, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s) return 1;
    if (stop) {
        *stop = end;
    } else {
        while (is_space(*end)) end++;
        if (*end) return 1;
    }
    if (!isfinite(v)) return 2;
    *out = v;
    return 0;
}

int config_double(const Config *c, const char *sec, const char *key, double *out, Err *e) {
    const char *v;
    int rc = lookup(c, sec, key, &v, e);
    if (rc) return rc;
    double x = 0;
    int bad = parse_number(v, NULL, &x);
    if (bad) return bad_value(c, sec, key, bad == 2 ? "a finite number" : "a number", v, e);
    *out = x;
    return ERR_OK;
}

// strtol over the whole of s (surrounding spaces allowed). 0 ok, 1 not an integer, 2 out
// of the range of long.
static int parse_integer(const char *s, long *out) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    int ok = end != s;
    while (is_space(*end)) end++;
    if (!ok || *end) return 1;
    if (errno == ERANGE) return 2;
    *out = x;
    return 0;
}

int config_int(const Config *c, const char *sec, const char *key, long *out, Err *e) {
    const char *v;
    int rc = lookup(c, sec, key, &v, e);
    if (rc) return rc;
    long x = 0;
    int bad = parse_integer(v, &x);
    if (bad) return bad_value(c, sec, key, bad == 2 ? "an integer in the range of long" : "an integer", v, e);
    *out = x;
    return ERR_OK;
}

int config_parse_int(const char *what, const char *text, long lo, long hi, long *out, Err *e) {
    char q[80];
    long x = 0;
    int bad = parse_integer(text, &x);
    if (bad)
        return err_set(e, ERR_INPUT, "%s: expected %s, got '%s'", what,
                       bad == 2 ? "an integer in the range of long" : "an integer",
                       excerpt(q, sizeof q, text, strlen(text)));
    if (x < lo || x > hi) return err_set(e, ERR_INPUT, "%s: must be in [%ld, %ld], got %ld", what, lo, hi, x);
    *out = x;
    return ERR_OK;
}

int config_parse_double(const char *what, const char *text, double lo, double hi, double *out, Err *e) {
    char q[80];
    double x = 0;
    int bad = parse_number(text, NULL, &x);
    excerpt(q, sizeof q, text, strlen(text));
    if (bad) return err_set(e, ERR_INPUT, "%s: expected %s, got '%s'", what, bad == 2 ? "a finite number" : "a number", q);
    if (!(x >= lo && x <= hi)) return err_set(e, ERR_INPUT, "%s: must be in [%g, %g], got %s", what, lo, hi, q);
    *out = x;
    return ERR_OK;
}

int config_bool(const Config *c, const char *sec, const char *key, int *out, Err *e) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    const char *v;
    int rc = lookup(c, sec, key, &v, e);
    if (rc) return rc;
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
            *out = !strcasecmp(v, yes[i]);
            return ERR_OK;
        }
    }
    return bad_value(c, sec, key, "true/false (or yes/no, on/off, 1/0)", v, e);
}

int config_doubles(const Config *c, const char *sec, const char *key, double *out, int max,
                   int *n, Err *e) {
    const char *v;
    int rc = lookup(c, sec, key, &v, e);
    if (rc) return rc;
    const char *s = v;
    while (is_space(*s)) s++;
    int count = 0;
    while (*s) {
        const char *item = s, *stop = s;
        double x = 0;
        int bad = parse_number(s, &stop, &x);
        s = stop;
        while (is_space(*s)) s++;
        if (bad || (*s && *s != ',')) {
            char q[80];
            const char *i0 = item, *i1 = item + strcspn(item, ",");
            trim_span(&i0, &i1);
            if (i0 == i1)
                return err_set(e, ERR_INPUT, "%s: %s.%s: item %d of the list is empty",
                               config_where(c, sec, key), sec, key, count + 1);
            return err_set(e, ERR_INPUT,
                           "%s: %s.%s: expected a comma-separated list of %snumbers, item %d is "
                           "'%s'",
                           config_where(c, sec, key), sec, key, bad == 2 ? "finite " : "",
                           count + 1, excerpt(q, sizeof q, i0, (size_t)(i1 - i0)));
        }
        if (count < max) out[count] = x;
        count++;
        if (*s == ',') {
            s++;
            while (is_space(*s)) s++;
            if (!*s) // "1, 2," would otherwise end the loop quietly
                return err_set(e, ERR_INPUT, "%s: %s.%s: item %d of the list is empty",
                               config_where(c, sec, key), sec, key, count + 1);
        }
    }
    if (count > max)
        return err_set(e, ERR_INPUT, "%s: %s.%s: at most %d numbers allowed, got %d",
                       config_where(c, sec, key), sec, key, max < 0 ? 0 : max, count);
    *n = count;
    return ERR_OK;
}

int config_choice(const Config *c, const char *sec, const char *key, const char *const *choices,
                  int *out, Err *e) {
    const char *v;
    int rc = lookup(c, sec, key, &v, e);
    if (rc) return rc;
    char list[400], q[80];
    size_t len = 0;
    Nearest best = {0};
    list[0] = 0;
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(v, choices[i])) {
            *out = i;
            return ERR_OK;
        }
        nearest_consider(&best, v, choices[i]);
        if (len < sizeof list - 1 &&
            !append(list, sizeof list, &len, "%s%s", i ? ", " : "", choices[i]))
            memcpy(list + sizeof list - 4, "...", 4);
    }
    excerpt(q, sizeof q, v, strlen(v));
    if (best.name)
        return err_set(e, ERR_INPUT,
                       "%s: %s.%s: expected one of {%s}, got '%s'; did you mean '%s'?",
                       config_where(c, sec, key), sec, key, list, q, best.name);
    return err_set(e, ERR_INPUT, "%s: %s.%s: expected one of {%s}, got '%s'",
                   config_where(c, sec, key), sec, key, list, q);
}

// The value is shown as written rather than re-printed: %g would turn 1.0000001 into "1"
// and produce "must be in [0, 1], got 1".
int config_double_in(const Config *c, const char *sec, const char *key, double lo, double hi,
                     double *out, Err *e) {
    double x = 0;
    int rc = config_double(c, sec, key, &x, e);
    if (rc) return rc;
    if (!(x >= lo && x <= hi)) {
        char q[80];
        const char *v = config_str(c, sec, key);
        return err_set(e, ERR_INPUT, "%s: %s.%s: must be in [%g, %g], got %s",
                       config_where(c, sec, key), sec, key, lo, hi,
                       excerpt(q, sizeof q, v, strlen(v)));
    }
    *out = x;
    return ERR_OK;
}

int config_int_in(const Config *c, const char *sec, const char *key, long lo, long hi, long *out,
                  Err *e) {
    long x = 0;
    int rc = config_int(c, sec, key, &x, e);
    if (rc) return rc;
    if (x < lo || x > hi)
        return err_set(e, ERR_INPUT, "%s: %s.%s: must be in [%ld, %ld], got %ld",
                       config_where(c, sec, key), sec, key, lo, hi, x);
    *out = x;
    return ERR_OK;
}

// ----------------------------------------------------------------------------------------
// views of the whole configuration

size_t config_dump(const Config *c, char *buf, size_t cap) {
    if (!buf || cap == 0) return 0;
    size_t len = 0;
    buf[0] = 0;
    for (const ConfigSection *s = c->schema; s && s->name; s++) {
        if (!append(buf, cap, &len, "%s[%s]\n", s == c->schema ? "" : "\n", s->name)) break;
        int full = 0;
        for (const ConfigKey *k = s->keys; k && k->key && !full; k++) {
            const char *v = config_str(c, s->name, k->key);
            full = !append(buf, cap, &len, "%s =%s%s\n", k->key, *v ? " " : "", v);
        }
        if (full) break;
    }
    return len;
}

// One Markdown table cell and the bar after it. A '|' would end the cell early, even in a
// code span, so it is escaped.
static void put_cell(FILE *f, const char *s, int code) {
    code = code && *s;
    fputs(code ? " `" : " ", f);
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
    fputs(code ? "` |" : " |", f);
}

void config_print_schema(const ConfigSection *schema, void *file) {
    FILE *f = file;
    for (const ConfigSection *s = schema; s && s->name; s++) {
        fprintf(f, "%s### [%s]\n\n| key | default | meaning |\n|---|---|---|\n",
                s == schema ? "" : "\n", s->name);
        for (const ConfigKey *k = s->keys; k && k->key; k++) {
            fputc('|', f);
            put_cell(f, k->key, 1);
            put_cell(f, k->def ? k->def : "", 1);
            put_cell(f, k->help ? k->help : "", 0);
            fputc('\n', f);
        }
    }
}
