
/*
 * Jobs: from a route to the Redis queue of a node, and from the reply
 * channel back through the job's renderer to the request.
 *
 * A job lives in its own pool, outside the request: a Redis reply may arrive
 * after the client left.  It is freed when nobody holds it any more: the
 * request is answered or gone, and the LPUSH callback has run.
 */


#include "ngx_rce_module.h"

#include <sys/random.h>


#define NGX_RCE_PUSH_TRIES      3
#define NGX_RCE_JOB_REASON_LEN  256
#define NGX_RCE_CHARGE_SLACK    600000   /* ms an asynchronous job may run
                                            after its queue deadline */


static ngx_rce_job_t *ngx_rce_job_create(ngx_http_request_t *r,
    ngx_str_t *language, json_t *input, ngx_rce_renderer_t *renderer,
    ngx_uint_t async);
static ngx_rce_job_t *ngx_rce_job_alloc(ngx_http_request_t *r);
static ngx_int_t ngx_rce_job_new_id(ngx_rce_job_t *job);
static ngx_uint_t ngx_rce_job_priority(json_t *input, ngx_uint_t async);
static ngx_int_t ngx_rce_job_callback(ngx_rce_job_t *job, json_t *input);
static ngx_int_t ngx_rce_job_client(ngx_http_request_t *r,
    ngx_rce_job_t *job);
