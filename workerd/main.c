/* workerd: runs rce jobs from this node's Redis queue in one-shot Docker containers.
 *
 * Threads: N slot threads (slot.c: take a job, run it, answer), the warm pool's fillers
 * (pool.c), one housekeeper (housekeeper.c: languages, orphans, rescue, stealing, reconcile),
 * and the main thread (this file: flags, start-up, signals, the heartbeat, the cancel poll
 * (async.c) and the cluster's record of recent languages (recent.c), shutdown). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "async.h"
#include "clock.h"
#include "cluster.h"
#include "heartbeat.h"
#include "callback.h"
#include "housekeeper.h"
#include "log.h"
#include "node.h"
#include "queue.h"
#include "rce_protocol.h"
#include "recent.h"

#define MALLOC_ARENAS 2             /* glibc would give each of the slot threads its own */
#define DRAINING_TICK_MS 50         /* while draining: notice the last slot finishing promptly */

static struct node node;            /* shared by every thread (node.h) */

/* Waits up to ms for SIGTERM/SIGINT (blocked in every thread, so only this call sees them).
 * A second signal while draining ends the process at once. Returns the signal or 0. */
static int wait_signal(const sigset_t *set, int64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    int sig = sigtimedwait(set, NULL, &ts);
    if (sig <= 0)
        return 0;
    if (atomic_load(&node.draining)) {
        log_warn("second %s: exiting now; jobs in %s%s are requeued at the next start",
                 strsignal(sig), RCE_KEY_RUNNING, node.cfg.node);
        _exit(1);
    }
    log_info("%s: draining; running jobs finish, no new ones are taken", strsignal(sig));
    atomic_store(&node.draining, true);
    if (node.pool)
        pool_drain(node.pool);
    return sig;
}

static void log_start(void)
{
    const struct config *cfg = &node.cfg;
    char redis[sizeof node.cfg.redis_host + 16];
    if (cfg->redis_unix[0])
        snprintf(redis, sizeof redis, "unix:%s", cfg->redis_unix);
    else
        snprintf(redis, sizeof redis, "%s:%d", cfg->redis_host, cfg->redis_port);
    log_info("node %s: %d slots, redis %s, docker %s, images %s<language>:latest", cfg->node,
             cfg->slots, redis, cfg->docker_socket, cfg->image_prefix);
    if (cfg->bench_no_container)
        log_warn("*** BENCHMARK MODE (--bench-no-container): jobs are NOT run; every job is answered "
                 "OK at once, with no container, stderr and reason \"%s\". For measuring the "
                 "pipeline only; never serve users with it. ***", NODE_BENCH_REASON);
}

/* Jobs in running belonged to a previous incarnation that died with them; then the node
 * registers. -1 if a signal came while Redis could not be reached. */
static int requeue_previous(struct queue *q, const sigset_t *signals)
{
    long requeued;
    while ((requeued = queue_requeue_running(q)) < 0)
        if (wait_signal(signals, 0))
            return -1;
    if (requeued > 0)
        log_info("requeued %ld job(s) a previous run left in %s", requeued, q->running_key);
    while (heartbeat_register(&node, q) != 0)      /* a new epoch before any job is taken */
        if (wait_signal(signals, 0))
            return -1;
    return 0;
}

/* Heartbeat until drained: draining shows in the node JSON so the gateway stops routing.
 * Between beats, the running asynchronous jobs are looked up for a cancel. */
static void beat_until_drained(struct queue *q, const sigset_t *signals)
{
    int64_t next_beat = clock_mono_ms(), next_poll = next_beat;
    while (!(atomic_load(&node.draining) && atomic_load(&node.live_slots) == 0)) {
        int64_t now = clock_mono_ms();
        if (now >= next_beat) {
            heartbeat(&node, q);
            recent_store(&node, q);
            next_beat = now + RCE_NODE_HEARTBEAT_MS;
        }
        if ((now = clock_mono_ms()) >= next_poll) {
            async_poll_cancels(&node, q);
            next_poll = now + ASYNC_CANCEL_POLL_MS;
        }
        int64_t wait = (next_poll < next_beat ? next_poll : next_beat) - clock_mono_ms();
        if (atomic_load(&node.draining) && wait > DRAINING_TICK_MS)
            wait = DRAINING_TICK_MS;
        if (wait_signal(signals, wait > 0 ? wait : 0))
            next_beat = clock_mono_ms();    /* tell the gateway right away */
    }
}

