// shares.h: a batch as K shares, and the one order in which their partial sums are added.
//
// Data-parallel training splits every batch of nb images into contiguous shares, share k
// holding images [nb*k/K, nb*(k+1)/K) (sizes differ by at most one, the remainder going to
// the higher shares): under mpirun each rank takes one or more of them (loader.h), and with
// [train] shares = K one process takes all K and computes every sum over the batch's images
// per share, the way K ranks would (resnet.h). Partials of the shares are added as a
// pairwise tree in share order: for n partials, the tree of the first P (the largest power
// of two below n) plus the tree of the rest. Float addition is not associative, so this
// order is what makes one process with K shares, and W ranks with K/W shares each, add the
// same numbers in the same order: when K/W is a power of two, the tree over K shares is the
// tree over the W ranks' subtrees (dist.h adds the ranks' partials in that tree too).
#ifndef ONECYCLE_SHARES_H
#define ONECYCLE_SHARES_H

// Share k of K of a batch of nb images: images [*lo, *hi).
void shares_range(int nb, int k, int K, int *lo, int *hi);
// parts[0..len) = the tree sum over n partials, partial u at parts + u*stride (each len
// values); the other partials are overwritten. n <= 1: nothing to do.
void shares_sum_float(float *parts, int n, long len, long stride);
void shares_sum_double(double *parts, int n, long len, long stride);
// Whether n is a power of two (1, 2, 4, ...).
int shares_pow2(long n);

#endif
