// rng.h: a small seedable generator (xoshiro256** seeded by splitmix64).
// Its whole state is the struct, so checkpoints save and restore it by value.
#ifndef ONECYCLE_RNG_H
#define ONECYCLE_RNG_H
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
uint32_t rng_below(Rng *r, uint32_t n);  // uniform in [0, n), n > 0
double rng_uniform(Rng *r);              // uniform in [0, 1)
double rng_normal(Rng *r);               // standard normal (Box-Muller)
void rng_shuffle(Rng *r, int *a, int n); // Fisher-Yates

#endif
