
/*
 * Per-client quotas, "rce_limit" (http, server, location):
 *
 *     rce_limit zone=<name>:<size> requests=<n>/<window>
 *               [cpu=<seconds>/<window>];
 *     rce_limit off;
 *
 * counted by $rce_client (the key's name, or the address with keys off) in
 * a shared memory zone, so every nginx worker process counts against the
 * same numbers, and a reload keeps them (same name and size).  Each window
 * is fixed: it begins with the client's first request after the last one
 * ended.  A request is counted in the access phase, after the key check;
 * the cpu of a job (its compile, run or tests, as the node measured it) is
 * charged when its result reaches its request.  A client whose requests or
 * cpu-seconds are used up gets 429 with Retry-After (the seconds until the
 * window that is used up ends) and the limit's name in the JSON body.
 *
 * Every answer that passed the key check carries the quota in the fields of
 * draft-ietf-httpapi-ratelimit-headers-12:
 *
 *     RateLimit-Policy: "<zone>";q=<n>;w=<window>
 *                       [, "<zone>-cpu";q=<s>;w=<w>;rce-unit="cpu-seconds"]
 *     RateLimit: "<zone>";r=<left>;t=<seconds to reset>
 *                [, "<zone>-cpu";r=<left>;t=<seconds to reset>]
 */


#include "ngx_rce_module.h"


#define NGX_RCE_LIMIT_EXPIRE     2       /* idle entries freed per new one */


/* one rce_limit: its zone and what it allows */
struct ngx_rce_limit_s {
    ngx_str_t                   name;        /* the zone's */
    ngx_shm_zone_t             *zone;
    ngx_uint_t                  requests;
    time_t                      requests_window;   /* s */
    uint64_t                    cpu_ms;      /* 0: no cpu quota */
    time_t                      cpu_window;  /* s */
    ngx_str_t                   policy;      /* RateLimit-Policy's value */
};


/* a client's counts */
typedef struct {
    ngx_rbtree_node_t           node;        /* key: crc32 of the name */
    ngx_queue_t                 queue;       /* least recently used last */
    ngx_msec_t                  requests_start;
    ngx_msec_t                  cpu_start;
    ngx_uint_t                  requests;
    uint64_t                    cpu_ms;
    u_short                     len;
    u_char                      data[1];
} ngx_rce_limit_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
} ngx_rce_limit_shctx_t;


/* the zone's data: its shared part, and the policy it was defined with */
typedef struct {
    ngx_rce_limit_shctx_t      *sh;
    ngx_slab_pool_t            *shpool;
    ngx_rce_limit_t            *policy;
} ngx_rce_limit_zone_t;


/* what one look at a client's counts found */
typedef struct {
    ngx_uint_t                  requests_left;
    time_t                      requests_reset;
    uint64_t                    cpu_left_ms;
    time_t                      cpu_reset;
    unsigned                    refused_requests:1;
    unsigned                    refused_cpu:1;
} ngx_rce_limit_state_t;


static char *ngx_rce_limit_rate(ngx_conf_t *cf, ngx_str_t *value,
    size_t skip, ngx_uint_t *n, time_t *window);
static ngx_int_t ngx_rce_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_rce_limit_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_rce_limit_node_t *ngx_rce_limit_lookup(ngx_rce_limit_zone_t *z,
    ngx_str_t *client, ngx_log_t *log);
static void ngx_rce_limit_expire(ngx_rce_limit_zone_t *z, ngx_uint_t n,
    ngx_uint_t force);
static void ngx_rce_limit_roll(ngx_rce_limit_t *limit,
    ngx_rce_limit_node_t *ln, ngx_msec_t now);
static ngx_uint_t ngx_rce_limit_ended(ngx_msec_t start, time_t window,
    ngx_msec_t now);
static time_t ngx_rce_limit_reset(ngx_msec_t start, time_t window,
    ngx_msec_t now);
static ngx_int_t ngx_rce_limit_headers(ngx_http_request_t *r,
    ngx_rce_limit_t *limit, ngx_rce_limit_state_t *st);


