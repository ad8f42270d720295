#include "queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000    /* the gateway serves again within 2 s of Redis returning */
#define CONNECT_TIMEOUT_MS 2000

void queue_init(struct queue *q, const struct config *cfg)
{
    memset(q, 0, sizeof *q);
    q->cfg = cfg;
    q->backoff_ms = BACKOFF_MIN_MS;
    snprintf(q->queue_key, sizeof q->queue_key, "%s%s", RCE_KEY_QUEUE, cfg->node);
    snprintf(q->running_key, sizeof q->running_key, "%s%s", RCE_KEY_RUNNING, cfg->node);
    snprintf(q->batch_key, sizeof q->batch_key, "%s%s", RCE_KEY_BATCH, cfg->node);
    snprintf(q->node_key, sizeof q->node_key, "%s%s", RCE_KEY_NODE, cfg->node);
    snprintf(q->epoch_key, sizeof q->epoch_key, "%s%s", RCE_KEY_EPOCH, cfg->node);
}

void queue_close(struct queue *q)
{
    if (q->ctx)
        redisFree(q->ctx);
    q->ctx = NULL;
}

int queue_fail(struct queue *q, const char *what, const redisReply *reply)
{
    const char *why = reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                      : q->ctx && q->ctx->err                 ? q->ctx->errstr
                                                              : "unexpected reply";
    if (!q->failing)
        log_warn("redis: %s failed: %s; retrying with backoff up to %d ms", what, why, BACKOFF_MAX_MS);
    q->failing = true;
    queue_close(q);
    clock_sleep_ms(q->backoff_ms);
    q->backoff_ms = q->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : q->backoff_ms * 2;
    return -1;
}

void queue_succeeded(struct queue *q)
{
    if (q->failing)
        log_info("redis: working again");
    q->failing = false;
    q->backoff_ms = BACKOFF_MIN_MS;
}

static struct timeval ms_to_timeval(long ms)
{
    return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
}

int queue_connect(struct queue *q)
{
    const struct config *cfg = q->cfg;
    if (q->ctx)
        return 0;
    struct timeval connect_timeout = ms_to_timeval(CONNECT_TIMEOUT_MS);
    q->ctx = cfg->redis_unix[0] ? redisConnectUnixWithTimeout(cfg->redis_unix, connect_timeout)
                                : redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, connect_timeout);
    if (!q->ctx) {
        log_warn("redis: out of memory connecting");
        return queue_fail(q, "connect", NULL);
    }
    if (q->ctx->err)
        return queue_fail(q, "connect", NULL);
    /* A dead server must not hang a thread forever: bound every read. */
    if (redisSetTimeout(q->ctx, ms_to_timeval(QUEUE_COMMAND_TIMEOUT_MS)) != REDIS_OK)
        return queue_fail(q, "set timeout", NULL);
    return 0;
}

