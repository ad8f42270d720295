/* Answering a job: publishing its result and taking it off the running list, in one step,
 * retrying through Redis outages. */
#ifndef WORKERD_ANSWER_H
#define WORKERD_ANSWER_H

#include <stddef.h>

#include "job.h"
#include "node.h"
#include "queue.h"

/* Publishes r for job (text, len: its queue element) and removes the job from running; the
 * result is kept job_result_ttl_s, and an asynchronous job's state says done as long.
 * language may be NULL (an unreadable job). Once the node drains it gives up after a few
 * tries: the job then stays in running and the next start requeues it. */
void answer(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job,
            const char *language, const struct job_result *r);

/* Answers IE, with the reason printf-style, a job that was not run (it may be only partly
 * parsed: its id and reply_to must be set). */
void answer_ie(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Answers CANCELLED (JOB_CANCELLED_BEFORE) an asynchronous job that was asked to stop before
 * it ran. */
void answer_cancelled(struct node *n, struct queue *q, const char *text, size_t len, const struct job *job);

/* Removes a job nobody can be answered for, or nobody waits for, from running; the same retry
 * rules as answer. */
void answer_forget(struct node *n, struct queue *q, const char *text, size_t len);

#endif