/* Leaving: jobs still queued stay for a rescuer, and so does the node's name. */
static void leave(struct queue *q)
{
    long left = queue_length(q, q->queue_key), batch = queue_length(q, q->batch_key);
    if (left > 0 || batch > 0)
        log_warn("%ld job(s) left in %s and %ld in %s for another node to rescue", left, q->queue_key,
                 batch, q->batch_key);
    for (int attempt = 0; attempt < NODE_DRAIN_GIVE_UP_ATTEMPTS && cluster_leave(q) != 0; attempt++)
        ;
}

/* Signals are taken synchronously by the main thread; threads inherit this mask. */
static int setup_process(sigset_t *signals)
{
    sigemptyset(signals);
    sigaddset(signals, SIGTERM);
    sigaddset(signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, signals, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a peer closing a socket is an error to handle, not a death */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "workerd: curl_global_init failed\n");
        return -1;
    }
    json_object_seed(0);        /* jansson's hash seed, set once before threads race to do it */
    mallopt(M_ARENA_MAX, MALLOC_ARENAS);
    return 0;
}

static int parse_flags(int argc, char **argv)
{
    char err[512];
    switch (config_parse(&node.cfg, argc, argv, err, sizeof err)) {
    case CONFIG_HELP:
        config_usage(stdout);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "workerd: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }
    return -1;
}

int main(int argc, char **argv)
{
    char err[512];
    sigset_t signals;
    struct queue q;
    struct housekeeper hk = { 0 };
    struct callbacks callbacks;
    struct slot *slots = NULL;
    int started = 0, exit_code = 1, rc;
    bool registered = false;

    if ((rc = parse_flags(argc, argv)) >= 0)
        return rc;
    if (callbacks_open(&callbacks, &node, err, sizeof err) != 0) {
        fprintf(stderr, "workerd: %s\n", err);
        return 2;
    }
    if (setup_process(&signals) != 0)
        return 1;
    lang_registry_init(&node.languages);
    stats_init(&node.stats);
    queue_init(&q, &node.cfg);
    if (slot_registry_init(&node.slots, node.cfg.slots) != 0
        || !(slots = calloc((size_t)node.cfg.slots, sizeof *slots))) {
        log_error("out of memory");
        goto stop;
    }
    if (housekeeper_open(&hk, &node, err, sizeof err) != 0) {
        log_error("%s", err);
        goto stop;
    }
    log_start();
    if (requeue_previous(&q, &signals) != 0) {
        exit_code = 0;
        goto stop;
    }
    housekeeper_first_pass(&hk);
    if (!(node.pool = pool_start(&node.cfg, &node.languages)))
        goto stop;
    recent_load(&node, &q);
    if (housekeeper_start(&hk) != 0) {
        log_error("cannot start the housekeeper thread");
        goto stop;
    }
    if (callbacks_start(&callbacks) != 0) {
        log_error("cannot start the callback senders");
        goto stop;
    }
    for (; started < node.cfg.slots; started++)
        if (slot_start(&slots[started], &node, started) != 0) {
            log_error("cannot start slot thread %d", started);
            goto stop;
        }
    registered = true;
    beat_until_drained(&q, &signals);
    exit_code = 0;

stop:
    atomic_store(&node.draining, true);
    for (int i = 0; i < started; i++)
        pthread_join(slots[i].thread, NULL);
    housekeeper_stop(&hk);
    callbacks_stop(&callbacks);
    pool_stop(node.pool);       /* after the slots: every container handed out is released */
    node.pool = NULL;
    if (registered)
        leave(&q);
    log_info("node %s: stopped", node.cfg.node);
    queue_close(&q);
    slot_registry_destroy(&node.slots);
    free(slots);
    lang_registry_destroy(&node.languages);
    stats_destroy(&node.stats);
    curl_global_cleanup();
    return exit_code;
}
