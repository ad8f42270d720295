#include "answer.h"

#include <stdarg.h>
#include <stdlib.h>

#include "log.h"

void answer(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job,
            const char *language, const struct job_result *r)
{
    char *result = job_result_json(job->id, language, n->cfg.node, r);
    if (!result) {
        log_error("job %s: out of memory encoding the result; it stays in %s", job->id, q->running_key);
        return;
    }
    for (int attempt = 1; queue_finish(q, text, len, job->reply_to, job->id, result) != 0; attempt++)
        if (atomic_load(&n->draining) && attempt >= NODE_DRAIN_GIVE_UP_ATTEMPTS) {
            log_error("job %s: result not published; the job stays in %s", job->id, q->running_key);
            break;
        }
    free(result);
}

void answer_ie(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job,
               const char *fmt, ...)
{
    struct job_result r;
    va_list ap;
    job_result_init(&r, 0);
    va_start(ap, fmt);
    vsnprintf(r.reason, sizeof r.reason, fmt, ap);
    va_end(ap);
    answer(n, q, text, len, job, job->language, &r);
    job_result_free(&r);
}

void answer_forget(struct node *n, struct queue *q, const char *text, size_t len)
{
    for (int attempt = 1; queue_drop(q, text, len) != 0; attempt++)
        if (atomic_load(&n->draining) && attempt >= NODE_DRAIN_GIVE_UP_ATTEMPTS) {
            log_error("a job could not be removed from %s; the next start requeues it", q->running_key);
            break;
        }
}