static void ngx_rce_job_wait(ngx_rce_job_t *job);
static void ngx_rce_job_listen(ngx_rce_job_t *job, ngx_rbtree_t *tree);
static json_t *ngx_rce_job_json(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *input);
static const char *ngx_rce_job_refusal(ngx_int_t rc);
static void ngx_rce_job_pushed(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_job_timeout(ngx_event_t *ev);
static void ngx_rce_job_cleanup(void *data);
static void ngx_rce_job_detach(ngx_rce_job_t *job);
static void ngx_rce_job_queued(ngx_rce_job_t *job, ngx_uint_t status,
    const char *reason);
static void ngx_rce_job_message(redisAsyncContext *ac, void *reply,
    void *data);
static json_t *ngx_rce_job_internal_error(ngx_rce_job_t *job,
    const char *reason);
static ngx_int_t ngx_rce_job_send_ie(ngx_rce_job_t *job,
    ngx_http_request_t *r, const char *reason);
static ngx_int_t ngx_rce_job_render(ngx_rce_job_t *job,
    ngx_http_request_t *r, json_t *json, const char *why);
static void ngx_rce_job_result(ngx_rce_worker_t *w, ngx_rbtree_t *tree,
    const char *payload, size_t len);
static ngx_rce_job_t *ngx_rce_job_find(ngx_rbtree_t *tree, ngx_str_t *id);
static void ngx_rce_job_event(ngx_rce_job_t *job, json_t *json);
static void ngx_rce_job_cancel(ngx_rce_job_t *job);
static ngx_int_t ngx_rce_job_start(ngx_http_request_t *r,
    ngx_str_t *language, json_t *input, ngx_rce_renderer_t *renderer,
    ngx_rce_stream_t *st);
static void ngx_rce_job_charge_later(ngx_rce_job_t *job);
static void ngx_rce_job_charge(ngx_rce_worker_t *w, ngx_str_t *id,
    json_t *json);
static void ngx_rce_job_charge_expired(ngx_event_t *ev);
static void ngx_rce_job_charge_free(ngx_rce_job_charge_t *c);


/*
 * Before a body is read: is there anywhere to send a job?  NULL if so, else
 * why not, for a 503.  With no live node nobody can tell which languages
 * exist, so that is a 503 too, not a 404.
 */
const char *
ngx_rce_job_unavailable(void)
{
    ngx_rce_worker_t  *w;

    w = ngx_rce_worker;

    if (w == NULL || !w->command.connected || !w->subscribed) {
        return "redis is unavailable";
    }

    if (w->nodes.nelts == 0) {
        return "no live worker node";
    }

    return NULL;
}


/*
 * Queues a job and suspends the request.  input (stolen) holds what the job
 * runs: "code", or "files" with "stdin" and "args", and "limits" that
 * override the location's defaults.  renderer is how it will be answered.
 * Returns NGX_DONE when the request now waits, or a status to answer with.
 */
ngx_int_t
ngx_rce_job_submit(ngx_http_request_t *r, ngx_str_t *language, json_t *input,
    ngx_rce_renderer_t *renderer)
{
    return ngx_rce_job_start(r, language, input, renderer, NULL);
}


/*
 * The same for a streamed job (RCE_JOB_STREAM): its renderer gets its
 * events as it runs (send_event); st, the request's stream, learns the
 * job's id and deadline once it is queued, for rce:input:<id>.  input's
 * RCE_JOB_INTERACTIVE, if the route set it, is left as it is.
 */
ngx_int_t
ngx_rce_job_submit_stream(ngx_http_request_t *r, ngx_str_t *language,
    json_t *input, ngx_rce_renderer_t *renderer, ngx_rce_stream_t *st)
{
    if (json_object_set_new(input, RCE_JOB_STREAM, json_true()) != 0) {
        json_decref(input);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rce_job_start(r, language, input, renderer, st);
}


static ngx_int_t
ngx_rce_job_start(ngx_http_request_t *r, ngx_str_t *language, json_t *input,
    ngx_rce_renderer_t *renderer, ngx_rce_stream_t *st)
{
    ngx_rce_worker_t  *w;
    ngx_rce_job_t     *job;
    ngx_int_t          rc;

    w = ngx_rce_worker;

    if (!w->command.connected || !w->subscribed) {
        json_decref(input);
        return renderer->send_error(r, NULL, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "redis is unavailable");
    }

    job = ngx_rce_job_create(r, language, input, renderer, 0);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_rce_queue_push(job, ngx_rce_job_pushed);

    if (rc != NGX_OK) {
        free(job->json);
        ngx_destroy_pool(job->pool);

        return renderer->send_error(r, NULL, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    ngx_rce_job_refusal(rc));
    }

    if (st != NULL) {
        st->id.data = ngx_pstrdup(r->pool, &job->id);
        st->id.len = job->id.len;
        st->deadline = job->deadline;
    }

    job->cleanup = ngx_http_cleanup_add(r, 0);
    if (job->cleanup == NULL) {
        /* the push callback frees the job; the job runs unanswered */
        job->request = NULL;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_rce_job_wait(job);

    return NGX_DONE;
}


/*
 * Queues an asynchronous job: nobody waits for its result, which is kept
 * in Redis for rce_result_ttl (rce:job:<id> says how it is doing meanwhile).
 * queued(job, status, reason) is called once the push is answered, with
 * NGX_HTTP_ACCEPTED or a refusal's status, while job->data and job->id are
 * valid; the job is freed after it.  input is stolen.  NGX_OK: queued will
 * be called; else the status to refuse with (503: *refusal says why), and
 * queued is not called.
 */
ngx_int_t
ngx_rce_job_enqueue(ngx_http_request_t *r, ngx_str_t *language,
    json_t *input, ngx_uint_t base64, ngx_rce_job_queued_pt queued,
    void *data, const char **refusal)
{
    ngx_rce_job_t  *job;
    ngx_int_t       rc;

    if (!ngx_rce_worker->command.connected) {
        json_decref(input);
        *refusal = "redis is unavailable";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    job = ngx_rce_job_create(r, language, input,
                             base64 ? &ngx_rce_render_v1_base64
                                    : &ngx_rce_render_v1, 1);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->request = NULL;
    job->queued = queued;
    job->data = data;

    rc = ngx_rce_queue_push(job, ngx_rce_job_pushed);

    if (rc != NGX_OK) {
        free(job->json);
        ngx_destroy_pool(job->pool);

        *refusal = ngx_rce_job_refusal(rc);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /* before any result can come: a fast job's may beat the push's reply */
    ngx_rce_job_charge_later(job);

    return NGX_OK;
}


/*
 * A request that waits for the asynchronous job id, which it did not
 * submit: if listen, in worker.watchers until the job's result comes on
 * RCE_CHANNEL_DONE (ngx_rce_job_deliver answers it) or the caller gives up;
 * else it holds the request while Redis is asked.  The caller sets its
 * timer's handler and its renderer.
 */
ngx_rce_job_t *
ngx_rce_job_watch(ngx_http_request_t *r, ngx_str_t *id, ngx_uint_t listen)
{
    ngx_rce_job_t  *job;

    job = ngx_rce_job_alloc(r);
    if (job == NULL) {
        return NULL;
    }

    job->id.data = ngx_pstrdup(job->pool, id);
    job->id.len = id->len;
    job->cleanup = ngx_http_cleanup_add(r, 0);

    if (job->id.data == NULL || job->cleanup == NULL) {
        ngx_destroy_pool(job->pool);
        return NULL;
    }

    job->watcher = 1;
    job->renderer = &ngx_rce_render_v1;
    ngx_str_set(&job->node, "");        /* an IE of our own names neither */
    ngx_str_set(&job->language, "");

    if (listen) {
        ngx_rce_job_listen(job, &ngx_rce_worker->watchers);

    } else {
        job->cleanup->handler = ngx_rce_job_cleanup;
        job->cleanup->data = job;
        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_request_empty_handler;
    }

    return job;
}


/* an empty job in its own pool, for the request r */
static ngx_rce_job_t *
ngx_rce_job_alloc(ngx_http_request_t *r)
{
    ngx_pool_t     *pool;
    ngx_rce_job_t  *job;

    pool = ngx_create_pool(1024, ngx_rce_worker->log);
    if (pool == NULL) {
        return NULL;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_rce_job_t));
    if (job == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    job->pool = pool;
    job->request = r;

    return job;
}


/* RCE_JOB_ID_BYTES from the kernel's CSPRNG, in hex: nobody can guess it */
static ngx_int_t
ngx_rce_job_new_id(ngx_rce_job_t *job)
{
    u_char   random[RCE_JOB_ID_BYTES];
    ssize_t  n;

    n = getrandom(random, sizeof(random), 0);

    if (n != (ssize_t) sizeof(random)) {
        ngx_log_error(NGX_LOG_ALERT, ngx_rce_worker->log, ngx_errno,
                      "rce: getrandom() failed");
        return NGX_ERROR;
    }

    job->id.data = ngx_pnalloc(job->pool, 2 * sizeof(random));
    if (job->id.data == NULL) {
        return NGX_ERROR;
    }

    job->id.len = ngx_hex_dump(job->id.data, random, sizeof(random))
                  - job->id.data;

    return NGX_OK;
}


/*
 * The class input asks for; else batch for an asynchronous job (named in
 * its JSON, as the node and GET show it), normal for the others.
 */
static ngx_uint_t
ngx_rce_job_priority(json_t *input, ngx_uint_t async)
{
    const char  *name;

    name = json_string_value(json_object_get(input, RCE_JOB_PRIORITY));

    if (name == NULL) {
        if (!async) {
            return NGX_RCE_PRIORITY_NORMAL;
        }

        (void) json_object_set_new(input, RCE_JOB_PRIORITY,
                                   json_string(RCE_PRIORITY_BATCH));
        return NGX_RCE_PRIORITY_BATCH;
    }

    return ngx_strcmp(name, RCE_PRIORITY_INTERACTIVE) == 0
           ? NGX_RCE_PRIORITY_INTERACTIVE
           : ngx_strcmp(name, RCE_PRIORITY_BATCH) == 0
             ? NGX_RCE_PRIORITY_BATCH : NGX_RCE_PRIORITY_NORMAL;
}


/* the callback_url moves from the input to the job: the node never reads it */
static ngx_int_t
ngx_rce_job_callback(ngx_rce_job_t *job, json_t *input)
{
    json_t  *url;

    url = json_object_get(input, NGX_RCE_INPUT_CALLBACK_URL);
    if (url == NULL) {
        return NGX_OK;
    }

    job->callback_url.len = json_string_length(url);
    job->callback_url.data = ngx_pnalloc(job->pool, job->callback_url.len + 1);
    if (job->callback_url.data == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(job->callback_url.data, (u_char *) json_string_value(url),
                job->callback_url.len + 1);

    return json_object_del(input, NGX_RCE_INPUT_CALLBACK_URL) == 0
           ? NGX_OK : NGX_ERROR;
}


/*
 * Whose job it is: an asynchronous job's owner (its key's name, "" with
 * keys off), which only it may read or cancel; the client its cpu is
 * charged to where rce_limit counts
 */
static ngx_int_t
ngx_rce_job_client(ngx_http_request_t *r, ngx_rce_job_t *job)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_str_t            name;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (job->async) {
        if (ngx_rce_keys_owner(r, &name) != NGX_OK) {
            return NGX_ERROR;
        }

        job->owner.len = name.len;
        job->owner.data = ngx_pstrdup(job->pool, &name);

        if (job->owner.data == NULL && name.len != 0) {
            return NGX_ERROR;
        }
    }

    if (rlcf->limit == NULL) {
        return NGX_OK;
    }

    if (ngx_rce_keys_client(r, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    job->limit = rlcf->limit;
    job->client.len = name.len;
    job->client.data = ngx_pstrdup(job->pool, &name);

    return (job->client.data != NULL) ? NGX_OK : NGX_ERROR;
}


/* a job in its own pool with its id and its JSON; input is stolen */
static ngx_rce_job_t *
ngx_rce_job_create(ngx_http_request_t *r, ngx_str_t *language, json_t *input,
    ngx_rce_renderer_t *renderer, ngx_uint_t async)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_job_t       *job;
    json_t              *json;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    job = ngx_rce_job_alloc(r);
    if (job == NULL) {
        json_decref(input);
        return NULL;
    }

    job->renderer = renderer;
    job->balance = rlcf->balance;
    job->priority = ngx_rce_job_priority(input, async);
    job->async = async;
    job->stream = json_is_true(json_object_get(input, RCE_JOB_STREAM));
    job->result_ttl = rlcf->result_ttl;
    job->wait = async ? rlcf->jobs_timeout
                : json_object_get(input, RCE_JOB_TESTS) ? rlcf->tests_timeout
                : rlcf->timeout;

    job->language.data = ngx_pstrdup(job->pool, language);
    job->language.len = language->len;

    if (job->language.data == NULL || ngx_rce_job_new_id(job) != NGX_OK
        || ngx_rce_job_callback(job, input) != NGX_OK
        || ngx_rce_job_client(r, job) != NGX_OK)
    {
        goto failed;
    }

    json = ngx_rce_job_json(r, job, input);
    input = NULL;       /* taken by ngx_rce_job_json */

    if (json == NULL) {
        goto failed;
    }

    job->json = json_dumps(json, JSON_COMPACT);
    json_decref(json);

    if (job->json == NULL) {
        goto failed;
    }

    job->json_len = ngx_strlen(job->json);

    return job;

failed:

    json_decref(input);
    ngx_destroy_pool(job->pool);
    return NULL;
}


/* the job is queued: the request waits for its result or its deadline */
static void
ngx_rce_job_wait(ngx_rce_job_t *job)
{
    ngx_http_request_t  *r;

    r = job->request;

    ngx_rce_job_listen(job, &ngx_rce_worker->jobs);

    job->timeout.handler = ngx_rce_job_timeout;
    ngx_add_timer(&job->timeout, job->wait);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "rce: job %V (%V) queued on %V, answered as %s",
                   &job->id, &job->language, &job->node,
                   job->renderer->name);
}


/*
 * The job's request waits in tree, keyed by the job's id, for a result; a
 * client that closes the connection meanwhile ends the request (cleanup).
 * The caller arms the timer.
 */
static void
ngx_rce_job_listen(ngx_rce_job_t *job, ngx_rbtree_t *tree)
{
    ngx_http_request_t  *r;

    r = job->request;

    job->cleanup->handler = ngx_rce_job_cleanup;
    job->cleanup->data = job;

    job->sn.str = job->id;
    job->sn.node.key = ngx_crc32_short(job->id.data, job->id.len);
    ngx_rbtree_insert(tree, &job->sn.node);
    job->waiting = 1;

    job->timeout.data = job;
    job->timeout.log = r->connection->log;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;
}


/* the job JSON: what input says to run, with the job's own fields added */
static json_t *
ngx_rce_job_json(ngx_http_request_t *r, ngx_rce_job_t *job, json_t *input)
{
    ngx_rce_worker_t    *w;
    ngx_rce_loc_conf_t  *rlcf;
    ngx_time_t          *tp;
    json_t              *limits, *asked;
    json_int_t           now;

    w = ngx_rce_worker;
    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    tp = ngx_timeofday();
    now = (json_int_t) tp->sec * 1000 + tp->msec;
    job->deadline = now + (json_int_t) job->wait;

    /* the location's defaults, then what the request asked for: the node
     * clamps them to its maxima */
    limits = json_pack("{sI sI sI sI}",
                       RCE_LIMIT_WALL_MS, (json_int_t) rlcf->wall_limit,
                       RCE_LIMIT_MEMORY_MB,
                       (json_int_t) (rlcf->memory_limit >> 20),
                       RCE_LIMIT_PIDS, (json_int_t) rlcf->pids_limit,
                       RCE_LIMIT_OUTPUT_BYTES,
                       (json_int_t) rlcf->output_limit);

    asked = json_object_get(input, RCE_JOB_LIMITS);

    if (limits == NULL
        || (asked != NULL && json_object_update(limits, asked) != 0)
        || json_object_set_new(input, RCE_JOB_LIMITS, limits) != 0
        || json_object_set_new(input, RCE_JOB_ID,
                               json_stringn((char *) job->id.data,
                                            job->id.len)) != 0
        || json_object_set_new(input, RCE_JOB_LANGUAGE,
                               json_stringn((char *) job->language.data,
                                            job->language.len)) != 0
        || json_object_set_new(input, RCE_JOB_REPLY_TO,
                               job->async
                               ? json_string(RCE_CHANNEL_DONE)
                               : json_stringn((char *) w->reply_channel.data,
                                              w->reply_channel.len)) != 0
        || (job->async
            && (json_object_set_new(input, RCE_JOB_ASYNC, json_true()) != 0
                || json_object_set_new(input, RCE_JOB_RESULT_TTL_S,
                                       json_integer(job->result_ttl))
                   != 0))
        || json_object_set_new(input, RCE_JOB_ENQUEUED_MS,
                               json_integer(now)) != 0
        || json_object_set_new(input, RCE_JOB_DEADLINE_MS,
                               json_integer(job->deadline))
           != 0)
    {
        json_decref(input);
        return NULL;
    }

    return input;
}


static const char *
ngx_rce_job_refusal(ngx_int_t rc)
{
    switch (rc) {

    case NGX_BUSY:
        return NGX_RCE_REFUSAL_FULL;

    case NGX_DECLINED:
        return "no live worker node for this language";

    default:
        return "redis is unavailable";
    }
}


static void
ngx_rce_job_pushed(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_job_t  *job = data;
    redisReply     *r = reply;
    ngx_int_t       rc;

    job->push_pending = 0;

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_ERR, ngx_rce_worker->log, 0,
                      "rce: job %V: push to %V failed: %s", &job->id,
                      &job->queue,
                      r == NULL ? "connection lost"
                      : r->type == REDIS_REPLY_ERROR ? r->str
                                                     : "unexpected reply");

        /* at maxmemory Redis takes no new job; those it holds still run */
        ngx_rce_job_queued(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           (r != NULL && r->type == REDIS_REPLY_ERROR
                            && ngx_strncmp(r->str, "OOM ", 4) == 0)
                           ? "redis is out of memory (maxmemory)"
                           : "redis is unavailable");
        ngx_rce_job_release(job);
        return;
    }

    if (r->integer == 0) {
        /* the node died or left after our last look at the node list */
        ngx_log_error(NGX_LOG_INFO, ngx_rce_worker->log, 0,
                      "rce: job %V: node %V is gone, choosing another",
                      &job->id, &job->node);

        ngx_rce_nodes_forget(ngx_rce_worker, &job->node);

        if (job->request == NULL && !job->async) {
            ngx_rce_job_release(job);
            return;
        }

        rc = (job->pushes < NGX_RCE_PUSH_TRIES) ? ngx_rce_queue_push(job, ngx_rce_job_pushed)
                                                : NGX_DECLINED;
        if (rc != NGX_OK) {
            ngx_rce_job_queued(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                               ngx_rce_job_refusal(rc));
            ngx_rce_job_release(job);
        }

        return;
    }

    if (job->async) {
        ngx_rce_job_queued(job, NGX_HTTP_ACCEPTED, NULL);

    } else if (job->request == NULL) {
        /* the client left before the job was queued: take it back */
        ngx_rce_job_cancel(job);
    }

    ngx_rce_job_release(job);
}


/* how the push went: to an asynchronous job's route, else to the request */
static void
ngx_rce_job_queued(ngx_rce_job_t *job, ngx_uint_t status, const char *reason)
{
    if (job->async) {
        if (status != NGX_HTTP_ACCEPTED) {
            ngx_rce_job_charge(ngx_rce_worker, &job->id, NULL);
        }

        job->queued(job, status, reason);
        return;
    }

    ngx_rce_job_answer(job, status, reason);
}


static void
ngx_rce_job_timeout(ngx_event_t *ev)
{
    ngx_rce_job_t  *job = ev->data;

    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "rce: job %V: no result from node %V in time",
                  &job->id, &job->node);

    ngx_rce_job_cancel(job);
    ngx_rce_job_answer(job, NGX_HTTP_GATEWAY_TIME_OUT,
                       "no result before the deadline");
    ngx_rce_job_release(job);
}


/* the request is being freed: the client left, or it was answered */
static void
ngx_rce_job_cleanup(void *data)
{
    ngx_rce_job_t  *job = data;

    ngx_log_error(NGX_LOG_INFO, ngx_rce_worker->log, 0,
                  "rce: job %V: client left while waiting", &job->id);

    job->request = NULL;
    job->cleanup = NULL;

    if (job->waiting && ngx_rce_limit_counts_cpu(job->limit)
        && !job->watcher)
    {
        /*
         * its cpu is charged all the same: it waits on for its result (or
         * its deadline), and leaving before the result saves no quota; the
         * request's log goes with the request
         */
        job->timeout.log = ngx_rce_worker->log;
        job->timeout.cancelable = 1;

        if (!job->push_pending) {
            ngx_rce_queue_cancel(job);
        }

        return;
    }

    if (job->waiting) {
        ngx_rce_job_detach(job);

        if (!job->push_pending && !job->watcher) {
            ngx_rce_job_cancel(job);
        }
    }

    ngx_rce_job_release(job);
}


/* stop waiting for a result: out of the table, timer off */
static void
ngx_rce_job_detach(ngx_rce_job_t *job)
{
    if (job->waiting) {
        ngx_rbtree_delete(job->watcher ? &ngx_rce_worker->watchers
                                       : &ngx_rce_worker->jobs,
                          &job->sn.node);
        job->waiting = 0;
    }

    if (job->timeout.timer_set) {
        ngx_del_timer(&job->timeout);
    }
}


/* frees the job once nothing holds it */
void
ngx_rce_job_release(ngx_rce_job_t *job)
{
    if (job->request != NULL || job->waiting || job->push_pending
        || job->command_pending)
    {
        return;
    }

    free(job->json);
    ngx_destroy_pool(job->pool);
}


/* answer the waiting request, if any, with body (stolen), and let go */
void
ngx_rce_job_respond(ngx_rce_job_t *job, ngx_uint_t status, json_t *body)
{
    ngx_http_request_t  *r;

    ngx_rce_job_detach(job);

    r = job->request;

    if (r == NULL) {
        json_decref(body);

    } else {
        job->request = NULL;
        job->cleanup->handler = NULL;
        ngx_rce_finish(r, ngx_rce_send_json(r, status, body));
    }

    ngx_rce_job_release(job);
}


/* answer the waiting request, if any, with an error */
void
ngx_rce_job_answer(ngx_rce_job_t *job, ngx_uint_t status, const char *reason)
{
    ngx_http_request_t  *r;

    ngx_rce_job_detach(job);

    r = job->request;
    if (r == NULL) {
        return;
    }

    job->request = NULL;
    job->cleanup->handler = NULL;

    ngx_rce_finish(r, job->renderer->send_error(r, &job->id, status, reason));
}


/* this worker's reply channel, and the one of every asynchronous job */
void
ngx_rce_job_subscribe(ngx_rce_redis_t *rr)
{
    ngx_rce_worker_t  *w = ngx_rce_worker;

    if (redisAsyncCommand(rr->ac, ngx_rce_job_message, w, "SUBSCRIBE %b %s",
                          w->reply_channel.data, w->reply_channel.len,
                          RCE_CHANNEL_DONE)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, w->log, 0, "rce: SUBSCRIBE failed");
    }
}


/* every reply on the subscriber connection: confirmations and results */
static void
ngx_rce_job_message(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_worker_t  *w = data;
    redisReply        *r = reply;
    redisReply        *kind, *channel, *payload;
    ngx_rbtree_t      *tree;

    if (r == NULL) {
        return;     /* connection gone: the disconnect handler deals */
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        return;
    }

    kind = r->element[0];
    channel = r->element[1];
    payload = r->element[2];

    if (kind->type != REDIS_REPLY_STRING
        || channel->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (kind->len == 9 && ngx_strncmp(kind->str, "subscribe", 9) == 0) {
        /* nothing waits yet: a lost subscription answered every job */
        if (payload->type == REDIS_REPLY_INTEGER && payload->integer == 2) {
            w->subscribed = 1;
        }
        return;
    }

    if (kind->len != 7 || ngx_strncmp(kind->str, "message", 7) != 0
        || payload->type != REDIS_REPLY_STRING)
    {
        return;
    }

    tree = (channel->len == sizeof(RCE_CHANNEL_DONE) - 1
            && ngx_strncmp(channel->str, RCE_CHANNEL_DONE, channel->len) == 0)
           ? &w->watchers : &w->jobs;

    /* every worker gets every asynchronous result: read one only when a
     * request of this worker waits for one, or a job of its has cpu to be
     * charged */
    if (tree->root != tree->sentinel
        || (tree == &w->watchers && w->charges.root != w->charges.sentinel))
    {
        ngx_rce_job_result(w, tree, payload->str, payload->len);
    }
}


/*
 * A message on a reply channel: its result goes to the requests that wait
 * for it in tree (one for a job of this worker's, any number of watchers
 * for an asynchronous job).
 */
static void
ngx_rce_job_result(ngx_rce_worker_t *w, ngx_rbtree_t *tree,
    const char *payload, size_t len)
{
    ngx_rce_job_t     *job;
    ngx_rce_result_t   res;

    if (ngx_rce_result_read(payload, len, &res) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "rce: ignoring a result without an id: %s", res.why);
        return;
    }

    if (res.event) {
        /* an event of a running job: only a job of this worker's has them */
        job = (tree == &w->jobs) ? ngx_rce_job_find(tree, &res.id) : NULL;

        if (job != NULL) {
            ngx_rce_job_event(job, res.json);
        }

        json_decref(res.json);
        return;
    }

    if (tree == &w->watchers) {
        ngx_rce_job_charge(w, &res.id, res.why ? NULL : res.json);
    }

    for ( ;; ) {
        job = ngx_rce_job_find(tree, &res.id);
        if (job == NULL) {
            break;
        }

        if (job->held) {
            /* whether it may see this job, Redis has not said yet: its
             * route asks again for the result, stored by now */
            ngx_rce_job_detach(job);
            job->missed = 1;
            continue;
        }

        ngx_rce_job_deliver(job, res.why ? NULL : res.json, res.why);
    }

    json_decref(res.json);
}


/* a result of our own for a job the engine failed: IE with the reason */
static json_t *
ngx_rce_job_internal_error(ngx_rce_job_t *job, const char *reason)
{
    return json_pack("{s:s%, s:s%, s:s%, s:s, s:s, s:s, s:s, s:n, s:n, s:b,"
                     " s:n, s:n, s:n, s:n}",
                     RCE_RES_ID, job->id.data, job->id.len,
                     RCE_RES_LANGUAGE, job->language.data, job->language.len,
                     RCE_RES_NODE, job->node.data, job->node.len,
                     RCE_RES_STATUS, RCE_STATUS_IE,
                     RCE_RES_REASON, reason,
                     RCE_RES_STDOUT, "",
                     RCE_RES_STDERR, "",
                     RCE_RES_EXIT_CODE, RCE_RES_SIGNAL,
                     RCE_RES_TRUNCATED, 0,
                     RCE_RES_WALL_MS, RCE_RES_CPU_MS, RCE_RES_MEMORY_KB,
                     RCE_RES_COMPILE);
}


/*
 * The result goes to the job's request, through the job's renderer; json
 * NULL: the node's result could not be read, for the reason why.
 */
void
ngx_rce_job_deliver(ngx_rce_job_t *job, json_t *json, const char *why)
{
    ngx_http_request_t  *r;

    ngx_rce_job_detach(job);

    r = job->request;
    job->request = NULL;

    /* its cpu counts against its client's quota, answered or not */
    ngx_rce_limit_charge(job->limit, &job->client, json, ngx_rce_worker->log);

    if (r != NULL) {
        job->cleanup->handler = NULL;
        ngx_rce_finish(r, ngx_rce_job_render(job, r, json, why));

    } else if (json == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_rce_worker->log, 0,
                      "rce: job %V: the result from node %V cannot be read "
                      "(%s); nobody waits for it", &job->id, &job->node, why);
    }

    ngx_rce_job_release(job);
}


