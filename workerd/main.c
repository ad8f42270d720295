/* workerd: runs rce jobs from this node's Redis queue in one-shot Docker containers.
 *
 * Threads: N slot threads (each: its own Redis connection and Docker handle; take a job,
 * run it, answer), the warm pool's fillers, one housekeeper (refreshes the language table,
 * reaps orphan containers, rescues and steals jobs), and the main thread (signals,
 * heartbeat, start-up and shutdown). */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "cluster.h"
#include "config.h"
#include "docker.h"
#include "job.h"
#include "lang.h"
#include "log.h"
#include "pool.h"
#include "queue.h"
#include "rce_protocol.h"
#include "run.h"

#define LANG_REFRESH_MS 10000
#define STEAL_INTERVAL_MS 250       /* how often an idle node looks for others' queued jobs */
#define RESCUE_INTERVAL_MS 1000     /* how often it looks for dead nodes */
#define REAP_INTERVAL_MS 60000
#define TRIM_INTERVAL_MS 10000      /* an idle node gives freed memory back this often */
#define RECONCILE_INTERVAL_MS 2000  /* how often running is compared with what the slots hold */
#define MALLOC_ARENAS 2             /* glibc would give each of the slot threads its own */
#define DRAIN_GIVE_UP_ATTEMPTS 10   /* Redis retries for an answer once shutting down */

static struct config cfg;
static struct lang_registry languages;
static struct pool *pool;
static atomic_bool draining;            /* SIGTERM/SIGINT: take no new jobs */
static atomic_bool housekeeper_stop;
static atomic_int busy;                 /* slots holding a job */
static atomic_int live_slots;           /* slot threads not yet finished */

/* Job id each slot is running (NULL when idle), so the reaper spares their containers; and
 * the queue element each slot holds, so that what sits in running with no slot holding it
 * can be told apart (see reconcile). */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static const char **running_ids;
static const char **held;

/* Sets one slot's entry of running_ids or held (NULL: none). Not a copy: the slot owns
 * value and clears its entry before freeing it, so a job's text (up to a few MiB) is not
 * copied on every job's path. */
static void slot_note(const char **per_slot, int slot, const char *value)
{
    pthread_mutex_lock(&running_lock);
    per_slot[slot] = value;
    pthread_mutex_unlock(&running_lock);
}

/* True if some slot's entry of running_ids or held is value. */
static bool slot_noted(const char *const *per_slot, const char *value)
{
    bool found = false;
    pthread_mutex_lock(&running_lock);
    for (int i = 0; i < cfg.slots && !found; i++)
        found = per_slot[i] && strcmp(per_slot[i], value) == 0;
    pthread_mutex_unlock(&running_lock);
    return found;
}

static void hold(int slot, const char *text) { slot_note(held, slot, text); }
static bool held_by_a_slot(const char *text) { return slot_noted(held, text); }
static void running_set(int slot, const char *id) { slot_note(running_ids, slot, id); }
static bool running_contains(const char *id) { return slot_noted(running_ids, id); }

/* Publishes r and removes the job from running, retrying through Redis outages. Once
 * draining it gives up after a few tries: the job then stays in running and the next start
 * requeues it. */
static void answer(struct queue *q, const char *text, size_t len, const struct job *job,
                   const char *language, const struct job_result *r)
{
    char *result = job_result_json(job->id, language, cfg.node, r);
    if (!result) {
        log_error("job %s: out of memory encoding the result; it stays in %s", job->id, q->running_key);
        return;
    }
    for (int attempt = 1; queue_finish(q, text, len, job->reply_to, job->id, result) != 0; attempt++)
        if (atomic_load(&draining) && attempt >= DRAIN_GIVE_UP_ATTEMPTS) {
            log_error("job %s: result not published; the job stays in %s", job->id, q->running_key);
            break;
        }
    free(result);
}

