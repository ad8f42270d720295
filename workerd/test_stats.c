/* The node's job counters and duration histograms, as the node JSON carries them. */
#include <stdlib.h>

#include "stats.h"
#include "test.h"

static json_t *described(struct stats *s)
{
    json_t *node = json_object();
    assert(node && stats_describe(s, node) == 0);
    return node;
}

static void test_empty_adds_nothing(void)
{
    struct stats s;
    stats_init(&s);
    json_t *node = described(&s);
    assert(json_object_size(node) == 0);
    json_decref(node);
    stats_destroy(&s);
}

static void test_counts_by_language_and_status(void)
{
    struct stats s;
    stats_init(&s);
    for (int i = 0; i < 3; i++)
        assert(stats_finished(&s, "python", RCE_STATUS_OK) == 0);
    assert(stats_finished(&s, "python", RCE_STATUS_TLE) == 0);
    assert(stats_finished(&s, "c", RCE_STATUS_CE) == 0);
    assert(stats_finished(&s, "c", "NOPE") == -1);         /* not a status */
    assert(stats_finished(&s, NULL, RCE_STATUS_IE) == 0);   /* an unreadable job: not counted */
    json_t *node = described(&s), *jobs = json_object_get(node, RCE_NODE_JOBS);
    assert(json_object_size(jobs) == 2);
    assert(json_integer_value(json_object_get(json_object_get(jobs, "python"), "OK")) == 3);
    assert(json_integer_value(json_object_get(json_object_get(jobs, "python"), "TLE")) == 1);
    assert(json_object_size(json_object_get(jobs, "python")) == 2);   /* only non-zero */
    assert(json_integer_value(json_object_get(json_object_get(jobs, "c"), "CE")) == 1);
    assert(!json_object_get(node, RCE_NODE_DURATIONS));
    json_decref(node);
    stats_destroy(&s);
}

static void test_histogram_buckets(void)
{
    struct stats s;
    stats_init(&s);
    long long ms[] = { -3, 0, 5, 6, 10, 60000, 60001, 999999 };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        assert(stats_observe(&s, "python", STATS_RUN, ms[i]) == 0);
    assert(stats_observe(&s, "python", STATS_QUEUE, 42) == 0);
    json_t *node = described(&s);
    json_t *python = json_object_get(json_object_get(node, RCE_NODE_DURATIONS), "python");
    json_t *run = json_object_get(python, RCE_PHASE_RUN), *b = json_object_get(run, RCE_HIST_BUCKETS);
    assert(json_integer_value(json_object_get(run, RCE_HIST_COUNT)) == 8);
    assert(json_integer_value(json_object_get(run, RCE_HIST_SUM_MS)) == 0 + 0 + 5 + 6 + 10 + 60000 + 60001 + 999999);
    assert(json_integer_value(json_object_get(b, "5")) == 3);       /* -3 (as 0), 0, 5 */
    assert(json_integer_value(json_object_get(b, "10")) == 2);      /* 6, 10 */
    assert(json_integer_value(json_object_get(b, "60000")) == 1);
    assert(json_object_size(b) == 3);                               /* two are over the last bound */
    json_t *queue = json_object_get(python, RCE_PHASE_QUEUE);
    assert(json_integer_value(json_object_get(json_object_get(queue, RCE_HIST_BUCKETS), "50")) == 1);
    assert(!json_object_get(python, RCE_PHASE_COMPILE));           /* nothing observed */
    assert(!json_object_get(node, RCE_NODE_JOBS));
    json_decref(node);
    stats_destroy(&s);
}

static void test_many_languages(void)
{
    struct stats s;
    char name[16];
    stats_init(&s);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "lang%d", i);
        assert(stats_finished(&s, name, RCE_STATUS_OK) == 0);
    }
    assert(stats_finished(&s, "a-name-longer-than-the-protocol-allows", RCE_STATUS_OK) == -1);
    json_t *node = described(&s);
    assert(json_object_size(json_object_get(node, RCE_NODE_JOBS)) == 40);
    json_decref(node);
    stats_destroy(&s);
}

int main(void)
{
    RUN(test_empty_adds_nothing);
    RUN(test_counts_by_language_and_status);
    RUN(test_histogram_buckets);
    RUN(test_many_languages);
    return REPORT("test_stats");
}
