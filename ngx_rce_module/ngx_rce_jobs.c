
/*
 * Asynchronous jobs, one directive for the whole resource:
 *
 *     location /api/v1/jobs { rce_api_jobs; }
 *
 *     POST   /api/v1/jobs            a run request, or {"jobs": [...]}: 202
 *     GET    /api/v1/jobs/<id>       its state, or its result; ?wait=N s
 *     GET    /api/v1/jobs?ids=a,b    several at once
 *     DELETE /api/v1/jobs/<id>       cancel it
 *
 * A job's state and result live in Redis (ngx_rce_store.c), so any gateway
 * worker answers for any job; a request that waits for one is a watcher
 * (ngx_rce_job_watch) that the job's result reaches on RCE_CHANNEL_DONE.
 *
 * Where API keys are on, a job is its submitter's key's alone: Redis shows
 * it to that key only (lua/poll.lua, lua/cancel.lua), and answers anyone
 * else exactly as for an id never submitted.  A watcher is held until Redis
 * has said it may see the job: a result published before that is not
 * delivered, only noted, and read from Redis once it may.
 */


#include "ngx_rce_module.h"


#define NGX_RCE_JOBS_ID_LEN        (2 * RCE_JOB_ID_BYTES)
#define NGX_RCE_JOBS_UNKNOWN       "unknown job id, or its result has expired"
#define NGX_RCE_JOBS_STATE_FIELDS  11       /* what poll.lua answers per job */
#define NGX_RCE_JOBS_RESULT        6        /* ... where the result is */
#define NGX_RCE_JOBS_CALLBACK      7        /* ... where the callback's
                                               url, state, attempts and
                                               error begin */
#define NGX_RCE_JOBS_CANCEL_WAIT   5000     /* ms a DELETE waits for a node
                                               to stop a running job */


/* a POST: its entries' answers, filled in as their pushes are answered */
typedef struct {
    ngx_pool_t                 *pool;
    ngx_http_request_t         *request;     /* NULL once gone */
    ngx_http_cleanup_t         *cleanup;
    json_t                     *answers;     /* one per entry */
    ngx_uint_t                  pending;     /* pushes not answered yet */
    ngx_uint_t                  batch;       /* {"jobs": [...]} */
    ngx_str_t                   base;        /* the location's URI */
} ngx_rce_jobs_post_t;


typedef struct {
    ngx_rce_jobs_post_t        *post;
    size_t                      index;
} ngx_rce_jobs_entry_t;


/* a GET or DELETE of one job, in the request's context */
typedef struct {
    ngx_msec_t                  wait;
    unsigned                    cancel:1;
    unsigned                    last:1;      /* the next poll answers */
} ngx_rce_jobs_ctx_t;


static void ngx_rce_jobs_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_rce_jobs_dispatch(ngx_http_request_t *r);
static ngx_int_t ngx_rce_jobs_post(ngx_http_request_t *r);
static json_t *ngx_rce_jobs_post_entries(ngx_http_request_t *r,
    ngx_rce_jobs_post_t *post, json_t *doc);
static void ngx_rce_jobs_post_entry(ngx_http_request_t *r,
    ngx_rce_jobs_post_t *post, size_t i, json_t *req);
static void ngx_rce_jobs_queued(ngx_rce_job_t *job, ngx_uint_t status,
    const char *reason);
static json_t *ngx_rce_jobs_accepted(ngx_rce_jobs_post_t *post,
    ngx_str_t *id);
static ngx_int_t ngx_rce_jobs_post_answer(ngx_rce_jobs_post_t *post);
static void ngx_rce_jobs_post_cleanup(void *data);
static ngx_int_t ngx_rce_jobs_one(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t cancel);
static ngx_int_t ngx_rce_jobs_wait_arg(ngx_http_request_t *r,
    ngx_msec_t *wait);
