/* HDR-style histogram: see hist.h. */
#include <math.h>
#include <string.h>

#include "hist.h"

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

size_t hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (size_t)v;
    int top = 63 - __builtin_clzll(v);            /* v's highest set bit, > HIST_SUB_BITS */
    int shift = top - HIST_SUB_BITS;
    return (size_t)(shift + 1) * HIST_SUB + (size_t)((v >> shift) - HIST_SUB);
}

uint64_t hist_lowest(size_t idx)
{
    if (idx < 2 * HIST_SUB)
        return idx;
    size_t shift = idx / HIST_SUB - 1;
    return (uint64_t)(idx % HIST_SUB + HIST_SUB) << shift;
}

uint64_t hist_highest(size_t idx)
{
    if (idx < 2 * HIST_SUB)
        return idx;
    size_t shift = idx / HIST_SUB - 1;
    return hist_lowest(idx) + (((uint64_t)1 << shift) - 1);
}

void hist_add(struct hist *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
    h->buckets[hist_index(v)]++;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    if (rank >= h->count)
        return h->max;
    uint64_t seen = 0;
    for (size_t i = hist_index(h->min); i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = hist_highest(i);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
