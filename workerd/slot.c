#include "slot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "async.h"
#include "clock.h"
#include "docker.h"
#include "input.h"
#include "job.h"
#include "judge.h"
#include "log.h"
#include "node.h"
#include "queue.h"
#include "rce_protocol.h"
#include "run.h"
#include "script.h"
#include "stats.h"
#include "stream.h"

#define TAKE_OUT_OF_MEMORY_POLL_MS 100   /* a look at the queue while Redis refuses BLMOVE */
#define BATCH_PACE_WINDOW_MS 2000        /* other classes' jobs this recent pace batch jobs */

int slot_registry_init(struct slot_registry *r, int n)
{
    pthread_mutex_init(&r->lock, NULL);
    r->n = n;
    r->running_ids = calloc((size_t)n, sizeof *r->running_ids);
    r->held = calloc((size_t)n, sizeof *r->held);
    r->async = calloc((size_t)n, sizeof *r->async);
    r->cancel = calloc((size_t)n, sizeof *r->cancel);
    if (!r->running_ids || !r->held || !r->async || !r->cancel)
        return -1;
    for (int i = 0; i < n; i++)
        atomic_init(&r->cancel[i], false);
    return 0;
}

void slot_registry_destroy(struct slot_registry *r)
{
    free(r->running_ids);
    free(r->held);
    free(r->async);
    free(r->cancel);
    pthread_mutex_destroy(&r->lock);
}

/* Sets one slot's entry of running_ids or held (NULL: none). */
static void note(struct slot_registry *r, const char **per_slot, int slot, const char *value)
{
    pthread_mutex_lock(&r->lock);
    per_slot[slot] = value;
    pthread_mutex_unlock(&r->lock);
}

/* True if some slot's entry of running_ids or held is value. */
static bool noted(struct slot_registry *r, const char *const *per_slot, const char *value)
{
    bool found = false;
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n && !found; i++)
        found = per_slot[i] && strcmp(per_slot[i], value) == 0;
    pthread_mutex_unlock(&r->lock);
    return found;
}

bool slot_runs_job(struct slot_registry *r, const char *job_id)
{
    return noted(r, r->running_ids, job_id);
}

bool slot_holds(struct slot_registry *r, const char *text)
{
    return noted(r, r->held, text);
}

void slot_note_running(struct slot_registry *r, int slot, const char *id, bool async)
{
    pthread_mutex_lock(&r->lock);
    r->running_ids[slot] = id;
    r->async[slot] = id && async;
    atomic_store(&r->cancel[slot], false);
    pthread_mutex_unlock(&r->lock);
}

void slot_jobs_free(struct slot_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(jobs[i].id);
    free(jobs);
}

int slot_async_jobs(struct slot_registry *r, struct slot_job **jobs, size_t *n)
{
    *n = 0;
    pthread_mutex_lock(&r->lock);
    if (!(*jobs = calloc(r->n > 0 ? (size_t)r->n : 1, sizeof **jobs)))
        goto fail;
    for (int i = 0; i < r->n; i++) {
        if (!r->async[i])
            continue;
        if (!((*jobs)[*n].id = strdup(r->running_ids[i])))
            goto fail;
        (*jobs)[(*n)++].slot = i;
    }
    pthread_mutex_unlock(&r->lock);
    return 0;
fail:
    pthread_mutex_unlock(&r->lock);
    slot_jobs_free(*jobs, *n);
    *jobs = NULL;
    *n = 0;
    return -1;
}

bool slot_cancel(struct slot_registry *r, int slot, const char *job_id)
{
    bool raised = false;
    pthread_mutex_lock(&r->lock);
    if (slot >= 0 && slot < r->n && r->async[slot] && strcmp(r->running_ids[slot], job_id) == 0)
        raised = !atomic_exchange(&r->cancel[slot], true);
    pthread_mutex_unlock(&r->lock);
    return raised;
}

/* --bench-no-container: measures the pipeline without Docker. The code is not run; the
 * answer says so in its reason and as its only output (stderr), which is what
 * loadtest/mix/bench.mix expects. */
