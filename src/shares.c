// shares.c: the split of a batch into shares and the tree in which their sums add (shares.h).
#include "shares.h"

void shares_range(int nb, int k, int K, int *lo, int *hi) {
    *lo = (int)((long)nb * k / K);
    *hi = (int)((long)nb * (k + 1) / K);
}

int shares_pow2(long n) {
    return n > 0 && (n & (n - 1)) == 0;
}

// The largest power of two below n (n >= 2): the size of the left subtree.
static int left_of(int n) {
    int h = 1;
    while (2 * h < n) h *= 2;
    return h;
}

// The element-wise adds run in parallel: each element's sum is the same whichever thread adds it.
void shares_sum_float(float *parts, int n, long len, long stride) {
    if (n < 2) return;
    const int h = left_of(n);
    shares_sum_float(parts, h, len, stride);
    shares_sum_float(parts + (long)h * stride, n - h, len, stride);
    const float *q = parts + (long)h * stride;
#pragma omp parallel for schedule(static) if (len > 65536)
    for (long i = 0; i < len; i++) parts[i] += q[i];
}

void shares_sum_double(double *parts, int n, long len, long stride) {
    if (n < 2) return;
    const int h = left_of(n);
    shares_sum_double(parts, h, len, stride);
    shares_sum_double(parts + (long)h * stride, n - h, len, stride);
    const double *q = parts + (long)h * stride;
    for (long i = 0; i < len; i++) parts[i] += q[i];
}
