
/*
 * ngx_rce_module: send code, we will run it.
 *
 * A route (a content handler: /lang, /api/v1) turns a request into a job,
 * chooses the renderer its answer will take, pushes the job onto the Redis
 * list of a live worker node and suspends the request; the result comes back
 * on this worker process's reply channel, is dispatched to the waiting job
 * by id, and the job hands it to its renderer.  Everything runs in nginx's
 * event loop through hiredis' async API: no blocking call is ever made in a
 * worker process.
 *
 * The files, each importing only those below it:
 *
 *     ngx_rce_module.c      directives, configuration, process start/stop
 *     ngx_rce_lang.c        route: POST /lang/<language>
 *     ngx_rce_api.c         routes: POST /api/v1/run, GET /api/v1/languages
 *     ngx_rce_piston.c      routes: Piston's v2 API, /api/v2/
 *     ngx_rce_connect.c     route: Piston's WebSocket, GET /api/v2/connect
 *     ngx_rce_piston_job.c  Piston's execute document, to a job's input or
 *                           to Piston's refusal (execute and connect)
 *     ngx_rce_health.c      route: GET /health
 *     ngx_rce_cors.c        a module of its own: rce_cors, pages of other
 *                           origins (a preaccess handler)
 *     ngx_rce_metrics.c     route: GET /metrics (Prometheus), and the
 *                           gateway's counters in a shared memory zone
 *     ngx_rce_input.c       the /api/v1/run document, checked (no nginx HTTP)
 *     ngx_rce_render_raw.c  renderers: text with X-RCE-* headers, result JSON
 *     ngx_rce_render_v1.c   renderer: the /api/v1/run answer
 *     ngx_rce_piston_input.c  Piston's execute document, checked, and its
 *                           semver selectors (no nginx HTTP)
 *     ngx_rce_render_stream.c  renderers: a running job's events as
 *                           messages, over Server-Sent Events or WebSocket
 *     ngx_rce_render_piston.c  renderer: Piston's execute answer
 *     ngx_rce_sse.c         Server-Sent Events: a chunked response, one
 *                           event at a time
 *     ngx_rce_ws.c          a WebSocket connection: the upgrade, and
 *                           libwslay's framing in nginx's event loop
 *     ngx_rce_result.c      a message off the reply channel, read (no nginx
 *                           HTTP)
 *     ngx_rce_job.c         a job: queued, waited for, answered once
 *     ngx_rce_feed.c        a streamed job's input: rce:input:<id>
 *     ngx_rce_queue.c       a job onto a node's queue, or back out of it
 *     ngx_rce_catalogue.c   what the live nodes offer, as JSON
 *     ngx_rce_nodes.c       the node cache and the choice of a node
 *     ngx_rce_limit.c       per-client quotas in shared memory (429), the
 *                           RateLimit fields, cpu charged per job
 *     ngx_rce_keys.c        API keys: the key file, the access check (401),
 *                           $rce_client, the owner of asynchronous jobs
 *     ngx_rce_keys_file.c   the key file's lines, read (no nginx HTTP)
 *     ngx_rce_http.c        HTTP helpers: bodies, refusals, sending
 *     ngx_rce_redis.c       a hiredis connection in nginx's event loop
 *
 * and, shared with workerd, ../common/rce_render.c: a result's output as its
 * exact bytes, JSON text or base64, and the v1 document (no nginx at all).
 */


#ifndef _NGX_RCE_MODULE_H_INCLUDED_
#define _NGX_RCE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <jansson.h>
#include <wslay/wslay.h>

#include <rce_protocol.h>
#include <rce_render.h>

#include "ngx_rce_result.h"
#include "ngx_rce_input.h"


#define NGX_RCE_RETRY_AFTER          "1"
#define NGX_RCE_REFUSAL_FULL         "every worker queue for this language " \
                                     "is full"      /* backpressure's 503 */
#define NGX_RCE_NODES_REFRESH        500     /* ms between node list reads */
#define NGX_RCE_CONNECT_TIMEOUT      1000    /* ms */
#define NGX_RCE_BACKOFF_MIN          100     /* ms */
#define NGX_RCE_BACKOFF_MAX          1000    /* ms: serve again soon after */

/* a Piston execute document, at most: hex doubles a file, JSON escapes it
 * further */
