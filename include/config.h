// config.h: the INI-style run configuration.
//
// Format: `[section]` headers, `key = value` lines, `#` or `;` comments (whole line, or
// after a value when preceded by whitespace; a value may itself start with '#'), blank
// lines. Section and key names are lower-case identifiers. Values are kept as text; typed
// getters parse them on demand and report errors that name where the value came from
// ("configs/a.cfg:12" or "--set").
//
// The schema is not known here: each module owns a table of its keys (ConfigKey[]) with
// defaults and one-line docs, and main passes all tables to config_init. Anything not in
// the schema is rejected with the nearest valid name suggested.
//
// Each (section, key) holds one value: a later file or --set replaces it (and its `where`).
// Loading and --set are all-or-nothing: on error the Config is left exactly as it was.
#ifndef ONECYCLE_CONFIG_H
#define ONECYCLE_CONFIG_H
#include "common.h"

typedef struct ConfigKey {
    const char *key;  // NULL ends a table; under 48 characters (section names under 32)
    const char *def;  // default value as text ("" = unset / empty)
    const char *help; // one line, shown by `onecycle help config` and in README
} ConfigKey;

typedef struct ConfigSection {
    const char *name;      // NULL ends the list
    const ConfigKey *keys;
} ConfigSection;

#define CONFIG_MAX_ENTRIES 256
#define CONFIG_MAX_VALUE FS_PATH_MAX // a value may be a path (data.dir), used whole

typedef struct ConfigEntry {
    char section[32];
    char key[48];
    char value[CONFIG_MAX_VALUE];
    char where[300]; // "path:line" or "--set"
} ConfigEntry;

typedef struct Config {
    const ConfigSection *schema;
    int n;
    ConfigEntry e[CONFIG_MAX_ENTRIES]; // later entries for the same key override earlier ones
    char path[FS_PATH_MAX];            // file it was loaded from ("" if none)
} Config;

// The name of names (NULL-terminated) a typo of `typed` most plausibly meant, by the rule
// that suggests config keys (edit distance, swapped '_' words); NULL when none is close.
const char *config_nearest_name(const char *typed, const char *const *names);
// Sets up an empty config over a schema (values fall back to the defaults).
void config_init(Config *c, const ConfigSection *schema);
// Parses a file. Errors (ERR_INPUT): unreadable file, syntax error, unknown section or key
// ("FILE:LINE: unknown key 'lr_max' in [schedule]; did you mean 'max_lr'?"), a key before
// any section, a duplicate key in the same file. Sets c->path on success.
int config_load(Config *c, const char *path, Err *e);
// Parses text as if it were a file named `name` (used by tests and checkpoints).
int config_load_string(Config *c, const char *text, const char *name, Err *e);
// Applies one "section.key=value" override (from --set). Same unknown-name errors. The value
// is taken literally (trimmed, no comment stripping); one that a file could not hold (a
// control character, or '#'/';' after a space) is refused so config_dump stays loadable.
// An empty value ("section.key=") clears the key: it reverts to its default, as if neither
// a file nor an earlier --set had set it (config_is_set 0, config_where "default").
int config_set(Config *c, const char *assignment, Err *e);

// Typed getters. Return ERR_OK and fill *out, or ERR_INPUT with a message like
// "configs/a.cfg:12: schedule.lr: expected a number, got 'abc'". On error *out is left
// alone. Asking for a key that is not in the schema is a bug in the caller: ERR_RUNTIME.
// Numbers must be finite; integers are base-10 only ("1e3" is not an integer).
// The value as text; never NULL ("" for a key not in the schema).
const char *config_str(const Config *c, const char *sec, const char *key);
int config_double(const Config *c, const char *sec, const char *key, double *out, Err *e);
int config_int(const Config *c, const char *sec, const char *key, long *out, Err *e);
int config_bool(const Config *c, const char *sec, const char *key, int *out, Err *e); // true/false/1/0/yes/no/on/off
// Comma-separated numbers; *n = count parsed (0 for an empty value). Error if more than max.
// out[] may be partly written on error; *n is set only on success.
int config_doubles(const Config *c, const char *sec, const char *key, double *out, int max, int *n, Err *e);
// One of the names in `choices` (NULL-terminated); *out = its index.
int config_choice(const Config *c, const char *sec, const char *key, const char *const *choices, int *out, Err *e);
// 1 if the key was given in the file or by --set (not just defaulted).
int config_is_set(const Config *c, const char *sec, const char *key);
// "path:line", "--set" or "default" ("(not in schema)" for a bad key): for messages by
// modules that validate values themselves.
const char *config_where(const Config *c, const char *sec, const char *key);
// Range-checked getters, for the common case. Messages give the allowed range:
// "configs/a.cfg:7: train.batch_size: must be in [1, 65536], got 0". Bounds are inclusive.
int config_double_in(const Config *c, const char *sec, const char *key, double lo, double hi, double *out, Err *e);
int config_int_in(const Config *c, const char *sec, const char *key, long lo, long hi, long *out, Err *e);
// The same rules for text from elsewhere (a command-line option), so that `--threads N`
// reads as `threads = N` in a file would: base-10 integers in the range of long, finite
// numbers, whole text (surrounding spaces allowed), bounds inclusive. Messages start with
// `what`: "--threads: must be in [0, 1024], got 4294967297", "--seed: expected an integer
// in the range of long, got '99999999999999999999999'".
int config_parse_int(const char *what, const char *text, long lo, long hi, long *out, Err *e);
int config_parse_double(const char *what, const char *text, double lo, double hi, double *out, Err *e);

// Writes the effective configuration (every key of the schema with its value) as a
// loadable file into buf. Returns the length written: at most cap-1, always 0-terminated
// (when cap > 0), so a return of cap-1 means the buffer was probably too small.
size_t config_dump(const Config *c, char *buf, size_t cap);
// Prints the schema (sections, keys, defaults, help) as Markdown, for `onecycle help config`:
// per section a "### [name]" heading and a `| key | default | meaning |` table.
void config_print_schema(const ConfigSection *schema, void *file /* FILE* */);

#endif