static void ngx_rce_jobs_cancelled(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_jobs_polled(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_jobs_deliver(ngx_rce_job_t *job, redisReply *state);
static void ngx_rce_jobs_waited(ngx_event_t *ev);
static json_t *ngx_rce_jobs_state(ngx_str_t *id, redisReply *state);
static json_t *ngx_rce_jobs_callback(redisReply *state);
static ngx_int_t ngx_rce_jobs_many(ngx_http_request_t *r, ngx_str_t *arg);
static void ngx_rce_jobs_many_polled(redisAsyncContext *ac, void *reply,
    void *data);
static json_t *ngx_rce_jobs_many_entry(ngx_str_t *id, redisReply *state);
static ngx_uint_t ngx_rce_jobs_valid_id(ngx_str_t *id);
static ngx_int_t ngx_rce_jobs_owner(ngx_http_request_t *r,
    ngx_rce_job_t *job);


ngx_int_t
ngx_rce_jobs_handler(ngx_http_request_t *r)
{
    const char  *why;
    ngx_int_t    rc;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST
                       |NGX_HTTP_DELETE)))
    {
        return ngx_rce_not_allowed(r, "GET, HEAD, POST, DELETE",
                                   "method not allowed");
    }

    why = ngx_rce_job_unavailable();
    if (why != NULL && !(r->method & NGX_HTTP_POST)
        && ngx_rce_worker != NULL && ngx_rce_worker->command.connected
        && ngx_rce_worker->subscribed)
    {
        why = NULL;     /* no live node: a job's state can still be read */
    }

    if (why != NULL) {
        return ngx_rce_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, NULL);
    }

    /* every method reads the body (none but POST's is used): one path */
    rc = ngx_http_read_client_request_body(r, ngx_rce_jobs_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_rce_jobs_body_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_rce_jobs_dispatch(r);

    if (rc == NGX_DONE) {
        return;     /* a Redis reply or a timer finalizes */
    }

    ngx_http_finalize_request(r, rc);
}


/* by method and by what follows the location's URI: "", "/<id>" */
static ngx_int_t
ngx_rce_jobs_dispatch(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_str_t                  rest, ids;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rest.data = r->uri.data + clcf->name.len;
    rest.len = (r->uri.len > clcf->name.len) ? r->uri.len - clcf->name.len
                                             : 0;

    if (rest.len == 0 || (rest.len == 1 && rest.data[0] == '/')) {

        if (r->method & NGX_HTTP_POST) {
            return ngx_rce_jobs_post(r);
        }

        if ((r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
            && ngx_http_arg(r, (u_char *) "ids", 3, &ids) == NGX_OK)
        {
            return ngx_rce_jobs_many(r, &ids);
        }

        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "name the jobs: /api/v1/jobs/<id> or "
                                      "/api/v1/jobs?ids=<id>,<id>",
                                      json_pack("{s:s}", "field", "ids"));
        }

        return ngx_rce_not_allowed(r, "GET, HEAD, POST",
                                   "method not allowed");
    }

    if (rest.data[0] != '/') {
        return ngx_rce_send_error(r, NGX_HTTP_NOT_FOUND, "no such route",
                                  NULL);
    }

    rest.data++;
    rest.len--;

    if (r->method & NGX_HTTP_POST) {
        return ngx_rce_not_allowed(r, "GET, HEAD, DELETE",
                                   "method not allowed");
    }

    return ngx_rce_jobs_one(r, &rest, (r->method & NGX_HTTP_DELETE) != 0);
}