#define NGX_RCE_PISTON_MAX_BODY(code)  ((code) * 2 + 16384)



typedef struct ngx_rce_redis_s     ngx_rce_redis_t;
typedef struct ngx_rce_job_s       ngx_rce_job_t;
typedef struct ngx_rce_renderer_s  ngx_rce_renderer_t;
typedef struct ngx_rce_ws_s        ngx_rce_ws_t;
typedef struct ngx_rce_stream_s    ngx_rce_stream_t;
typedef struct ngx_rce_keys_s      ngx_rce_keys_t;
typedef struct ngx_rce_limit_s     ngx_rce_limit_t;

typedef void (*ngx_rce_redis_handler_pt)(ngx_rce_redis_t *rr);
typedef ngx_int_t (*ngx_rce_body_pt)(ngx_http_request_t *r, ngx_str_t *body);
typedef void (*ngx_rce_job_queued_pt)(ngx_rce_job_t *job, ngx_uint_t status,
    const char *reason);
typedef void (*ngx_rce_ws_message_pt)(ngx_rce_ws_t *ws, u_char *data,
    size_t len);


/* one hiredis async context living in nginx's event loop, reconnecting */
struct ngx_rce_redis_s {
    redisAsyncContext          *ac;
    ngx_connection_t           *connection;
    ngx_event_t                 timer;       /* connect timeout or backoff */
    ngx_msec_t                  backoff;
    ngx_rce_redis_handler_pt    on_connect;
    ngx_rce_redis_handler_pt    on_disconnect;
    const char                 *role;        /* "command" or "subscriber" */
    ngx_log_t                  *log;
    unsigned                    connected:1;
    unsigned                    stopped:1;
};


typedef struct {
    ngx_str_t                   name;        /* the host part, or the path */
    in_port_t                   port;        /* 0 for a unix socket */
} ngx_rce_redis_addr_t;


typedef struct {
    ngx_rce_redis_addr_t        redis;
    ngx_str_t                   redis_text;  /* as configured, for logs */
    ngx_uint_t                  enabled;     /* a location uses rce_* */
    ngx_shm_zone_t             *metrics;     /* the gateway's counters
                                                (ngx_rce_metrics.c) */
    ngx_int_t                   client_index;  /* $rce_client */
} ngx_rce_main_conf_t;


/* the route a location serves: one directive each */
typedef enum {
    NGX_RCE_OFF = 0,
    NGX_RCE_RUN,                 /* rce_run */
    NGX_RCE_HEALTH,              /* rce_health */
    NGX_RCE_API_RUN,             /* rce_api_run */
    NGX_RCE_API_LANGUAGES,       /* rce_api_languages */
    NGX_RCE_API_JOBS,            /* rce_api_jobs */
    NGX_RCE_ERROR,               /* rce_error */
    NGX_RCE_API_PISTON,          /* rce_api_piston */
    NGX_RCE_METRICS              /* rce_metrics */
} ngx_rce_handler_e;


/* a job's class: a node takes interactive, then normal, then batch jobs */
typedef enum {
    NGX_RCE_PRIORITY_INTERACTIVE = 0,
    NGX_RCE_PRIORITY_NORMAL,
    NGX_RCE_PRIORITY_BATCH
} ngx_rce_priority_e;


typedef enum {
    NGX_RCE_LEAST_LOADED = 0,
    NGX_RCE_ROUND_ROBIN
} ngx_rce_balance_e;


typedef struct {
    ngx_uint_t                  handler;     /* ngx_rce_handler_e */
    ngx_uint_t                  balance;     /* ngx_rce_balance_e */
    ngx_msec_t                  timeout;
    size_t                      max_code_size;
    ngx_int_t                   max_files;
    ngx_int_t                   max_tests;   /* judge mode: 0 is off */
    ngx_msec_t                  tests_timeout;  /* the wait for a job with tests */
    ngx_msec_t                  wall_limit;
    ngx_msec_t                  compile_limit;  /* the most a Piston request
                                                   may ask of the compile
                                                   step, wall and cpu */
    size_t                      memory_limit;
    ngx_int_t                   pids_limit;
    size_t                      output_limit;
    size_t                      stream_buffer;  /* what a streaming client
                                                   may leave unread */
    time_t                      result_ttl;  /* an asynchronous job's result */
    ngx_msec_t                  jobs_timeout;   /* an asynchronous job's
                                                   deadline */
    ngx_msec_t                  max_wait;    /* a long poll, at most */
    ngx_int_t                   max_batch;   /* jobs in one POST, ids in one
                                                GET */
    ngx_rce_keys_t             *keys;        /* rce_api_keys; NULL: off */
    ngx_rce_limit_t            *limit;       /* rce_limit; NULL: off */
} ngx_rce_loc_conf_t;


