/* The warm pool's target per language (demand.c): none until asked, one while used, more
 * under misses up to the bound, back down as demand falls; a floor always kept. */
#include "demand.h"
#include "test.h"

#define MIN 60000
#define IDLE (10 * MIN)

/* auto: nothing until the first job, which asks for one; misses grow it up to the bound. */
static void test_auto_grows_with_misses(void)
{
    struct demand d;
    demand_init(&d, 0, 4, IDLE);
    assert(d.want == 0 && !demand_settle(&d, 1000) && d.want == 0);
    demand_job(&d, 1000, false);
    assert(d.want == 1 && d.recent);
    demand_job(&d, 1100, true);         /* a hit asks for nothing more */
    assert(d.want == 1);
    for (int i = 0; i < 5; i++)
        demand_job(&d, 1200 + i, false);
    assert(d.want == 4);                /* the bound */
}

/* Grown: one fewer per quiet minute, down to one while jobs keep coming; to zero once the idle
 * period passes without a job, said once. */
static void test_auto_shrinks(void)
{
    struct demand d;
    demand_init(&d, 0, 4, IDLE);
    demand_job(&d, 0, false);
    demand_job(&d, 1, false);
    demand_job(&d, 2, false);
    assert(d.want == 3);
    assert(!demand_settle(&d, MIN) && d.want == 3);          /* not a whole quiet minute yet */
    assert(!demand_settle(&d, MIN + 3) && d.want == 2);
    demand_job(&d, 2 * MIN, true);                           /* a hit: still quiet */
    assert(!demand_settle(&d, 2 * MIN + 4) && d.want == 1);
    assert(!demand_settle(&d, 5 * MIN) && d.want == 1);      /* used: one stays */
    assert(!demand_settle(&d, 2 * MIN + IDLE - 1) && d.want == 1);
    assert(demand_settle(&d, 2 * MIN + IDLE) && d.want == 0 && !d.recent);
    assert(!demand_settle(&d, 3 * MIN + IDLE) && d.want == 0);
    demand_job(&d, 4 * MIN + IDLE, false);                   /* asked again */
    assert(d.want == 1);
}

/* A floor (--pool N) is kept idle or not; demand grows above it and falls back to it. */
static void test_floor(void)
{
    struct demand d;
    demand_init(&d, 2, 4, IDLE);
    assert(d.want == 2 && !demand_settle(&d, IDLE * 3) && d.want == 2);
    demand_job(&d, 0, false);
    assert(d.want == 3);
    demand_job(&d, 1, false);
    demand_job(&d, 2, false);
    assert(d.want == 4);
    assert(demand_settle(&d, IDLE + 2) && d.want == 2);
    demand_yield(&d);
    assert(d.want == 2);                /* never below the floor */
    demand_init(&d, 6, 4, IDLE);        /* a floor above --pool-max is the bound */
    demand_job(&d, 0, false);
    assert(d.most == 6 && d.want == 6);
}

/* The cluster's record: a language run within the idle period keeps one until it passes. */
static void test_seed(void)
{
    struct demand d;
    demand_init(&d, 0, 4, IDLE);
    demand_seed(&d, 5 * MIN, IDLE);     /* too long ago */
    assert(d.want == 0 && !d.recent);
    demand_seed(&d, 5 * MIN, 4 * MIN);
    assert(d.want == 1 && d.recent && d.last_job == MIN);
    demand_seed(&d, 5 * MIN, 5 * MIN);  /* older than what is known: nothing changes */
    assert(d.last_job == MIN);
    demand_seed(&d, 5 * MIN, -50);      /* a clock ahead of ours: now */
    assert(d.last_job == 5 * MIN);
    assert(!demand_settle(&d, 5 * MIN + IDLE - 1) && d.want == 1);
    assert(demand_settle(&d, 5 * MIN + IDLE) && d.want == 0);
}

/* --pool-max 0: never a warm container, even in use. A yield lasts until the next job. */
static void test_bounds_and_yield(void)
{
    struct demand d;
    demand_init(&d, 0, 0, IDLE);
    demand_job(&d, 0, false);
    demand_seed(&d, 0, 0);
    assert(d.want == 0);
    demand_init(&d, 0, 4, IDLE);
    demand_job(&d, 0, false);
    demand_yield(&d);
    assert(d.want == 0);
    assert(!demand_settle(&d, 2 * MIN) && d.want == 0);     /* in use, but it gave way */
    demand_job(&d, 3 * MIN, false);
    assert(d.want == 1);
}

int main(void)
{
    RUN(test_auto_grows_with_misses);
    RUN(test_auto_shrinks);
    RUN(test_floor);
    RUN(test_seed);
    RUN(test_bounds_and_yield);
    return REPORT("test_demand");
}