/* POST: one run request, or {"jobs": [run request, ...]} */
static ngx_int_t
ngx_rce_jobs_post(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_rce_input_error_t      err;
    ngx_rce_jobs_post_t       *post;
    ngx_pool_t                *pool;
    ngx_str_t                  body;
    json_t                    *doc, *refusal;

    if (ngx_rce_read_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_rce_input_load(body.data, body.len, &doc, &err) != NGX_OK) {
        json_decref(doc);
        return ngx_rce_request_refuse(r, ngx_rce_request_input_error(&err));
    }

    pool = ngx_create_pool(1024, ngx_rce_worker->log);
    if (pool == NULL) {
        json_decref(doc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    post = ngx_pcalloc(pool, sizeof(ngx_rce_jobs_post_t));
    if (post == NULL) {
        goto failed;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    post->pool = pool;
    post->request = r;
    post->base.data = ngx_pstrdup(pool, &clcf->name);
    post->base.len = clcf->name.len;
    post->cleanup = ngx_http_cleanup_add(r, 0);
    post->answers = json_array();

    if (post->base.data == NULL || post->cleanup == NULL
        || post->answers == NULL)
    {
        goto failed;
    }

    post->cleanup->handler = ngx_rce_jobs_post_cleanup;
    post->cleanup->data = post;

    refusal = ngx_rce_jobs_post_entries(r, post, doc);
    json_decref(doc);

    if (refusal != NULL) {
        post->cleanup->handler = NULL;
        json_decref(post->answers);
        ngx_destroy_pool(pool);
        return ngx_rce_request_refuse(r, refusal);
    }

    if (post->pending == 0) {
        return ngx_rce_jobs_post_answer(post);
    }

    return NGX_DONE;

failed:

    json_decref(doc);
    if (post != NULL) {
        json_decref(post->answers);
    }
    ngx_destroy_pool(pool);
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* queues each entry; NULL, or the refusal of a document that is wrong */
static json_t *
ngx_rce_jobs_post_entries(ngx_http_request_t *r, ngx_rce_jobs_post_t *post,
    json_t *doc)
{
    ngx_rce_loc_conf_t  *rlcf;
    json_t              *jobs, *req;
    size_t               i;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    jobs = json_object_get(doc, "jobs");

    if (jobs == NULL) {
        if (json_array_append_new(post->answers, json_null()) != 0) {
            goto no_memory;
        }

        ngx_rce_jobs_post_entry(r, post, 0, doc);   /* one run request */
        return NULL;
    }

    if (json_object_size(doc) != 1) {
        return ngx_rce_request_refusal(NGX_HTTP_BAD_REQUEST,
                   "a batch has \"jobs\" and nothing else",
                   json_pack("{s:s}", "field", "jobs"));
    }

    if (!json_is_array(jobs) || json_array_size(jobs) == 0
        || json_array_size(jobs) > (size_t) rlcf->max_batch)
    {
        return ngx_rce_request_refusal(NGX_HTTP_BAD_REQUEST,
                   "must be an array of 1 to rce_max_batch run requests",
                   json_pack("{s:s, s:I}", "field", "jobs", "max_batch",
                             (json_int_t) rlcf->max_batch));
    }

    post->batch = 1;

    for (i = 0; i < json_array_size(jobs); i++) {
        if (json_array_append_new(post->answers, json_null()) != 0) {
            goto no_memory;
        }
    }

    json_array_foreach(jobs, i, req) {
        ngx_rce_jobs_post_entry(r, post, i, req);
    }

    return NULL;

no_memory:

    return ngx_rce_request_refusal(NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "out of memory", NULL);
}


/* entry i: refused now, or pushed (post->pending until it is answered) */
static void
ngx_rce_jobs_post_entry(ngx_http_request_t *r, ngx_rce_jobs_post_t *post,
    size_t i, json_t *req)
{
    ngx_rce_jobs_entry_t  *entry;
    ngx_str_t              language;
    ngx_uint_t             base64;
    ngx_int_t              rc;
    const char            *why;
    json_t                *input, *refusal;

    refusal = ngx_rce_request_input(r, req, 1, &language, &input,
                                    &base64);

    if (refusal == NULL) {
        entry = ngx_palloc(post->pool, sizeof(ngx_rce_jobs_entry_t));
        if (entry == NULL) {
            json_decref(input);
            refusal = ngx_rce_request_refusal(
                          NGX_HTTP_INTERNAL_SERVER_ERROR, "out of memory",
                          NULL);
            goto refused;
        }

        entry->post = post;
        entry->index = i;
        why = "internal error";

        rc = ngx_rce_job_enqueue(r, &language, input, base64,
                                 ngx_rce_jobs_queued, entry, &why);
        if (rc == NGX_OK) {
            post->pending++;
            return;
        }

        refusal = ngx_rce_request_refusal(rc, why, NULL);
    }

refused:

    json_array_set_new(post->answers, i, refusal);
}


/* the push of one entry was answered */
static void
ngx_rce_jobs_queued(ngx_rce_job_t *job, ngx_uint_t status, const char *reason)
{
    ngx_rce_jobs_entry_t  *entry = job->data;
    ngx_rce_jobs_post_t   *post;
    ngx_http_request_t    *r;
    ngx_int_t              rc;
    json_t                *answer;

    post = entry->post;

    if (status == NGX_HTTP_ACCEPTED) {
        ngx_log_error(NGX_LOG_INFO, ngx_rce_worker->log, 0,
                      "rce: job %V queued on %V (asynchronous)", &job->id,
                      &job->node);
        answer = ngx_rce_jobs_accepted(post, &job->id);

    } else {
        answer = ngx_rce_request_refusal(status, reason, NULL);
    }

    json_array_set_new(post->answers, entry->index, answer);

    if (--post->pending > 0) {
        return;
    }

    r = post->request;

    if (r != NULL) {
        /* post is freed by the answer: r was read before */
        rc = ngx_rce_jobs_post_answer(post);
        ngx_rce_finish(r, rc);
        return;
    }

    json_decref(post->answers);
    ngx_destroy_pool(post->pool);
}


static json_t *
ngx_rce_jobs_accepted(ngx_rce_jobs_post_t *post, ngx_str_t *id)
{
    return json_pack("{s:s%, s:s, s:s%++%}",
                     "id", id->data, id->len,
                     "status", RCE_STATE_QUEUED,
                     "url", post->base.data, post->base.len, "/",
                     id->data, id->len);
}


/*
 * Every entry has its answer: 202 with {"jobs": [...]} for a batch; for a
 * single job 202 with its id and a Location, or its refusal, exactly as
 * POST /api/v1/run refuses.  Frees post.
 */
static ngx_int_t
ngx_rce_jobs_post_answer(ngx_rce_jobs_post_t *post)
{
    ngx_http_request_t  *r;
    json_t              *answer, *url;
    ngx_str_t            location;
    ngx_int_t            rc;

    r = post->request;
    post->cleanup->handler = NULL;
    answer = json_incref(json_array_get(post->answers, 0));

    if (post->batch) {
        rc = ngx_rce_send_json(r, NGX_HTTP_ACCEPTED,
                               json_pack("{s:O}", "jobs", post->answers));

    } else if (json_object_get(answer, "error") != NULL) {
        rc = ngx_rce_request_refuse(r, json_incref(answer));

    } else {
        /* the header outlives the answer's JSON: the request's own copy */
        url = json_object_get(answer, "url");
        location.len = json_string_length(url);
        location.data = url ? ngx_pnalloc(r->pool, location.len) : NULL;

        if (location.data != NULL) {
            ngx_memcpy(location.data, json_string_value(url), location.len);
        }

        rc = (location.data != NULL
              && ngx_rce_add_header(r, "Location", &location) == NGX_OK)
             ? ngx_rce_send_json(r, NGX_HTTP_ACCEPTED, json_incref(answer))
             : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(answer);
    json_decref(post->answers);
    ngx_destroy_pool(post->pool);

    return rc;
}


/* the client left while the pushes were on their way: they go on */
static void
ngx_rce_jobs_post_cleanup(void *data)
{
    ngx_rce_jobs_post_t  *post = data;

    post->request = NULL;
}


/* GET or DELETE /api/v1/jobs/<id> */
static ngx_int_t
ngx_rce_jobs_one(ngx_http_request_t *r, ngx_str_t *id, ngx_uint_t cancel)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_jobs_ctx_t  *ctx;
    ngx_rce_job_t       *job;
    ngx_int_t            rc;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (!ngx_rce_jobs_valid_id(id)) {
        return ngx_rce_send_error(r, NGX_HTTP_NOT_FOUND, NGX_RCE_JOBS_UNKNOWN,
                                  NULL);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_rce_jobs_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->cancel = cancel;

    if (cancel) {
        ctx->wait = NGX_RCE_JOBS_CANCEL_WAIT;

    } else if (ngx_rce_jobs_wait_arg(r, &ctx->wait) != NGX_OK) {
        return ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "wait must be a whole number of seconds",
                                  json_pack("{s:s, s:I}", "field", "wait",
                                            "max_wait",
                                            (json_int_t) (rlcf->max_wait
                                                          / 1000)));
    }

    ngx_http_set_ctx(r, ctx, ngx_rce_module);

    /* in the watchers before Redis is asked: a result published between
     * the two is not missed */
    job = ngx_rce_job_watch(r, id, 1);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->held = 1;

    if (ngx_rce_jobs_owner(r, job) != NGX_OK) {
        ngx_rce_job_answer(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "internal error");
        ngx_rce_job_release(job);
        return NGX_DONE;
    }

    job->timeout.handler = ngx_rce_jobs_waited;
    job->result_ttl = rlcf->result_ttl;

    rc = cancel ? ngx_rce_store_cancel(job, rlcf->result_ttl,
                                       ngx_rce_jobs_cancelled)
                : ngx_rce_store_poll(job, id, 1, ngx_rce_jobs_polled);

    if (rc != NGX_OK) {
        ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "redis is unavailable");
        ngx_rce_job_release(job);
    }

    return NGX_DONE;
}


/* ?wait=N: seconds, capped by rce_max_wait; absent is 0 */
static ngx_int_t
ngx_rce_jobs_wait_arg(ngx_http_request_t *r, ngx_msec_t *wait)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_str_t            arg;
    ngx_int_t            n;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    *wait = 0;

    if (ngx_http_arg(r, (u_char *) "wait", 4, &arg) != NGX_OK) {
        return NGX_OK;
    }

    n = ngx_atoi(arg.data, arg.len);
    if (n == NGX_ERROR || arg.len > 6) {
        return NGX_ERROR;
    }

    *wait = ngx_min((ngx_msec_t) n * 1000, rlcf->max_wait);

    return NGX_OK;
}


/* cancel.lua's reply: {0} unknown, {1|2, result}, {3} a node stops it */
static void
ngx_rce_jobs_cancelled(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_job_t  *job = data;
    redisReply     *r = reply;

    if (job->request == NULL) {
        ngx_rce_job_release(job);
        return;
    }

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || r->element[0]->type != REDIS_REPLY_INTEGER)
    {
        ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "redis is unavailable");
        ngx_rce_job_release(job);
        return;
    }

    switch (r->element[0]->integer) {

    case 0:
        ngx_rce_job_answer(job, NGX_HTTP_NOT_FOUND,
                           NGX_RCE_JOBS_UNKNOWN);
        ngx_rce_job_release(job);
        return;

    case 3:
        ngx_log_error(NGX_LOG_INFO, job->request->connection->log, 0,
                      "rce: job %V: asked its node to stop it", &job->id);

        job->held = 0;

        if (job->missed) {
            break;      /* its result came already: read it */
        }

        /* its result comes to the watcher: rendered as the job asked */
        if (r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING
            && ngx_strcmp(r->element[1]->str, RCE_ENCODING_BASE64) == 0)
        {
            job->renderer = &ngx_rce_render_v1_base64;
        }

        /* the node's CANCELLED result reaches the watcher, or the timer
         * answers the state then */
        ngx_add_timer(&job->timeout, ((ngx_rce_jobs_ctx_t *)
                      ngx_http_get_module_ctx(job->request, ngx_rce_module))
                      ->wait);
        return;

    default:
        break;
    }

    /* poll's answer has the encoding the result is rendered in: ask */
    if (ngx_rce_store_poll(job, &job->id, 1, ngx_rce_jobs_polled) != NGX_OK) {
        ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "redis is unavailable");
        ngx_rce_job_release(job);
    }
}