/* Removes an unanswerable or expired job from running, with answer()'s retry rules. */
static void forget(struct queue *q, const char *text, size_t len)
{
    for (int attempt = 1; queue_drop(q, text, len) != 0; attempt++)
        if (atomic_load(&draining) && attempt >= DRAIN_GIVE_UP_ATTEMPTS) {
            log_error("a job could not be removed from %s; the next start requeues it", q->running_key);
            break;
        }
}

/* Result reason (and stderr) of every job answered under --bench-no-container. */
#define BENCH_REASON "benchmark mode: no container was run"

/* Everything that happens to one job after it was taken from the queue. */
static void handle_job(int slot, struct queue *q, struct docker *d, const char *text, size_t len)
{
    struct job job;
    struct job_result r;
    char err[512];

    if (job_parse(text, len, &cfg.defaults, &cfg.maxima, &job, err, sizeof err) != 0) {
        log_warn("job %s: %s", job.id ? job.id : "(no id)", err);
        if (job.id && job.reply_to) {
            job_result_init(&r, 0);
            job_result_fail(&r, "%s", err);
            answer(q, text, len, &job, job.language, &r);
            job_result_free(&r);
        } else {
            forget(q, text, len);
        }
        job_free(&job);
        return;
    }
    int64_t now = clock_unix_ms();
    if (job.deadline_ms > 0 && job.deadline_ms <= now) {
        log_info("job %s: deadline passed %lld ms ago; dropped without running", job.id,
                 (long long)(now - job.deadline_ms));
        forget(q, text, len);
        job_free(&job);
        return;
    }

    char container[DOCKER_ID_SIZE] = "";
    struct run_shape shape = { 0 };
    struct run_warm *warm = NULL;
    bool ran = false;
    job_result_init(&r, (size_t)job.limits.output_bytes);
    struct lang *lang = lang_registry_lookup(&languages, job.language);
    if (!lang) {
        job_result_fail(&r, "language '%s' is not available on node %s", job.language, cfg.node);
    } else if (cfg.bench_no_container) {
        /* --bench-no-container: measures the pipeline without Docker. The code is not run;
         * the answer says so in its reason and as its only output (stderr), which is what
         * loadtest/mix/bench.mix expects. */
        r.status = RCE_STATUS_OK;
        r.has_exit_code = true;
        r.exit_code = 0;
        snprintf(r.reason, sizeof r.reason, "%s", BENCH_REASON);
        capture_append(&r.err, BENCH_REASON "\n", sizeof(BENCH_REASON "\n") - 1);
    } else {
        run_shape(&cfg, &job.limits, lang, &shape);
        if (!(warm = pool_take(pool, lang, &shape)))
            pool_reserve(pool, shape.memory_mb);
        running_set(slot, job.id);
        run_job(d, &cfg, &job, lang, warm, &r, container, sizeof container);
        ran = true;
    }
    log_info("job %s: %s %s, %ld ms (queued %lld ms, %s container %.12s)%s%s", job.id,
             lang ? lang->name : job.language, r.status, r.wall_ms,
             (long long)(job.enqueued_ms > 0 ? now - job.enqueued_ms : -1),
             warm && warm->id[0] ? "warm" : "cold", container[0] ? container : "-",
             r.reason[0] ? ": " : "", r.reason);
    answer(q, text, len, &job, lang ? lang->name : job.language, &r);
    run_remove(d, container);       /* after the answer: the client does not wait for it */
    if (ran)
        pool_release(pool, warm, shape.memory_mb);
    running_set(slot, NULL);
    lang_free(lang);
    job_result_free(&r);
    job_free(&job);
}

