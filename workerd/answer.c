#include "answer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"
#include "script.h"
#include "stats.h"

/* lua/finish.lua: 1 answered, 0 dropped (the job was taken over), -1 Redis failure. The result
 * lives the job's result_ttl_s; an asynchronous job's state (KEYS[4]) is marked done with it. */
static int finish(struct queue *q, const char *text, size_t len, const struct job *job,
                  const char *result)
{
    char result_key[256], job_key[256], ttl[24], epoch[24], now[24];
    snprintf(result_key, sizeof result_key, "%s%s", RCE_KEY_RESULT, job->id);
    snprintf(job_key, sizeof job_key, "%s%s", RCE_KEY_JOB, job->id);
    snprintf(ttl, sizeof ttl, "%d", job_result_ttl_s(job));
    snprintf(epoch, sizeof epoch, "%lld", job->epoch);
    snprintf(now, sizeof now, "%lld", (long long)clock_unix_ms());
    const char *keys[] = { q->running_key, result_key, q->epoch_key, job_key, RCE_KEY_CALLBACKS };
    const char *args[] = { text, result, ttl, job->reply_to, epoch, RCE_JOBSTATE_STATE, RCE_STATE_DONE,
                           RCE_JOBSTATE_JOB, RCE_JOBSTATE_CALLBACK_URL, RCE_JOBSTATE_CALLBACK_STATE,
                           RCE_CALLBACK_PENDING, job->id, now };
    size_t lens[SCRIPT_COUNT_OF(args)] = { len, strlen(result) };
    for (size_t i = 2; i < SCRIPT_COUNT_OF(args); i++)
        lens[i] = strlen(args[i]);
    size_t nkeys = job->async ? 5 : 3, nargs = job->async ? 13 : 5;   /* a synchronous job has no state */
    redisReply *r = script_run(q, SCRIPT_FINISH, REDIS_REPLY_INTEGER, 0, nkeys, keys, nargs, args, lens);
    int rc = r ? (int)r->integer : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

void answer(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job,
            const char *language, const struct job_result *r)
{
    char *result = job_result_json(job->id, language, n->cfg.node, r);
    int rc;
    if (!result) {
        log_error("job %s: out of memory encoding the result; it stays in %s", job->id, q->running_key);
        return;
    }
    if (strlen(result) > RCE_RESULT_MAX_BYTES) {
        size_t size = strlen(result);
        free(result);
        log_error("job %s: its result is %zu bytes, over the protocol's %d: answering IE", job->id, size,
                  RCE_RESULT_MAX_BYTES);
        answer_ie(n, q, text, len, job, "the result, %zu bytes of JSON, is over the largest a node may "
                  "send (%d bytes): ask for a smaller output_bytes", size, RCE_RESULT_MAX_BYTES);
        return;
    }
    for (int attempt = 1; (rc = finish(q, text, len, job, result)) < 0; attempt++)
        if (atomic_load(&n->draining) && attempt >= NODE_DRAIN_GIVE_UP_ATTEMPTS) {
            log_error("job %s: result not published; the job stays in %s", job->id, q->running_key);
            break;
        }
    if (rc == 1)
        (void)stats_finished(&n->stats, language, r->status);
    if (rc == 0)
        log_warn("job %s: result dropped: a peer declared this node dead (epoch %lld) and runs the "
                 "job again", job->id, job->epoch);
    free(result);
}

/* Answers a job that never ran with status and reason. */
static void answer_unrun(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job,
                         const char *status, const char *reason)
{
    struct job_result r;
    job_result_init(&r, 0);
    r.status = status;
    snprintf(r.reason, sizeof r.reason, "%s", reason);
    answer(n, q, text, len, job, job->language, &r);
    job_result_free(&r);
}

void answer_ie(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job,
               const char *fmt, ...)
{
    char reason[sizeof ((struct job_result *)0)->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    answer_unrun(n, q, text, len, job, RCE_STATUS_IE, reason);
}

void answer_cancelled(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job)
{
    answer_unrun(n, q, text, len, job, RCE_STATUS_CANCELLED, JOB_CANCELLED_BEFORE);
}

void answer_forget(struct node *n, struct queue *q, const char *text, size_t len)
{
    for (int attempt = 1; queue_drop(q, text, len) != 0; attempt++)
        if (atomic_load(&n->draining) && attempt >= NODE_DRAIN_GIVE_UP_ATTEMPTS) {
            log_error("a job could not be removed from %s; the next start requeues it", q->running_key);
            break;
        }
}