/* poll.lua's reply for one job */
static void
ngx_rce_jobs_polled(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_job_t       *job = data;
    redisReply          *r = reply, *state;
    ngx_rce_jobs_ctx_t  *ctx;

    if (job->request == NULL) {
        ngx_rce_job_release(job);
        return;
    }

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
        ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "redis is unavailable");
        ngx_rce_job_release(job);
        return;
    }

    state = r->element[0];

    if (state->type != REDIS_REPLY_ARRAY || state->elements != NGX_RCE_JOBS_STATE_FIELDS) {
        ngx_rce_job_answer(job, NGX_HTTP_NOT_FOUND,
                           NGX_RCE_JOBS_UNKNOWN);
        ngx_rce_job_release(job);
        return;
    }

    /* it is the asker's: results reach the watcher from now on */
    job->held = 0;

    /* the result may yet come to the watcher: it is rendered as asked */
    if (state->element[2]->type == REDIS_REPLY_STRING
        && ngx_strcmp(state->element[2]->str, RCE_ENCODING_BASE64) == 0)
    {
        job->renderer = &ngx_rce_render_v1_base64;
    }

    if (state->element[NGX_RCE_JOBS_RESULT]->type == REDIS_REPLY_STRING) {
        ngx_rce_jobs_deliver(job, state);
        return;
    }

    ctx = ngx_http_get_module_ctx(job->request, ngx_rce_module);

    if (job->missed && !ctx->last) {
        /* its result came while it was held: stored by now, read it */
        job->missed = 0;
        ctx->last = 1;

        if (ngx_rce_store_poll(job, &job->id, 1, ngx_rce_jobs_polled)
            != NGX_OK)
        {
            ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "redis is unavailable");
            ngx_rce_job_release(job);
        }

        return;
    }

    if (ctx->wait > 0 && !ctx->last) {
        if (!job->timeout.timer_set) {
            ngx_add_timer(&job->timeout, ctx->wait);
        }
        return;     /* the result reaches the watcher, or the timer fires */
    }

    ngx_rce_job_respond(job, ctx->cancel ? NGX_HTTP_ACCEPTED : NGX_HTTP_OK,
                        ngx_rce_jobs_state(&job->id, state));
}