/* rce_limit zone=<name>:<size> requests=<n>/<window> [cpu=<s>/<window>] */
char *
ngx_rce_limit_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rce_loc_conf_t  *rlcf = conf;

    ngx_str_t             *value, name, s;
    ngx_rce_limit_t       *limit;
    ngx_rce_limit_zone_t  *z;
    ngx_uint_t             i, cpu;
    ssize_t                size;
    u_char                *p, *colon;
    char                  *rv;

    if (rlcf->limit != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        rlcf->limit = NULL;
        return NGX_CONF_OK;
    }

    limit = ngx_pcalloc(cf->pool, sizeof(ngx_rce_limit_t));
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    size = 0;
    ngx_str_null(&name);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            colon = (u_char *) ngx_strchr(name.data, ':');

            if (colon == NULL) {
                return "needs zone=<name>:<size>";
            }

            name.len = colon - name.data;

            s.data = colon + 1;
            s.len = value[i].data + value[i].len - s.data;
            size = ngx_parse_size(&s);

            if (name.len == 0 || size == NGX_ERROR
                || size < (ssize_t) (8 * ngx_pagesize))
            {
                return "needs zone=<name>:<size>, a size of at least 32k";
            }

            /* the module's own zones (ngx_rce_metrics) share its tag */
            if (name.len >= 8 && ngx_strncmp(name.data, "ngx_rce_", 8) == 0) {
                return "needs a zone name that does not begin with "
                       "\"ngx_rce_\" (the module's own zones)";
            }

            for (p = name.data; p < colon; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9') || *p == '_'
                      || *p == '-'))
                {
                    return "has a zone name other than letters, digits, "
                           "'_' and '-'";
                }
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "requests=", 9) == 0) {
            rv = ngx_rce_limit_rate(cf, &value[i], 9, &limit->requests,
                                    &limit->requests_window);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "cpu=", 4) == 0) {
            rv = ngx_rce_limit_rate(cf, &value[i], 4, &cpu,
                                    &limit->cpu_window);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            limit->cpu_ms = (uint64_t) cpu * 1000;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"rce_limit\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0 || limit->requests == 0) {
        return "needs zone=<name>:<size> and requests=<n>/<window>";
    }

    limit->name = name;

    /* what every answer says of the policy, made once */
    p = ngx_pnalloc(cf->pool, 2 * name.len + 2 * NGX_INT_T_LEN
                              + 2 * NGX_TIME_T_LEN + 64);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    limit->policy.data = p;
    p = ngx_sprintf(p, "\"%V\";q=%ui;w=%T", &name, limit->requests,
                    limit->requests_window);

    if (limit->cpu_ms) {
        p = ngx_sprintf(p, ", \"%V-cpu\";q=%uL;w=%T;rce-unit=\"cpu-seconds\"",
                        &name, limit->cpu_ms / 1000, limit->cpu_window);
    }

    limit->policy.len = p - limit->policy.data;

    limit->zone = ngx_shared_memory_add(cf, &name, size, &ngx_rce_module);
    if (limit->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    z = limit->zone->data;

    if (z != NULL) {
        /* the zone is defined already: it must count the same way */
        if (z->policy->requests != limit->requests
            || z->policy->requests_window != limit->requests_window
            || z->policy->cpu_ms != limit->cpu_ms
            || z->policy->cpu_window != limit->cpu_window)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"rce_limit\" zone \"%V\" is already used "
                               "with other limits", &name);
            return NGX_CONF_ERROR;
        }

    } else {
        z = ngx_pcalloc(cf->pool, sizeof(ngx_rce_limit_zone_t));
        if (z == NULL) {
            return NGX_CONF_ERROR;
        }

        z->policy = limit;
        limit->zone->init = ngx_rce_limit_init_zone;
        limit->zone->data = z;
    }

    rlcf->limit = limit;

    return NGX_CONF_OK;
}