static void *slot_main(void *arg)
{
    int slot = (int)(intptr_t)arg;
    struct queue q;
    struct docker d;

    queue_init(&q, &cfg);
    if (docker_open(&d, cfg.docker_socket) != 0) {
        log_error("slot %d: cannot set up a curl handle; slot not running", slot);
        goto out;
    }
    /* Draining, a slot still empties the queue: jobs the gateway sent before it learned of
     * the drain are this node's to finish. */
    for (;;) {
        char *text;
        size_t len;
        if (queue_take(&q, &text, &len) != 1) {
            if (atomic_load(&draining))
                break;
            continue;   /* nothing within 1 s, or a Redis failure already backed off */
        }
        hold(slot, text);
        atomic_fetch_add(&busy, 1);
        handle_job(slot, &q, &d, text, len);
        atomic_fetch_sub(&busy, 1);
        hold(slot, NULL);
        free(text);
    }
    docker_close(&d);
out:
    queue_close(&q);
    atomic_fetch_sub(&live_slots, 1);
    return NULL;
}

/* Reloads the language table; a failed load keeps the old one (Docker may be restarting). */
static void refresh_languages(struct docker *d)
{
    static char *last_described;
    char err[300];
    struct lang_table *t = lang_table_load(d, cfg.image_prefix, err, sizeof err);
    if (!t) {
        log_warn("languages: listing images failed: %s", err);
        return;
    }
    lang_registry_replace(&languages, t);

    json_t *names = json_array(), *aliases = json_object();
    char *described = NULL;
    if (names && aliases && lang_registry_describe(&languages, names, aliases) == 0)
        described = json_dumps(names, JSON_COMPACT);
    if (described && (!last_described || strcmp(described, last_described) != 0)) {
        log_info("languages: %s%s", described, json_array_size(names) ? "" : " (no images labelled for this prefix)");
        free(last_described);
        last_described = described;
    } else {
        free(described);
    }
    json_decref(names);
    json_decref(aliases);
}

/* The reaper spares the containers of running jobs and the warm pool's. */
static bool in_use(const char *id, const char *job_id, const char *pool_token)
{
    if (job_id)
        return running_contains(job_id);
    (void)id;
    return pool && pool_owns(pool, pool_token);
}

static bool never_in_use(const char *id, const char *job_id, const char *pool_token)
{
    (void)id;
    (void)job_id;
    (void)pool_token;
    return false;
}

/* Removes this node's containers that nothing here runs or keeps warm (at start: all). */
static void reap(struct docker *d, bool at_start)
{
    int n = run_reap(d, cfg.node, at_start ? never_in_use : in_use);
    if (n > 0)
        log_info("reaper: removed %d orphan container(s)", n);
}

/* Takes over the jobs of dead nodes, removes their containers from this engine (a dead node
 * on another host keeps its own until it comes back and reaps them), and answers IE for the
 * jobs whose node died while running them a second time. */
static void rescue(struct queue *q, struct docker *d)
{
    struct rescue res;
    if (cluster_rescue(q, &res) != 0)
        return;
    for (int i = 0; i < res.n_dead; i++) {
        log_warn("node %s is dead (no heartbeat): took over its jobs", res.dead[i]);
        int n = run_reap(d, res.dead[i], never_in_use);
        if (n > 0)
            log_info("removed %d container(s) of dead node %s", n, res.dead[i]);
    }
    if (res.requeued > 0)
        log_info("rescue: %ld job(s) of dead nodes put on %s", res.requeued, q->queue_key);
    for (size_t i = 0; i < res.n_lost; i++) {
        struct job job;
        struct job_result r;
        char err[512];
        if (job_parse(res.lost[i], res.lost_len[i], &cfg.defaults, &cfg.maxima, &job, err, sizeof err) == 0
            && job.reply_to) {
            log_warn("job %s: a second node died running it; answering IE", job.id);
            job_result_init(&r, 0);
            job_result_fail(&r, "the nodes running this job died twice; it was not run again");
            answer(q, res.lost[i], res.lost_len[i], &job, job.language, &r);
            job_result_free(&r);
        } else {
            forget(q, res.lost[i], res.lost_len[i]);
        }
        job_free(&job);
    }
    rescue_free(&res);
}

/* A job can be in running with no slot holding it: BLMOVE moved it, and the connection was
 * lost before the answer came (Redis restarting). Such a job would wait there until the node's
 * next start. One found so in two passes RECONCILE_INTERVAL_MS apart (a slot holds its job
 * microseconds after BLMOVE answers) goes back to the queue. *orphans (NULL-terminated,
 * malloc'd) carries what the last pass found. */
