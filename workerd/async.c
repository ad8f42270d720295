#include "async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"
#include "script.h"

/* prefix and id as one malloc'd key; NULL if out of memory */
static char *key_of(const char *prefix, const char *id)
{
    char *key;
    return asprintf(&key, "%s%s", prefix, id) < 0 ? NULL : key;
}

/* One run of lua/started.lua: its answer, or -1 on Redis failure (already backed off). */
static int started(struct node *n, struct queue *q, const struct job *job)
{
    char now[24];
    char *job_key = key_of(RCE_KEY_JOB, job->id), *cancel_key = key_of(RCE_KEY_CANCEL, job->id);
    int rc = ASYNC_RUN;
    if (!job_key || !cancel_key) {
        log_error("job %s: out of memory; running it without looking for a cancel", job->id);
        goto done;
    }
    snprintf(now, sizeof now, "%lld", (long long)clock_unix_ms());
    const char *keys[] = { job_key, cancel_key };
    const char *args[] = { n->cfg.node, now, RCE_JOBSTATE_STATE, RCE_STATE_RUNNING, RCE_STATE_DONE,
                           RCE_JOBSTATE_NODE, RCE_JOBSTATE_STARTED_MS, RCE_JOBSTATE_JOB };
    redisReply *r = script_run(q, SCRIPT_STARTED, REDIS_REPLY_STRING, 0, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    if (!r) {
        rc = -1;
        goto done;
    }
    rc = strcmp(r->str, "cancelled") == 0 ? ASYNC_CANCELLED : strcmp(r->str, "done") == 0 ? ASYNC_DONE
         : ASYNC_RUN;
    freeReplyObject(r);
done:
    free(job_key);
    free(cancel_key);
    return rc;
}

enum async_start async_started(struct node *n, struct queue *q, const struct job *job)
{
    int rc;
    for (int attempt = 1; (rc = started(n, q, job)) < 0; attempt++)
        if (atomic_load(&n->draining) && attempt >= NODE_DRAIN_GIVE_UP_ATTEMPTS) {
            log_error("job %s: Redis did not take its start; running it with its state unchanged", job->id);
            return ASYNC_RUN;
        }
    return (enum async_start)rc;
}

/* MGET of the cancel keys of jobs; raises the flags of those that exist. -1 if out of memory. */
static int look_up(struct node *n, struct queue *q, const struct slot_job *jobs, size_t count)
{
    char **argv = calloc(count + 1, sizeof *argv);
    int rc = -1;
    if (!argv)
        return -1;
    argv[0] = "MGET";
    for (size_t i = 0; i < count; i++)
        if (!(argv[i + 1] = key_of(RCE_KEY_CANCEL, jobs[i].id)))
            goto done;
    rc = 0;
    redisReply *r = queue_command_argv(q, "looking for cancels (MGET)", REDIS_REPLY_ARRAY, (int)count + 1,
                                       (const char **)argv);
    for (size_t i = 0; r && i < count && i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_NIL && slot_cancel(&n->slots, jobs[i].slot, jobs[i].id))
            log_info("job %s: cancelled by request; stopping it", jobs[i].id);
    if (r)
        freeReplyObject(r);
done:
    for (size_t i = 1; i <= count; i++)
        free(argv[i]);
    free(argv);
    return rc;
}

void async_poll_cancels(struct node *n, struct queue *q)
{
    struct slot_job *jobs;
    size_t count;
    if (slot_async_jobs(&n->slots, &jobs, &count) != 0 || (count > 0 && look_up(n, q, jobs, count) != 0))
        log_error("looking for cancelled jobs: out of memory");
    slot_jobs_free(jobs, count);
}