/* the renderer's answer; IE of our own for a result that cannot be read */
static ngx_int_t
ngx_rce_job_render(ngx_rce_job_t *job, ngx_http_request_t *r, json_t *json,
    const char *why)
{
    ngx_int_t  rc;

    if (json != NULL) {
        rc = job->renderer->send_result(r, job, json);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        why = "malformed output";
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "rce: job %V: the result from node %V cannot be read "
                  "(%s): answering IE", &job->id, &job->node, why);

    return ngx_rce_job_send_ie(job, r, "the node's result could not be read");
}


/* an IE result of our own, with the reason, through the job's renderer */
static ngx_int_t
ngx_rce_job_send_ie(ngx_rce_job_t *job, ngx_http_request_t *r,
    const char *reason)
{
    json_t     *json;
    ngx_int_t   rc;

    json = ngx_rce_job_internal_error(job, reason);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = job->renderer->send_result(r, job, json);
    json_decref(json);

    return (rc == NGX_DECLINED) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
}


/*
 * After each refresh of the node list.  A dead node's jobs are run again by
 * a live peer (docs/cluster.md); when the list is empty, no node is left to
 * do it, and every waiting job is answered IE now rather than at its
 * deadline.  A node that comes back runs them, for nobody.
 */
void
ngx_rce_job_orphans(ngx_rce_worker_t *w)
{
    ngx_rbtree_node_t   *node;
    ngx_rce_job_t       *job;
    ngx_http_request_t  *r;
    u_char               reason[NGX_RCE_JOB_REASON_LEN];

    if (w->nodes.nelts > 0) {
        return;
    }

    while (w->jobs.root != w->jobs.sentinel) {
        node = ngx_rbtree_min(w->jobs.root, w->jobs.sentinel);
        job = (ngx_rce_job_t *) node;

        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "rce: job %V: node %V died with it, and no live node "
                      "is left to run it again: answering IE",
                      &job->id, &job->node);

        ngx_snprintf(reason, sizeof(reason) - 1,
                     "node %V stopped answering while the job was in its "
                     "hands, and no live node is left to run it again%Z",
                     &job->node);
        reason[sizeof(reason) - 1] = '\0';

        ngx_rce_job_cancel(job);
        ngx_rce_job_detach(job);

        r = job->request;
        job->request = NULL;

        if (r != NULL) {
            job->cleanup->handler = NULL;
            ngx_rce_finish(r, ngx_rce_job_send_ie(job, r, (char *) reason));
        }

        ngx_rce_job_release(job);
    }
}