/* the finished job's result, rendered as POST /api/v1/run renders it */
static void
ngx_rce_jobs_deliver(ngx_rce_job_t *job, redisReply *state)
{
    ngx_rce_result_t   res;
    redisReply        *result;

    result = state->element[NGX_RCE_JOBS_RESULT];

    if (ngx_rce_result_read(result->str, result->len, &res) != NGX_OK) {
        ngx_rce_job_deliver(job, NULL, res.why);
        json_decref(res.json);
        return;
    }

    /* where its callback stands, shown beside the result (rce_render.c) */
    if (res.why == NULL) {
        (void) json_object_set_new(res.json, "callback",
                                   ngx_rce_jobs_callback(state));
    }

    ngx_rce_job_deliver(job, res.why ? NULL : res.json, res.why);
    json_decref(res.json);
}


/* the wait is over without a result: one more look, which answers */
static void
ngx_rce_jobs_waited(ngx_event_t *ev)
{
    ngx_rce_job_t       *job = ev->data;
    ngx_rce_jobs_ctx_t  *ctx;

    if (job->request == NULL) {
        return;
    }

    ctx = ngx_http_get_module_ctx(job->request, ngx_rce_module);
    ctx->last = 1;

    if (ngx_rce_store_poll(job, &job->id, 1, ngx_rce_jobs_polled) != NGX_OK) {
        ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "redis is unavailable");
        ngx_rce_job_release(job);
    }
}


