
/*
 * The queues of the worker nodes, as a job sees them: pushed onto the list
 * of a node chosen by ngx_rce_nodes.c, or taken back out of it before it
 * started.  The job's own life is ngx_rce_job.c's.
 */


#include "ngx_rce_module.h"
#include "ngx_rce_lua.h"


static ngx_int_t ngx_rce_queue_send(ngx_rce_job_t *job, ngx_uint_t eval);
static void ngx_rce_queue_pushed(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_queue_cancelled(redisAsyncContext *ac, void *reply,
    void *data);


/*
 * Chooses a node and queues the job there, if that node is still listed when
 * Redis runs the push (lua/push.lua): a rescuer unlists a dead node and takes
 * its queue in one script, so a job never lands in a queue nobody reads.
 * pushed gets the script's reply with the job: 0 if the node was gone.
 * NGX_DECLINED: no live node offers the language; NGX_BUSY: all are full.
 */
ngx_int_t
ngx_rce_queue_push(ngx_rce_job_t *job, redisCallbackFn *pushed)
{
    ngx_rce_worker_t  *w;
    ngx_rce_node_t    *node;
    ngx_str_t          queue, batch;
    ngx_int_t          rc;
    u_char            *p;

    w = ngx_rce_worker;

    if (!w->command.connected) {
        return NGX_ERROR;
    }

    rc = ngx_rce_nodes_choose(w, &job->language, job->balance, job->priority,
                              &node);
    if (rc != NGX_OK) {
        return rc;
    }

    p = ngx_pnalloc(job->pool, 3 * (node->name.len + 1)
                               + sizeof(RCE_KEY_QUEUE) + sizeof(RCE_KEY_BATCH));
    if (p == NULL) {
        return NGX_ERROR;
    }

    job->node.data = p;
    job->node.len = node->name.len;
    p = ngx_cpymem(p, node->name.data, node->name.len);
    *p++ = '\0';

    queue.data = p;
    queue.len = sizeof(RCE_KEY_QUEUE) - 1 + node->name.len;
    p = ngx_cpymem(p, RCE_KEY_QUEUE, sizeof(RCE_KEY_QUEUE) - 1);
    p = ngx_cpymem(p, node->name.data, node->name.len);
    *p++ = '\0';

    batch.data = p;
    batch.len = sizeof(RCE_KEY_BATCH) - 1 + node->name.len;
    p = ngx_cpymem(p, RCE_KEY_BATCH, sizeof(RCE_KEY_BATCH) - 1);
    p = ngx_cpymem(p, node->name.data, node->name.len);
    *p = '\0';

    job->queue = (job->priority == NGX_RCE_PRIORITY_BATCH) ? batch : queue;
    job->other = (job->priority == NGX_RCE_PRIORITY_BATCH) ? queue : batch;

    job->pushed = pushed;

    if (ngx_rce_queue_send(job, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    job->push_pending = 1;
    job->pushes++;

    return NGX_OK;
}


/*
 * EVALSHA of the push; EVAL with the script's text when Redis lacks it.  An
 * asynchronous job's push also writes its state, rce:job:<id>, kept while
 * it may wait in the queue and then as long as its result, with its owner
 * (the name of the key that submitted it) where keys are on.
 */
static ngx_int_t
ngx_rce_queue_send(ngx_rce_job_t *job, ngx_uint_t eval)
{
    ngx_rce_worker_t  *w;
    ngx_time_t        *tp;
    ngx_str_t         *queue, *batch;
    int                rc;

    static const char  *classes[] = { RCE_PRIORITY_INTERACTIVE,
                                      RCE_PRIORITY_NORMAL,
                                      RCE_PRIORITY_BATCH };

    w = ngx_rce_worker;

    if (!w->command.connected) {
        return NGX_ERROR;
    }

    queue = (job->priority == NGX_RCE_PRIORITY_BATCH) ? &job->other
                                                      : &job->queue;
    batch = (job->priority == NGX_RCE_PRIORITY_BATCH) ? &job->queue
                                                      : &job->other;

    if (!job->async) {
        rc = redisAsyncCommand(w->command.ac, ngx_rce_queue_pushed, job,
                               "%s %s 3 %s %s %s %s %b %s",
                               eval ? "EVAL" : "EVALSHA",
                               eval ? ngx_rce_lua_push : ngx_rce_lua_push_sha,
                               RCE_KEY_NODES, queue->data, batch->data,
                               job->node.data, job->json, job->json_len,
                               classes[job->priority]);

        return (rc == REDIS_OK) ? NGX_OK : NGX_ERROR;
    }

    tp = ngx_timeofday();

    rc = redisAsyncCommand(w->command.ac, ngx_rce_queue_pushed, job,
                           "%s %s 4 %s %s %s " RCE_KEY_JOB "%b %s %b %s %lld "
                           "%b %s %lld %b %b",
                           eval ? "EVAL" : "EVALSHA",
                           eval ? ngx_rce_lua_push : ngx_rce_lua_push_sha,
                           RCE_KEY_NODES, queue->data, batch->data,
                           job->id.data, job->id.len,
                           job->node.data, job->json, job->json_len,
                           classes[job->priority],
                           (long long) (job->wait / 1000 + job->result_ttl),
                           job->language.data, job->language.len,
                           job->renderer == &ngx_rce_render_v1_base64
                           ? RCE_ENCODING_BASE64 : RCE_ENCODING_UTF8,
                           (long long) tp->sec * 1000 + tp->msec,
                           job->callback_url.data ? job->callback_url.data
                                                  : (u_char *) "",
                           job->callback_url.len,
                           job->owner.len ? job->owner.data : (u_char *) "",
                           job->owner.len);

    return (rc == REDIS_OK) ? NGX_OK : NGX_ERROR;
}


static void
ngx_rce_queue_pushed(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_job_t  *job = data;
    redisReply     *r = reply;

    if (r != NULL && r->type == REDIS_REPLY_ERROR
        && ngx_strncmp(r->str, "NOSCRIPT", 8) == 0
        && ngx_rce_queue_send(job, 1) == NGX_OK)
    {
        return;     /* Redis restarted, or its scripts were flushed */
    }

    job->pushed(ac, reply, job);
}


/* take a job that has not started back out of its node's queue */
void
ngx_rce_queue_cancel(ngx_rce_job_t *job)
{
    ngx_rce_worker_t  *w;
    u_char            *id;

    w = ngx_rce_worker;

    if (!w->command.connected || w->exiting) {
        return;
    }

    /* the callback only logs: it gets a copy of the id, not the job */
    id = ngx_alloc(job->id.len + 1, w->log);
    if (id == NULL) {
        return;
    }

    ngx_cpystrn(id, job->id.data, job->id.len + 1);

    if (redisAsyncCommand(w->command.ac, ngx_rce_queue_cancelled, id,
                          "LREM %s 1 %b", job->queue.data, job->json,
                          job->json_len)
        != REDIS_OK)
    {
        ngx_free(id);
    }
}


static void
ngx_rce_queue_cancelled(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply  *r = reply;
    u_char      *id = data;

    ngx_log_error(NGX_LOG_INFO, ngx_rce_worker->log, 0,
                  "rce: job %s: %s", id,
                  r == NULL || r->type != REDIS_REPLY_INTEGER
                  ? "cancel failed"
                  : r->integer == 1 ? "cancelled before it started"
                                    : "already started, result will be dropped");
    ngx_free(id);
}
