
/*
 * The metrics route, "rce_metrics": GET /metrics in Prometheus' text
 * exposition format (0.0.4).
 *
 * Two sources.  What the gateway counts itself (requests refused, by
 * reason; requests answered, by route and status) lives in a shared memory
 * zone, so that every worker process counts into, and answers from, the same
 * counters; they survive "nginx -s reload" (the zone is kept) and start from
 * zero when nginx starts.  What the worker nodes count (the jobs they
 * answered, their duration histograms, their queues, slots and warm
 * containers) is read from the node JSON of the live nodes in this worker
 * process's node cache (ngx_rce_nodes.c, at most NGX_RCE_NODES_REFRESH plus
 * a heartbeat old): each series carries its node, and a node's restart
 * starts its counters again from zero, as Prometheus counters may.
 */


#include "ngx_rce_module.h"


#define NGX_RCE_METRICS_ZONE_SIZE    (256 * 1024)
#define NGX_RCE_METRICS_STATUS_MIN   100
#define NGX_RCE_METRICS_STATUS_MAX   599
#define NGX_RCE_METRICS_STATUSES     (NGX_RCE_METRICS_STATUS_MAX              \
                                      - NGX_RCE_METRICS_STATUS_MIN + 1)
#define NGX_RCE_METRICS_ROUTES       (NGX_RCE_METRICS + 1)
#define NGX_RCE_METRICS_TYPE         "text/plain; version=0.0.4; charset=utf-8"


/* the reasons of rce_requests_refused_total, by ngx_rce_refusal_e */
static const char  *ngx_rce_metrics_reasons[] = {
    "validation",                /* 400, 411, 415, 422: the request is wrong */
    "not_found",                 /* 404: unknown language, route or job */
    "method",                    /* 405 */
    "too_large",                 /* 413, 414 */
    "auth",                      /* 401, 403 */
    "rate_limit",                /* 429 */
    "backpressure",              /* 503: every queue for it is full */
    "no_node",                   /* 503: no live node (for the language) */
    "redis",                     /* 503: Redis is down or out of memory */
    "unavailable",               /* 503: anything else */
    "other"                      /* any other 4xx */
};

#define NGX_RCE_METRICS_REASONS                                              \
    (sizeof(ngx_rce_metrics_reasons) / sizeof(ngx_rce_metrics_reasons[0]))


/* the route label of rce_http_requests_total, by ngx_rce_handler_e */
static const char  *ngx_rce_metrics_routes[NGX_RCE_METRICS_ROUTES] = {
    NULL,
    "lang",
    "health",
    "api_run",
    "api_languages",
    "api_jobs",
    "error",
    "api_piston",
    "metrics"
};


/* the shared counters: only ever added to, atomically, so no lock */
typedef struct {
    ngx_atomic_t                refused[NGX_RCE_METRICS_REASONS];
    ngx_atomic_t                answered[NGX_RCE_METRICS_ROUTES]
                                        [NGX_RCE_METRICS_STATUSES];
} ngx_rce_metrics_shm_t;


/* the exposition as it is written, growing in the request's pool */
typedef struct {
    ngx_pool_t                 *pool;
    u_char                     *start;
    u_char                     *last;
    u_char                     *end;
    ngx_uint_t                  failed;
} ngx_rce_metrics_text_t;


typedef struct {
    const char                 *name;
    const char                 *value;
} ngx_rce_metrics_label_t;


static ngx_int_t ngx_rce_metrics_init_zone(ngx_shm_zone_t *zone, void *data);
static ngx_int_t ngx_rce_metrics_log(ngx_http_request_t *r);
static ngx_rce_metrics_shm_t *ngx_rce_metrics_shm(ngx_http_request_t *r);
static ngx_uint_t ngx_rce_metrics_reason(ngx_uint_t status,
    const char *message);
static void ngx_rce_metrics_gateway(ngx_rce_metrics_text_t *t,
    ngx_rce_metrics_shm_t *shm);
static void ngx_rce_metrics_nodes(ngx_rce_metrics_text_t *t,
    ngx_rce_worker_t *w);
static void ngx_rce_metrics_jobs(ngx_rce_metrics_text_t *t,
    ngx_rce_node_t *node);
static void ngx_rce_metrics_durations(ngx_rce_metrics_text_t *t,
    ngx_rce_node_t *node);
