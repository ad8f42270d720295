#include "housekeeper.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "clock.h"
#include "cluster.h"
#include "container.h"
#include "job.h"
#include "log.h"
#include "queue.h"
#include "script.h"

#define LANG_REFRESH_MS 10000
#define STEAL_INTERVAL_MS 250       /* how often an idle node looks for others' queued jobs */
#define RESCUE_INTERVAL_MS 1000     /* how often it looks for dead nodes */
#define REAP_INTERVAL_MS 60000
#define TRIM_INTERVAL_MS 10000      /* an idle node gives freed memory back this often */
#define RECONCILE_INTERVAL_MS 2000  /* how often running is compared with what the slots hold */
#define TICK_MS 50

/* One periodic task: run every interval_ms from next on, while the node drains too unless
 * not_draining. */
struct task {
    void (*run)(struct housekeeper *h, struct queue *q);
    int64_t interval_ms;
    int64_t next;
    bool not_draining;
};

/* Reloads the language table; a failed load keeps the old one (Docker may be restarting). */
static void refresh_languages(struct housekeeper *h)
{
    char err[300], *now;
    struct lang_table *t = lang_table_load(&h->docker, h->node->cfg.image_prefix, err, sizeof err);
    if (!t) {
        log_warn("languages: listing images failed: %s", err);
        return;
    }
    lang_table_keep(t, h->node->cfg.languages);
    lang_registry_replace(&h->node->languages, t);
    char **names = lang_registry_names(&h->node->languages);
    size_t size = 1;
    for (size_t i = 0; names && names[i]; i++)
        size += strlen(names[i]) + 1;
    if (!names || !(now = calloc(1, size))) {
        lang_names_free(names);
        return;
    }
    for (size_t i = 0; names[i]; i++)
        sprintf(now + strlen(now), "%s%s", i ? " " : "", names[i]);
    if (!h->languages_logged || strcmp(now, h->languages_logged) != 0) {
        log_info("languages: %s", now[0] ? now : "none (no images labelled for this prefix)");
        free(h->languages_logged);
        h->languages_logged = now;
    } else {
        free(now);
    }
    lang_names_free(names);
}

static void strv_free(char **v)
{
    for (size_t k = 0; v && v[k]; k++)
        free(v[k]);
    free(v);
}

/* The reaper spares the containers of running jobs and the warm pool's. */
static bool in_use(void *arg, const char *job_id, const char *pool_token)
{
    struct node *n = arg;
    if (job_id)
        return slot_runs_job(&n->slots, job_id);
    return n->pool && pool_owns(n->pool, pool_token);
}

/* Our orphans; and the containers on this engine of nodes declared dead long ago that never
 * came back (a node that comes back removes its own: housekeeper_first_pass). */
static void reap(struct housekeeper *h, struct queue *q)
{
    int n = container_reap(&h->docker, h->node->cfg.node, in_use, h->node);
    if (n > 0)
        log_info("reaper: removed %d orphan container(s)", n);
    char **gone = cluster_dead_expired(q, (long long)RCE_DEAD_REAP_GRACE_S * 1000);
    for (size_t i = 0; gone && gone[i]; i++) {
        n = container_reap(&h->docker, gone[i], NULL, NULL);
        log_info("reaper: node %s was declared dead %d s ago and never came back: removed %d of "
                 "its container(s)", gone[i], RCE_DEAD_REAP_GRACE_S, n > 0 ? n : 0);
    }
    strv_free(gone);
}

/* Answers IE the jobs whose node died running them a second time (now in our running list). */
static void answer_lost(struct node *n, struct queue *q, const struct rescue *res)
{
    for (size_t i = 0; i < res->n_lost; i++) {
        struct job job;
        char err[512];
        int parsed = job_parse(res->lost[i], res->lost_len[i], &n->cfg.defaults, &n->cfg.maxima, &job,
                               err, sizeof err);
        job.epoch = atomic_load(&n->epoch);
        if (parsed == 0 && job.reply_to) {
            log_warn("job %s: a second node died running it; answering IE", job.id);
            answer_ie(n, q, res->lost[i], res->lost_len[i], &job,
                      "the nodes running this job died twice; it was not run again");
        } else {
            answer_forget(n, q, res->lost[i], res->lost_len[i]);
        }
        job_free(&job);
    }
}

/* Takes over the jobs of the peers that peers.c judges dead. Their containers stay: the node
 * may be alive behind a stall of its own, and fenced it cleans up itself (reap). */
static void rescue(struct housekeeper *h, struct queue *q)
{
    struct rescue res = { 0 };
    struct sighting *seen = NULL;
    size_t n = 0;
    long long sent = clock_mono_ms();
    int rc = cluster_observe(q, &seen, &n);
    long long answered = clock_mono_ms();
    if (peers_update(&h->peers, seen, n, rc == 0, sent, answered) == 1)
        for (size_t i = 0; i < n; i++)
            if (!seen[i].present && peers_dead(&h->peers, seen[i].node, answered)
                && cluster_rescue_node(q, seen[i].node, &res) != 0)
                break;      /* what a failed step did before failing is still handled */
    free(seen);
    for (int i = 0; i < res.n_dead; i++)
        log_warn("node %s is dead (its heartbeat stood still for %d ms while Redis answered): took "
                 "over its jobs, epoch %lld fenced", res.dead[i].node, RCE_NODE_DEAD_AFTER_MS,
                 res.dead[i].epoch);
    if (res.requeued > 0)
        log_info("rescue: %ld job(s) of dead nodes put on %s", res.requeued, q->queue_key);
    answer_lost(h->node, q, &res);
    rescue_free(&res);
}

