/*
 * rng.c — the project's seeded random source, used for initial latent states, sampling and random
 * checkpoints. It is not torch's generator (that cannot be reproduced without torch), so states drawn
 * here differ from the reference's draws; goldens that need the reference's draw store it.
 *
 * Definition (stable across versions; tests rely on it):
 *   seed:    s[i] = splitmix64 stream of `seed`, i = 0..3 (Vigna's splitmix64: x += 0x9e3779b97f4a7c15,
 *            z = x; z = (z ^ z>>30) * 0xbf58476d1ce4e5b9; z = (z ^ z>>27) * 0x94d049bb133111eb; z ^ z>>31)
 *   next:    xoshiro256** (Blackman & Vigna 2018)
 *   uniform: (next >> 11) * 2^-53, in [0, 1)
 *   normal:  Box-Muller, one value per call: sqrt(-2 ln(1-u1)) * cos(2π u2)
 *   trunc:   normal * std, redrawn until inside [a, b]
 */
#include "base/base.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hg_rng_seed(hg_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hg_rng_u64(hg_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hg_rng_uniform(hg_rng *r) { return (double)(hg_rng_u64(r) >> 11) * 0x1.0p-53; }

double hg_rng_normal(hg_rng *r) {
    double u1 = hg_rng_uniform(r), u2 = hg_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

double hg_rng_trunc_normal(hg_rng *r, double std, double a, double b) {
    if (!(std > 0)) return 0.0;
    for (;;) {
        double v = hg_rng_normal(r) * std;
        if (v >= a && v <= b) return v;
    }
}
