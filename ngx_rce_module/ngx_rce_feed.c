
/*
 * A streamed job's input (docs/protocol.md, "Streaming and interactive
 * jobs"): rce:input:<id>, a list the gateway RPUSHes and the node running
 * the job BLPOPs.  Each push sets the key to expire at the job's deadline
 * (a kill sooner: RCE_INPUT_KILL_TTL_MS), so that what a job never read
 * does not outlive it; the node deletes the key when the job ends.
 */


#include "ngx_rce_module.h"


/* what the LREM of a job that nobody waits for any more needs to go on */
typedef struct {
    json_int_t                  deadline;
    size_t                      len;
    u_char                      id[1];       /* len bytes and a NUL */
} ngx_rce_feed_stop_t;


static ngx_int_t ngx_rce_feed_send(u_char *id, size_t len,
    json_int_t deadline, const char *entry, size_t size);
static void ngx_rce_feed_pushed(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_feed_taken(redisAsyncContext *ac, void *reply,
    void *data);
static ngx_int_t ngx_rce_feed_kill(u_char *id, size_t len,
    json_int_t deadline);


/* entry (borrowed) onto rce:input:<id>, in the order pushed */
ngx_int_t
ngx_rce_feed_push(ngx_str_t *id, json_int_t deadline, json_t *entry)
{
    char       *text;
    ngx_int_t   rc;

    text = json_dumps(entry, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_rce_feed_send(id->data, id->len, deadline, text,
                           ngx_strlen(text));
    free(text);

    return rc;
}


static ngx_int_t
ngx_rce_feed_send(u_char *id, size_t len, json_int_t deadline,
    const char *entry, size_t size)
{
    ngx_rce_worker_t  *w;

    w = ngx_rce_worker;

    if (w == NULL || !w->command.connected) {
        return NGX_ERROR;
    }

    /* one connection: the entries of one job stay in order */
    if (redisAsyncCommand(w->command.ac, ngx_rce_feed_pushed, NULL,
                          "RPUSH " RCE_KEY_INPUT "%b %b", id, len,
                          entry, size)
        != REDIS_OK
        || redisAsyncCommand(w->command.ac, ngx_rce_feed_pushed, NULL,
                             "PEXPIREAT " RCE_KEY_INPUT "%b %lld", id, len,
                             (long long) deadline)
           != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_rce_feed_pushed(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply  *r = reply;

    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_rce_worker->log, 0,
                      "rce: a push onto " RCE_KEY_INPUT "* failed: %s",
                      r->str);
    }
}


/*
 * Nobody listens to the streamed job any more: take it out of its queue
 * if it has not started (and drop the input it would have read), else
 * tell the node that runs it to stop it ({"kill": true}).  A worker that
 * exits waits for no answer: the LREM and the kill go together (a job
 * taken out of its queue leaves its kill in rce:input:<id> until it
 * expires), and ngx_rce_feed_flush() sends them before it is gone.
 */
void
ngx_rce_feed_stop(ngx_rce_job_t *job)
{
    ngx_rce_worker_t     *w;
    ngx_rce_feed_stop_t  *stop;

    w = ngx_rce_worker;

    if (w == NULL || !w->command.connected || job->queue.data == NULL) {
        return;
    }

    if (w->exiting || ngx_exiting || ngx_terminate) {
        ngx_log_error(NGX_LOG_INFO, w->log, 0,
                      "rce: job %V: this worker exits: telling its node to "
                      "stop it", &job->id);

        if (redisAsyncCommand(w->command.ac, NULL, NULL, "LREM %s 1 %b",
                              job->queue.data, job->json, job->json_len)
            != REDIS_OK
            || ngx_rce_feed_kill(job->id.data, job->id.len, job->deadline)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "rce: job %V: could not push its kill", &job->id);
        }

        return;
    }

    stop = ngx_alloc(sizeof(ngx_rce_feed_stop_t) + job->id.len, w->log);
    if (stop == NULL) {
        return;
    }

    stop->deadline = job->deadline;
    stop->len = job->id.len;
    ngx_cpystrn(stop->id, job->id.data, job->id.len + 1);

    if (redisAsyncCommand(w->command.ac, ngx_rce_feed_taken, stop,
                          "LREM %s 1 %b", job->queue.data, job->json,
                          job->json_len)
        != REDIS_OK)
    {
        ngx_free(stop);
    }
}


static void
ngx_rce_feed_taken(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_feed_stop_t  *stop = data;
    redisReply           *r = reply;

    if (r == NULL) {
        ngx_free(stop);
        return;
    }

    if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        ngx_log_error(NGX_LOG_INFO, ngx_rce_worker->log, 0,
                      "rce: job %s: cancelled before it started", stop->id);

        (void) redisAsyncCommand(ac, NULL, NULL, "DEL " RCE_KEY_INPUT "%b",
                                 stop->id, stop->len);

    } else {
        ngx_log_error(NGX_LOG_INFO, ngx_rce_worker->log, 0,
                      "rce: job %s: its client is gone: telling its node to "
                      "stop it", stop->id);

        if (ngx_rce_feed_kill(stop->id, stop->len, stop->deadline) != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, ngx_rce_worker->log, 0,
                          "rce: job %s: could not push its kill", stop->id);
        }
    }

    ngx_free(stop);
}


/*
 * {"kill": true} onto rce:input:<id>, for a job a node has taken: it reads
 * the kill at once, or the job ended meanwhile and nobody reads it, so the
 * key expires RCE_INPUT_KILL_TTL_MS from now, not at the deadline
 */
static ngx_int_t
ngx_rce_feed_kill(u_char *id, size_t len, json_int_t deadline)
{
    json_t     *entry;
    char       *text;
    ngx_int_t   rc;
    ngx_time_t *tp;
    json_int_t  soon;

    tp = ngx_timeofday();
    soon = (json_int_t) tp->sec * 1000 + tp->msec + RCE_INPUT_KILL_TTL_MS;

    if (soon < deadline) {
        deadline = soon;
    }

    entry = json_pack("{s:b}", RCE_INPUT_KILL, 1);
    text = (entry != NULL) ? json_dumps(entry, JSON_COMPACT) : NULL;
    json_decref(entry);

    if (text == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_rce_feed_send(id, len, deadline, text, ngx_strlen(text));
    free(text);

    return rc;
}


/*
 * The worker exits: its streamed jobs, that nobody will see end, are told
 * to stop, and what the command connection holds is written now, as far
 * as the socket takes it without waiting (it is freed right after)
 */
void
ngx_rce_feed_flush(ngx_rce_worker_t *w)
{
    redisContext  *c;
    ngx_uint_t     tries;
    int            done;

    ngx_rce_job_stop_streams(w);

    if (!w->command.connected || w->command.ac == NULL) {
        return;
    }

    c = &w->command.ac->c;
    done = 0;

    for (tries = 0; !done && tries < 16; tries++) {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "rce: the kills of this worker's streamed jobs "
                          "could not be sent: %s", c->errstr);
            return;
        }
    }

    if (!done) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "rce: the kills of this worker's streamed jobs could "
                      "not all be sent: redis does not read");
    }
}
