/* Unit tests of the histogram: plain asserts; prints "N passed, 0 failed". */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hist.h"

static int passed;
#define RUN(test) do { test(); passed++; } while (0)

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)                  /* xorshift64: deterministic */
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* Every value lies in its bucket, and the bucket is narrow. */
static void check_bucket(uint64_t v)
{
    size_t i = hist_index(v);
    assert(i < HIST_BUCKETS);
    uint64_t lo = hist_lowest(i), hi = hist_highest(i);
    assert(lo <= v && v <= hi);
    assert(hist_index(lo) == i && hist_index(hi) == i);
    if (lo < 2 * HIST_SUB)
        assert(lo == hi);                       /* small values are exact */
    else
        assert((double)(hi - lo + 1) / (double)lo <= 1.0 / HIST_SUB);
}

static void test_buckets_small_values_exact(void)
{
    for (uint64_t v = 0; v < 100000; v++)
        check_bucket(v);
}

static void test_buckets_all_magnitudes(void)
{
    for (int bit = 0; bit < 64; bit++) {
        uint64_t p = (uint64_t)1 << bit;
        check_bucket(p);
        check_bucket(p - 1);
        check_bucket(p + 1);
    }
    check_bucket(UINT64_MAX);
    assert(hist_index(UINT64_MAX) == HIST_BUCKETS - 1);
    for (int k = 0; k < 200000; k++)
        check_bucket(rnd() >> (rnd() % 64));
}

static void test_buckets_contiguous(void)
{
    for (size_t i = 0; i + 1 < HIST_BUCKETS; i++)
        assert(hist_highest(i) + 1 == hist_lowest(i + 1));
}

static void test_empty(void)
{
    static struct hist h;
    hist_reset(&h);
    assert(h.count == 0);
    assert(hist_percentile(&h, 50) == 0 && hist_percentile(&h, 100) == 0);
    assert(hist_mean(&h) == 0.0);
}

static void test_single_value(void)
{
    static struct hist h;
    hist_reset(&h);
    hist_add(&h, 123457);
    assert(h.count == 1 && h.min == 123457 && h.max == 123457);
    assert(hist_percentile(&h, 0) == 123457);
    assert(hist_percentile(&h, 50) == 123457);      /* clamped to [min, max] */
    assert(hist_percentile(&h, 99.9) == 123457);
    assert(hist_mean(&h) == 123457.0);
}

/* 1..100000 once each: every percentile within 1/128 of the exact one, never below it. */
static void test_uniform_percentiles(void)
{
    static struct hist h;
    hist_reset(&h);
    for (uint64_t v = 100000; v >= 1; v--)
        hist_add(&h, v);
    assert(h.count == 100000 && h.min == 1 && h.max == 100000);
    const double ps[] = { 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99 };
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        double exact = ceil(ps[k] / 100.0 * 100000);
        double got = (double)hist_percentile(&h, ps[k]);
        assert(got >= exact && got <= exact * (1 + 1.0 / HIST_SUB));
    }
    assert(hist_percentile(&h, 0) == 1 && hist_percentile(&h, 100) == 100000);
    assert(fabs(hist_mean(&h) - 50000.5) < 1e-6);
}

/* A bimodal load (99 % fast, 1 % stalled): p50 is fast, p99.9 and max see the stall. */
static void test_bimodal_tail(void)
{
    static struct hist h;
    hist_reset(&h);
    for (int k = 0; k < 9900; k++)
        hist_add(&h, 20000 + rnd() % 1000);        /* 20-21 ms */
    for (int k = 0; k < 100; k++)
        hist_add(&h, 2000000 + rnd() % 100000);    /* 2.0-2.1 s */
    assert(hist_percentile(&h, 50) < 21200);
    assert(hist_percentile(&h, 99) < 21200);
    assert(hist_percentile(&h, 99.9) >= 2000000);
    assert(hist_percentile(&h, 100) == h.max && h.max >= 2000000);
}

/* Percentiles never decrease with p. */
static void test_monotone(void)
{
    static struct hist h;
    hist_reset(&h);
    for (int k = 0; k < 50000; k++)
        hist_add(&h, rnd() % 10000000);
    uint64_t prev = 0;
    for (double p = 0; p <= 100; p += 0.01) {
        uint64_t v = hist_percentile(&h, p);
        assert(v >= prev);
        prev = v;
    }
}

int main(void)
{
    RUN(test_buckets_small_values_exact);
    RUN(test_buckets_all_magnitudes);
    RUN(test_buckets_contiguous);
    RUN(test_empty);
    RUN(test_single_value);
    RUN(test_uniform_percentiles);
    RUN(test_bimodal_tail);
    RUN(test_monotone);
    printf("hist: %d passed, 0 failed\n", passed);
    return 0;
}