static void ngx_rce_metrics_histogram(ngx_rce_metrics_text_t *t,
    ngx_rce_metrics_label_t *labels, json_t *h);
static void ngx_rce_metrics_queues(ngx_rce_metrics_text_t *t,
    ngx_rce_node_t *node);
static void ngx_rce_metrics_pool_target(ngx_rce_metrics_text_t *t,
    ngx_rce_node_t *node);
static void ngx_rce_metrics_pool(ngx_rce_metrics_text_t *t,
    ngx_rce_node_t *node);
static void ngx_rce_metrics_node_int(ngx_rce_metrics_text_t *t,
    const char *name, ngx_rce_node_t *node, int64_t value);
static void ngx_rce_metrics_pool_jobs(ngx_rce_metrics_text_t *t,
    ngx_rce_node_t *node);
static void ngx_rce_metrics_family(ngx_rce_metrics_text_t *t,
    const char *name, const char *type, const char *help);
static void ngx_rce_metrics_series(ngx_rce_metrics_text_t *t,
    const char *name, const char *suffix, ngx_rce_metrics_label_t *labels);
static void ngx_rce_metrics_int(ngx_rce_metrics_text_t *t, const char *name,
    ngx_rce_metrics_label_t *labels, int64_t value);
static void ngx_rce_metrics_raw(ngx_rce_metrics_text_t *t, const char *s,
    size_t len);
static void ngx_rce_metrics_escaped(ngx_rce_metrics_text_t *t,
    const char *s);
static u_char *ngx_rce_metrics_seconds(u_char *p, int64_t ms);
static u_char *ngx_rce_metrics_reserve(ngx_rce_metrics_text_t *t, size_t n);


static ngx_str_t  ngx_rce_metrics_zone_name = ngx_string("ngx_rce_metrics");

static const int64_t  ngx_rce_metrics_bounds[RCE_DURATION_BUCKETS] =
    RCE_DURATION_BUCKETS_MS;


/*
 * At the end of the http block, when a location uses the module: the
 * shared zone (kept across reloads: same name, size and tag) and the log
 * phase handler that counts every answer of an rce_* location.
 */
ngx_int_t
ngx_rce_metrics_init(ngx_conf_t *cf, ngx_rce_main_conf_t *rmcf)
{
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_handler_pt        *h;

    rmcf->metrics = ngx_shared_memory_add(cf, &ngx_rce_metrics_zone_name,
                                          NGX_RCE_METRICS_ZONE_SIZE,
                                          &ngx_rce_module);
    if (rmcf->metrics == NULL) {
        return NGX_ERROR;
    }

    rmcf->metrics->init = ngx_rce_metrics_init_zone;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_rce_metrics_log;

    return NGX_OK;
}


static ngx_int_t
ngx_rce_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t        *shpool;
    ngx_rce_metrics_shm_t  *shm;

    if (data != NULL) {
        /* a reload: the old cycle's counters go on */
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    ngx_shmtx_lock(&shpool->mutex);
    shm = ngx_slab_calloc_locked(shpool, sizeof(ngx_rce_metrics_shm_t));
    ngx_shmtx_unlock(&shpool->mutex);

    if (shm == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shm;
    zone->data = shm;

    return NGX_OK;
}


static ngx_rce_metrics_shm_t *
ngx_rce_metrics_shm(ngx_http_request_t *r)
{
    ngx_rce_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_rce_module);

    if (rmcf == NULL || rmcf->metrics == NULL) {
        return NULL;
    }

    return rmcf->metrics->data;
}


/* every answer of an rce_* location, by its route and status */
static ngx_int_t
ngx_rce_metrics_log(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t     *rlcf;
    ngx_rce_metrics_shm_t  *shm;
    ngx_uint_t              status;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    shm = ngx_rce_metrics_shm(r);

    if (rlcf == NULL || shm == NULL || rlcf->handler == NGX_RCE_OFF
        || rlcf->handler >= NGX_RCE_METRICS_ROUTES)
    {
        return NGX_OK;
    }

    status = r->headers_out.status ? r->headers_out.status : r->err_status;

    if (status < NGX_RCE_METRICS_STATUS_MIN
        || status > NGX_RCE_METRICS_STATUS_MAX)
    {
        return NGX_OK;
    }

    (void) ngx_atomic_fetch_add(
        &shm->answered[rlcf->handler][status - NGX_RCE_METRICS_STATUS_MIN],
        1);

    return NGX_OK;
}


