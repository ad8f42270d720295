/* The slot registry's cancel flags: raised for the asynchronous job a slot runs, and for that
 * job alone. */
#include <stdlib.h>

#include "config.h"
#include "slot.h"
#include "test.h"

static void test_async_jobs_listed(void)
{
    struct slot_registry r;
    struct slot_job *jobs;
    size_t n;
    assert(slot_registry_init(&r, 3) == 0);
    assert(slot_async_jobs(&r, &jobs, &n) == 0 && n == 0);
    slot_jobs_free(jobs, n);
    slot_note_running(&r, 0, "sync1", false);
    slot_note_running(&r, 2, "async2", true);
    assert(slot_runs_job(&r, "sync1") && slot_runs_job(&r, "async2"));
    assert(slot_async_jobs(&r, &jobs, &n) == 0 && n == 1);
    assert(jobs[0].slot == 2 && STREQ(jobs[0].id, "async2"));
    slot_jobs_free(jobs, n);
    slot_note_running(&r, 2, NULL, true);       /* none: nothing to list */
    assert(slot_async_jobs(&r, &jobs, &n) == 0 && n == 0 && !slot_runs_job(&r, "async2"));
    slot_jobs_free(jobs, n);
    slot_registry_destroy(&r);
}

static void test_cancel_only_that_job(void)
{
    struct slot_registry r;
    assert(slot_registry_init(&r, 2) == 0);
    slot_note_running(&r, 0, "a", true);
    slot_note_running(&r, 1, "s", false);
    assert(!slot_cancel(&r, 1, "s") && !atomic_load(&r.cancel[1]));   /* synchronous: never */
    assert(!slot_cancel(&r, 0, "b") && !atomic_load(&r.cancel[0]));   /* another job's id */
    assert(!slot_cancel(&r, 5, "a") && !slot_cancel(&r, -1, "a"));   /* no such slot */
    assert(slot_cancel(&r, 0, "a") && atomic_load(&r.cancel[0]));
    assert(!slot_cancel(&r, 0, "a") && atomic_load(&r.cancel[0]));   /* raised once */
    /* the slot's next job starts with the flag down, and so does the gap between jobs */
    slot_note_running(&r, 0, NULL, false);
    assert(!atomic_load(&r.cancel[0]) && !slot_cancel(&r, 0, "a"));
    slot_note_running(&r, 0, "c", true);
    assert(!atomic_load(&r.cancel[0]));
    assert(!slot_cancel(&r, 0, "a") && !atomic_load(&r.cancel[0]));   /* a late look at the old job */
    slot_registry_destroy(&r);
}

/* batch jobs at once: all slots but one by default, never none, never more than the slots */
static void test_batch_limit(void)
{
    struct config cfg = { 0 };
    cfg.slots = 25;
    assert(slot_batch_limit(&cfg) == 24);
    cfg.slots = 1;
    assert(slot_batch_limit(&cfg) == 1);
    cfg.slots = 2;
    assert(slot_batch_limit(&cfg) == 1);
    cfg.batch_slots = 2;
    assert(slot_batch_limit(&cfg) == 2);
    cfg.batch_slots = 5;
    assert(slot_batch_limit(&cfg) == 2);
}

int main(void)
{
    RUN(test_async_jobs_listed);
    RUN(test_cancel_only_that_job);
    RUN(test_batch_limit);
    return REPORT("test_slot");
}
