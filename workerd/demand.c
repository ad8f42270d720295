#include "demand.h"

void demand_init(struct demand *d, int floor, int most, int64_t idle_ms)
{
    *d = (struct demand){ .floor = floor, .most = most > floor ? most : floor, .idle_ms = idle_ms,
                          .want = floor };
}

/* At least one while in use, within the bound; the floor always. */
static int in_use_low(const struct demand *d)
{
    int one = d->most < 1 ? d->most : 1;
    return d->floor > one ? d->floor : one;
}

void demand_job(struct demand *d, int64_t now, bool hit)
{
    d->recent = true;
    d->last_job = now;
    if (hit)
        return;
    d->last_miss = now;
    if (d->want < in_use_low(d))
        d->want = in_use_low(d);
    else if (d->want < d->most)
        d->want++;
}

void demand_seed(struct demand *d, int64_t now, int64_t age_ms)
{
    if (age_ms < 0)
        age_ms = 0;
    if (age_ms >= d->idle_ms || (d->recent && d->last_job >= now - age_ms))
        return;
    d->recent = true;
    d->last_job = now - age_ms;
    if (d->want < in_use_low(d))
        d->want = in_use_low(d);
}

bool demand_settle(struct demand *d, int64_t now)
{
    if (d->recent && now - d->last_job >= d->idle_ms) {
        d->recent = false;
        d->want = d->floor;
        return true;
    }
    if (d->want > (d->recent ? in_use_low(d) : d->floor) && now - d->last_miss > DEMAND_SHRINK_AFTER_MS) {
        d->want--;
        d->last_miss = now;
    }
    return false;
}

void demand_yield(struct demand *d)
{
    if (d->want > d->floor)
        d->want--;
}