/*
 * An error answer (ngx_rce_send_error_body): a refusal, counted by its
 * reason; server errors (500, 504) are not refusals.
 */
void
ngx_rce_metrics_refused(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_rce_metrics_shm_t  *shm;
    ngx_uint_t              reason;

    shm = ngx_rce_metrics_shm(r);

    if (shm == NULL || status < NGX_HTTP_BAD_REQUEST
        || (status >= NGX_HTTP_INTERNAL_SERVER_ERROR
            && status != NGX_HTTP_SERVICE_UNAVAILABLE))
    {
        return;
    }

    reason = ngx_rce_metrics_reason(status, message);

    (void) ngx_atomic_fetch_add(&shm->refused[reason], 1);
}


/* an index of ngx_rce_metrics_reasons */
static ngx_uint_t
ngx_rce_metrics_reason(ngx_uint_t status, const char *message)
{
    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
    case NGX_HTTP_LENGTH_REQUIRED:
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
    case 422:
        return 0;

    case NGX_HTTP_NOT_FOUND:
        return 1;

    case NGX_HTTP_NOT_ALLOWED:
        return 2;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        return 3;

    case NGX_HTTP_UNAUTHORIZED:
    case NGX_HTTP_FORBIDDEN:
        return 4;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return 5;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        if (message == NULL) {
            return 9;
        }

        if (ngx_strcmp(message, NGX_RCE_REFUSAL_FULL) == 0) {
            return 6;
        }

        if (ngx_strstr(message, "no live worker node") != NULL) {
            return 7;
        }

        if (ngx_strstr(message, "redis") != NULL) {
            return 8;
        }

        return 9;

    default:
        return 10;
    }
}


