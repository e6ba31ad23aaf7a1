// eta.c: the time left of a training run, see eta.h.
#include "eta.h"
#include "common.h"
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

double eta_seconds(const Eta *e, long steps_left, long evals_left) {
    if (e->n == 0) return 0;
    double scratch[ETA_WINDOW];
    return median(e->step, e->n, scratch) * (double)steps_left + e->eval * (double)evals_left;
}
