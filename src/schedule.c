// schedule.c: the named LR/momentum policies expanded into phases, and schedule_at.
//
// Every policy is a preset that appends phases (see Phase in schedule.h); schedule_at only
// evaluates the phase that holds step t. The presets choose each phase's off/den so that
// the position inside the phase is computed exactly as the reference implementation does:
//
//   fastai CircularLR      (use_clr = div, cut_div[, max_mom, min_mom])
//   fastai CircularLR_beta (use_clr_beta = div, pct[, max_mom, min_mom]), Smith's 1cycle
//   PyTorch OneCycleLR, CyclicLR (triangular, triangular2, exp_range),
//   CosineAnnealingWarmRestarts (sgdr), StepLR, MultiStepLR, a constant LR,
//   and phases the user writes directly (`phases = ...`).
//
// One deliberate difference from fastai: fastai computes the momentum of step t with the
// LR schedule's counter already advanced, i.e. momentum(t) is fastai's formula at t+1 (and
// at a cycle's last step it wraps round to the next cycle's first value). Here LR and
// momentum are both evaluated at t, so at the LR peak (t = cut or t = c) the momentum is
// exactly at its minimum, as in Smith's paper and PyTorch.
#include "schedule.h"
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

const ConfigKey schedule_config_keys[] = {
    {"policy", "",
     "constant|step|multistep|clr|clr_beta|onecycle|triangular|triangular2|exp_range|sgdr|phases; "
     "empty: clr_beta, clr or phases when use_clr_beta, use_clr or phases is given, else constant"},
    {"epochs", "",
     "epochs in the run (fractional allowed); may be left empty when cycle_len or phases give it"},
    {"lr", "0.1",
     "max LR of clr, clr_beta, sgdr (fastai's lr); the LR of constant; the initial LR of step and multistep"},
    {"momentum", "0.9", "SGD momentum wherever the policy does not cycle it"},
    {"use_clr", "",
     "div, cut_div[, max_mom, min_mom] (fastai): LR lr/div -> lr over the first 1/cut_div of each cycle, "
     "then back to lr/div; momentum max_mom -> min_mom -> max_mom"},
    {"use_clr_beta", "",
     "div, pct[, max_mom, min_mom] (fastai, Smith's 1cycle): LR lr/div -> lr -> lr/div over (100-pct)% of "
     "each cycle, then down to lr/div/100; momentum max_mom -> min_mom -> max_mom, then max_mom"},
    {"cycle_len", "",
     "epochs in the first cycle of clr, clr_beta, onecycle, sgdr (fastai cycle_len, SGDR T_0); "
     "empty: the cycles fill epochs"},
    {"n_cycles", "1", "number of cycles of clr, clr_beta, onecycle, sgdr, phases (fastai n_cycle)"},
    {"cycle_mult", "1",
     "each cycle is cycle_mult times as long as the one before (fastai cycle_mult, SGDR T_mult)"},
    {"step_size", "",
     "step: epochs between LR decays (StepLR step_size); triangular, triangular2, exp_range: epochs of "
     "the rising half-cycle (CyclicLR step_size_up / steps per epoch)"},
    {"step_size_down", "",
     "triangular, triangular2, exp_range: epochs of the falling half-cycle (CyclicLR step_size_down); "
     "empty: step_size"},
    {"gamma", "",
     "step, multistep: LR factor at each decay (default 0.1); exp_range: amplitude factor per "
     "iteration, in (0, 1] (default 1)"},
    {"milestones", "",
     "multistep: increasing epochs at which the LR is multiplied by gamma (MultiStepLR milestones)"},
    {"base_lr", "", "triangular, triangular2, exp_range: lower LR bound (CyclicLR base_lr)"},
    {"max_lr", "",
     "onecycle: peak LR (OneCycleLR max_lr); triangular, triangular2, exp_range: upper LR bound "
     "(CyclicLR max_lr)"},
    {"div_factor", "25", "onecycle: initial LR = max_lr / div_factor"},
    {"final_div_factor", "1e4", "onecycle: final LR = initial LR / final_div_factor"},
    {"pct_start", "0.3", "onecycle: fraction of each cycle spent raising the LR, in [0, 1]"},
    {"anneal_strategy", "cos", "onecycle: cos|linear, the curve of every phase"},
    {"three_phase", "false",
     "onecycle: rise, fall back to the initial LR in as many steps, then anneal to the final LR"},
    {"base_momentum", "",
     "onecycle, triangular*, exp_range: momentum at the LR peak (default 0.85 onecycle, 0.8 CyclicLR)"},
    {"max_momentum", "",
     "onecycle, triangular*, exp_range: momentum at the LR low (default 0.95 onecycle, 0.9 CyclicLR)"},
    {"cycle_momentum", "true",
     "onecycle, triangular*, exp_range: cycle momentum inversely to the LR between base_momentum and "
     "max_momentum; false: constant momentum"},
    {"min_lr", "0", "sgdr: LR at the end of each cycle (CosineAnnealingWarmRestarts eta_min)"},
    {"phases", "",
     "phases: LEN:LR[:CURVE][:MOM[:CURVE]], ... with LEN in epochs, LR and MOM a value or start>end, "
     "CURVE const|linear|cos|exp|polyP (default linear)"},
    {NULL, NULL, NULL},
};

enum { P_CONSTANT, P_STEP, P_MULTISTEP, P_CLR, P_CLR_BETA, P_ONECYCLE, P_TRIANGULAR,
       P_TRIANGULAR2, P_EXP_RANGE, P_SGDR, P_PHASES };
static const char *const policy_names[] = {"constant", "step", "multistep", "clr", "clr_beta",
                                           "onecycle", "triangular", "triangular2", "exp_range",
                                           "sgdr", "phases", NULL};

#define NKEYS (sizeof schedule_config_keys / sizeof schedule_config_keys[0] - 1)