ngx_int_t
ngx_rce_metrics_handler(ngx_http_request_t *r)
{
    ngx_rce_metrics_text_t   t;
    ngx_rce_metrics_shm_t   *shm;
    ngx_rce_worker_t        *w;
    ngx_str_t                body;
    ngx_int_t                rc;

    rc = ngx_rce_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    t.pool = r->pool;
    t.start = NULL;
    t.last = NULL;
    t.end = NULL;
    t.failed = 0;

    w = ngx_rce_worker;
    shm = ngx_rce_metrics_shm(r);

    if (shm != NULL) {
        ngx_rce_metrics_gateway(&t, shm);
    }

    ngx_rce_metrics_family(&t, "rce_redis_up", "gauge",
        "1 while the nginx worker process that answers is connected to "
        "Redis (command and subscriber connections), else 0");
    ngx_rce_metrics_int(&t, "rce_redis_up", NULL,
                        (w != NULL && w->command.connected && w->subscribed)
                        ? 1 : 0);

    if (w != NULL) {
        ngx_rce_metrics_nodes(&t, w);
    }

    if (t.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = t.start;
    body.len = t.last - t.start;

    return ngx_rce_send_bytes(r, NGX_HTTP_OK, NGX_RCE_METRICS_TYPE, &body, 1);
}


/* the counters of the shared zone */
static void
ngx_rce_metrics_gateway(ngx_rce_metrics_text_t *t, ngx_rce_metrics_shm_t *shm)
{
    ngx_rce_metrics_label_t  labels[3];
    ngx_uint_t               i, k;
    ngx_atomic_uint_t        n;
    u_char                   code[NGX_INT_T_LEN + 1];

    ngx_rce_metrics_family(t, "rce_requests_refused_total", "counter",
        "Requests the gateway refused, by reason: validation (400, 411, "
        "415, 422), not_found (404), method (405), too_large (413, 414), "
        "auth (401, 403), rate_limit (429), backpressure (503: every queue "
        "for the language full), no_node (503: no live node for it), redis "
        "(503: Redis down or out of memory), unavailable (other 503s), "
        "other (other 4xx)");

    labels[0].name = "reason";
    labels[1].name = NULL;

    for (i = 0; i < NGX_RCE_METRICS_REASONS; i++) {
        labels[0].value = ngx_rce_metrics_reasons[i];
        ngx_rce_metrics_int(t, "rce_requests_refused_total", labels,
                            (int64_t) shm->refused[i]);
    }

    ngx_rce_metrics_family(t, "rce_http_requests_total", "counter",
        "Requests answered by a location of the module, by route (its "
        "rce_* directive) and HTTP status code");

    labels[0].name = "route";
    labels[1].name = "code";
    labels[1].value = (const char *) code;
    labels[2].name = NULL;

    for (i = 1; i < NGX_RCE_METRICS_ROUTES; i++) {
        labels[0].value = ngx_rce_metrics_routes[i];

        for (k = 0; k < NGX_RCE_METRICS_STATUSES; k++) {
            n = shm->answered[i][k];
            if (n == 0) {
                continue;
            }

            *ngx_sprintf(code, "%ui", k + NGX_RCE_METRICS_STATUS_MIN) = '\0';
            ngx_rce_metrics_int(t, "rce_http_requests_total", labels,
                                (int64_t) n);
        }
    }
}


/* what the live nodes report */
static void
ngx_rce_metrics_nodes(ngx_rce_metrics_text_t *t, ngx_rce_worker_t *w)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;

    node = w->nodes.elts;

    ngx_rce_metrics_family(t, "rce_nodes_live", "gauge",
        "Worker nodes live, as the answering nginx worker process sees "
        "them (a node whose heartbeat stopped stays until it is found dead)");
    ngx_rce_metrics_int(t, "rce_nodes_live", NULL,
                        (int64_t) w->nodes.nelts);

    ngx_rce_metrics_family(t, "rce_jobs_total", "counter",
        "Jobs a live worker node answered since it started, by language and "
        "status (OK, CE, RE, TLE, MLE, OLE, IE, WA, CANCELLED)");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_jobs(t, &node[i]);
    }

    ngx_rce_metrics_family(t, "rce_job_duration_seconds", "histogram",
        "Durations of the jobs a live worker node ran since it started, by "
        "phase: queue (enqueued to taken by a slot), compile (its compile "
        "step), run (its run's wall time)");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_durations(t, &node[i]);
    }

    ngx_rce_metrics_family(t, "rce_queue_length", "gauge",
        "Jobs waiting in a node's lists: priority normal is its queue "
        "(interactive and normal jobs share it), batch its batch list");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_queues(t, &node[i]);
    }

    ngx_rce_metrics_family(t, "rce_running_jobs", "gauge",
        "Jobs a node's slots run now");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_node_int(t, "rce_running_jobs", &node[i],
                                 (int64_t) node[i].busy);
    }

    ngx_rce_metrics_family(t, "rce_node_slots", "gauge",
        "Jobs a node runs at once (its --slots)");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_node_int(t, "rce_node_slots", &node[i],
                                 (int64_t) node[i].slots);
    }

    ngx_rce_metrics_family(t, "rce_node_draining", "gauge",
        "1 while a node drains (SIGTERM: it takes no new job), else 0");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_node_int(t, "rce_node_draining", &node[i],
                                 node[i].draining ? 1 : 0);
    }

    ngx_rce_metrics_family(t, "rce_pool_containers", "gauge",
        "A node's warm containers, by language and state: ready (waiting "
        "for a job), starting, lent (handed to a job, not yet removed)");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_pool(t, &node[i]);
    }

    ngx_rce_metrics_family(t, "rce_pool_target", "gauge",
        "The warm containers a node aims to keep ready, by language: none "
        "for a language nobody asked for lately, more while its jobs find "
        "none ready (the memory budget may hold the pool below it)");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_pool_target(t, &node[i]);
    }

    ngx_rce_metrics_family(t, "rce_pool_jobs_total", "counter",
        "Jobs a node ran since it started, by container: warm (from its "
        "pool), cold (none was ready), custom (cold: the job asked for its "
        "own limits)");

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_metrics_pool_jobs(t, &node[i]);
    }
}


/* one node's gauge, labelled with its name only */
static void
ngx_rce_metrics_node_int(ngx_rce_metrics_text_t *t, const char *name,
    ngx_rce_node_t *node, int64_t value)
{
    ngx_rce_metrics_label_t  labels[] = {
        { "node", NULL }, { NULL, NULL }
    };

    labels[0].value = json_string_value(
                          json_object_get(node->json, RCE_NODE_NAME));

    if (labels[0].value != NULL) {
        ngx_rce_metrics_int(t, name, labels, value);
    }
}