static void bench_result(struct job_result *r)
{
    r->status = RCE_STATUS_OK;
    r->has_exit_code = true;
    r->exit_code = 0;
    snprintf(r->reason, sizeof r->reason, "%s", NODE_BENCH_REASON);
    capture_append(&r->err, NODE_BENCH_REASON "\n", sizeof(NODE_BENCH_REASON "\n") - 1);
}

/* A job that ran, into the node's histograms: its wait in the queue (from the gateway's
 * enqueued_ms to taken_ms, when this slot took it), its compile step's and its run's wall
 * times (a CE has no run). */
static void observe(struct node *n, const struct job *job, const char *language, const struct job_result *r,
                    int64_t taken_ms)
{
    if (job->enqueued_ms > 0)
        (void)stats_observe(&n->stats, language, STATS_QUEUE, taken_ms - job->enqueued_ms);
    if (r->compiled && r->compile_wall_ms >= 0)
        (void)stats_observe(&n->stats, language, STATS_COMPILE, r->compile_wall_ms);
    if (strcmp(r->status, RCE_STATUS_CE) != 0 && r->wall_ms >= 0)
        (void)stats_observe(&n->stats, language, STATS_RUN, r->wall_ms);
}

/* Runs a parsed job of an available language and answers it; the container is removed after
 * the answer, where the client does not wait for it. */
static void run_and_answer(struct slot *s, struct queue *q, struct docker *d, const char *text, size_t len,
                           const struct job *job, const struct lang *lang)
{
    struct node *n = s->node;
    char container[DOCKER_ID_SIZE] = "";
    struct container_shape shape = { 0 };
    struct container_warm *warm = NULL;
    struct job_result r;
    int64_t now = clock_unix_ms();

    job_result_init(&r, judge_output_limit(job));
    if (n->cfg.bench_no_container) {
        bench_result(&r);
    } else {
        container_shape(&n->cfg, &job->limits, lang, &shape);
        if (!(warm = pool_take(n->pool, lang, &shape, job->batch)))
            pool_reserve(n->pool, shape.memory_mb);
        slot_note_running(&n->slots, s->index, job->id, job->async);
        if (job->input)
            job_input_open(job->input, &n->cfg, job, &n->slots.cancel[s->index]);
        run_job(d, &n->cfg, job, lang, warm, &r, container, sizeof container);
        if (job->input)
            job_input_close(job->input, q);
    }
    observe(n, job, lang->name, &r, now);
    log_info("job %s: %s %s, %ld ms (queued %lld ms, %s container %.12s)%s%s", job->id, lang->name,
             r.status, r.wall_ms, (long long)(job->enqueued_ms > 0 ? now - job->enqueued_ms : -1),
             warm && warm->id[0] ? "warm" : "cold", container[0] ? container : "-",
             r.reason[0] ? ": " : "", r.reason);
    if (job->events)
        stream_events_end(job->events, &r);
    answer(n, q, text, len, job, lang->name, &r);
    container_remove(d, container);
    if (!n->cfg.bench_no_container)
        pool_release(n->pool, warm, shape.memory_mb);
    slot_note_running(&n->slots, s->index, NULL, false);
    job_result_free(&r);
}

/* An asynchronous job that lua/started.lua said not to run: asked to stop, or answered already. */
static void not_started(struct slot *s, struct queue *q, const char *text, size_t len, const struct job *job,
                        enum async_start start)
{
    struct node *n = s->node;
    if (start == ASYNC_CANCELLED) {
        log_info("job %s: %s %s: %s", job->id, job->language, RCE_STATUS_CANCELLED, JOB_CANCELLED_BEFORE);
        answer_cancelled(n, q, text, len, job);
    } else {
        log_warn("job %s: already answered (a peer ran it while this node stalled); not run again", job->id);
        answer_forget(n, q, text, len);
    }
}