/* A reply of the wanted type (or nil when nil_ok) is returned; any other, or none, is a failure. */
static redisReply *checked(struct queue *q, const char *what, redisReply *r, int want, int nil_ok)
{
    if (!r || (r->type != want && !(nil_ok && r->type == REDIS_REPLY_NIL))) {
        queue_fail(q, what, r);
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    queue_succeeded(q);
    return r;
}

redisReply *queue_command(struct queue *q, const char *what, int want, int nil_ok, const char *fmt, ...)
{
    if (queue_connect(q) != 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(q->ctx, fmt, ap);
    va_end(ap);
    return checked(q, what, r, want, nil_ok);
}

redisReply *queue_command_within(struct queue *q, long timeout_ms, const char *what, int want, const char *fmt,
                                 ...)
{
    redisReply *r = NULL;
    if (!q->ctx)
        return NULL;        /* no time to connect */
    if (redisSetTimeout(q->ctx, ms_to_timeval(timeout_ms)) != REDIS_OK)
        goto fail;
    va_list ap;
    va_start(ap, fmt);
    r = redisvCommand(q->ctx, fmt, ap);
    va_end(ap);
    if (!r || r->type != want)
        goto fail;
    if (redisSetTimeout(q->ctx, ms_to_timeval(QUEUE_COMMAND_TIMEOUT_MS)) != REDIS_OK)
        goto fail;
    return r;
fail:
    log_warn("redis: %s failed within %ld ms: %s; the connection is dropped", what, timeout_ms,
             r && r->type == REDIS_REPLY_ERROR ? r->str : q->ctx->err ? q->ctx->errstr : "unexpected reply");
    if (r)
        freeReplyObject(r);
    queue_close(q);
    return NULL;
}

redisReply *queue_command_argv(struct queue *q, const char *what, int want, int argc, const char **argv)
{
    if (queue_connect(q) != 0)
        return NULL;
    return checked(q, what, redisCommandArgv(q->ctx, argc, argv, NULL), want, 0);
}

/* Redis's refusal of a command that may grow memory while it is at maxmemory (noeviction). */
static bool out_of_memory(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "OOM ", 4) == 0;
}

int queue_take(struct queue *q, long timeout_ms, char **job, size_t *len)
{
    char timeout[24];
    if (queue_connect(q) != 0)
        return -1;
    snprintf(timeout, sizeof timeout, "%ld.%03ld", timeout_ms / 1000, timeout_ms % 1000);
    redisReply *r = redisCommand(q->ctx, "BLMOVE %s %s RIGHT LEFT %s", q->queue_key, q->running_key, timeout);
    if (out_of_memory(r)) {
        if (!q->full)
            log_warn("redis: BLMOVE refused: %s; jobs already queued are taken by %s", r->str,
                     "lua/take.lua");
        q->full = true;
        freeReplyObject(r);
        return QUEUE_OUT_OF_MEMORY;
    }
    if (q->full && r && r->type != REDIS_REPLY_ERROR)
        log_info("redis: below maxmemory again");
    q->full = false;
    r = checked(q, "BLMOVE", r, REDIS_REPLY_STRING, 1);
    if (!r)
        return -1;
    return queue_taken(q, r, job, len);
}

int queue_taken(struct queue *q, redisReply *r, char **job, size_t *len)
{
    int got = 0;
    if (r->type == REDIS_REPLY_STRING) {
        *job = malloc(r->len + 1);
        if (*job) {
            memcpy(*job, r->str, r->len + 1);
            *len = r->len;
            got = 1;
        } else {
            log_error("out of memory taking a job; it stays in %s", q->running_key);
        }
    }
    freeReplyObject(r);
    return got;
}

int queue_drop(struct queue *q, const char *job, size_t len)
{
    redisReply *r = queue_command(q, "LREM", REDIS_REPLY_INTEGER, 0, "LREM %s 1 %b", q->running_key, job, len);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

long queue_requeue_running(struct queue *q)
{
    long moved = 0;
    for (;;) {
        /* LEFT of running is the newest; pushing each onto the RIGHT (the consumer end) of the
         * queue leaves the oldest next in line: these jobs were taken before anything queued. */
        redisReply *r = queue_command(q, "LMOVE", REDIS_REPLY_STRING, 1, "LMOVE %s %s LEFT RIGHT",
                                q->running_key, q->queue_key);
        if (!r)
            return -1;
        int done = r->type == REDIS_REPLY_NIL;
        freeReplyObject(r);
        if (done)
            return moved;
        moved++;
    }
}

char **queue_running(struct queue *q)
{
    redisReply *r = queue_command(q, "LRANGE", REDIS_REPLY_ARRAY, 0, "LRANGE %s 0 -1", q->running_key);
    if (!r)
        return NULL;
    char **jobs = calloc(r->elements + 1, sizeof *jobs);
    for (size_t i = 0; jobs && i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING || !(jobs[i] = strdup(r->element[i]->str))) {
            for (size_t k = 0; k < i; k++)
                free(jobs[k]);
            free(jobs);
            jobs = NULL;
        }
    freeReplyObject(r);
    return jobs;
}

long long queue_register(struct queue *q)
{
    redisReply *r = queue_command(q, "registering", REDIS_REPLY_INTEGER, 0, "INCR %s", q->epoch_key);
    if (!r)
        return -1;
    long long epoch = r->integer;
    freeReplyObject(r);
    /* A failure here registers again: one more epoch, which fences nothing of ours. */
    r = queue_command(q, "registering", REDIS_REPLY_INTEGER, 0, "HDEL %s %s", RCE_KEY_DEAD, q->cfg->node);
    if (!r)
        return -1;
    freeReplyObject(r);
    return epoch;
}

long queue_length(struct queue *q, const char *key)
{
    redisReply *r = queue_command(q, "LLEN", REDIS_REPLY_INTEGER, 0, "LLEN %s", key);
    if (!r)
        return -1;
    long n = (long)r->integer;
    freeReplyObject(r);
    return n;
}