/* a live worker node as last read from rce:node:<name> */
typedef struct {
    ngx_str_t                   name;
    json_t                     *json;        /* the node JSON, for /health */
    json_t                     *aliases;     /* borrowed from json */
    json_t                     *languages;   /* borrowed from json */
    ngx_uint_t                  slots;
    ngx_uint_t                  load;        /* busy + queued, as reported */
    ngx_uint_t                  queued;      /* as reported */
    ngx_uint_t                  busy;        /* as reported */
    ngx_uint_t                  queue_max;   /* 0: no bound */
    ngx_uint_t                  batch_queued;  /* its batch list, as reported */
    ngx_uint_t                  batch_max;   /* 0: no bound */
    ngx_uint_t                  sent;        /* jobs we pushed since */
    json_int_t                  beat;        /* which heartbeat the report is */
    json_int_t                  epoch;       /* the node's epoch, as reported */
    rce_liveness_t              live;        /* its beat as this worker saw it */
    unsigned                    draining:1;
    unsigned                    silent:1;    /* its key is gone: kept until
                                                the liveness rule says dead */
} ngx_rce_node_t;


/* one request's job: lives in its own pool, may outlive the request */
struct ngx_rce_job_s {
    ngx_str_node_t              sn;          /* in worker.jobs, key = id */
    ngx_pool_t                 *pool;
    ngx_http_request_t         *request;     /* NULL once answered or gone */
    ngx_http_cleanup_t         *cleanup;
    ngx_event_t                 timeout;
    ngx_msec_t                  wait;        /* rce_timeout, or rce_tests_timeout */
    ngx_str_t                   id;
    ngx_str_t                   language;
    ngx_str_t                   node;
    ngx_str_t                   queue;       /* the list it is pushed on:
                                                rce:queue:<node>, or
                                                rce:batch:<node> */
    ngx_str_t                   other;       /* the other of the two */
    redisCallbackFn            *pushed;      /* the push's answer goes on to */
    ngx_uint_t                  balance;     /* ngx_rce_balance_e */
    ngx_uint_t                  priority;    /* ngx_rce_priority_e */
    ngx_uint_t                  pushes;
    char                       *json;        /* job JSON as pushed */
    size_t                      json_len;
    ngx_rce_renderer_t         *renderer;    /* chosen by the route */
    ngx_rce_job_queued_pt       queued;      /* an asynchronous job: told
                                                how its push went */
    void                       *data;        /* the route's, for queued */
    time_t                      result_ttl;  /* an asynchronous job's */
    ngx_str_t                   callback_url;  /* an asynchronous job's, if
                                                  any: kept in its state */
    json_int_t                  deadline;    /* ms since the epoch */
    json_int_t                  seq;         /* a streamed job's next event */
    ngx_str_t                   owner;       /* an asynchronous job's key
                                                name ("" with keys off): who
                                                submitted it, or who asks */
    ngx_rce_limit_t            *limit;       /* its cpu is charged there */
    ngx_str_t                   client;      /* ... to this client */
    unsigned                    waiting:1;   /* in worker.jobs, or in
                                                worker.watchers */
    unsigned                    push_pending:1;
    unsigned                    command_pending:1;  /* a watcher's Redis
                                                       command holds it */
    unsigned                    async:1;     /* no request waits for it */
    unsigned                    watcher:1;   /* waits for an asynchronous
                                                job it did not submit */
    unsigned                    stream:1;    /* its events come as it runs,
                                                its input is rce:input:<id> */
    unsigned                    held:1;      /* a watcher whose job Redis
                                                has not yet shown it may
                                                see: results wait */
    unsigned                    missed:1;    /* ... and one came meanwhile */
};


