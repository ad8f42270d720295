/* An HDR-style latency histogram: log-linear buckets, bounded relative error.
 *
 * Values (microseconds here, but any unsigned integer) below 2^(HIST_SUB_BITS+1)
 * get a bucket each; above that, every power of two is split into
 * 2^HIST_SUB_BITS equal buckets, so a bucket is at most 1/128 (0.78 %) of its
 * lower bound wide.  Fixed size, O(1) to add, no samples kept. */
#ifndef RCE_LOAD_HIST_H
#define RCE_LOAD_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count, min, max;
    double sum;
    uint64_t buckets[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t v);

/* The bucket of v, and the smallest and largest value that bucket holds. */
size_t hist_index(uint64_t v);
uint64_t hist_lowest(size_t idx);
uint64_t hist_highest(size_t idx);

/* The value at percentile p (0..100): the highest value of the bucket holding
 * the ceil(p% * count)-th smallest sample, clamped to [min, max], so at most
 * 1/128 above the true one; 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);

double hist_mean(const struct hist *h);

#endif
