"""cxr's bootstrap replicate generator and bootstrap helpers, re-implemented in Python for the
fixture scripts (gen_stats_fixtures.py, gen_subgroup_fixtures.py).

The generator is rand 0.10's Xoshiro256PlusPlus seeded as src/rng.rs `Rng::keyed` seeds it;
the replicate streams and multiplicities are those of src/evaluate/bootstrap.rs (whole-set
`Resampler` and the per-stratum streams of `Stratified`).
"""

import hashlib

import numpy as np

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
BOOTSTRAP_STREAM = 0x626F6F74  # src/evaluate/bootstrap.rs BOOTSTRAP_STREAM ("boot")
STRATUM_STREAM = 0x737472617461  # src/evaluate/bootstrap.rs STRATUM_STREAM ("strata")


class Xoshiro256pp:
    """rand 0.10's Xoshiro256PlusPlus (Blackman & Vigna, xoshiro256plusplus.c) seeded the way
    src/rng.rs `Rng::keyed` seeds it: SHA-256 of the keys' little-endian u64 bytes, read as
    four little-endian u64 state words (rand_core `read_words`)."""

    def __init__(self, keys):
        d = hashlib.sha256(b"".join(int(k).to_bytes(8, "little") for k in keys)).digest()
        self.s = [int.from_bytes(d[8 * i:8 * i + 8], "little") for i in range(4)]
        assert any(self.s)  # an all-zero state (rand remaps it) has probability 2^-256

    def next_u64(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        r = (rotl((s[0] + s[3]) & M64, 23) + s[0]) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
        return r

    def next_u32(self):
        return self.next_u64() >> 32  # rand: the upper half

    def below(self, n):
        """rand 0.10 `random_range(0..n)` for usize n (UniformUsize::sample_single): n <= u32::MAX
        draws u32s, larger n u64s; both by Canon's method as in UniformInt::sample_single_inclusive
        without the `unbiased` feature: one widening multiply, and a second draw only when the
        low word lies within `range` of overflowing, whose carry may add one."""
        bits, draw = (32, self.next_u32) if n <= M32 else (64, self.next_u64)
        mask = (1 << bits) - 1
        m = draw() * n
        result, lo = m >> bits, m & mask
        if lo > ((1 << bits) - n) & mask:
            new_hi = (draw() * n) >> bits
            if lo + new_hi > mask:
                result += 1
        return result


def replicate_rng(seed, r, stream=()):
    return Xoshiro256pp([seed, BOOTSTRAP_STREAM, r, *stream])


def add_weights(w, rows, units, seed, r, stream=()):
    """Adds replicate r's multiplicities to w: len(rows) image draws over `rows` (units None), or
    len(units) draws of whole units (lists of rows), from the stream (seed, "boot", r, *stream)."""
    g = replicate_rng(seed, r, stream)
    if units is None:
        for _ in range(len(rows)):
            w[rows[g.below(len(rows))]] += 1
    else:
        for _ in range(len(units)):
            for i in units[g.below(len(units))]:
                w[i] += 1


def patient_units(patients, rows):
    """The rows of each patient among `rows`, patients in first-appearance order."""
    order = list(dict.fromkeys(patients[i] for i in rows))
    index = {p: k for k, p in enumerate(order)}
    units = [[] for _ in order]
    for i in rows:
        units[index[patients[i]]].append(i)
    return units


def weights(n_images, units, seed, r):
    """Multiplicities of replicate r of the whole set (src/evaluate/bootstrap.rs `Resampler`)."""
    w = np.zeros(n_images, dtype=np.int64)
    add_weights(w, list(range(n_images)), units, seed, r)
    return w


def stratum_key(name):
    """src/evaluate/bootstrap.rs `stratum_key`: the first 8 bytes of SHA-256(name), little-endian."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def stratified_weights(patients, strata, resample, seed, r):
    """Multiplicities of replicate r of src/evaluate/bootstrap.rs `Stratified`: `strata` maps a
    stratum name (e.g. "sex=F") to its rows; each is resampled within itself from its own stream."""
    w = np.zeros(len(patients), dtype=np.int64)
    for name, rows in strata.items():
        units = patient_units(patients, rows) if resample == "patients" else None
        add_weights(w, rows, units, seed, r, (STRATUM_STREAM, stratum_key(name)))
    return w


def pct(vals, level):
    """numpy.percentile interval of the defined values (None when none is defined)."""
    v = [x for x in vals if x is not None]
    if not v:
        return None
    a = (1 - level) / 2 * 100
    lo, hi = np.percentile(v, [a, 100 - a])
    return {"lo": float(lo), "hi": float(hi), "replicates": len(v)}


def p_two_sided(ds):
    """src/evaluate/compare.rs two-sided bootstrap p-value of Δ = 0."""
    d = [x for x in ds if x is not None]
    if not d:
        return None
    le, ge = sum(x <= 0 for x in d), sum(x >= 0 for x in d)
    return min(1.0, 2 * (min(le, ge) + 1) / (len(d) + 1))