/*
 * How a job's answer reaches its client, chosen by the route that creates
 * the job.  The job calls one of these, once, while its request is there:
 * send_result with the node's result (parsed),
 * or send_error when no result will come (id is NULL before the job was
 * queued).  Both return what the request is finalized with; send_result
 * returns NGX_DECLINED, having sent nothing, for a result whose output is
 * malformed, and the job answers IE instead.  A streaming renderer also
 * has send_event, called with each event of the running job (RCE_EVENT_*,
 * in order, seq checked) before its result: NGX_OK, NGX_ERROR when the
 * client cannot be written to, or NGX_DONE when it is too slow and the
 * renderer's close is under way (the job is then stopped; the request is
 * finalized with NGX_ERROR, or NGX_DONE).  A WebSocket
 * renderer returns NGX_DONE from the other two: the connection ends when
 * its close handshake does, not with the job.  Renderers use the HTTP
 * helpers, nothing of the routes.
 */
struct ngx_rce_renderer_s {
    const char                 *name;
    ngx_int_t                 (*send_result)(ngx_http_request_t *r,
                                  ngx_rce_job_t *job, json_t *result);
    ngx_int_t                 (*send_error)(ngx_http_request_t *r,
                                  ngx_str_t *id, ngx_uint_t status,
                                  const char *reason);
    ngx_int_t                 (*send_event)(ngx_http_request_t *r,
                                  ngx_rce_job_t *job, json_t *event);
};


/* a WebSocket connection (ngx_rce_ws.c), the upgraded request's */
struct ngx_rce_ws_s {
    ngx_http_request_t         *request;
    wslay_event_context_ptr     ctx;
    ngx_rce_ws_message_pt       on_message;  /* each text or binary message */
    void                       *data;        /* the route's */
    ngx_event_t                 timer;       /* the close handshake's end */
    ngx_uint_t                  close_code;  /* ours, once closing */
    const char                 *close_reason;  /* a static text */
    unsigned                    closing:1;   /* our close is decided: it
                                                goes after what is queued */
    unsigned                    close_queued:1;
    unsigned                    finished:1;  /* the request is finalized */
    unsigned                    posted:1;    /* a write is posted */
};


/*
 * A streamed job's request, its module context: where its messages go (a
 * WebSocket, or Server-Sent Events), where its input goes, and what of the
 * stream has been sent
 */
struct ngx_rce_stream_s {
    ngx_rce_ws_t               *ws;          /* NULL: Server-Sent Events */
    ngx_str_t                   id;          /* the job's, once queued */
    json_int_t                  deadline;    /* ms: rce:input:<id> expires */
    ngx_str_t                   language;    /* for the runtime message */
    ngx_str_t                   version;
    ngx_uint_t                  stage;       /* 0, or the last begun:
                                                NGX_RCE_STAGE_* */
    unsigned                    started:1;   /* the runtime message is sent */
    unsigned                    ended:1;     /* exit or error is sent */
    unsigned                    attached:1;  /* a job holds the request */
    unsigned                    refused:1;   /* its job was refused */
    unsigned                    base64:1;    /* SSE: the result in base64 */
    unsigned                    text:1;      /* output that is not UTF-8 as
                                                text (U+FFFD), not base64 */
    ngx_chain_t                *sse_busy;    /* SSE: events given to the
                                                filters, until sent */
    ngx_chain_t                *sse_tail;    /* SSE: the last busy */
    ngx_chain_t                *sse_free;    /* SSE: their bufs, sent */
    size_t                      unsent;      /* SSE: the busy events' bytes */
};


#define NGX_RCE_STAGE_COMPILE   1
#define NGX_RCE_STAGE_RUN       2
/* an asynchronous job this worker queued, whose cpu its result will bring */
typedef struct {
    ngx_str_node_t              sn;          /* in worker.charges, key = id */
    ngx_event_t                 timer;       /* no result: forget it */
    ngx_rce_limit_t            *limit;
    ngx_str_t                   client;
} ngx_rce_job_charge_t;