/* Everything that happens to one job after it was taken from the queue. */
static void handle_job(struct slot *s, struct queue *q, struct docker *d, const char *text, size_t len)
{
    struct node *n = s->node;
    struct job job;
    char err[512];

    int parsed = job_parse(text, len, &n->cfg.defaults, &n->cfg.maxima, &job, err, sizeof err);
    job.epoch = atomic_load(&n->epoch);     /* taken under it: its answer is fenced by it */
    if (parsed != 0) {
        log_warn("job %s: %s", job.id ? job.id : "(no id)", err);
        if (job.id && job.reply_to)
            answer_ie(n, q, text, len, &job, "%s", err);
        else
            answer_forget(n, q, text, len);
        job_free(&job);
        return;
    }
    int64_t now = clock_unix_ms();
    struct lang *lang = NULL;
    enum async_start start = ASYNC_RUN;
    if (job.deadline_ms > 0 && job.deadline_ms <= now && job.async) {
        /* somebody will come for its result: say why there is none */
        log_info("job %s: IE: waited in the queue %lld ms past its deadline", job.id,
                 (long long)(now - job.deadline_ms));
        answer_ie(n, q, text, len, &job, "waited in the queue past its deadline (rce_jobs_timeout)");
    } else if (job.deadline_ms > 0 && job.deadline_ms <= now) {
        log_info("job %s: deadline passed %lld ms ago; dropped without running", job.id,
                 (long long)(now - job.deadline_ms));
        answer_forget(n, q, text, len);
    } else if (job.async && (start = async_started(n, q, &job)) != ASYNC_RUN) {
        not_started(s, q, text, len, &job, start);
    } else if (!(lang = lang_registry_lookup(&n->languages, job.language))) {
        log_info("job %s: %s IE: language '%s' is not available on node %s", job.id, job.language,
                 job.language, n->cfg.node);
        answer_ie(n, q, text, len, &job, "language '%s' is not available on node %s", job.language,
                  n->cfg.node);
    } else {
        lang_limits(lang, &n->cfg, job.named, &job.limits);
        /* a stream job's input may kill it (input.c), as a cancel does */
        job.cancel = job.async || job.stream ? &n->slots.cancel[s->index] : NULL;
        struct stream_events events;
        struct job_input input;
        if (job.stream) {
            stream_events_init(&events, &job, q);
            events.attempt = stream_attempt(q, job.id);
            job.events = &events;
            job.input = &input;
        }
        run_and_answer(s, q, d, text, len, &job, lang);
    }
    lang_free(lang);
    job_free(&job);
}

/* Batch jobs a node runs at once, at most: --batch-slots, or all slots but one. */
int slot_batch_limit(const struct config *cfg)
{
    if (cfg->batch_slots > 0)
        return cfg->batch_slots < cfg->slots ? cfg->batch_slots : cfg->slots;
    return cfg->slots > 1 ? cfg->slots - 1 : 1;
}

/* The highest class's next job there is, without waiting (lua/take.lua), from the batch list
 * only if may_batch: as queue_taken; *batch says where it came from. */
static int take_next(struct queue *q, bool may_batch, char **text, size_t *len, bool *batch)
{
    const char *keys[] = { q->queue_key, q->running_key, q->batch_key };
    const char *args[] = { may_batch ? "1" : "0" };
    redisReply *r = script_run(q, SCRIPT_TAKE, REDIS_REPLY_ARRAY, 1, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return 0;       /* nil: nothing to take */
    }
    if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_INTEGER) {
        log_error("unexpected reply from %s", "lua/take.lua");
        freeReplyObject(r);
        return -1;
    }
    *batch = r->element[1]->integer == 1;
    redisReply *job = r->element[0];
    r->element[0] = NULL;       /* taken out: queue_taken frees it, freeReplyObject skips it */
    freeReplyObject(r);
    return queue_taken(q, job, text, len);
}

/* --batch-pace-ms: while interactive or normal jobs came within the last BATCH_PACE_WINDOW_MS,
 * batch jobs start one per pace on the node, whatever their slots, so that their containers'
 * churn (Docker's own cpu, most of a job's cost) leaves the machine to the other classes.
 * True if a batch job may start now (the turn is claimed); else *wait_ms says when it may. */