/* {"id", "status": "queued" | "running", "language", "node", times} */
static json_t *
ngx_rce_jobs_state(ngx_str_t *id, redisReply *state)
{
    json_t      *doc;
    redisReply  *e;
    ngx_uint_t   i;

    static const char  *fields[] = { "status", "node", NULL, "enqueued_ms",
                                     "started_ms", "language" };

    doc = json_pack("{s:s%}", "id", id->data, id->len);
    if (doc == NULL) {
        return NULL;
    }

    for (i = 0; i < 6; i++) {
        e = state->element[i];

        if (fields[i] == NULL || e->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (i == 3 || i == 4) {
            json_object_set_new(doc, fields[i],
                                json_integer(ngx_atoof((u_char *) e->str,
                                                       e->len)));
        } else {
            json_object_set_new(doc, fields[i], json_stringn(e->str, e->len));
        }
    }

    (void) json_object_set_new(doc, "callback", ngx_rce_jobs_callback(state));

    return doc;
}


/*
 * {"url", "state", "attempts", "error"} of a job's callback (RCE_CALLBACK_*
 * states; error "" until an attempt failed), or NULL for a job without one
 */
static json_t *
ngx_rce_jobs_callback(redisReply *state)
{
    redisReply  **e;

    e = &state->element[NGX_RCE_JOBS_CALLBACK];

    if (e[0]->type != REDIS_REPLY_STRING) {
        return NULL;
    }

    return json_pack("{s:s%, s:s%, s:I, s:s%}",
                     "url", e[0]->str, e[0]->len,
                     "state", e[1]->type == REDIS_REPLY_STRING ? e[1]->str
                                                               : "waiting",
                     e[1]->type == REDIS_REPLY_STRING ? e[1]->len : 7,
                     "attempts", (json_int_t)
                                 (e[2]->type == REDIS_REPLY_STRING
                                  && ngx_atoi((u_char *) e[2]->str, e[2]->len)
                                     > 0
                                  ? ngx_atoi((u_char *) e[2]->str, e[2]->len)
                                  : 0),
                     "error", e[3]->type == REDIS_REPLY_STRING ? e[3]->str : "",
                     e[3]->type == REDIS_REPLY_STRING ? e[3]->len : 0);
}


/* GET ?ids=a,b,c: {"jobs": [...]} in that order, no waiting */
static ngx_int_t
ngx_rce_jobs_many(ngx_http_request_t *r, ngx_str_t *arg)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_job_t       *job;
    ngx_array_t         *ids;
    ngx_str_t           *id;
    u_char              *p, *last, *comma;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    ids = ngx_array_create(r->pool, 8, sizeof(ngx_str_t));
    if (ids == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = arg->data + arg->len;

    for (p = arg->data; p < last; p = comma + 1) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if (ids->nelts == (ngx_uint_t) rlcf->max_batch) {
            return ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "more ids than rce_max_batch",
                                      json_pack("{s:s, s:I}", "field", "ids",
                                                "max_batch",
                                                (json_int_t) rlcf->max_batch));
        }

        id = ngx_array_push(ids);
        if (id == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        id->data = p;
        id->len = comma - p;
    }

    if (ids->nelts == 0) {
        return ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST, "no ids",
                                  json_pack("{s:s}", "field", "ids"));
    }

    /* a watcher only holds the request while Redis answers */
    job = ngx_rce_job_watch(r, &((ngx_str_t *) ids->elts)[0], 0);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->data = ids;

    if (ngx_rce_jobs_owner(r, job) != NGX_OK) {
        ngx_rce_job_answer(job, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "internal error");
        ngx_rce_job_release(job);
        return NGX_DONE;
    }

    if (ngx_rce_store_poll(job, ids->elts, ids->nelts,
                           ngx_rce_jobs_many_polled)
        != NGX_OK)
    {
        ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "redis is unavailable");
        ngx_rce_job_release(job);
    }

    return NGX_DONE;
}