// The state of one build: the config it reads, which keys it read (a key that is given but
// never read has no effect, which is reported instead of silently ignored), and the phases
// appended so far.
typedef struct Build {
    const Config *c;
    Err *e;
    long spe;
    const char *policy;
    const char *policy_where; // where the policy was chosen (policy or the key implying it)
    unsigned char used[NKEYS];
    Phase *p;
    int n;
    long pos;   // first step not yet covered by a phase
    long limit; // end of the current cycle: phases are clipped here
} Build;

// ---- reading keys ---------------------------------------------------------------------

static int key_index(const char *key) {
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(schedule_config_keys[i].key, key)) return (int)i;
    return -1;
}

static const char *rd_str(Build *b, const char *key) {
    int k = key_index(key);
    if (k >= 0) b->used[k] = 1;
    return config_str(b->c, "schedule", key);
}

// A key is "given" when its text differs from the default. A dumped config (every key
// written out, defaults included) therefore reloads to the same schedule.
static int given(const Build *b, const char *key) {
    int k = key_index(key);
    return k >= 0 && strcmp(config_str(b->c, "schedule", key), schedule_config_keys[k].def) != 0;
}

static const char *where(const Build *b, const char *key) { return config_where(b->c, "schedule", key); }

// "WHERE: schedule.KEY: message"
static int bad(Build *b, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(Build *b, const char *key, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(b->e, ERR_INPUT, "%s: schedule.%s: %s", where(b, key), key, msg);
}

static int missing(Build *b, const char *key, const char *what) {
    return err_set(b->e, ERR_INPUT, "%s: schedule.%s: policy '%s' needs %s", b->policy_where, key,
                   b->policy, what);
}

// A number, or `def` when the key is empty. Range checks are done by the callers, whose
// messages can say why a bound exists.
static int rd_num(Build *b, const char *key, double def, double *out) {
    if (!rd_str(b, key)[0]) {
        *out = def;
        return ERR_OK;
    }
    return config_double(b->c, "schedule", key, out, b->e);
}

// A number that must be there (no default).
static int rd_req(Build *b, const char *key, const char *what, double *out) {
    if (!rd_str(b, key)[0]) return missing(b, key, what);
    return config_double(b->c, "schedule", key, out, b->e);
}

static int check_momentum(Build *b, const char *key, double m) {
    if (!(m >= 0 && m < 1)) return bad(b, key, "momentum must be in [0, 1), got %.15g", m);
    return ERR_OK;
}

static int rd_momentum(Build *b, const char *key, double def, double *out) {
    int rc = rd_num(b, key, def, out);
    return rc ? rc : check_momentum(b, key, *out);
}

static int rd_positive(Build *b, const char *key, double def, double *out) {
    int rc = rd_num(b, key, def, out);
    if (rc) return rc;
    if (!(*out > 0) || !isfinite(*out)) return bad(b, key, "must be > 0, got %.15g", *out);
    return ERR_OK;
}

// ---- appending phases -----------------------------------------------------------------

// Appends ph at b->pos, clipped to the end of the current cycle (presets describe the
// reference formulas' own ranges, which a short cycle may cut). Empty phases are dropped.
static int push(Build *b, Phase ph) {
    if (ph.steps > b->limit - b->pos) ph.steps = b->limit - b->pos;
    if (ph.steps <= 0) return ERR_OK;
    if (b->n >= SCHEDULE_MAX_PHASES)
        return err_set(b->e, ERR_INPUT,
                       "%s: schedule: policy '%s' needs more than %d phases; use fewer or longer "
                       "cycles or steps", b->policy_where, b->policy, SCHEDULE_MAX_PHASES);
    ph.start = b->pos;
    b->p[b->n++] = ph;
    b->pos += ph.steps;
    return ERR_OK;
}

// A phase whose LR and momentum both run linearly (or stay constant when equal).
static Phase linear_phase(long steps, double off, double den, double lr0, double lr1, double m0,
                          double m1) {
    Phase ph = {0};
    ph.steps = steps;
    ph.off = off;
    ph.den = den;
    ph.lr0 = lr0;
    ph.lr1 = lr1;
    ph.lr_curve = lr0 == lr1 ? CURVE_CONST : CURVE_LINEAR;
    ph.mom0 = m0;
    ph.mom1 = m1;
    ph.mom_curve = m0 == m1 ? CURVE_CONST : CURVE_LINEAR;
    ph.lr_power = ph.mom_power = 1;
    return ph;
}

static long epochs_to_steps(const Build *b, double epochs) { return llround(epochs * (double)b->spe); }

// ---- cycles ---------------------------------------------------------------------------

typedef struct Cycles {
    double len;  // epochs in the first cycle
    long n;
    double mult;
} Cycles;

// One cycle: its first step, its length in steps, where it starts in epochs, and its
// scale (cycle_mult^k) relative to the first cycle.
typedef struct Cycle {
    long start, nb;
    double start_epoch, scale;
} Cycle;

// The setting that gives the cycle length, for messages.
static const char *cycle_key(const Build *b) { return given(b, "cycle_len") ? "cycle_len" : "epochs"; }

// Sum of len * mult^k for k < n: the epochs that n cycles take.
static double cycles_epochs(double len, long n, double mult) {
    double total = 0, l = len;
    for (long k = 0; k < n; k++, l *= mult) total += l;
    return total;
}

// n_cycles and cycle_mult; cycle_len when `with_len` (the phases policy takes its cycle
// length from the phases instead). Checks them against `epochs` when that is given too.
static int read_cycles(Build *b, Cycles *cy, int with_len, double phases_len) {
    long n;
    int rc;
    rd_str(b, "n_cycles");
    if ((rc = config_int(b->c, "schedule", "n_cycles", &n, b->e))) return rc;
    if (n < 1 || n > SCHEDULE_MAX_PHASES) return bad(b, "n_cycles", "must be in [1, %d], got %ld", SCHEDULE_MAX_PHASES, n);
    double mult;
    if ((rc = rd_num(b, "cycle_mult", 1, &mult))) return rc;
    if (!(mult >= 1) || !isfinite(mult))
        return bad(b, "cycle_mult", "must be >= 1 (each cycle at least as long as the one before), got %.15g", mult);
    double geo = cycles_epochs(1, n, mult);
    if (!isfinite(geo) || geo > 1e9) return bad(b, "cycle_mult", "%ld cycles of x%.15g would never end", n, mult);
    double epochs = 0;
    int has_epochs = rd_str(b, "epochs")[0] != 0;
    if (has_epochs) {
        if ((rc = config_double(b->c, "schedule", "epochs", &epochs, b->e))) return rc;
        if (!(epochs > 0)) return bad(b, "epochs", "must be > 0, got %.15g", epochs);
    }
    double len;
    if (!with_len) {
        len = phases_len;
    } else if (rd_str(b, "cycle_len")[0]) {
        if ((rc = config_double(b->c, "schedule", "cycle_len", &len, b->e))) return rc;
        if (!(len > 0) || !isfinite(len)) return bad(b, "cycle_len", "must be > 0 epochs, got %.15g", len);
    } else if (has_epochs) {
        len = epochs / geo; // the cycles fill the run
    } else {
        return missing(b, "epochs", "the run length: set epochs or cycle_len");
    }
    cy->len = len;
    cy->n = n;
    cy->mult = mult;
    double total = len * geo;
    if (total * (double)b->spe > 1e12)
        return bad(b, with_len ? cycle_key(b) : "phases", "%.15g epochs are too many steps", total);
    if (has_epochs && fabs(total - epochs) > 1e-9 * epochs)
        return bad(b, "epochs", "is %.15g but the cycles take %.15g epoch%s (%ld cycle%s of %.15g epoch%s, cycle_mult %.15g); "
                   "leave epochs empty or make them agree", epochs, total, plural_s(total), n, plural_s((double)n), len,
                   plural_s(len), mult);
    return ERR_OK;
}

typedef int (*CycleFn)(Build *b, const void *params, const Cycle *cy);

// `key` names the setting that gives the cycle length, for messages.
static int run_cycles(Build *b, const Cycles *cy, CycleFn fn, const void *params, const char *key) {
    double e0 = 0, scale = 1;
    for (long k = 0; k < cy->n; k++, scale *= cy->mult) {
        double len = cy->len * scale;
        Cycle c = {epochs_to_steps(b, e0), 0, e0, scale};
        c.nb = epochs_to_steps(b, e0 + len) - c.start;
        if (c.nb < 1)
            return bad(b, key, "cycle %ld (%.15g epoch%s) is shorter than one step at %ld step%s per epoch",
                       k + 1, len, plural_s(len), b->spe, plural_s((double)b->spe));
        b->pos = c.start;
        b->limit = c.start + c.nb;
        int rc = fn(b, params, &c);
        if (rc) return rc;
        e0 += len;
    }
    return ERR_OK;
}

// ---- fastai: use_clr and use_clr_beta -------------------------------------------------

typedef struct ClrParams {
    double lr, div, cut; // cut: cut_div (clr) or pct (clr_beta)
    double mom_hi, mom_lo;
    const char *key;
} ClrParams;

// use_clr / use_clr_beta: the tuple, with momentum = the constant `momentum` when the
// tuple has only two numbers.
static int read_clr(Build *b, const char *key, ClrParams *p) {
    double v[4];
    int n, rc;
    rd_str(b, key);
    if ((rc = config_doubles(b->c, "schedule", key, v, 4, &n, b->e))) return rc;
    int beta = !strcmp(key, "use_clr_beta");
    if (n != 2 && n != 4)
        return bad(b, key, "expected 2 or 4 numbers (div, %s[, max_mom, min_mom]), got %d", beta ? "pct" : "cut_div", n);
    p->key = key;
    p->div = v[0];
    p->cut = v[1];
    if (!(p->div >= 1) || !isfinite(p->div))
        return bad(b, key, "div must be >= 1 (the LR starts at lr/div and peaks at lr), got %.15g", p->div);
    if (beta) {
        if (!(p->cut >= 0 && p->cut < 100))
            return bad(b, key, "pct (the annihilation part of the cycle, in %%) must be in [0, 100), got %.15g", p->cut);
    } else if (!(p->cut >= 1) || !isfinite(p->cut)) {
        return bad(b, key, "cut_div must be >= 1 (the LR rises over 1/cut_div of the cycle), got %.15g", p->cut);
    }
    if (n == 4) {
        p->mom_hi = v[2];
        p->mom_lo = v[3];
        if (!(v[2] >= 0 && v[2] < 1) || !(v[3] >= 0 && v[3] < 1))
            return bad(b, key, "max_mom and min_mom must be in [0, 1), got %.15g and %.15g", v[2], v[3]);
    } else {
        if ((rc = rd_momentum(b, "momentum", 0.9, &p->mom_hi))) return rc;
        p->mom_lo = p->mom_hi;
    }
    return rd_positive(b, "lr", 0.1, &p->lr);
}

// Python's float floor division a // b (CPython's float_divmod), for a >= 0, b > 0: floor of
// the exact quotient (a - fmod(a, b)) / b, not of the rounded a / b. They differ when a / b
// rounds up to an integer: 3626 // 3.7 is 979 while floor(3626 / 3.7) is 980.
static double py_floordiv(double a, double b) {
    double div = (a - fmod(a, b)) / b, fl = floor(div);
    return div - fl > 0.5 ? fl + 1.0 : fl;
}

// fastai CircularLR. cut = nb // cut_div (Python's floor division); for t <= cut the
// position is t/cut, after it (t-cut)/(nb-cut) on the way down, which never quite reaches
// lr/div.
static int clr_cycle(Build *b, const void *params, const Cycle *cy) {
    const ClrParams *p = params;
    long nb = cy->nb;
    long cut = (long)py_floordiv((double)nb, p->cut);
    if (cut < 1)
        return bad(b, p->key, "a cycle of %ld steps is too short for cut_div %.15g: %ld // %.15g = 0 steps "
                   "to raise the LR; lengthen cycle_len or lower cut_div", nb, p->cut, nb, p->cut);
    double lo = p->lr / p->div;
    int rc = push(b, linear_phase(cut + 1, 0, (double)cut, lo, p->lr, p->mom_hi, p->mom_lo));
    if (rc) return rc;
    return push(b, linear_phase(nb - cut - 1, 1, (double)(nb - cut), p->lr, lo, p->mom_lo, p->mom_hi));
}

// fastai CircularLR_beta (Smith's 1cycle). c = floor(nb * (1 - pct/100) / 2): up over
// [0, c], down over (c, 2c], then from lr/div down to lr/div/100 at position (t-2c)/(nb-2c).
static int clr_beta_cycle(Build *b, const void *params, const Cycle *cy) {
    const ClrParams *p = params;
    long nb = cy->nb;
    // Same operations in the same order as fastai's int(nb * (1-pct/100) / 2).
    long c = (long)floor((double)nb * (1.0 - p->cut / 100.0) / 2.0);
    if (c < 1)
        return bad(b, p->key, "a cycle of %ld steps is too short for pct %.15g: floor(%ld * (1 - %.15g/100) / 2) = 0 "
                   "steps to raise the LR; lengthen cycle_len or lower pct", nb, p->cut, nb, p->cut);
    double lo = p->lr / p->div;
    int rc = push(b, linear_phase(c + 1, 0, (double)c, lo, p->lr, p->mom_hi, p->mom_lo));
    if (!rc) rc = push(b, linear_phase(c, 1, (double)c, p->lr, lo, p->mom_lo, p->mom_hi));
    if (!rc) rc = push(b, linear_phase(nb - 2 * c - 1, 1, (double)(nb - 2 * c), lo, lo * 0.01, p->mom_hi, p->mom_hi));
    return rc;
}

// ---- PyTorch OneCycleLR -----------------------------------------------------------------

typedef struct OneCycleParams {
    double max_lr, div_factor, final_div, pct;
    int curve, three, cycle_mom;
    double mom_base, mom_max; // equal when momentum is not cycled
} OneCycleParams;

// PyTorch's phases end at (float) steps e_k: pct*T-1 [, 2*pct*T-2], T-1. Step t belongs to
// the first phase with t <= e_k (the last takes the rest) and is at (t - s)/(e_k - s)
// inside it, s = 0 for the first phase and e_{k-1} after, as in torch 1.13's get_lr.
static int onecycle_cycle(Build *b, const void *params, const Cycle *cy) {
    const OneCycleParams *p = params;
    double T = (double)cy->nb;
    double init = p->max_lr / p->div_factor, fin = init / p->final_div;
    double hi_m = p->mom_max, lo_m = p->mom_base;
    struct { double end, lr0, lr1, m0, m1; } ph2[2] = {
        {p->pct * T - 1, init, p->max_lr, hi_m, lo_m},
        {T - 1, p->max_lr, fin, lo_m, hi_m},
    }, ph3[3] = {
        {p->pct * T - 1, init, p->max_lr, hi_m, lo_m},
        {2 * p->pct * T - 2, p->max_lr, init, lo_m, hi_m},
        {T - 1, init, fin, hi_m, hi_m},
    }, *ph = p->three ? ph3 : ph2;
    int n = p->three ? 3 : 2;
    if (ph[0].end == 0)
        return bad(b, "pct_start", "pct_start x %ld steps = 1 makes a one-step warm-up, which OneCycleLR divides "
                   "by zero on; change pct_start or the cycle length", cy->nb);
    long first = 0; // first step of the cycle (relative) not yet in a phase
    for (int k = 0; k < n; k++) {
        double s = k ? ph[k - 1].end : 0;
        long last = k == n - 1 ? cy->nb - 1 : (long)floor(ph[k].end);
        if (last < first) continue;
        Phase one = linear_phase(last - first + 1, (double)first - s, ph[k].end - s, ph[k].lr0, ph[k].lr1,
                                 ph[k].m0, ph[k].m1);
        one.lr_curve = p->curve;
        if (one.mom_curve != CURVE_CONST) one.mom_curve = p->curve;
        int rc = push(b, one);
        if (rc) return rc;
        first = last + 1;
    }
    return ERR_OK;
}

// ---- SGDR -------------------------------------------------------------------------------

typedef struct SgdrParams {
    double lr, min_lr, mom;
} SgdrParams;

// CosineAnnealingWarmRestarts stepped with fractional epochs: T_cur/T_i = i/nb, so the LR
// approaches min_lr and restarts at lr without ever reaching min_lr.
static int sgdr_cycle(Build *b, const void *params, const Cycle *cy) {
    const SgdrParams *p = params;
    Phase ph = linear_phase(cy->nb, 0, (double)cy->nb, p->lr, p->min_lr, p->mom, p->mom);
    ph.lr_curve = CURVE_COS;
    return push(b, ph);
}

// ---- user phases ------------------------------------------------------------------------

typedef struct UserPhase {
    double len; // epochs
    double lr0, lr1, lr_power;
    int lr_curve;
    int has_mom;
    double m0, m1, m_power;
    int m_curve;
} UserPhase;

typedef struct PhasesParams {
    UserPhase *u;
    int n;
    double momentum; // for phases that give no momentum
} PhasesParams;

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int parse_number(const char *s, double *out) {
    char *end;
    if (!*s) return 0;
    *out = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    return *end == 0 && isfinite(*out);
}

// "v" or "a>b"
static int parse_values(char *s, double *a, double *b) {
    char *gt = strchr(s, '>');
    if (!gt) {
        if (!parse_number(trim(s), a)) return 0;
        *b = *a;
        return 1;
    }
    *gt = 0;
    return parse_number(trim(s), a) && parse_number(trim(gt + 1), b);
}

// const | linear | cos | exp | polyP
static int parse_curve(const char *s, int *curve, double *power) {
    *power = 1;
    if (!strcmp(s, "const")) *curve = CURVE_CONST;
    else if (!strcmp(s, "linear")) *curve = CURVE_LINEAR;
    else if (!strcmp(s, "cos")) *curve = CURVE_COS;
    else if (!strcmp(s, "exp")) *curve = CURVE_EXP;
    else if (!strncmp(s, "poly", 4) && parse_number(s + 4, power) && *power > 0) *curve = CURVE_POLY;
    else return 0;
    return 1;
}

static int is_curve_name(const char *s) { return isalpha((unsigned char)*s); }

// Checks one start>end pair against its curve.
static const char *check_curve(int curve, double a, double b) {
    if (curve == CURVE_CONST && a != b) return "curve const needs a single value";
    if (curve == CURVE_EXP && !(a > 0 && b > 0)) return "curve exp needs values > 0";
    return NULL;
}

// One phase: LEN:LR[:CURVE][:MOM[:CURVE]]
static const char *parse_phase(char *text, UserPhase *u) {
    char *f[6];
    int nf = 0;
    for (char *s = text;; s++) {
        if (nf == 6) return "too many ':' fields (LEN:LR[:CURVE][:MOM[:CURVE]])";
        f[nf++] = s;
        s = strchr(s, ':');
        if (!s) break;
        *s = 0;
    }
    for (int i = 0; i < nf; i++) f[i] = trim(f[i]);
    if (nf < 2) return "expected LEN:LR[:CURVE][:MOM[:CURVE]]";
    if (!parse_number(f[0], &u->len) || !(u->len > 0)) return "LEN must be a number of epochs > 0";
    if (is_curve_name(f[1]) || !parse_values(f[1], &u->lr0, &u->lr1)) return "LR must be a value or start>end";
    int i = 2;
    u->lr_curve = u->lr0 == u->lr1 ? CURVE_CONST : CURVE_LINEAR;
    u->lr_power = 1;
    if (i < nf && is_curve_name(f[i]))
        if (!parse_curve(f[i++], &u->lr_curve, &u->lr_power)) return "unknown curve (const, linear, cos, exp, polyP)";
    if (!(u->lr0 >= 0 && u->lr1 >= 0)) return "LR must be >= 0";
    const char *why = check_curve(u->lr_curve, u->lr0, u->lr1);
    if (why) return why;
    u->has_mom = 0;
    if (i < nf) {
        if (is_curve_name(f[i]) || !parse_values(f[i], &u->m0, &u->m1)) return "MOM must be a value or start>end";
        i++;
        u->has_mom = 1;
        u->m_curve = u->m0 == u->m1 ? CURVE_CONST : CURVE_LINEAR;
        u->m_power = 1;
        if (i < nf && is_curve_name(f[i]))
            if (!parse_curve(f[i++], &u->m_curve, &u->m_power)) return "unknown curve (const, linear, cos, exp, polyP)";
        if (!(u->m0 >= 0 && u->m0 < 1 && u->m1 >= 0 && u->m1 < 1)) return "momentum must be in [0, 1)";
        if ((why = check_curve(u->m_curve, u->m0, u->m1))) return why;
    }
    if (i < nf) return "unexpected field after the momentum";
    return NULL;
}

static int parse_phases(Build *b, PhasesParams *pp) {
    char text[CONFIG_MAX_VALUE + 1];
    snprintf(text, sizeof text, "%s", rd_str(b, "phases"));
    if (!trim(text)[0]) return missing(b, "phases", "phases = LEN:LR[:CURVE][:MOM[:CURVE]], ...");
    pp->n = 0;
    int need_mom = 0;
    char *s = text;
    for (int k = 1;; k++) {
        char *comma = strchr(s, ',');
        if (comma) *comma = 0;
        char shown[CONFIG_MAX_VALUE + 1];
        snprintf(shown, sizeof shown, "%s", trim(s));
        if (pp->n == SCHEDULE_MAX_PHASES) return bad(b, "phases", "more than %d phases", SCHEDULE_MAX_PHASES);
        const char *why = parse_phase(s, &pp->u[pp->n]);
        if (why) return bad(b, "phases", "phase %d '%s': %s", k, shown, why);
        need_mom |= !pp->u[pp->n].has_mom;
        pp->n++;
        if (!comma) break;
        s = comma + 1;
    }
    pp->momentum = 0.9;
    if (need_mom) return rd_momentum(b, "momentum", 0.9, &pp->momentum);
    return ERR_OK;
}

// Phase boundaries are rounded to steps from the cycle's start in epochs, so rounding never
// accumulates. Inside a phase of n steps the position is i/n: its end value is where the
// next phase starts (fastai's TrainingPhase); the last phase of a cycle has nothing after it
// and uses i/(n-1), so the cycle ends exactly on the value written.
static int phases_cycle(Build *b, const void *params, const Cycle *cy) {
    const PhasesParams *pp = params;
    double at = 0; // epochs into the cycle, before scaling
    for (int k = 0; k < pp->n; k++) {
        const UserPhase *u = &pp->u[k];
        long s0 = epochs_to_steps(b, cy->start_epoch + at * cy->scale);
        at += u->len;
        long s1 = epochs_to_steps(b, cy->start_epoch + at * cy->scale);
        if (s1 <= s0)
            return bad(b, "phases", "phase %d (%.15g epoch%s%s) is shorter than one step at %ld step%s per epoch", k + 1,
                       u->len * cy->scale, plural_s(u->len * cy->scale), cy->scale != 1 ? " in this cycle" : "", b->spe,
                       plural_s((double)b->spe));
        long n = s1 - s0;
        double den = k == pp->n - 1 && n > 1 ? (double)(n - 1) : (double)n;
        Phase ph = {0};
        ph.steps = n;
        ph.den = den;
        ph.lr0 = u->lr0, ph.lr1 = u->lr1, ph.lr_curve = u->lr_curve, ph.lr_power = u->lr_power;
        if (u->has_mom)
            ph.mom0 = u->m0, ph.mom1 = u->m1, ph.mom_curve = u->m_curve, ph.mom_power = u->m_power;
        else
            ph.mom0 = ph.mom1 = pp->momentum, ph.mom_curve = CURVE_CONST, ph.mom_power = 1;
        b->pos = s0;
        int rc = push(b, ph);
        if (rc) return rc;
    }
    return ERR_OK;
}

// ---- policies without cycles ------------------------------------------------------------

// `epochs` as a step count, for the policies that do not derive it from cycles.
static int read_total(Build *b, long *total) {
    double epochs;
    if (!rd_str(b, "epochs")[0]) return missing(b, "epochs", "the run length: set epochs");
    int rc = config_double(b->c, "schedule", "epochs", &epochs, b->e);
    if (rc) return rc;
    if (!(epochs > 0)) return bad(b, "epochs", "must be > 0, got %.15g", epochs);
    if (epochs * (double)b->spe > 1e12) return bad(b, "epochs", "%.15g epochs are too many steps", epochs);
    *total = epochs_to_steps(b, epochs);
    if (*total < 1) return bad(b, "epochs", "%.15g epochs are less than one step at %ld steps per epoch", epochs, b->spe);
    b->pos = 0;
    b->limit = *total;
    return ERR_OK;
}

static int build_constant(Build *b) {
    long total;
    double lr, mom;
    int rc;
    if ((rc = read_total(b, &total)) || (rc = rd_positive(b, "lr", 0.1, &lr)) ||
        (rc = rd_momentum(b, "momentum", 0.9, &mom)))
        return rc;
    return push(b, linear_phase(total, 0, 1, lr, lr, mom, mom));
}

// step and multistep: the LR is lr * gamma^k after the k-th decay; `at` gives the decay
// points in steps (increasing).
static int build_decays(Build *b, long total, const long *at, int n) {
    double lr, mom, gamma;
    int rc;
    if ((rc = rd_positive(b, "lr", 0.1, &lr)) || (rc = rd_momentum(b, "momentum", 0.9, &mom)) ||
        (rc = rd_positive(b, "gamma", 0.1, &gamma)))
        return rc;
    long s = 0;
    for (int k = 0; k <= n && s < total; k++) {
        long e = k < n && at[k] < total ? at[k] : total;
        if ((rc = push(b, linear_phase(e - s, 0, 1, lr, lr, mom, mom)))) return rc;
        lr *= gamma;
        s = e;
    }
    return ERR_OK;
}

static int build_step(Build *b) {
    long total;
    double step;
    int rc;
    if ((rc = read_total(b, &total))) return rc;
    if (!rd_str(b, "step_size")[0]) return missing(b, "step_size", "step_size (epochs between decays)");
    if ((rc = rd_positive(b, "step_size", 0, &step))) return rc;
    long at[SCHEDULE_MAX_PHASES];
    int n = 0;
    for (long k = 1;; k++) {
        long s = epochs_to_steps(b, step * (double)k);
        if (s >= total) break;
        if (s <= (n ? at[n - 1] : 0)) return bad(b, "step_size", "%.15g epochs is shorter than one step", step);
        if (n == SCHEDULE_MAX_PHASES - 1)
            return bad(b, "step_size", "%.15g epochs gives more than %d decays", step, SCHEDULE_MAX_PHASES - 1);
        at[n++] = s;
    }
    return build_decays(b, total, at, n);
}

static int build_multistep(Build *b) {
    long total;
    int rc, n;
    double m[64];
    if ((rc = read_total(b, &total))) return rc;
    if (!rd_str(b, "milestones")[0]) return missing(b, "milestones", "milestones (epochs of the decays)");
    if ((rc = config_doubles(b->c, "schedule", "milestones", m, 64, &n, b->e))) return rc;
    long at[64];
    for (int k = 0; k < n; k++) {
        at[k] = epochs_to_steps(b, m[k]);
        if (!(m[k] > 0)) return bad(b, "milestones", "must be > 0 epochs, got %.15g", m[k]);
        if (k && at[k] <= at[k - 1])
            return bad(b, "milestones", "must increase by at least one step, got %.15g after %.15g", m[k], m[k - 1]);
    }
    return build_decays(b, total, at, n);
}

// CyclicLR: cycles of up + down steps over the whole run. In torch the rise covers cycle
// positions 0..up (x <= step_ratio) and the fall up+1..up+down-1 at (t_in - up)/down.
// The amplitude is scaled per cycle (triangular2: 1/2^k) or, for exp_range, by gamma^t at
// the global step t: that is the phase's decay about its resting values.
static int build_cyclic(Build *b, int policy) {
    long total;
    double base, max, up_e, down_e, gamma = 1;
    int rc, cm;
    if ((rc = read_total(b, &total))) return rc;
    if ((rc = rd_req(b, "base_lr", "base_lr (CyclicLR base_lr)", &base))) return rc;
    if ((rc = rd_req(b, "max_lr", "max_lr (CyclicLR max_lr)", &max))) return rc;
    if (!(base >= 0)) return bad(b, "base_lr", "must be >= 0, got %.15g", base);
    if (!(max >= base) || !isfinite(max)) return bad(b, "max_lr", "must be >= base_lr (%.15g), got %.15g", base, max);
    if (!rd_str(b, "step_size")[0]) return missing(b, "step_size", "step_size (epochs of the rising half-cycle)");
    if ((rc = rd_positive(b, "step_size", 0, &up_e))) return rc;
    if ((rc = rd_positive(b, "step_size_down", up_e, &down_e))) return rc;
    long up = epochs_to_steps(b, up_e), down = epochs_to_steps(b, down_e);
    if (up < 1) return bad(b, "step_size", "%.15g epochs is shorter than one step", up_e);
    if (down < 1) return bad(b, "step_size_down", "%.15g epochs is shorter than one step", down_e);
    if (policy == P_EXP_RANGE) {
        if ((rc = rd_num(b, "gamma", 1, &gamma))) return rc;
        if (!(gamma > 0 && gamma <= 1)) return bad(b, "gamma", "must be in (0, 1] for exp_range, got %.15g", gamma);
    }
    rd_str(b, "cycle_momentum");
    if ((rc = config_bool(b->c, "schedule", "cycle_momentum", &cm, b->e))) return rc;
    double mb, mm;
    if (cm) {
        if ((rc = rd_momentum(b, "base_momentum", 0.8, &mb)) || (rc = rd_momentum(b, "max_momentum", 0.9, &mm)))
            return rc;
    } else {
        if ((rc = rd_momentum(b, "momentum", 0.9, &mb))) return rc;
        mm = mb;
    }
    double amp = 1; // triangular2 halves it every cycle
    for (long s = 0; s < total; s += up + down) {
        // CyclicLR scales the momentum's swing like the LR's.
        double peak = base + (max - base) * amp, low = mm - (mm - mb) * amp;
        if (policy == P_TRIANGULAR2) amp /= 2;
        Phase rise = linear_phase(up + 1, 0, (double)up, base, peak, mm, low);
        Phase fall = linear_phase(down - 1, 1, (double)down, peak, base, low, mm);
        if (policy == P_EXP_RANGE) {
            rise.decay = fall.decay = gamma;
            rise.lr_rest = fall.lr_rest = base;
            rise.mom_rest = fall.mom_rest = mm;
        }
        if ((rc = push(b, rise)) || (rc = push(b, fall))) return rc;
    }
    return ERR_OK;
}

// ---- assembling -------------------------------------------------------------------------

static int choose_policy(Build *b, int *policy) {
    const char *imply[] = {"use_clr", "use_clr_beta", "phases"};
    const int implied[] = {P_CLR, P_CLR_BETA, P_PHASES};
    if (given(b, "use_clr") && given(b, "use_clr_beta"))
        return err_set(b->e, ERR_INPUT,
                       "%s: schedule.use_clr_beta: both use_clr (%s) and use_clr_beta are given; keep one",
                       where(b, "use_clr_beta"), where(b, "use_clr"));
    // Messages about a missing key point at the file when nothing chose the policy.
    b->policy_where = b->c->path[0] ? b->c->path : "config";
    if (rd_str(b, "policy")[0]) {
        b->policy_where = where(b, "policy");
        int rc = config_choice(b->c, "schedule", "policy", policy_names, policy, b->e);
        if (rc) return rc;
        return ERR_OK;
    }
    *policy = P_CONSTANT;
    for (int i = 0; i < 3; i++)
        if (given(b, imply[i])) {
            *policy = implied[i];
            b->policy_where = where(b, imply[i]);
            break;
        }
    return ERR_OK;
}

static int build(Build *b, int policy) {
    Cycles cy;
    int rc;
    switch (policy) {
    case P_CONSTANT: return build_constant(b);
    case P_STEP: return build_step(b);
    case P_MULTISTEP: return build_multistep(b);
    case P_TRIANGULAR:
    case P_TRIANGULAR2:
    case P_EXP_RANGE: return build_cyclic(b, policy);
    case P_CLR:
    case P_CLR_BETA: {
        const char *key = policy == P_CLR ? "use_clr" : "use_clr_beta";
        ClrParams p;
        if (!rd_str(b, key)[0])
            return missing(b, key, policy == P_CLR ? "use_clr = div, cut_div[, max_mom, min_mom]"
                                                   : "use_clr_beta = div, pct[, max_mom, min_mom]");
        if ((rc = read_clr(b, key, &p)) || (rc = read_cycles(b, &cy, 1, 0))) return rc;
        return run_cycles(b, &cy, policy == P_CLR ? clr_cycle : clr_beta_cycle, &p, cycle_key(b));
    }
    case P_ONECYCLE: {
        OneCycleParams p;
        int anneal;
        static const char *const anneals[] = {"cos", "linear", NULL};
        if ((rc = rd_req(b, "max_lr", "max_lr (OneCycleLR max_lr)", &p.max_lr))) return rc;
        if (!(p.max_lr > 0) || !isfinite(p.max_lr)) return bad(b, "max_lr", "must be > 0, got %.15g", p.max_lr);
        if ((rc = rd_positive(b, "div_factor", 25, &p.div_factor)) ||
            (rc = rd_positive(b, "final_div_factor", 1e4, &p.final_div)) ||
            (rc = rd_num(b, "pct_start", 0.3, &p.pct)))
            return rc;
        if (!(p.pct >= 0 && p.pct <= 1)) return bad(b, "pct_start", "must be in [0, 1], got %.15g", p.pct);
        rd_str(b, "anneal_strategy");
        rd_str(b, "three_phase");
        rd_str(b, "cycle_momentum");
        if ((rc = config_choice(b->c, "schedule", "anneal_strategy", anneals, &anneal, b->e)) ||
            (rc = config_bool(b->c, "schedule", "three_phase", &p.three, b->e)) ||
            (rc = config_bool(b->c, "schedule", "cycle_momentum", &p.cycle_mom, b->e)))
            return rc;
        p.curve = anneal == 0 ? CURVE_COS : CURVE_LINEAR;
        if (p.cycle_mom) {
            if ((rc = rd_momentum(b, "base_momentum", 0.85, &p.mom_base)) ||
                (rc = rd_momentum(b, "max_momentum", 0.95, &p.mom_max)))
                return rc;
        } else {
            if ((rc = rd_momentum(b, "momentum", 0.9, &p.mom_base))) return rc;
            p.mom_max = p.mom_base;
        }
        if ((rc = read_cycles(b, &cy, 1, 0))) return rc;
        return run_cycles(b, &cy, onecycle_cycle, &p, cycle_key(b));
    }
    case P_SGDR: {
        SgdrParams p;
        if ((rc = rd_positive(b, "lr", 0.1, &p.lr)) || (rc = rd_num(b, "min_lr", 0, &p.min_lr)) ||
            (rc = rd_momentum(b, "momentum", 0.9, &p.mom)))
            return rc;
        if (!(p.min_lr >= 0 && p.min_lr <= p.lr)) return bad(b, "min_lr", "must be in [0, lr = %.15g], got %.15g", p.lr, p.min_lr);
        if ((rc = read_cycles(b, &cy, 1, 0))) return rc;
        return run_cycles(b, &cy, sgdr_cycle, &p, cycle_key(b));
    }
    case P_PHASES: {
        PhasesParams p;
        p.u = xmalloc(sizeof(UserPhase) * SCHEDULE_MAX_PHASES);
        rc = parse_phases(b, &p);
        double len = 0;
        for (int k = 0; !rc && k < p.n; k++) len += p.u[k].len;
        if (!rc) rc = read_cycles(b, &cy, 0, len);
        if (!rc) rc = run_cycles(b, &cy, phases_cycle, &p, "phases");
        free(p.u);
        return rc;
    }
    }
    return err_set(b->e, ERR_INPUT, "schedule: unknown policy");
}

int schedule_from_config(Schedule *s, const Config *c, long steps_per_epoch, Err *e) {
    memset(s, 0, sizeof *s);
    if (steps_per_epoch < 1)
        return err_set(e, ERR_INPUT, "schedule: steps per epoch must be >= 1, got %ld", steps_per_epoch);
    Build b = {0};
    b.c = c;
    b.e = e;
    b.spe = steps_per_epoch;
    int policy, rc = choose_policy(&b, &policy);
    if (rc) return rc;
    b.policy = policy_names[policy];
    b.p = xmalloc(sizeof(Phase) * SCHEDULE_MAX_PHASES);
    rc = build(&b, policy);
    // A key that was given but never read would be silently ignored: say so instead.
    for (size_t k = 0; !rc && k < NKEYS; k++) {
        const char *key = schedule_config_keys[k].key, *hint = "";
        if (b.used[k] || !given(&b, key)) continue;
        if (!strcmp(key, "momentum")) hint = " here: the policy sets the momentum itself";
        if (!strcmp(key, "lr") && b.used[key_index("max_lr")]) hint = "; its peak LR is max_lr";
        rc = bad(&b, key, "has no effect with policy '%s'%s; remove it (on the command line: --set schedule.%s=)",
                 b.policy, hint, key);
    }
    if (!rc && b.n == 0) rc = err_set(e, ERR_INPUT, "schedule: policy '%s' gives an empty schedule", b.policy);
    if (rc) {
        free(b.p);
        return rc;
    }
    snprintf(s->policy, sizeof s->policy, "%s", b.policy);
    s->steps_per_epoch = steps_per_epoch;
    s->n = b.n;
    s->p = xmalloc(sizeof(Phase) * (size_t)b.n);
    memcpy(s->p, b.p, sizeof(Phase) * (size_t)b.n);
    free(b.p);
    const Phase *last = &s->p[s->n - 1];
    s->total = last->start + last->steps;
    // What the weight-decay schedule needs (schedule_wd_mult): the cycles and the peak LR.
    if (config_int(c, "schedule", "n_cycles", &s->n_cycles, e)) {
        schedule_free(s);
        return e->code;
    }
    double lr, mom;
    for (long t = 0; t < s->total; t++) {
        schedule_at(s, t, &lr, &mom);
        if (lr > s->lr_peak) s->lr_peak = lr;
    }
    for (int k = 0; k < s->n; k++) {
        const Phase *p = &s->p[k];
        if (p->mom0 != s->p[0].mom0 || p->mom1 != s->p[0].mom0) s->cycles_momentum = 1;
    }
    return ERR_OK;
}

void schedule_free(Schedule *s) {
    free(s->p);
    s->p = NULL;
    s->n = 0;
}

// The curves, written as PyTorch and fastai write them so that values agree to the last
// bits: linear is PyTorch's _annealing_linear, cos its _annealing_cos, exp and poly are
// fastai's DecayType.EXPONENTIAL and POLYNOMIAL.
static double curve_at(int curve, double power, double a, double b, double f) {
    switch (curve) {
    case CURVE_LINEAR: return (b - a) * f + a;
    case CURVE_COS: return b + (a - b) / 2.0 * (cos(PI * f) + 1);
    case CURVE_EXP: return a * pow(b / a, f);
    case CURVE_POLY: return b + (a - b) * pow(1 - f, power);
    default: return a;
    }
}

void schedule_at(const Schedule *s, long t, double *lr, double *mom) {
    if (s->n == 0) {
        *lr = *mom = 0;
        return;
    }
    if (t >= s->total) t = s->total - 1;
    if (t < 0) t = 0;
    int lo = 0, hi = s->n - 1; // the last phase starting at or before t
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (s->p[mid].start <= t) lo = mid;
        else hi = mid - 1;
    }
    const Phase *p = &s->p[lo];
    double f = p->den > 0 ? ((double)(t - p->start) + p->off) / p->den : 0;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    *lr = curve_at(p->lr_curve, p->lr_power, p->lr0, p->lr1, f);
    *mom = curve_at(p->mom_curve, p->mom_power, p->mom0, p->mom1, f);
    if (p->decay > 0 && p->decay != 1) {
        double d = pow(p->decay, (double)t);
        *lr = p->lr_rest + (*lr - p->lr_rest) * d;
        *mom = p->mom_rest + (*mom - p->mom_rest) * d;
    }
}

double schedule_wd_mult(const Schedule *s, int follow_lr, int norm, double lr) {
    if (!follow_lr) return 1.0;
    double cycle_steps = (double)s->total / (double)(s->n_cycles > 0 ? s->n_cycles : 1);
    double f = norm && cycle_steps > 0 ? 1.0 / sqrt(cycle_steps) : 1.0;
    return s->lr_peak > 0 ? lr / s->lr_peak * f : 0.0;
}

long schedule_epochs(const Schedule *s) { return (s->total + s->steps_per_epoch - 1) / s->steps_per_epoch; }