static ngx_rce_job_t *
ngx_rce_job_find(ngx_rbtree_t *tree, ngx_str_t *id)
{
    ngx_str_node_t  *sn;

    sn = ngx_str_rbtree_lookup(tree, id, ngx_crc32_short(id->data, id->len));
    if (sn == NULL) {
        return NULL;
    }

    return (ngx_rce_job_t *) ((u_char *) sn - offsetof(ngx_rce_job_t, sn));
}


/*
 * The worker exits: every streamed job it waits for is told to stop (its
 * client's connection goes with the worker); the jobs stay for the exit
 */
void
ngx_rce_job_stop_streams(ngx_rce_worker_t *w)
{
    ngx_rbtree_node_t  *node;
    ngx_rce_job_t      *job;

    if (w->jobs.root == w->jobs.sentinel) {
        return;
    }

    for (node = ngx_rbtree_min(w->jobs.root, w->jobs.sentinel);
         node != NULL;
         node = ngx_rbtree_next(&w->jobs, node))
    {
        job = (ngx_rce_job_t *) node;

        if (job->stream && job->request != NULL) {
            ngx_rce_feed_stop(job);
        }
    }
}


/* answer every waiting request: their results can no longer arrive */
void
ngx_rce_job_fail_all(ngx_rce_worker_t *w, ngx_uint_t status,
    const char *reason)
{
    ngx_rbtree_node_t  *node;
    ngx_rce_job_t      *job;

    while (w->jobs.root != w->jobs.sentinel) {
        node = ngx_rbtree_min(w->jobs.root, w->jobs.sentinel);
        job = (ngx_rce_job_t *) node;

        ngx_rce_job_cancel(job);
        ngx_rce_job_answer(job, status, reason);
        ngx_rce_job_release(job);
    }

    /* their jobs go on; the results just cannot reach this worker now */
    while (w->watchers.root != w->watchers.sentinel) {
        node = ngx_rbtree_min(w->watchers.root, w->watchers.sentinel);
        job = (ngx_rce_job_t *) node;

        ngx_rce_job_answer(job, status, reason);
        ngx_rce_job_release(job);
    }
}