static bool batch_turn(struct node *n, long *wait_ms)
{
    long long now = clock_mono_ms(), pace = n->cfg.batch_pace_ms;
    if (pace <= 0 || now - atomic_load(&n->other_taken_ms) > BATCH_PACE_WINDOW_MS)
        return true;
    long long turn = atomic_load(&n->batch_turn_ms);
    if (now >= turn && atomic_compare_exchange_strong(&n->batch_turn_ms, &turn, now + pace))
        return true;
    turn = atomic_load(&n->batch_turn_ms);
    *wait_ms = turn - now < 10 ? 10 : turn - now < QUEUE_TAKE_TIMEOUT_MS ? (long)(turn - now)
                                                                      : QUEUE_TAKE_TIMEOUT_MS;
    return false;
}

/* The next job: lua/take.lua, else BLMOVE on the queue (a batch job pushed while every slot
 * waits there comes with RCE_QUEUE_WAKE, which is dropped here: the next call takes the job).
 * While Redis is at maxmemory (which refuses BLMOVE) lua/take.lua alone, a look every
 * TAKE_OUT_OF_MEMORY_POLL_MS, so that jobs already queued still run. Returns as queue_take
 * does, never QUEUE_OUT_OF_MEMORY. */
static int take(struct node *n, struct queue *q, char **text, size_t *len, bool *batch)
{
    long wait_ms = QUEUE_TAKE_TIMEOUT_MS;
    /* a place among the batch slots is held while taking, kept only with a batch job: a slot
     * waiting in BLMOVE (which only takes from the queue) holds none */
    bool may_batch = atomic_fetch_add(&n->batch_busy, 1) < slot_batch_limit(&n->cfg)
                     && batch_turn(n, &wait_ms);
    *batch = false;
    int rc = take_next(q, may_batch, text, len, batch);
    if (!(rc == 1 && *batch))
        atomic_fetch_sub(&n->batch_busy, 1);
    if (rc == 0) {
        rc = queue_take(q, wait_ms, text, len);
        if (rc == QUEUE_OUT_OF_MEMORY) {
            clock_sleep_ms(TAKE_OUT_OF_MEMORY_POLL_MS);
            return 0;
        }
    }
    if (rc == 1 && *len == sizeof RCE_QUEUE_WAKE - 1 && memcmp(*text, RCE_QUEUE_WAKE, *len) == 0) {
        (void)queue_drop(q, *text, *len);    /* if it stays, a restart requeues it: harmless */
        free(*text);
        return 0;
    }
    if (rc == 1 && !*batch)
        atomic_store(&n->other_taken_ms, clock_mono_ms());
    return rc;
}

static void *slot_main(void *arg)
{
    struct slot *s = arg;
    struct node *n = s->node;
    struct queue q;
    struct docker d;
    char err[200];

    queue_init(&q, &n->cfg);
    if (docker_open(&d, n->cfg.docker_socket, err, sizeof err) != 0) {
        log_error("slot %d: %s; slot not running", s->index, err);
        goto out;
    }
    for (;;) {
        char *text;
        size_t len;
        bool batch;
        if (take(n, &q, &text, &len, &batch) != 1) {
            if (atomic_load(&n->draining))
                break;
            continue;   /* nothing within 1 s, or a Redis failure already backed off */
        }
        note(&n->slots, n->slots.held, s->index, text);
        atomic_fetch_add(&n->busy, 1);
        handle_job(s, &q, &d, text, len);
        atomic_fetch_sub(&n->busy, 1);
        if (batch)
            atomic_fetch_sub(&n->batch_busy, 1);
        note(&n->slots, n->slots.held, s->index, NULL);
        free(text);
    }
    docker_close(&d);
out:
    queue_close(&q);
    atomic_fetch_sub(&n->live_slots, 1);
    return NULL;
}

int slot_start(struct slot *s, struct node *node, int index)
{
    s->node = node;
    s->index = index;
    atomic_fetch_add(&node->live_slots, 1);
    if (pthread_create(&s->thread, NULL, slot_main, s) != 0) {
        atomic_fetch_sub(&node->live_slots, 1);
        return -1;
    }
    return 0;
}