/* everything one nginx worker process owns */
typedef struct ngx_rce_worker_s {
    ngx_cycle_t                *cycle;
    ngx_log_t                  *log;
    ngx_rce_main_conf_t        *conf;
    ngx_rce_redis_t             command;
    ngx_rce_redis_t             subscriber;
    ngx_event_t                 refresh;
    void                      (*on_nodes)(struct ngx_rce_worker_s *w);
                                             /* after each refresh */
    ngx_rbtree_t                jobs;
    ngx_rbtree_node_t           sentinel;
    ngx_rbtree_t                watchers;    /* requests waiting for an
                                                asynchronous job, by id */
    ngx_rbtree_node_t           watchers_sentinel;
    ngx_rbtree_t                charges;     /* ngx_rce_job_charge_t */
    ngx_rbtree_node_t           charges_sentinel;
    ngx_array_t                 nodes;       /* ngx_rce_node_t */
    ngx_pool_t                 *nodes_pool;
    json_t                     *seen;        /* alias -> name, ever offered */
    ngx_uint_t                  nodes_known; /* a refresh has completed */
    ngx_uint_t                  next_node;   /* round-robin tie breaker */
    ngx_msec_t                  nodes_time;  /* when the list was read */
    ngx_msec_t                  refresh_sent;
    ngx_msec_t                  refresh_previous; /* last refresh answered,
                                                     0: the last one failed */
    char                      **mget_argv;   /* the refresh's MGET: its keys
                                                name the nodes of its reply */
    size_t                     *mget_lens;
    size_t                      mget_n;
    ngx_str_t                   reply_channel;
    u_char                      id_prefix[16];
    unsigned                    subscribed:1;
    unsigned                    refreshing:1;
    unsigned                    exiting:1;
} ngx_rce_worker_t;


extern ngx_module_t       ngx_rce_module;
extern ngx_rce_worker_t  *ngx_rce_worker;


/* ngx_rce_keys.c */
char *ngx_rce_keys_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_rce_keys_add_variable(ngx_conf_t *cf);
ngx_int_t ngx_rce_keys_init(ngx_conf_t *cf);
ngx_int_t ngx_rce_keys_access_handler(ngx_http_request_t *r);
ngx_int_t ngx_rce_keys_client(ngx_http_request_t *r, ngx_str_t *client);
ngx_int_t ngx_rce_keys_owner(ngx_http_request_t *r, ngx_str_t *owner);

/* ngx_rce_limit.c */
char *ngx_rce_limit_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_rce_limit_access_handler(ngx_http_request_t *r);
void ngx_rce_limit_charge(ngx_rce_limit_t *limit, ngx_str_t *client,
    json_t *result, ngx_log_t *log);
ngx_uint_t ngx_rce_limit_counts_cpu(ngx_rce_limit_t *limit);

/* ngx_rce_redis.c */
ngx_int_t ngx_rce_redis_start(ngx_rce_redis_t *rr);
void ngx_rce_redis_stop(ngx_rce_redis_t *rr);

/* ngx_rce_http.c */

/* what a renderer returns when rce_render_*() fail (rce_render.h):
 * NGX_DECLINED for a malformed result (the job answers IE), else a 500 */
ngx_int_t ngx_rce_render_failed(ngx_uint_t malformed);
ngx_int_t ngx_rce_read_body(ngx_http_request_t *r, ngx_str_t *body);
void ngx_rce_body_run(ngx_http_request_t *r, ngx_rce_body_pt run);
ngx_int_t ngx_rce_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, json_t *extra);
ngx_int_t ngx_rce_not_allowed(ngx_http_request_t *r, const char *allow,
    const char *message);
ngx_int_t ngx_rce_get_only(ngx_http_request_t *r);
ngx_int_t ngx_rce_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *body);
ngx_int_t ngx_rce_send_bytes(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_str_t *parts, ngx_uint_t n);
ngx_int_t ngx_rce_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, json_t *extra);
ngx_int_t ngx_rce_send_error_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, json_t *body);
ngx_int_t ngx_rce_send_job_error(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t status, const char *reason);
ngx_int_t ngx_rce_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value);
ngx_int_t ngx_rce_add_header_json(ngx_http_request_t *r, const char *key,
    json_t *value);
ngx_int_t ngx_rce_add_retry_after(ngx_http_request_t *r);
ngx_table_elt_t *ngx_rce_header_in(ngx_http_request_t *r, const char *name);
ngx_uint_t ngx_rce_list_next(u_char **pos, u_char *last, ngx_str_t *item);
ngx_uint_t ngx_rce_accepts(ngx_http_request_t *r, const char *type);
void ngx_rce_finish(ngx_http_request_t *r, ngx_int_t rc);