/*
 * An event of a running job (RCE_EVENT_*) to its renderer, in order: a
 * message lost on the way (seq not the one due) ends the stream with an
 * error, and so does a client that cannot be written to; the job is then
 * stopped, nobody being left to see it.
 */
static void
ngx_rce_job_event(ngx_rce_job_t *job, json_t *json)
{
    ngx_http_request_t  *r;
    json_t              *seq;
    ngx_int_t            rc;
    ngx_uint_t           restarted;

    r = job->request;

    if (r == NULL || job->renderer->send_event == NULL) {
        return;
    }

    seq = json_object_get(json, RCE_EVENT_SEQ);

    if (!json_is_integer(seq) || json_integer_value(seq) != job->seq) {
        /* seq 0 again: a peer runs the job anew, its node having died;
         * what the client saw cannot be taken back */
        restarted = (json_is_integer(seq) && json_integer_value(seq) == 0);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rce: job %V: event %L from node %V where %L was due: "
                      "%s, ending it", &job->id,
                      (int64_t) (json_is_integer(seq)
                                 ? json_integer_value(seq) : -1),
                      &job->node, (int64_t) job->seq,
                      restarted ? "it started again (its node died?)"
                                : "a message of its stream was lost");

        ngx_rce_job_cancel(job);
        ngx_rce_job_answer(job, NGX_HTTP_BAD_GATEWAY,
                           restarted
                           ? "the job started again on another node (its "
                             "node died): its stream cannot go on"
                           : "the stream from the node lost a message");
        ngx_rce_job_release(job);
        return;
    }

    job->seq++;

    rc = job->renderer->send_event(r, job, json);
    if (rc == NGX_OK) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rce: job %V: its client %s: stopping it", &job->id,
                  (rc == NGX_DONE) ? "is too slow"
                                   : "cannot be written to");

    ngx_rce_job_cancel(job);
    ngx_rce_job_detach(job);

    job->request = NULL;
    job->cleanup->handler = NULL;

    /* NGX_DONE: the renderer's close goes on, the job lets go of the
     * request */
    ngx_rce_finish(r, (rc == NGX_DONE) ? NGX_DONE : NGX_ERROR);
    ngx_rce_job_release(job);
}