/* "<n>/<window>" after skip bytes of value: n > 0, window 1s to 30d */
static char *
ngx_rce_limit_rate(ngx_conf_t *cf, ngx_str_t *value, size_t skip,
    ngx_uint_t *n, time_t *window)
{
    u_char     *slash, *start, *last;
    ngx_int_t   count;
    ngx_str_t   w;

    start = value->data + skip;
    last = value->data + value->len;
    slash = ngx_strlchr(start, last, '/');

    if (slash == NULL) {
        goto invalid;
    }

    count = ngx_atoi(start, slash - start);

    w.data = slash + 1;
    w.len = last - w.data;
    *window = ngx_parse_time(&w, 1);

    if (count == NGX_ERROR || count == 0 || *window == (time_t) NGX_ERROR
        || *window < 1 || *window > 30 * 86400)
    {
        goto invalid;
    }

    *n = count;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\" in \"rce_limit\": a number above 0, "
                       "'/', a window of 1s to 30d (e.g. 100/1m)", value);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_rce_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_rce_limit_zone_t  *old = data;
    ngx_rce_limit_zone_t  *z;
    size_t                 len;

    z = shm_zone->data;

    if (old != NULL) {
        /* a reload: the counts go on */
        z->sh = old->sh;
        z->shpool = old->shpool;
        return NGX_OK;
    }

    z->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        z->sh = z->shpool->data;
        return NGX_OK;
    }

    z->sh = ngx_slab_alloc(z->shpool, sizeof(ngx_rce_limit_shctx_t));
    if (z->sh == NULL) {
        return NGX_ERROR;
    }

    z->shpool->data = z->sh;

    ngx_rbtree_init(&z->sh->rbtree, &z->sh->sentinel,
                    ngx_rce_limit_rbtree_insert);
    ngx_queue_init(&z->sh->queue);

    len = sizeof(" in rce_limit zone \"\"") + shm_zone->shm.name.len;

    z->shpool->log_ctx = ngx_slab_alloc(z->shpool, len);
    if (z->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(z->shpool->log_ctx, " in rce_limit zone \"%V\"%Z",
                &shm_zone->shm.name);

    z->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_rce_limit_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t     **p;
    ngx_rce_limit_node_t   *ln, *lnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            ln = (ngx_rce_limit_node_t *) node;
            lnt = (ngx_rce_limit_node_t *) temp;

            p = (ngx_memn2cmp(ln->data, lnt->data, ln->len, lnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* the access phase, after the key check: count r, or refuse it (429) */
ngx_int_t
ngx_rce_limit_access_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t     *rlcf;
    ngx_rce_limit_t        *limit;
    ngx_rce_limit_zone_t   *z;
    ngx_rce_limit_node_t   *ln;
    ngx_rce_limit_state_t   st;
    ngx_str_t               client, value;
    ngx_msec_t              now;
    time_t                  retry;
    ngx_int_t               rc;
    u_char                 *p;
    json_t                 *extra;
    const char             *message;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    limit = rlcf->limit;

    if (limit == NULL || rlcf->handler == NGX_RCE_OFF
        || rlcf->handler == NGX_RCE_ERROR || r != r->main)
    {
        return NGX_DECLINED;
    }

    if (ngx_rce_keys_client(r, &client) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    z = limit->zone->data;
    now = ngx_current_msec;

    ngx_memzero(&st, sizeof(ngx_rce_limit_state_t));

    ngx_shmtx_lock(&z->shpool->mutex);

    ln = ngx_rce_limit_lookup(z, &client, r->connection->log);

    if (ln == NULL) {
        ngx_shmtx_unlock(&z->shpool->mutex);

        /* a zone too small to count this client: serve it uncounted */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "rce: rce_limit zone \"%V\" is full: \"%V\" is not "
                      "counted", &limit->name, &client);
        return NGX_DECLINED;
    }

    ngx_rce_limit_roll(limit, ln, now);

    if (ln->requests >= limit->requests) {
        st.refused_requests = 1;
    }

    if (limit->cpu_ms && ln->cpu_ms >= limit->cpu_ms) {
        st.refused_cpu = 1;
    }

    if (!st.refused_requests && !st.refused_cpu) {
        ln->requests++;
    }

    st.requests_left = limit->requests - ngx_min(ln->requests,
                                                 limit->requests);
    st.requests_reset = ngx_rce_limit_reset(ln->requests_start,
                                            limit->requests_window, now);

    if (limit->cpu_ms) {
        st.cpu_left_ms = limit->cpu_ms - ngx_min(ln->cpu_ms, limit->cpu_ms);
        st.cpu_reset = ngx_rce_limit_reset(ln->cpu_start, limit->cpu_window,
                                           now);
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    if (ngx_rce_limit_headers(r, limit, &st) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!st.refused_requests && !st.refused_cpu) {
        return NGX_DECLINED;
    }

    retry = 0;

    if (st.refused_requests) {
        retry = st.requests_reset;
    }

    if (st.refused_cpu && st.cpu_reset > retry) {
        retry = st.cpu_reset;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "%T", retry) - p;

    if (ngx_rce_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    message = st.refused_requests
              ? "too many requests: this client's requests in the window "
                "are used up"
              : "too much cpu: this client's cpu-seconds in the window are "
                "used up";

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rce: \"%V\" refused by rce_limit zone \"%V\" (%s)",
                  &client, &limit->name,
                  st.refused_requests ? "requests" : "cpu");

    extra = st.refused_requests
            ? json_pack("{s:s%, s:I, s:I, s:I}",
                        "limit", limit->name.data, limit->name.len,
                        "quota", (json_int_t) limit->requests,
                        "window_s", (json_int_t) limit->requests_window,
                        "retry_after_s", (json_int_t) retry)
            : json_pack("{s:s%+, s:I, s:I, s:I}",
                        "limit", limit->name.data, limit->name.len, "-cpu",
                        "quota", (json_int_t) (limit->cpu_ms / 1000),
                        "window_s", (json_int_t) limit->cpu_window,
                        "retry_after_s", (json_int_t) retry);

    /* Piston's clients read its errors' "message" */
    if (extra != NULL && rlcf->handler == NGX_RCE_API_PISTON) {
        (void) json_object_set_new(extra, "message", json_string(message));
    }

    rc = ngx_rce_refuse(r, NGX_HTTP_TOO_MANY_REQUESTS, message, extra);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * Charges a finished job's cpu to its client: its compile step, and its
 * tests (judge mode) or its run, as the node measured them
 */
void
ngx_rce_limit_charge(ngx_rce_limit_t *limit, ngx_str_t *client,
    json_t *result, ngx_log_t *log)
{
    ngx_rce_limit_zone_t  *z;
    ngx_rce_limit_node_t  *ln;
    json_t                *tests, *test;
    json_int_t             ms;
    size_t                 i;

    if (limit == NULL || limit->cpu_ms == 0 || result == NULL) {
        return;
    }

    ms = 0;

    tests = json_object_get(result, RCE_RES_TESTS);

    if (json_is_array(tests)) {
        json_array_foreach(tests, i, test) {
            ms += ngx_max(json_integer_value(
                              json_object_get(test, RCE_RES_CPU_MS)), 0);
        }

    } else {
        ms += ngx_max(json_integer_value(
                          json_object_get(result, RCE_RES_CPU_MS)), 0);
    }

    ms += ngx_max(json_integer_value(json_object_get(
                      json_object_get(result, RCE_RES_COMPILE),
                      RCE_RES_CPU_MS)), 0);

    if (ms == 0) {
        return;
    }

    z = limit->zone->data;

    ngx_shmtx_lock(&z->shpool->mutex);

    ln = ngx_rce_limit_lookup(z, client, log);

    if (ln != NULL) {
        ngx_rce_limit_roll(limit, ln, ngx_current_msec);
        ln->cpu_ms += ms;
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "rce: charged %L cpu ms to \"%V\" in zone \"%V\"",
                   (int64_t) ms, client, &limit->name);
}


ngx_uint_t
ngx_rce_limit_counts_cpu(ngx_rce_limit_t *limit)
{
    return limit != NULL && limit->cpu_ms != 0;
}


/* the client's entry, made if it has none; the zone is locked */
static ngx_rce_limit_node_t *
ngx_rce_limit_lookup(ngx_rce_limit_zone_t *z, ngx_str_t *client,
    ngx_log_t *log)
{
    ngx_rbtree_node_t     *node, *sentinel;
    ngx_rce_limit_node_t  *ln;
    uint32_t               hash;
    ngx_int_t              rc;
    size_t                 len;

    len = ngx_min(client->len, 255);
    hash = ngx_crc32_short(client->data, len);

    node = z->sh->rbtree.root;
    sentinel = z->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        ln = (ngx_rce_limit_node_t *) node;
        rc = ngx_memn2cmp(client->data, ln->data, len, ln->len);

        if (rc == 0) {
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&z->sh->queue, &ln->queue);
            return ln;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    ngx_rce_limit_expire(z, NGX_RCE_LIMIT_EXPIRE, 0);

    len = offsetof(ngx_rce_limit_node_t, data) + ngx_min(client->len, 255);

    ln = ngx_slab_alloc_locked(z->shpool, len);

    if (ln == NULL) {
        /* the least recently seen clients make room */
        ngx_rce_limit_expire(z, 8, 1);

        ln = ngx_slab_alloc_locked(z->shpool, len);
        if (ln == NULL) {
            return NULL;
        }
    }

    ln->node.key = hash;
    ln->len = (u_short) ngx_min(client->len, 255);
    ngx_memcpy(ln->data, client->data, ln->len);
    ln->requests = 0;
    ln->cpu_ms = 0;
    ln->requests_start = ngx_current_msec;
    ln->cpu_start = ngx_current_msec;

    ngx_rbtree_insert(&z->sh->rbtree, &ln->node);
    ngx_queue_insert_head(&z->sh->queue, &ln->queue);

    return ln;
}


/*
 * Frees up to n of the least recently seen entries: only those whose
 * windows have all ended (nothing is forgotten), unless force
 */
static void
ngx_rce_limit_expire(ngx_rce_limit_zone_t *z, ngx_uint_t n, ngx_uint_t force)
{
    ngx_queue_t           *q;
    ngx_rce_limit_node_t  *ln;
    ngx_rce_limit_t       *policy;
    ngx_msec_t             now;

    policy = z->policy;
    now = ngx_current_msec;

    while (n-- > 0 && !ngx_queue_empty(&z->sh->queue)) {
        q = ngx_queue_last(&z->sh->queue);
        ln = ngx_queue_data(q, ngx_rce_limit_node_t, queue);

        if (!force
            && (!ngx_rce_limit_ended(ln->requests_start,
                                     policy->requests_window, now)
                || (policy->cpu_ms
                    && !ngx_rce_limit_ended(ln->cpu_start,
                                            policy->cpu_window, now))))
        {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&z->sh->rbtree, &ln->node);
        ngx_slab_free_locked(z->shpool, ln);
    }
}


/* a window that has ended begins again now, empty */
static void
ngx_rce_limit_roll(ngx_rce_limit_t *limit, ngx_rce_limit_node_t *ln,
    ngx_msec_t now)
{
    if (ngx_rce_limit_ended(ln->requests_start, limit->requests_window,
                            now))
    {
        ln->requests_start = now;
        ln->requests = 0;
    }

    if (limit->cpu_ms
        && ngx_rce_limit_ended(ln->cpu_start, limit->cpu_window, now))
    {
        /* what the last window's jobs used past its quota is owed: jobs
           admitted before their cpu was charged cannot buy a free window */
        ln->cpu_start = now;
        ln->cpu_ms = (ln->cpu_ms > limit->cpu_ms)
                     ? ln->cpu_ms - limit->cpu_ms : 0;
    }
}


/*
 * Whether the window that began at start has ended by now.  Each worker
 * process has its own cached clock, a little behind another's at times: a
 * window another process began "after" now has not ended.
 */
static ngx_uint_t
ngx_rce_limit_ended(ngx_msec_t start, time_t window, ngx_msec_t now)
{
    return (ngx_msec_int_t) (now - start) >= (ngx_msec_int_t) window * 1000;
}


/* whole seconds until the window that began at start ends, at least 1 */
static time_t
ngx_rce_limit_reset(ngx_msec_t start, time_t window, ngx_msec_t now)
{
    ngx_msec_t  end;

    end = start + (ngx_msec_t) window * 1000;

    if ((ngx_msec_int_t) (end - now) <= 0) {
        return 1;
    }

    return ngx_min((time_t) ((end - now + 999) / 1000), window);
}


static ngx_int_t
ngx_rce_limit_headers(ngx_http_request_t *r, ngx_rce_limit_t *limit,
    ngx_rce_limit_state_t *st)
{
    ngx_str_t   value;
    u_char     *p;

    p = ngx_pnalloc(r->pool, 2 * limit->name.len + 4 * NGX_INT64_LEN + 32);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;
    p = ngx_sprintf(p, "\"%V\";r=%ui;t=%T", &limit->name, st->requests_left,
                    st->requests_reset);

    if (limit->cpu_ms) {
        p = ngx_sprintf(p, ", \"%V-cpu\";r=%uL;t=%T", &limit->name,
                        (st->cpu_left_ms + 999) / 1000, st->cpu_reset);
    }

    value.len = p - value.data;

    if (ngx_rce_add_header(r, "RateLimit-Policy", &limit->policy) != NGX_OK
        || ngx_rce_add_header(r, "RateLimit", &value) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
