// eta.h: the time left of a training run, for its progress line.
//
// The mean of every step time since the process started is thrown off for hours by one
// long step: a run paused with Ctrl-Z or SIGSTOP, a suspended laptop, a moment of swapping.
// So the time per step is the median of the last ETA_WINDOW steps, which one outlier (or
// fewer than half the window) does not move, and which follows a lasting change of speed
// within ETA_WINDOW / 2 steps. Evaluations are timed apart: the last one's time counts for
// each evaluation still to come.
#ifndef ONECYCLE_ETA_H
#define ONECYCLE_ETA_H

enum { ETA_WINDOW = 31 }; // odd: the median is one of the times

typedef struct Eta {
    double step[ETA_WINDOW]; // the last n step times in seconds, a ring; next: where the next goes
    int n, next;
    double eval; // the last evaluation's seconds (0: none timed yet)
} Eta;

void eta_init(Eta *e);
void eta_step(Eta *e, double seconds); // a step took this long
void eta_eval(Eta *e, double seconds); // an evaluation took this long

// Seconds left for steps_left steps and evals_left evaluations: the median step time times
// steps_left, plus the last evaluation's time times evals_left. 0 before any step is timed.
double eta_seconds(const Eta *e, long steps_left, long evals_left);

#endif