/* ngx_rce_nodes.c */
void ngx_rce_nodes_refresh(ngx_event_t *ev);
void ngx_rce_nodes_free(ngx_rce_worker_t *w);
void ngx_rce_nodes_forget(ngx_rce_worker_t *w, ngx_str_t *name);
ngx_int_t ngx_rce_nodes_resolve(ngx_rce_worker_t *w, ngx_str_t *name,
    ngx_str_t *canonical);
ngx_int_t ngx_rce_nodes_choose(ngx_rce_worker_t *w, ngx_str_t *language,
    ngx_uint_t balance, ngx_uint_t priority, ngx_rce_node_t **chosen);

/* ngx_rce_catalogue.c */
json_t *ngx_rce_catalogue_names(ngx_rce_worker_t *w);
json_t *ngx_rce_catalogue_versions(ngx_rce_worker_t *w, ngx_str_t *language);
ngx_int_t ngx_rce_catalogue_callback(ngx_rce_worker_t *w, ngx_log_t *log,
    const char *host);
json_t *ngx_rce_catalogue_languages(ngx_rce_worker_t *w);
json_t *ngx_rce_catalogue_unknown(ngx_rce_worker_t *w, ngx_str_t *name);
json_t *ngx_rce_catalogue_health(ngx_rce_worker_t *w);

/* ngx_rce_job.c */
const char *ngx_rce_job_unavailable(void);
ngx_int_t ngx_rce_job_submit(ngx_http_request_t *r, ngx_str_t *language,
    json_t *input, ngx_rce_renderer_t *renderer);
ngx_int_t ngx_rce_job_submit_stream(ngx_http_request_t *r,
    ngx_str_t *language, json_t *input, ngx_rce_renderer_t *renderer,
    ngx_rce_stream_t *st);
ngx_int_t ngx_rce_job_enqueue(ngx_http_request_t *r, ngx_str_t *language,
    json_t *input, ngx_uint_t base64, ngx_rce_job_queued_pt queued,
    void *data, const char **refusal);
ngx_rce_job_t *ngx_rce_job_watch(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t listen);
void ngx_rce_job_deliver(ngx_rce_job_t *job, json_t *json, const char *why);
void ngx_rce_job_answer(ngx_rce_job_t *job, ngx_uint_t status,
    const char *reason);
void ngx_rce_job_release(ngx_rce_job_t *job);
void ngx_rce_job_respond(ngx_rce_job_t *job, ngx_uint_t status, json_t *body);
void ngx_rce_job_subscribe(ngx_rce_redis_t *rr);
void ngx_rce_job_orphans(ngx_rce_worker_t *w);
void ngx_rce_job_fail_all(ngx_rce_worker_t *w, ngx_uint_t status,
    const char *reason);
void ngx_rce_job_stop_streams(ngx_rce_worker_t *w);
void ngx_rce_job_charges_free(ngx_rce_worker_t *w);

/* ngx_rce_feed.c */
ngx_int_t ngx_rce_feed_push(ngx_str_t *id, json_int_t deadline,
    json_t *entry);
void ngx_rce_feed_stop(ngx_rce_job_t *job);
void ngx_rce_feed_flush(ngx_rce_worker_t *w);

/* ngx_rce_queue.c */
ngx_int_t ngx_rce_queue_push(ngx_rce_job_t *job, redisCallbackFn *pushed);
void ngx_rce_queue_cancel(ngx_rce_job_t *job);

/* ngx_rce_request.c */
json_t *ngx_rce_request_input(ngx_http_request_t *r, json_t *req,
    ngx_uint_t async, ngx_str_t *language, json_t **input,
    ngx_uint_t *base64);
json_t *ngx_rce_request_refusal(ngx_uint_t status, const char *message,
    json_t *extra);
json_t *ngx_rce_request_input_error(ngx_rce_input_error_t *err);
ngx_int_t ngx_rce_request_refuse(ngx_http_request_t *r, json_t *refusal);

