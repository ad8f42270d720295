#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statuses a job can finish with, in the order of stats_language.jobs. */
static const char *const statuses[] = {
    RCE_STATUS_OK, RCE_STATUS_CE, RCE_STATUS_RE, RCE_STATUS_TLE, RCE_STATUS_MLE, RCE_STATUS_OLE,
    RCE_STATUS_IE, RCE_STATUS_WA, RCE_STATUS_SKIPPED, RCE_STATUS_CANCELLED,
};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])

static const char *const phases[STATS_PHASES] = { RCE_PHASE_QUEUE, RCE_PHASE_COMPILE, RCE_PHASE_RUN };
static const long long bounds[RCE_DURATION_BUCKETS] = RCE_DURATION_BUCKETS_MS;

struct stats_language {
    char name[RCE_NAME_MAX + 1];
    long long jobs[N_STATUSES];
    struct stats_histogram phase[STATS_PHASES];
};

void stats_init(struct stats *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

void stats_destroy(struct stats *s)
{
    free(s->langs);
    pthread_mutex_destroy(&s->lock);
}

/* language's entry, added if new; NULL if out of memory or the name is too long. Under the
 * lock. */
static struct stats_language *entry(struct stats *s, const char *language)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->langs[i].name, language) == 0)
            return &s->langs[i];
    if (strlen(language) > RCE_NAME_MAX)
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct stats_language *langs = realloc(s->langs, cap * sizeof *langs);
        if (!langs)
            return NULL;
        s->langs = langs;
        s->cap = cap;
    }
    struct stats_language *l = &s->langs[s->n++];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", language);
    return l;
}

int stats_finished(struct stats *s, const char *language, const char *status)
{
    size_t k = 0;
    while (k < N_STATUSES && strcmp(statuses[k], status) != 0)
        k++;
    if (!language || k == N_STATUSES)
        return language ? -1 : 0;
    pthread_mutex_lock(&s->lock);
    struct stats_language *l = entry(s, language);
    if (l)
        l->jobs[k]++;
    pthread_mutex_unlock(&s->lock);
    return l ? 0 : -1;
}

int stats_observe(struct stats *s, const char *language, enum stats_phase phase, long long ms)
{
    if (ms < 0)
        ms = 0;
    pthread_mutex_lock(&s->lock);
    struct stats_language *l = entry(s, language);
    if (l) {
        struct stats_histogram *h = &l->phase[phase];
        size_t b = 0;
        while (b < RCE_DURATION_BUCKETS && ms > bounds[b])
            b++;
        if (b < RCE_DURATION_BUCKETS)
            h->buckets[b]++;
        h->count++;
        h->sum_ms += ms;
    }
    pthread_mutex_unlock(&s->lock);
    return l ? 0 : -1;
}

/* {"count", "sum_ms", "buckets": {bound: n, ...}} of the non-zero buckets. */
static json_t *histogram_json(const struct stats_histogram *h)
{
    json_t *buckets = json_object();
    char key[24];
    if (!buckets)
        return NULL;
    for (size_t b = 0; b < RCE_DURATION_BUCKETS; b++) {
        if (!h->buckets[b])
            continue;
        snprintf(key, sizeof key, "%lld", bounds[b]);
        if (json_object_set_new(buckets, key, json_integer(h->buckets[b])) != 0)
            goto fail;
    }
    return json_pack("{s:I, s:I, s:o}", RCE_HIST_COUNT, (json_int_t)h->count, RCE_HIST_SUM_MS,
                     (json_int_t)h->sum_ms, RCE_HIST_BUCKETS, buckets);
fail:
    json_decref(buckets);
    return NULL;
}

/* One language's jobs by status and its histograms, into jobs and durations (each only if
 * non-empty). 0, or -1 if out of memory. */
static int describe_language(const struct stats_language *l, json_t *jobs, json_t *durations)
{
    json_t *by_status = json_object(), *by_phase = json_object();
    int rc = -1;
    if (!by_status || !by_phase)
        goto done;
    for (size_t k = 0; k < N_STATUSES; k++)
        if (l->jobs[k] && json_object_set_new(by_status, statuses[k], json_integer(l->jobs[k])) != 0)
            goto done;
    for (int p = 0; p < STATS_PHASES; p++)
        if (l->phase[p].count && json_object_set_new(by_phase, phases[p], histogram_json(&l->phase[p])) != 0)
            goto done;
    if ((json_object_size(by_status) && json_object_set(jobs, l->name, by_status) != 0)
        || (json_object_size(by_phase) && json_object_set(durations, l->name, by_phase) != 0))
        goto done;
    rc = 0;
done:
    json_decref(by_status);
    json_decref(by_phase);
    return rc;
}

int stats_describe(struct stats *s, json_t *node)
{
    json_t *jobs = json_object(), *durations = json_object();
    int rc = -1;
    if (!jobs || !durations)
        goto done;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        if (describe_language(&s->langs[i], jobs, durations) != 0) {
            pthread_mutex_unlock(&s->lock);
            goto done;
        }
    pthread_mutex_unlock(&s->lock);
    if ((json_object_size(jobs) && json_object_set(node, RCE_NODE_JOBS, jobs) != 0)
        || (json_object_size(durations) && json_object_set(node, RCE_NODE_DURATIONS, durations) != 0))
        goto done;
    rc = 0;
done:
    json_decref(jobs);
    json_decref(durations);
    return rc;
}
