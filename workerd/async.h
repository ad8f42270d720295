/* Asynchronous jobs (POST /api/v1/jobs on the gateway): nobody waits for them, their state is
 * in rce:job:<id> (rce_protocol.h RCE_JOBSTATE_*), and DELETE /api/v1/jobs/<id> can cancel one
 * that left its queue by setting rce:cancel:<id>. This is the node's part between the take and
 * the answer (the answer's part is in lua/finish.lua). */
#ifndef WORKERD_ASYNC_H
#define WORKERD_ASYNC_H

#include "job.h"
#include "node.h"
#include "queue.h"

/* How often the slots' asynchronous jobs are looked up for a cancel (async_poll_cancels). */
#define ASYNC_CANCEL_POLL_MS 500

enum async_start {
    ASYNC_RUN,              /* run it: its state says running on this node (if it has one) */
    ASYNC_CANCELLED,        /* asked to stop before it started: answer it CANCELLED */
    ASYNC_DONE,             /* answered already (a peer rescued it while this node stalled, and
                             * ran it): forget it */
};

/* Before a slot runs an asynchronous job (lua/started.lua; a synchronous one skips this). It
 * retries through Redis outages as answer does; once the node drains it gives up after a few
 * tries and says ASYNC_RUN (so does a lack of memory), the state left as it was. */
enum async_start async_started(struct node *n, struct queue *q, const struct job *job);

/* Raises the cancel flag (slot_cancel) of every slot whose asynchronous job's rce:cancel:<id>
 * exists, with one MGET (none when no slot runs one). A Redis failure is logged and backed off
 * like every other; the next poll tries again. For one thread with its own connection (main's). */
void async_poll_cancels(struct node *n, struct queue *q);

#endif