/* rce_pool_jobs_total of one node: its pool's warm, cold, custom */
static void
ngx_rce_metrics_pool_jobs(ngx_rce_metrics_text_t *t, ngx_rce_node_t *node)
{
    ngx_rce_metrics_label_t  labels[] = {
        { "node", NULL }, { "kind", NULL }, { NULL, NULL }
    };
    static const char       *kinds[] = {
        RCE_POOL_WARM, RCE_POOL_COLD, RCE_POOL_CUSTOM
    };
    json_t                  *pool, *n;
    ngx_uint_t               k;

    labels[0].value = json_string_value(
                          json_object_get(node->json, RCE_NODE_NAME));
    pool = json_object_get(node->json, RCE_NODE_POOL);

    if (labels[0].value == NULL) {
        return;
    }

    for (k = 0; k < 3; k++) {
        n = json_object_get(pool, kinds[k]);

        if (json_is_integer(n) && json_integer_value(n) >= 0) {
            labels[1].value = kinds[k];
            ngx_rce_metrics_int(t, "rce_pool_jobs_total", labels,
                                json_integer_value(n));
        }
    }
}


/* rce_jobs_total of one node: "jobs", language -> status -> count */
static void
ngx_rce_metrics_jobs(ngx_rce_metrics_text_t *t, ngx_rce_node_t *node)
{
    ngx_rce_metrics_label_t  labels[] = {
        { "language", NULL }, { "status", NULL }, { "node", NULL },
        { NULL, NULL }
    };
    const char              *language, *status;
    json_t                  *jobs, *by_status, *n;

    labels[2].value = json_string_value(
                          json_object_get(node->json, RCE_NODE_NAME));
    jobs = json_object_get(node->json, RCE_NODE_JOBS);

    if (labels[2].value == NULL || !json_is_object(jobs)) {
        return;
    }

    json_object_foreach(jobs, language, by_status) {
        labels[0].value = language;

        json_object_foreach(by_status, status, n) {
            if (!json_is_integer(n) || json_integer_value(n) < 0) {
                continue;
            }

            labels[1].value = status;
            ngx_rce_metrics_int(t, "rce_jobs_total", labels,
                                json_integer_value(n));
        }
    }
}


/* rce_job_duration_seconds of one node: "durations", language -> phase */
static void
ngx_rce_metrics_durations(ngx_rce_metrics_text_t *t, ngx_rce_node_t *node)
{
    ngx_rce_metrics_label_t  labels[] = {
        { "phase", NULL }, { "language", NULL }, { "node", NULL },
        { "le", NULL }, { NULL, NULL }
    };
    const char              *language, *phase;
    json_t                  *durations, *by_phase, *h;

    labels[2].value = json_string_value(
                          json_object_get(node->json, RCE_NODE_NAME));
    durations = json_object_get(node->json, RCE_NODE_DURATIONS);

    if (labels[2].value == NULL || !json_is_object(durations)) {
        return;
    }

    json_object_foreach(durations, language, by_phase) {
        labels[1].value = language;

        json_object_foreach(by_phase, phase, h) {
            labels[0].value = phase;
            ngx_rce_metrics_histogram(t, labels, h);
        }
    }
}


/*
 * One histogram of the node JSON as Prometheus' _bucket (cumulative, up to
 * le="+Inf", which is the count), _sum and _count; labels[3] is le
 */
