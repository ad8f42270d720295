/* The state a node's threads share. main sets it up before any thread starts and tears it
 * down after the last one ended; between, only the atomics, the registries (their own locks),
 * the pool and the stats (their own locks) change. */
#ifndef WORKERD_NODE_H
#define WORKERD_NODE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "lang.h"
#include "pool.h"
#include "slot.h"
#include "stats.h"

#define NODE_DRAIN_GIVE_UP_ATTEMPTS 10  /* Redis retries for an answer once shutting down */

/* Result reason (and stderr) of every job answered under --bench-no-container. */
#define NODE_BENCH_REASON "benchmark mode: no container was run"

struct node {
    struct config cfg;
    struct lang_registry languages;
    struct pool *pool;              /* NULL before it started and after it stopped */
    struct slot_registry slots;
    struct stats stats;             /* the jobs it finished (its own lock) */
    atomic_bool draining;           /* SIGTERM/SIGINT: take no new jobs */
    atomic_int busy;                /* slots holding a job */
    atomic_int batch_busy;          /* slots holding a batch job, or about to take one */
    atomic_int live_slots;          /* slot threads not yet finished */
    atomic_llong epoch;             /* rce:epoch:<node> as this node registered it; 0 before */
    atomic_llong other_taken_ms;    /* when a slot last took an interactive or normal job
                                     * (monotonic): batch jobs are paced for a while after */
    atomic_llong batch_turn_ms;     /* under pacing, the next batch job may start then */
};

#endif