static void reconcile(struct queue *q, char ***orphans)
{
    char **now = queue_running(q), **before = *orphans;
    size_t kept = 0;
    if (!now)
        return;
    for (size_t i = 0; now[i]; i++) {
        if (held_by_a_slot(now[i])) {
            free(now[i]);
            continue;
        }
        bool seen = false;
        for (size_t k = 0; before && before[k] && !seen; k++)
            seen = strcmp(before[k], now[i]) == 0;
        if (seen && !held_by_a_slot(now[i]) && queue_requeue_one(q, now[i]) == 1) {
            log_warn("a job sat in %s with no slot running it (the answer to its BLMOVE was lost); "
                     "put back on %s", q->running_key, q->queue_key);
            free(now[i]);
            continue;
        }
        now[kept++] = now[i];
    }
    now[kept] = NULL;
    for (size_t k = 0; before && before[k]; k++)
        free(before[k]);
    free(before);
    *orphans = now;
}

/* An idle node takes queued jobs of busy nodes, up to its free slots (the script checks that
 * its own queue is empty). */
static void steal(struct queue *q)
{
    int idle = cfg.slots - atomic_load(&busy);
    if (idle <= 0)
        return;
    json_t *names = json_array(), *aliases = json_object();
    char **langs = NULL;
    size_t n = 0;
    if (!names || !aliases || lang_registry_describe(&languages, names, aliases) != 0)
        goto done;
    n = json_array_size(names);
    if (n == 0 || !(langs = calloc(n, sizeof *langs)))
        goto done;
    for (size_t i = 0; i < n; i++)
        langs[i] = (char *)json_string_value(json_array_get(names, i));
    long taken = cluster_steal(q, idle, langs, n);
    if (taken > 0)
        log_info("stole %ld queued job(s) from busier nodes", taken);
done:
    free(langs);
    json_decref(names);
    json_decref(aliases);
}

/* Everything slow or periodic that must not delay the heartbeat: languages, orphans, taking
 * over dead nodes' jobs, stealing work. */
static void *housekeeper_main(void *arg)
{
    struct docker *d = arg;
    struct queue q;
    int64_t next_langs = clock_mono_ms() + LANG_REFRESH_MS;
    int64_t next_reap = clock_mono_ms() + REAP_INTERVAL_MS;
    int64_t next_rescue = clock_mono_ms(), next_steal = next_rescue, next_trim = next_rescue;
    int64_t next_reconcile = next_rescue + RECONCILE_INTERVAL_MS;
    char **orphans = NULL;
    queue_init(&q, &cfg);
    while (!atomic_load(&housekeeper_stop)) {
        clock_sleep_ms(50);
        int64_t now = clock_mono_ms();
        if (!atomic_load(&draining) && now >= next_rescue) {
            rescue(&q, d);
            next_rescue = now + RESCUE_INTERVAL_MS;
        }
        if (!atomic_load(&draining) && now >= next_steal) {
            steal(&q);
            next_steal = now + STEAL_INTERVAL_MS;
        }
        if (now >= next_langs) {
            refresh_languages(d);
            next_langs = now + LANG_REFRESH_MS;
        }
        if (now >= next_reap) {
            reap(d, false);
            next_reap = now + REAP_INTERVAL_MS;
        }
        if (!atomic_load(&draining) && now >= next_reconcile) {
            reconcile(&q, &orphans);
            next_reconcile = now + RECONCILE_INTERVAL_MS;
        }
        if (now >= next_trim) {
            if (atomic_load(&busy) == 0)
                malloc_trim(0);     /* an idle node keeps only what it uses */
            next_trim = now + TRIM_INTERVAL_MS;
        }
    }
    for (size_t k = 0; orphans && orphans[k]; k++)
        free(orphans[k]);
    free(orphans);
    queue_close(&q);
    return NULL;
}

