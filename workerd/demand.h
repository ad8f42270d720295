/* The warm pool's target for one language, from its jobs. pool.c keeps one per language and
 * calls these under its lock with the time; they read no clock and do no I/O, so the rules
 * stand alone (test_demand.c).
 *
 * A language nobody asked for within the idle period keeps its floor (--pool N; 0 under
 * auto). One whose jobs come keeps at least one; each job that finds the pool empty asks for
 * one more, up to the most (--pool-max); a grown target falls by one per quiet minute, and to
 * the floor once the idle period passes without a job. */
#ifndef WORKERD_DEMAND_H
#define WORKERD_DEMAND_H

#include <stdbool.h>
#include <stdint.h>

#define DEMAND_SHRINK_AFTER_MS 60000    /* a grown target falls by one per quiet minute */

struct demand {
    int floor;              /* always kept */
    int most;               /* the target's bound (at least floor) */
    int64_t idle_ms;        /* no job for this long: back to the floor */
    int want;               /* the target */
    bool recent;            /* a job came within idle_ms of last_job (as of the last settle) */
    int64_t last_job;       /* ms, the caller's clock: the last job with the default limits */
    int64_t last_miss;      /* the last job that found no warm container, or the last shrink */
};

/* A language with this floor (>= 0), bound (raised to floor) and idle period: its target is
 * the floor. */
void demand_init(struct demand *d, int floor, int most, int64_t idle_ms);

/* A job with the language's default limits came at now; hit: it got a warm container. A
 * miss raises the target: to one if it was lower, else by one, within the bound. */
void demand_job(struct demand *d, int64_t now, bool hit);

/* The cluster's record says a job of the language came age_ms before now: within the idle
 * period, the language counts as used since then and keeps one (within the bound). */
void demand_seed(struct demand *d, int64_t now, int64_t age_ms);

/* Lowers the target as demand falls (see above). Returns true when the idle period has just
 * passed (the language was in use, and no longer is). */
bool demand_settle(struct demand *d, int64_t now);

/* One of the language's waiting containers gave way to another language in the memory
 * budget: the target falls by one, not below the floor, until its next job. */
void demand_yield(struct demand *d);

#endif
