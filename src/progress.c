// progress.c: the live progress line of `train`, fitted to the terminal (progress.h).
#include "progress.h"
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int progress_term_width(int fd) {
    struct winsize ws;
    if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
    return ws.ws_col;
}

static void fmt_duration(char *buf, size_t cap, double s) {
    long x = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (x >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", x / 3600, x / 60 % 60, x % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", x / 60, x % 60);
}

int progress_line(char *buf, size_t cap, const TrainProgress *p, int width) {
    enum { NF = 8 };
    // In display order, with the rank at which each is dropped (1 first; 0 never).
    char f[NF][48], eta[32];
    static const int drop[NF] = {0, 6, 7, 4, 3, 1, 2, 5};
    fmt_duration(eta, sizeof eta, p->eta_seconds);
    snprintf(f[0], sizeof f[0], "epoch %d/%ld", p->epoch, p->epochs);
    snprintf(f[1], sizeof f[1], "batch %ld/%ld", p->batch, p->batches);
    snprintf(f[2], sizeof f[2], "loss %.4f", p->loss);
    snprintf(f[3], sizeof f[3], "acc %.2f%%", 100.0 * p->acc);
    snprintf(f[4], sizeof f[4], "lr %.4g", p->lr);
    snprintf(f[5], sizeof f[5], "mom %.3g", p->momentum);
    snprintf(f[6], sizeof f[6], "%.0f img/s", p->images_per_sec);
    snprintf(f[7], sizeof f[7], "ETA %s", eta);
    int keep[NF], total = 0;
    for (int i = 0; i < NF; i++) {
        keep[i] = 1;
        total += (int)strlen(f[i]) + (i ? 2 : 0);
    }
    int room = width > 0 ? width - 1 : 1 << 20;
    for (int rank = 1; rank < NF && total > room; rank++)
        for (int i = 0; i < NF; i++)
            if (drop[i] == rank && keep[i]) {
                keep[i] = 0;
                total -= (int)strlen(f[i]) + 2;
            }
    int n = 0;
    buf[0] = 0;
    for (int i = 0; i < NF; i++)
        if (keep[i] && (size_t)n < cap) n += snprintf(buf + n, cap - (size_t)n, "%s%s", n ? "  " : "", f[i]);
    if ((size_t)n >= cap) n = (int)cap - 1;
    if (n > room) n = room > 0 ? room : 0;
    buf[n] = 0;
    return n;
}