static void
ngx_rce_metrics_histogram(ngx_rce_metrics_text_t *t,
    ngx_rce_metrics_label_t *labels, json_t *h)
{
    json_t      *count, *sum, *buckets, *n;
    int64_t      total, below;
    ngx_uint_t   b;
    u_char       le[32], key[NGX_INT64_LEN + 1], *p;

    count = json_object_get(h, RCE_HIST_COUNT);
    sum = json_object_get(h, RCE_HIST_SUM_MS);
    buckets = json_object_get(h, RCE_HIST_BUCKETS);

    if (!json_is_integer(count) || !json_is_integer(sum)
        || json_integer_value(count) < 0 || json_integer_value(sum) < 0)
    {
        return;
    }

    total = json_integer_value(count);
    below = 0;
    labels[3].value = (const char *) le;

    for (b = 0; b < RCE_DURATION_BUCKETS; b++) {
        *ngx_sprintf(key, "%L", ngx_rce_metrics_bounds[b]) = '\0';
        n = json_object_get(buckets, (const char *) key);

        if (json_is_integer(n) && json_integer_value(n) > 0) {
            below += json_integer_value(n);
        }

        /* a report that does not add up still makes a valid histogram */
        if (below > total) {
            below = total;
        }

        *ngx_rce_metrics_seconds(le, ngx_rce_metrics_bounds[b]) = '\0';
        ngx_rce_metrics_int(t, "rce_job_duration_seconds_bucket", labels,
                            below);
    }

    labels[3].value = "+Inf";
    ngx_rce_metrics_int(t, "rce_job_duration_seconds_bucket", labels, total);

    /* _sum and _count have no le */
    labels[3].name = NULL;

    ngx_rce_metrics_series(t, "rce_job_duration_seconds", "_sum", labels);
    p = ngx_rce_metrics_reserve(t, NGX_INT64_LEN + 8);
    if (p != NULL) {
        *p++ = ' ';
        p = ngx_rce_metrics_seconds(p, json_integer_value(sum));
        *p++ = '\n';
        t->last = p;
    }

    ngx_rce_metrics_int(t, "rce_job_duration_seconds_count", labels, total);

    labels[3].name = "le";
}


/* rce_queue_length of one node */
static void
ngx_rce_metrics_queues(ngx_rce_metrics_text_t *t, ngx_rce_node_t *node)
{
    ngx_rce_metrics_label_t  labels[] = {
        { "node", NULL }, { "priority", NULL }, { NULL, NULL }
    };

    labels[0].value = json_string_value(
                          json_object_get(node->json, RCE_NODE_NAME));
    if (labels[0].value == NULL) {
        return;
    }

    labels[1].value = RCE_PRIORITY_NORMAL;
    ngx_rce_metrics_int(t, "rce_queue_length", labels,
                        (int64_t) node->queued);

    labels[1].value = RCE_PRIORITY_BATCH;
    ngx_rce_metrics_int(t, "rce_queue_length", labels,
                        (int64_t) node->batch_queued);
}


/* rce_pool_target of one node: its pool's target, by language */
static void
ngx_rce_metrics_pool_target(ngx_rce_metrics_text_t *t, ngx_rce_node_t *node)
{
    ngx_rce_metrics_label_t  labels[] = {
        { "node", NULL }, { "language", NULL }, { NULL, NULL }
    };
    const char              *language;
    json_t                  *target, *v;

    labels[0].value = json_string_value(
                          json_object_get(node->json, RCE_NODE_NAME));
    target = json_object_get(json_object_get(node->json, RCE_NODE_POOL),
                             RCE_POOL_TARGET);

    if (labels[0].value == NULL || !json_is_object(target)) {
        return;
    }

    json_object_foreach(target, language, v) {
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
            labels[1].value = language;
            ngx_rce_metrics_int(t, "rce_pool_target", labels,
                                json_integer_value(v));
        }
    }
}


/* rce_pool_containers of one node: ready (arrays of ids), starting, lent */
static void
ngx_rce_metrics_pool(ngx_rce_metrics_text_t *t, ngx_rce_node_t *node)
{
    ngx_rce_metrics_label_t  labels[] = {
        { "node", NULL }, { "language", NULL }, { "state", NULL },
        { NULL, NULL }
    };
    static const char       *states[] = {
        RCE_POOL_READY, RCE_POOL_STARTING, RCE_POOL_LENT
    };
    const char              *language;
    json_t                  *pool, *by, *v;
    ngx_uint_t               k;
    int64_t                  n;

    labels[0].value = json_string_value(
                          json_object_get(node->json, RCE_NODE_NAME));
    pool = json_object_get(node->json, RCE_NODE_POOL);

    if (labels[0].value == NULL || !json_is_object(pool)) {
        return;
    }

    for (k = 0; k < 3; k++) {
        by = json_object_get(pool, states[k]);
        labels[2].value = states[k];

        json_object_foreach(by, language, v) {
            if (json_is_array(v)) {
                n = (int64_t) json_array_size(v);

            } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
                n = json_integer_value(v);

            } else {
                continue;
            }

            labels[1].value = language;
            ngx_rce_metrics_int(t, "rce_pool_containers", labels, n);
        }
    }
}