/* Moves one job from running back to the consumer end of the queue if it is still there.
 * Returns 1 if moved. */
static int requeue_one(struct queue *q, const char *job)
{
    const char *keys[] = { q->running_key, q->queue_key };
    const char *args[] = { job };
    redisReply *r = script_run(q, SCRIPT_REQUEUE, REDIS_REPLY_INTEGER, 0, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    int moved = r && r->integer == 1;
    if (r)
        freeReplyObject(r);
    return moved;
}

/* A job can be in running with no slot holding it: BLMOVE moved it, and the connection was
 * lost before the answer came (Redis restarting). Such a job would wait there until the node's
 * next start. One found so in two passes RECONCILE_INTERVAL_MS apart (a slot holds its job
 * microseconds after BLMOVE answers) goes back to the queue. *orphans (NULL-terminated,
 * malloc'd) carries what the last pass found. */
static void reconcile_pass(struct node *n, struct queue *q, char ***orphans)
{
    char **now = queue_running(q), **before = *orphans;
    size_t kept = 0;
    if (!now)
        return;
    for (size_t i = 0; now[i]; i++) {
        bool seen = false, held = slot_holds(&n->slots, now[i]);
        for (size_t k = 0; before && before[k] && !seen; k++)
            seen = strcmp(before[k], now[i]) == 0;
        if (!held && seen && requeue_one(q, now[i]) == 1) {
            log_warn("a job sat in %s with no slot running it (the answer to its BLMOVE was lost); "
                     "put back on %s", q->running_key, q->queue_key);
            free(now[i]);
        } else if (held) {
            free(now[i]);
        } else {
            now[kept++] = now[i];
        }
    }
    now[kept] = NULL;
    strv_free(before);
    *orphans = now;
}

static void reconcile(struct housekeeper *h, struct queue *q)
{
    reconcile_pass(h->node, q, &h->orphans);
}

/* An idle node takes queued jobs of busy nodes, up to its free slots (the script checks that
 * its own queue is empty). */
static void steal(struct housekeeper *h, struct queue *q)
{
    struct node *n = h->node;
    int idle = n->cfg.slots - atomic_load(&n->busy);
    char **langs = idle > 0 ? lang_registry_names(&n->languages) : NULL;
    size_t count = 0;
    while (langs && langs[count])
        count++;
    long taken = count ? cluster_steal(q, idle, langs, count) : 0;
    if (taken > 0)
        log_info("stole %ld queued job(s) from busier nodes", taken);
    lang_names_free(langs);
}

static void languages(struct housekeeper *h, struct queue *q)
{
    (void)q;
    refresh_languages(h);
}

/* An idle node keeps only what it uses. */
static void trim(struct housekeeper *h, struct queue *q)
{
    (void)q;
    if (atomic_load(&h->node->busy) == 0)
        malloc_trim(0);
}

static void *housekeeper_main(void *arg)
{
    struct housekeeper *h = arg;
    struct queue q;
    int64_t t0 = clock_mono_ms();
    struct task tasks[] = {
        { rescue, RESCUE_INTERVAL_MS, t0, true },
        { steal, STEAL_INTERVAL_MS, t0, true },
        { languages, LANG_REFRESH_MS, t0 + LANG_REFRESH_MS, false },
        { reap, REAP_INTERVAL_MS, t0 + REAP_INTERVAL_MS, false },
        { reconcile, RECONCILE_INTERVAL_MS, t0 + RECONCILE_INTERVAL_MS, true },
        { trim, TRIM_INTERVAL_MS, t0, false },
    };
    queue_init(&q, &h->node->cfg);
    while (!atomic_load(&h->stop)) {
        clock_sleep_ms(TICK_MS);
        for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
            int64_t now = clock_mono_ms();
            if (now < tasks[i].next || (tasks[i].not_draining && atomic_load(&h->node->draining)))
                continue;
            tasks[i].run(h, &q);
            tasks[i].next = now + tasks[i].interval_ms;
        }
    }
    strv_free(h->orphans);
    h->orphans = NULL;
    peers_free(&h->peers);
    queue_close(&q);
    return NULL;
}

int housekeeper_open(struct housekeeper *h, struct node *node, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    h->node = node;
    if (docker_open(&h->docker, node->cfg.docker_socket, err, errlen) != 0)
        return -1;
    h->opened = true;
    return 0;
}

void housekeeper_first_pass(struct housekeeper *h)
{
    int n = container_reap(&h->docker, h->node->cfg.node, NULL, NULL);
    if (n > 0)
        log_info("reaper: removed %d orphan container(s)", n);
    refresh_languages(h);
}

int housekeeper_start(struct housekeeper *h)
{
    if (pthread_create(&h->thread, NULL, housekeeper_main, h) != 0)
        return -1;
    h->started = true;
    return 0;
}

void housekeeper_stop(struct housekeeper *h)
{
    atomic_store(&h->stop, true);
    if (h->started)
        pthread_join(h->thread, NULL);
    h->started = false;
    free(h->languages_logged);
    h->languages_logged = NULL;
    if (h->opened)
        docker_close(&h->docker);
    h->opened = false;
}