/*
 * Nobody waits for the job any more: out of its queue if it has not
 * started; a streamed job that has is told to stop (rce:input:<id>)
 */
static void
ngx_rce_job_cancel(ngx_rce_job_t *job)
{
    if (job->stream) {
        ngx_rce_feed_stop(job);
        return;
    }

    ngx_rce_queue_cancel(job);
}


/*
 * An asynchronous job's cpu, where rce_limit counts cpu: nobody waits for
 * its result, but every worker gets it on RCE_CHANNEL_DONE, and the worker
 * that queued it charges it (a worker that exits first does not)
 */
static void
ngx_rce_job_charge_later(ngx_rce_job_t *job)
{
    ngx_rce_job_charge_t  *c;
    ngx_rce_worker_t      *w;

    w = ngx_rce_worker;

    if (!ngx_rce_limit_counts_cpu(job->limit)) {
        return;
    }

    c = ngx_alloc(sizeof(ngx_rce_job_charge_t) + job->id.len
                  + job->client.len, w->log);
    if (c == NULL) {
        return;
    }

    ngx_memzero(c, sizeof(ngx_rce_job_charge_t));

    c->limit = job->limit;
    c->sn.str.data = (u_char *) &c[1];
    c->sn.str.len = job->id.len;
    ngx_memcpy(c->sn.str.data, job->id.data, job->id.len);
    c->client.data = c->sn.str.data + job->id.len;
    c->client.len = job->client.len;
    ngx_memcpy(c->client.data, job->client.data, job->client.len);

    c->sn.node.key = ngx_crc32_short(c->sn.str.data, c->sn.str.len);
    ngx_rbtree_insert(&w->charges, &c->sn.node);

    c->timer.handler = ngx_rce_job_charge_expired;
    c->timer.data = c;
    c->timer.log = w->log;
    c->timer.cancelable = 1;
    ngx_add_timer(&c->timer, job->wait + NGX_RCE_CHARGE_SLACK);
}