/* "# HELP name help" and "# TYPE name type" (help has no \ or newline) */
static void
ngx_rce_metrics_family(ngx_rce_metrics_text_t *t, const char *name,
    const char *type, const char *help)
{
    ngx_rce_metrics_raw(t, "# HELP ", 7);
    ngx_rce_metrics_raw(t, name, ngx_strlen(name));
    ngx_rce_metrics_raw(t, " ", 1);
    ngx_rce_metrics_raw(t, help, ngx_strlen(help));
    ngx_rce_metrics_raw(t, "\n# TYPE ", 8);
    ngx_rce_metrics_raw(t, name, ngx_strlen(name));
    ngx_rce_metrics_raw(t, " ", 1);
    ngx_rce_metrics_raw(t, type, ngx_strlen(type));
    ngx_rce_metrics_raw(t, "\n", 1);
}


/* name, suffix and {label="value",...} up to the first label with no name */
static void
ngx_rce_metrics_series(ngx_rce_metrics_text_t *t, const char *name,
    const char *suffix, ngx_rce_metrics_label_t *labels)
{
    ngx_uint_t  i;

    ngx_rce_metrics_raw(t, name, ngx_strlen(name));
    ngx_rce_metrics_raw(t, suffix, ngx_strlen(suffix));

    if (labels == NULL || labels[0].name == NULL) {
        return;
    }

    for (i = 0; labels[i].name != NULL; i++) {
        ngx_rce_metrics_raw(t, i ? "," : "{", 1);
        ngx_rce_metrics_raw(t, labels[i].name, ngx_strlen(labels[i].name));
        ngx_rce_metrics_raw(t, "=\"", 2);
        ngx_rce_metrics_escaped(t, labels[i].value);
        ngx_rce_metrics_raw(t, "\"", 1);
    }

    ngx_rce_metrics_raw(t, "}", 1);
}


/* one sample line with an integer value */
static void
ngx_rce_metrics_int(ngx_rce_metrics_text_t *t, const char *name,
    ngx_rce_metrics_label_t *labels, int64_t value)
{
    u_char  *p;

    ngx_rce_metrics_series(t, name, "", labels);

    p = ngx_rce_metrics_reserve(t, NGX_INT64_LEN + 2);
    if (p != NULL) {
        t->last = ngx_sprintf(p, " %L\n", value);
    }
}


static void
ngx_rce_metrics_raw(ngx_rce_metrics_text_t *t, const char *s, size_t len)
{
    u_char  *p;

    p = ngx_rce_metrics_reserve(t, len);
    if (p != NULL) {
        t->last = ngx_cpymem(p, s, len);
    }
}


/* a label value: \ as \\, " as \", a newline as \n (the format's escapes) */
static void
ngx_rce_metrics_escaped(ngx_rce_metrics_text_t *t, const char *s)
{
    size_t   len, i;
    u_char  *p;

    len = ngx_strlen(s);

    p = ngx_rce_metrics_reserve(t, 2 * len);
    if (p == NULL) {
        return;
    }

    for (i = 0; i < len; i++) {
        switch (s[i]) {

        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;

        case '"':
            *p++ = '\\';
            *p++ = '"';
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = s[i];
        }
    }

    t->last = p;
}


/* ms as seconds: 5 is 0.005, 2500 is 2.5, 60000 is 60 */
static u_char *
ngx_rce_metrics_seconds(u_char *p, int64_t ms)
{
    int64_t  frac;

    p = ngx_sprintf(p, "%L", ms / 1000);
    frac = ms % 1000;

    if (frac == 0) {
        return p;
    }

    p = ngx_sprintf(p, ".%03L", frac);

    while (p[-1] == '0') {
        p--;
    }

    return p;
}


/* room for n more bytes at t->last, growing by doubling; NULL: failed */
static u_char *
ngx_rce_metrics_reserve(ngx_rce_metrics_text_t *t, size_t n)
{
    size_t   size, used;
    u_char  *p;

    if (t->failed) {
        return NULL;
    }

    if ((size_t) (t->end - t->last) >= n) {
        return t->last;
    }

    used = t->last - t->start;
    size = t->start ? 2 * (size_t) (t->end - t->start) : 16384;

    while (size - used < n) {
        size *= 2;
    }

    p = ngx_pnalloc(t->pool, size);
    if (p == NULL) {
        t->failed = 1;
        return NULL;
    }

    if (used) {
        ngx_memcpy(p, t->start, used);
    }

    t->start = p;
    t->last = p + used;
    t->end = p + size;

    return t->last;
}
