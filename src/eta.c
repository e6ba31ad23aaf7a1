// eta.c: the time left of a training run, see eta.h.
#include "eta.h"
#include <string.h>

void eta_init(Eta *e) {
    memset(e, 0, sizeof *e);
}

void eta_step(Eta *e, double seconds) {
    e->step[e->next] = seconds;
    e->next = (e->next + 1) % ETA_WINDOW;
    if (e->n < ETA_WINDOW) e->n++;
}

void eta_eval(Eta *e, double seconds) {
    e->eval = seconds;
}

// The median of n values (the lower of the middle two when n is even), by insertion sort
// of a copy: n <= ETA_WINDOW, once per step.
static double median(const double *v, int n) {
    double s[ETA_WINDOW];
    for (int i = 0; i < n; i++) {
        int j = i;
        for (; j > 0 && s[j - 1] > v[i]; j--) s[j] = s[j - 1];
        s[j] = v[i];
    }
    return s[(n - 1) / 2];
}

double eta_seconds(const Eta *e, long steps_left, long evals_left) {
    if (e->n == 0) return 0;
    return median(e->step, e->n) * (double)steps_left + e->eval * (double)evals_left;
}