/* The node JSON of the heartbeat; malloc'd, NULL if out of memory. */
static char *node_json(long queued)
{
    json_t *names = json_array(), *aliases = json_object(), *versions = json_object(),
           *compiled = json_array();
    if (!names || !aliases || !versions || !compiled
        || lang_registry_describe(&languages, names, aliases) != 0
        || lang_registry_details(&languages, versions, compiled) != 0) {
        json_decref(names);
        json_decref(aliases);
        json_decref(versions);
        json_decref(compiled);
        return NULL;
    }
    static json_int_t beat;     /* lets the gateway tell a new report from one it has seen */
    json_t *node = json_pack("{s:s, s:o, s:o, s:o, s:o, s:i, s:i, s:I, s:i, s:b, s:I}",
                             RCE_NODE_NAME, cfg.node,
                             RCE_NODE_LANGUAGES, names,
                             RCE_NODE_ALIASES, aliases,
                             RCE_NODE_VERSIONS, versions,
                             RCE_NODE_COMPILED, compiled,
                             RCE_NODE_SLOTS, cfg.slots,
                             RCE_NODE_BUSY, atomic_load(&busy),
                             RCE_NODE_QUEUED, (json_int_t)queued,
                             RCE_NODE_QUEUE_MAX, cfg.queue_max,
                             RCE_NODE_DRAINING, (int)atomic_load(&draining),
                             RCE_NODE_BEAT, ++beat);
    if (node && cfg.bench_no_container)
        json_object_set_new(node, RCE_NODE_BENCH, json_true());
    json_t *warm = json_object();
    if (node && warm && pool && pool_describe(pool, warm) == 0)
        json_object_set(node, RCE_NODE_POOL, warm);
    json_decref(warm);
    char *text = node ? json_dumps(node, JSON_COMPACT) : NULL;
    json_decref(node);
    return text;
}

static void heartbeat(struct queue *q)
{
    long queued = queue_length(q);
    if (queued < 0)
        return;     /* Redis trouble, already logged; the next beat retries */
    char *text = node_json(queued);
    if (!text) {
        log_error("heartbeat: out of memory");
        return;
    }
    queue_heartbeat(q, text);
    free(text);
}

/* Waits up to ms for SIGTERM/SIGINT (blocked in every thread, so only this call sees them).
 * A second signal while draining ends the process at once. Returns the signal or 0. */
static int wait_signal(const sigset_t *set, int64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    int sig = sigtimedwait(set, NULL, &ts);
    if (sig <= 0)
        return 0;
    if (atomic_load(&draining)) {
        log_warn("second %s: exiting now; jobs in %s%s are requeued at the next start",
                 strsignal(sig), RCE_KEY_RUNNING, cfg.node);
        _exit(1);
    }
    log_info("%s: draining; running jobs finish, no new ones are taken", strsignal(sig));
    atomic_store(&draining, true);
    if (pool)
        pool_drain(pool);
    return sig;
}

/* "127.0.0.1:6379" or "unix:/path", for the start-up log line. */
static void describe_redis(char *buf, size_t len)
{
    if (cfg.redis_unix[0])
        snprintf(buf, len, "unix:%s", cfg.redis_unix);
    else
        snprintf(buf, len, "%s:%d", cfg.redis_host, cfg.redis_port);
}