static void
ngx_rce_jobs_many_polled(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_job_t  *job = data;
    redisReply     *r = reply;
    ngx_array_t    *ids;
    ngx_str_t      *id;
    json_t         *jobs, *entry;
    size_t          i;

    if (job->request == NULL) {
        ngx_rce_job_release(job);
        return;
    }

    ids = job->data;
    id = ids->elts;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY
        || r->elements != ids->nelts)
    {
        ngx_rce_job_answer(job, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "redis is unavailable");
        ngx_rce_job_release(job);
        return;
    }

    jobs = json_array();

    for (i = 0; jobs != NULL && i < r->elements; i++) {
        entry = ngx_rce_jobs_many_entry(&id[i], r->element[i]);
        if (entry == NULL || json_array_append_new(jobs, entry) != 0) {
            json_decref(jobs);
            jobs = NULL;
        }
    }

    ngx_rce_job_respond(job, jobs ? NGX_HTTP_OK
                                  : NGX_HTTP_INTERNAL_SERVER_ERROR,
                        jobs ? json_pack("{s:o}", "jobs", jobs)
                             : ngx_rce_request_refusal(
                                   NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "a result could not be rendered", NULL));
}


/* one job of a GET ?ids=: its result, its state, or why there is none */
static json_t *
ngx_rce_jobs_many_entry(ngx_str_t *id, redisReply *state)
{
    int                malformed;
    ngx_rce_result_t   res;
    redisReply        *result;
    json_t            *doc;

    if (!ngx_rce_jobs_valid_id(id) || state->type != REDIS_REPLY_ARRAY
        || state->elements != NGX_RCE_JOBS_STATE_FIELDS)
    {
        return ngx_rce_request_refusal(NGX_HTTP_NOT_FOUND,
                                       NGX_RCE_JOBS_UNKNOWN,
                                       json_pack("{s:s%}", "id", id->data,
                                                 id->len));
    }

    result = state->element[NGX_RCE_JOBS_RESULT];

    if (result->type != REDIS_REPLY_STRING) {
        return ngx_rce_jobs_state(id, state);
    }

    doc = NULL;

    if (ngx_rce_result_read(result->str, result->len, &res) == NGX_OK
        && res.why == NULL)
    {
        doc = rce_render_v1(res.json,
                  state->element[2]->type == REDIS_REPLY_STRING
                  && ngx_strcmp(state->element[2]->str, RCE_ENCODING_BASE64)
                     == 0,
                  &malformed);
    }

    json_decref(res.json);

    if (doc != NULL) {
        (void) json_object_set_new(doc, "callback",
                                   ngx_rce_jobs_callback(state));
    }

    return doc ? doc
               : ngx_rce_request_refusal(NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "the node's result could not be "
                                         "read",
                                         json_pack("{s:s%}", "id", id->data,
                                                   id->len));
}


/* who asks (its key's name, "" with keys off), in the job's pool */
static ngx_int_t
ngx_rce_jobs_owner(ngx_http_request_t *r, ngx_rce_job_t *job)
{
    ngx_str_t  owner;

    if (ngx_rce_keys_owner(r, &owner) != NGX_OK) {
        return NGX_ERROR;
    }

    if (owner.len == 0) {
        ngx_str_set(&job->owner, "");
        return NGX_OK;
    }

    job->owner.data = ngx_pstrdup(job->pool, &owner);
    job->owner.len = owner.len;

    return (job->owner.data != NULL) ? NGX_OK : NGX_ERROR;
}


static ngx_uint_t
ngx_rce_jobs_valid_id(ngx_str_t *id)
{
    size_t  i;

    if (id->len != NGX_RCE_JOBS_ID_LEN) {
        return 0;
    }

    for (i = 0; i < id->len; i++) {
        if (!((id->data[i] >= '0' && id->data[i] <= '9')
              || (id->data[i] >= 'a' && id->data[i] <= 'f')))
        {
            return 0;
        }
    }

    return 1;
}
