
/*
 * What Redis keeps of asynchronous jobs, as the gateway reads and changes
 * it: their state and results (lua/poll.lua) and their cancellation
 * (lua/cancel.lua).  The push that creates the state is ngx_rce_queue.c's.
 * Each call holds the job that asks (job->command_pending) until its
 * callback has run.
 */


#include "ngx_rce_module.h"
#include "ngx_rce_lua.h"


/* one script call: EVALSHA first, EVAL with its text after a NOSCRIPT */
typedef struct {
    ngx_rce_job_t              *job;
    redisCallbackFn            *done;
    const char                 *script;
    const char                 *sha;
    int                         argc;
    const char                **argv;
    size_t                     *lens;
    ngx_uint_t                  eval;
} ngx_rce_store_call_t;


static ngx_rce_store_call_t *ngx_rce_store_call(ngx_rce_job_t *job,
    const char *script, const char *sha, ngx_uint_t nkeys, ngx_uint_t nargs,
    redisCallbackFn *done);
static ngx_int_t ngx_rce_store_arg(ngx_rce_store_call_t *call,
    const char *prefix, u_char *data, size_t len);
static ngx_int_t ngx_rce_store_send(ngx_rce_store_call_t *call);
static void ngx_rce_store_reply(redisAsyncContext *ac, void *reply,
    void *data);


/*
 * The state and result of each of the n jobs ids (poll.lua's reply, one
 * element per id) that job->owner owns: any other is as unknown as one
 * never submitted.  done(ac, reply, job) runs once, reply NULL when Redis
 * is gone.
 */
ngx_int_t
ngx_rce_store_poll(ngx_rce_job_t *job, ngx_str_t *ids, ngx_uint_t n,
    redisCallbackFn *done)
{
    ngx_rce_store_call_t  *call;
    ngx_uint_t             i;

    call = ngx_rce_store_call(job, ngx_rce_lua_poll, ngx_rce_lua_poll_sha,
                              2 * n, 1, done);
    if (call == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (ngx_rce_store_arg(call, RCE_KEY_JOB, ids[i].data, ids[i].len)
            != NGX_OK
            || ngx_rce_store_arg(call, RCE_KEY_RESULT, ids[i].data,
                                 ids[i].len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* who asks: poll.lua shows a job to its owner alone */
    if (ngx_rce_store_arg(call, "", job->owner.data, job->owner.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_rce_store_send(call);
}


/* cancel.lua for job->id, whose result is kept ttl seconds, if job->owner
 * owns it */
ngx_int_t
ngx_rce_store_cancel(ngx_rce_job_t *job, time_t ttl, redisCallbackFn *done)
{
    ngx_rce_store_call_t  *call;
    ngx_time_t            *tp;
    u_char                 text[NGX_TIME_T_LEN], now[NGX_TIME_T_LEN + 4];

    call = ngx_rce_store_call(job, ngx_rce_lua_cancel, ngx_rce_lua_cancel_sha,
                              4, 5, done);
    if (call == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();

    if (ngx_rce_store_arg(call, RCE_KEY_JOB, job->id.data, job->id.len)
        != NGX_OK
        || ngx_rce_store_arg(call, RCE_KEY_RESULT, job->id.data, job->id.len)
           != NGX_OK
        || ngx_rce_store_arg(call, RCE_KEY_CANCEL, job->id.data, job->id.len)
           != NGX_OK
        || ngx_rce_store_arg(call, RCE_KEY_CALLBACKS, NULL, 0) != NGX_OK
        || ngx_rce_store_arg(call, "", job->id.data, job->id.len) != NGX_OK
        || ngx_rce_store_arg(call, "", text, ngx_sprintf(text, "%T", ttl) - text)
           != NGX_OK
        || ngx_rce_store_arg(call, RCE_CHANNEL_DONE, NULL, 0) != NGX_OK
        || ngx_rce_store_arg(call, "", now,
                             ngx_sprintf(now, "%L",
                                         (int64_t) tp->sec * 1000 + tp->msec)
                             - now)
           != NGX_OK
        || ngx_rce_store_arg(call, "", job->owner.data, job->owner.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_rce_store_send(call);
}


/* a call with room for its keys and arguments, in the job's pool */
static ngx_rce_store_call_t *
ngx_rce_store_call(ngx_rce_job_t *job, const char *script, const char *sha,
    ngx_uint_t nkeys, ngx_uint_t nargs, redisCallbackFn *done)
{
    ngx_rce_store_call_t  *call;
    size_t                 n;
    u_char                *p;

    n = 3 + nkeys + nargs;

    call = ngx_pcalloc(job->pool, sizeof(ngx_rce_store_call_t));
    if (call == NULL) {
        return NULL;
    }

    call->argv = ngx_palloc(job->pool, n * sizeof(char *));
    call->lens = ngx_palloc(job->pool, n * sizeof(size_t));
    p = ngx_pnalloc(job->pool, NGX_INT_T_LEN);

    if (call->argv == NULL || call->lens == NULL || p == NULL) {
        return NULL;
    }

    call->job = job;
    call->done = done;
    call->script = script;
    call->sha = sha;

    /* argv[0] is EVAL or EVALSHA, set when sent */
    call->argv[1] = sha;
    call->lens[1] = ngx_strlen(sha);
    call->argv[2] = (char *) p;
    call->lens[2] = ngx_sprintf(p, "%ui", nkeys) - p;
    call->argc = 3;

    return call;
}


/* the next key or argument: prefix, then len bytes of data */
static ngx_int_t
ngx_rce_store_arg(ngx_rce_store_call_t *call, const char *prefix,
    u_char *data, size_t len)
{
    size_t   plen;
    u_char  *p;

    plen = ngx_strlen(prefix);

    p = ngx_pnalloc(call->job->pool, plen + len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    call->argv[call->argc] = (char *) p;
    call->lens[call->argc] = plen + len;
    call->argc++;

    p = ngx_cpymem(p, prefix, plen);
    if (len) {
        p = ngx_cpymem(p, data, len);
    }
    *p = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_rce_store_send(ngx_rce_store_call_t *call)
{
    ngx_rce_worker_t  *w;

    w = ngx_rce_worker;

    call->argv[0] = call->eval ? "EVAL" : "EVALSHA";
    call->lens[0] = ngx_strlen(call->argv[0]);
    call->argv[1] = call->eval ? call->script : call->sha;
    call->lens[1] = ngx_strlen(call->argv[1]);

    if (!w->command.connected
        || redisAsyncCommandArgv(w->command.ac, ngx_rce_store_reply, call,
                                 call->argc, call->argv, call->lens)
           != REDIS_OK)
    {
        return NGX_ERROR;
    }

    call->job->command_pending = 1;

    return NGX_OK;
}


static void
ngx_rce_store_reply(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_store_call_t  *call = data;
    redisReply            *r = reply;

    call->job->command_pending = 0;

    if (r != NULL && r->type == REDIS_REPLY_ERROR
        && ngx_strncmp(r->str, "NOSCRIPT", 8) == 0 && !call->eval)
    {
        call->eval = 1;     /* Redis restarted, or its scripts were flushed */

        if (ngx_rce_store_send(call) == NGX_OK) {
            return;
        }

        r = NULL;
    }

    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_rce_worker->log, 0,
                      "rce: job %V: %s", &call->job->id, r->str);
    }

    call->done(ac, r, call->job);
}