int main(int argc, char **argv)
{
    char err[512];
    sigset_t signals;
    struct queue q;
    struct docker hk_docker = { 0 };
    pthread_t housekeeper, *slots = NULL;
    int started = 0, exit_code = 1;
    bool housekeeper_started = false, registered = false;

    switch (config_parse(&cfg, argc, argv, err, sizeof err)) {
    case CONFIG_HELP:
        config_usage(stdout);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "workerd: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }

    /* Signals are taken synchronously by the main thread; threads inherit this mask. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a peer closing a socket is an error to handle, not a death */

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "workerd: curl_global_init failed\n");
        return 1;
    }
    json_object_seed(0);        /* jansson's hash seed, set once before threads race to do it */
    mallopt(M_ARENA_MAX, MALLOC_ARENAS);
    lang_registry_init(&languages);
    queue_init(&q, &cfg);
    running_ids = calloc((size_t)cfg.slots, sizeof *running_ids);
    held = calloc((size_t)cfg.slots, sizeof *held);
    slots = calloc((size_t)cfg.slots, sizeof *slots);
    if (!running_ids || !held || !slots || docker_open(&hk_docker, cfg.docker_socket) != 0) {
        log_error("out of memory");
        goto stop;
    }
    describe_redis(err, sizeof err);
    log_info("node %s: %d slots, redis %s, docker %s, images %s<language>:latest", cfg.node,
             cfg.slots, err, cfg.docker_socket, cfg.image_prefix);
    if (cfg.bench_no_container)
        log_warn("*** BENCHMARK MODE (--bench-no-container): jobs are NOT run; every job is answered "
                 "OK at once, with no container, stderr and reason \"%s\". For measuring the "
                 "pipeline only; never serve users with it. ***", BENCH_REASON);

    /* Jobs in running belonged to a previous incarnation that died with them. */
    long requeued;
    while ((requeued = queue_requeue_running(&q)) < 0)
        if (wait_signal(&signals, 0)) {
            exit_code = 0;
            goto stop;
        }
    if (requeued > 0)
        log_info("requeued %ld job(s) a previous run left in %s", requeued, q.running_key);
    reap(&hk_docker, true);     /* nothing runs yet, so every container of this node is orphaned */
    refresh_languages(&hk_docker);
    if (!(pool = pool_start(&cfg, &languages)))
        goto stop;

    if (pthread_create(&housekeeper, NULL, housekeeper_main, &hk_docker) != 0) {
        log_error("cannot start the housekeeper thread");
        goto stop;
    }
    housekeeper_started = true;
    for (; started < cfg.slots; started++) {
        atomic_fetch_add(&live_slots, 1);
        if (pthread_create(&slots[started], NULL, slot_main, (void *)(intptr_t)started) != 0) {
            atomic_fetch_sub(&live_slots, 1);
            log_error("cannot start slot thread %d", started);
            goto stop;
        }
    }

    /* Heartbeat until drained: draining shows in the node JSON so the gateway stops routing. */
    registered = true;
    int64_t next_beat = clock_mono_ms();
    while (!(atomic_load(&draining) && atomic_load(&live_slots) == 0)) {
        int64_t now = clock_mono_ms();
        if (now >= next_beat) {
            heartbeat(&q);
            next_beat = now + RCE_NODE_HEARTBEAT_MS;
        }
        int64_t wait = next_beat - clock_mono_ms();
        if (atomic_load(&draining) && wait > 50)
            wait = 50;      /* notice the last slot finishing promptly */
        if (wait_signal(&signals, wait > 0 ? wait : 0))
            next_beat = clock_mono_ms();    /* tell the gateway right away */
    }
    exit_code = 0;

stop:
    atomic_store(&draining, true);
    for (int i = 0; i < started; i++)
        pthread_join(slots[i], NULL);
    atomic_store(&housekeeper_stop, true);
    if (housekeeper_started)
        pthread_join(housekeeper, NULL);
    pool_stop(pool);            /* after the slots: every container handed out is released */
    pool = NULL;
    if (registered) {
        long left = queue_length(&q);
        if (left > 0)
            log_warn("%ld job(s) left in %s for another node to rescue", left, q.queue_key);
        for (int attempt = 0; attempt < DRAIN_GIVE_UP_ATTEMPTS && cluster_leave(&q) != 0; attempt++)
            ;
    }
    log_info("node %s: stopped", cfg.node);
    queue_close(&q);
    docker_close(&hk_docker);
    free(running_ids);
    free(held);
    free(slots);
    lang_registry_destroy(&languages);
    curl_global_cleanup();
    return exit_code;
}
