/* What a node counts of the jobs it finished, for the node JSON (RCE_NODE_JOBS and
 * RCE_NODE_DURATIONS): per language, the jobs by status and histograms of their phases over
 * RCE_DURATION_BUCKETS_MS. Counted from the node's start: a restart begins again at zero,
 * as Prometheus counters may. Any thread may call these (one lock). */
#ifndef WORKERD_STATS_H
#define WORKERD_STATS_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "rce_protocol.h"

enum stats_phase { STATS_QUEUE, STATS_COMPILE, STATS_RUN, STATS_PHASES };

struct stats_histogram {
    long long count, sum_ms;
    long long buckets[RCE_DURATION_BUCKETS];   /* each bucket's own, not cumulative */
};

struct stats_language;

struct stats {
    pthread_mutex_t lock;
    struct stats_language *langs;
    size_t n, cap;
};

void stats_init(struct stats *s);
void stats_destroy(struct stats *s);

/* Counts one finished job of language (a canonical name, or NULL: skipped) with status (one
 * of RCE_STATUS_*). -1 if out of memory or the status is not one of them. */
int stats_finished(struct stats *s, const char *language, const char *status);

/* Adds one observation of ms (negative: 0) to language's histogram of phase. -1 if out of
 * memory. */
int stats_observe(struct stats *s, const char *language, enum stats_phase phase, long long ms);

/* Sets node's RCE_NODE_JOBS and RCE_NODE_DURATIONS, each only with what is non-zero, and
 * only when there is some. 0, or -1 if out of memory. */
int stats_describe(struct stats *s, json_t *node);

#endif