/* ngx_rce_piston_job.c */
json_t *ngx_rce_piston_document(ngx_http_request_t *r, json_t *req,
    ngx_str_t *language, json_t **version, json_t **input,
    ngx_uint_t *status);
json_t *ngx_rce_piston_refusal(ngx_rce_input_error_t *err,
    ngx_uint_t *status);

/* ngx_rce_store.c */
ngx_int_t ngx_rce_store_poll(ngx_rce_job_t *job, ngx_str_t *ids, ngx_uint_t n,
    redisCallbackFn *done);
ngx_int_t ngx_rce_store_cancel(ngx_rce_job_t *job, time_t ttl,
    redisCallbackFn *done);

/* ngx_rce_ws.c */
ngx_rce_ws_t *ngx_rce_ws_upgrade(ngx_http_request_t *r,
    ngx_rce_ws_message_pt on_message, void *data, size_t max_message,
    const char **why);
void ngx_rce_ws_attach(ngx_rce_ws_t *ws);
ngx_int_t ngx_rce_ws_send(ngx_rce_ws_t *ws, json_t *message);
void ngx_rce_ws_close(ngx_rce_ws_t *ws, ngx_uint_t code, const char *reason);

/* ngx_rce_sse.c */
ngx_int_t ngx_rce_sse_start(ngx_http_request_t *r);
ngx_int_t ngx_rce_sse_send(ngx_http_request_t *r, const char *type,
    json_t *data, ngx_uint_t last);

/* ngx_rce_render_raw.c, ngx_rce_render_v1.c, ngx_rce_render_piston.c,
 * ngx_rce_render_stream.c */
extern ngx_rce_renderer_t  ngx_rce_render_text;
extern ngx_rce_renderer_t  ngx_rce_render_result;
extern ngx_rce_renderer_t  ngx_rce_render_v1;
extern ngx_rce_renderer_t  ngx_rce_render_v1_base64;
extern ngx_rce_renderer_t  ngx_rce_render_piston;
extern ngx_rce_renderer_t  ngx_rce_render_sse;
extern ngx_rce_renderer_t  ngx_rce_render_ws;

/* Piston's names of signals 1..31, by number (0: NULL) */
#define NGX_RCE_PISTON_SIGNALS  32
extern const char  *ngx_rce_piston_signals[NGX_RCE_PISTON_SIGNALS];

json_t *ngx_rce_render_piston_answer(json_t *res, ngx_int_t *rc);
json_t *ngx_rce_render_piston_ended(json_t *res, ngx_uint_t compile,
    ngx_int_t *rc);
ngx_rce_stream_t *ngx_rce_render_stream_ctx(ngx_http_request_t *r,
    ngx_rce_ws_t *ws, size_t size);
ngx_int_t ngx_rce_render_stream_runtime(ngx_http_request_t *r,
    ngx_rce_stream_t *st);
void ngx_rce_render_stream_error(ngx_http_request_t *r,
    ngx_rce_stream_t *st, ngx_uint_t code, const char *message);

/* the routes: ngx_rce_lang.c, ngx_rce_api.c, ngx_rce_jobs.c,
 * ngx_rce_piston.c, ngx_rce_health.c */
ngx_int_t ngx_rce_lang_handler(ngx_http_request_t *r);
ngx_int_t ngx_rce_api_run_handler(ngx_http_request_t *r);
ngx_int_t ngx_rce_api_languages_handler(ngx_http_request_t *r);
ngx_int_t ngx_rce_jobs_handler(ngx_http_request_t *r);
ngx_int_t ngx_rce_piston_handler(ngx_http_request_t *r);
ngx_int_t ngx_rce_connect_handler(ngx_http_request_t *r);
ngx_int_t ngx_rce_health_handler(ngx_http_request_t *r);

/* ngx_rce_error.c */
ngx_int_t ngx_rce_error_handler(ngx_http_request_t *r);

/* ngx_rce_metrics.c */
ngx_int_t ngx_rce_metrics_init(ngx_conf_t *cf, ngx_rce_main_conf_t *rmcf);
void ngx_rce_metrics_refused(ngx_http_request_t *r, ngx_uint_t status,
    const char *message);
ngx_int_t ngx_rce_metrics_handler(ngx_http_request_t *r);


#endif /* _NGX_RCE_MODULE_H_INCLUDED_ */