/* the result of asynchronous job id came (json), or it will never (NULL):
 * charge it, if it is ours */
static void
ngx_rce_job_charge(ngx_rce_worker_t *w, ngx_str_t *id, json_t *json)
{
    ngx_str_node_t        *sn;
    ngx_rce_job_charge_t  *c;

    if (w->charges.root == w->charges.sentinel) {
        return;
    }

    sn = ngx_str_rbtree_lookup(&w->charges, id,
                               ngx_crc32_short(id->data, id->len));
    if (sn == NULL) {
        return;
    }

    c = (ngx_rce_job_charge_t *) sn;

    ngx_rce_limit_charge(c->limit, &c->client, json, w->log);
    ngx_rce_job_charge_free(c);
}


static void
ngx_rce_job_charge_expired(ngx_event_t *ev)
{
    ngx_rce_job_charge_t  *c = ev->data;

    ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                  "rce: job %V: no result came to charge its cpu to \"%V\"",
                  &c->sn.str, &c->client);

    ngx_rce_job_charge_free(c);
}


static void
ngx_rce_job_charge_free(ngx_rce_job_charge_t *c)
{
    if (c->timer.timer_set) {
        ngx_del_timer(&c->timer);
    }

    ngx_rbtree_delete(&ngx_rce_worker->charges, &c->sn.node);
    ngx_free(c);
}


/* at exit: what was not charged is forgotten */
void
ngx_rce_job_charges_free(ngx_rce_worker_t *w)
{
    ngx_rbtree_node_t  *node;

    while (w->charges.root != w->charges.sentinel) {
        node = ngx_rbtree_min(w->charges.root, w->charges.sentinel);
        ngx_rce_job_charge_free((ngx_rce_job_charge_t *) node);
    }
}
