
/*
 * The worker process's picture of the live worker nodes.
 *
 * Read from Redis at most once per NGX_RCE_NODES_REFRESH (SMEMBERS rce:nodes,
 * then MGET of their heartbeat keys), never per request: routing and /health
 * use the cached list.  A node whose heartbeat key expired stays on it until
 * the liveness rule of rce_protocol.h calls it dead, so that a Redis stall,
 * which expires every key at once, empties nothing.  What the list offers, as
 * JSON, is ngx_rce_catalogue.c's.
 */


#include "ngx_rce_module.h"


static void ngx_rce_nodes_members(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_nodes_values(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_nodes_mget_free(ngx_rce_worker_t *w);
static void ngx_rce_nodes_take(ngx_rce_worker_t *w, ngx_array_t *nodes,
    redisReply *value, ngx_str_t *name, ngx_uint_t counted);
static ngx_rce_node_t *ngx_rce_nodes_find(ngx_rce_worker_t *w,
    ngx_str_t *name);
static ngx_int_t ngx_rce_nodes_add(ngx_array_t *nodes, redisReply *value,
    ngx_log_t *log);
static void ngx_rce_nodes_done(ngx_rce_worker_t *w);
static void ngx_rce_nodes_carry(ngx_rce_worker_t *w, ngx_array_t *nodes);
static ngx_uint_t ngx_rce_node_full(ngx_rce_node_t *node,
    ngx_uint_t priority);
static ngx_uint_t ngx_rce_node_load(ngx_rce_node_t *node,
    ngx_uint_t priority);
static ngx_uint_t ngx_rce_node_has(ngx_rce_node_t *node, ngx_str_t *language);



void
ngx_rce_nodes_refresh(ngx_event_t *ev)
{
    ngx_rce_worker_t  *w;

    w = ev->data;

    if (w->refreshing || ngx_exiting) {
        return;
    }

    if (!w->command.connected) {
        ngx_rce_nodes_free(w);
        w->refresh_previous = 0;
        ngx_add_timer(&w->refresh, NGX_RCE_NODES_REFRESH);
        return;
    }

    if (redisAsyncCommand(w->command.ac, ngx_rce_nodes_members, w,
                          "SMEMBERS %s", RCE_KEY_NODES)
        != REDIS_OK)
    {
        ngx_add_timer(&w->refresh, NGX_RCE_NODES_REFRESH);
        return;
    }

    w->refreshing = 1;
    w->refresh_sent = ngx_current_msec;
}


static void
ngx_rce_nodes_members(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_worker_t  *w = data;
    redisReply        *r = reply;
    size_t             i;
    u_char            *p;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        ngx_rce_nodes_free(w);
        w->refresh_previous = 0;
        ngx_rce_nodes_done(w);
        return;
    }

    if (r->elements == 0) {
        ngx_rce_nodes_free(w);
        w->nodes_known = 1;
        w->nodes_time = ngx_current_msec;
        w->refresh_previous = ngx_current_msec;
        ngx_rce_nodes_done(w);
        return;
    }

    w->mget_argv = ngx_alloc((r->elements + 1) * sizeof(char *), w->log);
    w->mget_lens = ngx_alloc((r->elements + 1) * sizeof(size_t), w->log);

    /* mget_argv[1 .. mget_n - 1] are the keys made so far: none yet */
    w->mget_n = 1;

    if (w->mget_argv == NULL || w->mget_lens == NULL) {
        goto failed;
    }

    w->mget_argv[0] = "MGET";
    w->mget_lens[0] = 4;

    for (i = 0; i < r->elements; i++) {
        p = ngx_alloc(sizeof(RCE_KEY_NODE) - 1 + r->element[i]->len, w->log);
        if (p == NULL) {
            goto failed;
        }

        w->mget_argv[w->mget_n] = (char *) p;
        p = ngx_cpymem(p, RCE_KEY_NODE, sizeof(RCE_KEY_NODE) - 1);
        p = ngx_cpymem(p, r->element[i]->str, r->element[i]->len);
        w->mget_lens[w->mget_n] = p - (u_char *) w->mget_argv[w->mget_n];
        w->mget_n++;
    }

    if (redisAsyncCommandArgv(ac, ngx_rce_nodes_values, w, (int) w->mget_n,
                              (const char **) w->mget_argv, w->mget_lens)
        == REDIS_OK)
    {
        return;
    }

failed:

    ngx_rce_nodes_mget_free(w);
    w->refresh_previous = 0;
    ngx_rce_nodes_done(w);
}


static void
ngx_rce_nodes_mget_free(ngx_rce_worker_t *w)
{
    size_t  i;

    if (w->mget_argv != NULL) {
        for (i = 1; i < w->mget_n; i++) {
            ngx_free(w->mget_argv[i]);
        }
    }

    ngx_free(w->mget_argv);
    ngx_free(w->mget_lens);

    w->mget_argv = NULL;
    w->mget_lens = NULL;
    w->mget_n = 0;
}


/*
 * The refresh's answer: nodes with a heartbeat key, and those whose key is
 * gone but that the liveness rule of rce_protocol.h does not yet call dead
 * (a Redis stall expires every key at once; the nodes beat again within a
 * second of it).
 */
static void
ngx_rce_nodes_values(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_worker_t  *w = data;
    redisReply        *r = reply;
    ngx_pool_t        *pool;
    ngx_array_t        nodes;
    ngx_str_t          name;
    ngx_uint_t         counted;
    size_t             i;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY
        || r->elements + 1 != w->mget_n)
    {
        ngx_rce_nodes_free(w);
        w->refresh_previous = 0;
        goto done;
    }

    counted = rce_liveness_counts(w->refresh_previous, w->refresh_sent,
                                  ngx_current_msec);
    w->refresh_previous = ngx_current_msec;

    pool = ngx_create_pool(4096, w->log);
    if (pool == NULL) {
        goto done;
    }

    if (ngx_array_init(&nodes, pool, r->elements, sizeof(ngx_rce_node_t))
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        goto done;
    }

    for (i = 0; i < r->elements; i++) {
        name.data = (u_char *) w->mget_argv[i + 1] + sizeof(RCE_KEY_NODE) - 1;
        name.len = w->mget_lens[i + 1] - (sizeof(RCE_KEY_NODE) - 1);

        ngx_rce_nodes_take(w, &nodes, r->element[i], &name, counted);
    }

    ngx_rce_nodes_carry(w, &nodes);
    ngx_rce_nodes_free(w);

    w->nodes = nodes;
    w->nodes_pool = pool;
    w->nodes_known = 1;
    w->nodes_time = ngx_current_msec;

    w->on_nodes(w);

done:

    ngx_rce_nodes_mget_free(w);
    ngx_rce_nodes_done(w);
}


/* one node of the refresh into nodes: its report, or its last one if silent */
static void
ngx_rce_nodes_take(ngx_rce_worker_t *w, ngx_array_t *nodes,
    redisReply *value, ngx_str_t *name, ngx_uint_t counted)
{
    ngx_rce_node_t  *node, *old;

    old = ngx_rce_nodes_find(w, name);

    if (value->type == REDIS_REPLY_STRING) {
        if (ngx_rce_nodes_add(nodes, value, w->log) != NGX_OK) {
            return;
        }

        node = (ngx_rce_node_t *) nodes->elts + nodes->nelts - 1;

        if (json_is_object(node->aliases)) {
            json_object_update(w->seen, node->aliases);
        }

        node->live = old ? old->live
                         : (rce_liveness_t) { -1, -1, ngx_current_msec };

    } else {
        if (old == NULL
            || (counted && rce_liveness_dead(&old->live, ngx_current_msec)))
        {
            return;     /* dead: its heartbeat stood still long enough */
        }

        node = ngx_array_push(nodes);
        if (node == NULL) {
            return;
        }

        *node = *old;
        json_incref(node->json);
        node->silent = 1;
    }

    if (!counted) {
        node->live.since_ms = ngx_current_msec;

    } else if (!node->silent) {
        rce_liveness_seen(&node->live, 1, node->epoch, node->beat,
                          ngx_current_msec);
    }
}


static ngx_rce_node_t *
ngx_rce_nodes_find(ngx_rce_worker_t *w, ngx_str_t *name)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        if (node[i].name.len == name->len
            && ngx_strncmp(node[i].name.data, name->data, name->len) == 0)
        {
            return &node[i];
        }
    }

    return NULL;
}


/* parse one node JSON into nodes; the json_t is owned by the entry */
static ngx_int_t
ngx_rce_nodes_add(ngx_array_t *nodes, redisReply *value, ngx_log_t *log)
{
    ngx_rce_node_t  *node;
    json_t          *json, *name, *slots, *busy, *queued, *queue_max, *draining,
                    *beat, *epoch, *batch_queued, *batch_max;
    json_error_t     err;

    json = json_loadb(value->str, value->len, 0, &err);
    if (json == NULL || !json_is_object(json)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "rce: ignoring invalid node JSON: %s", err.text);
        json_decref(json);
        return NGX_DECLINED;
    }

    name = json_object_get(json, RCE_NODE_NAME);
    slots = json_object_get(json, RCE_NODE_SLOTS);
    busy = json_object_get(json, RCE_NODE_BUSY);
    queued = json_object_get(json, RCE_NODE_QUEUED);
    queue_max = json_object_get(json, RCE_NODE_QUEUE_MAX);
    batch_queued = json_object_get(json, RCE_NODE_BATCH_QUEUED);
    batch_max = json_object_get(json, RCE_NODE_BATCH_MAX);
    draining = json_object_get(json, RCE_NODE_DRAINING);
    beat = json_object_get(json, RCE_NODE_BEAT);
    epoch = json_object_get(json, RCE_NODE_EPOCH);

    if (!json_is_string(name) || !json_is_integer(slots)
        || json_integer_value(slots) <= 0)
    {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "rce: ignoring node JSON without name or slots");
        json_decref(json);
        return NGX_DECLINED;
    }

    node = ngx_array_push(nodes);
    if (node == NULL) {
        json_decref(json);
        return NGX_ERROR;
    }

    node->name.data = (u_char *) json_string_value(name);
    node->name.len = json_string_length(name);
    node->json = json;
    node->languages = json_object_get(json, RCE_NODE_LANGUAGES);
    node->aliases = json_object_get(json, RCE_NODE_ALIASES);
    node->slots = (ngx_uint_t) json_integer_value(slots);
    node->queued = json_is_integer(queued) && json_integer_value(queued) > 0
                   ? (ngx_uint_t) json_integer_value(queued) : 0;
    node->queue_max = json_is_integer(queue_max)
                      && json_integer_value(queue_max) > 0
                      ? (ngx_uint_t) json_integer_value(queue_max) : 0;
    node->busy = json_is_integer(busy) && json_integer_value(busy) > 0
                 ? (ngx_uint_t) json_integer_value(busy) : 0;
    node->batch_queued = json_is_integer(batch_queued)
                         && json_integer_value(batch_queued) > 0
                         ? (ngx_uint_t) json_integer_value(batch_queued) : 0;
    node->batch_max = json_is_integer(batch_max)
                      && json_integer_value(batch_max) > 0
                      ? (ngx_uint_t) json_integer_value(batch_max) : 0;
    node->load = node->queued + node->busy;
    node->sent = 0;
    node->beat = json_is_integer(beat) ? json_integer_value(beat) : -1;
    node->epoch = json_is_integer(epoch) ? json_integer_value(epoch) : 0;
    node->draining = json_is_true(draining);
    node->silent = 0;

    return NGX_OK;
}


/*
 * A node's report counts the jobs we sent only once it has heartbeaten
 * since: until then the jobs sent stay added to it.
 */
static void
ngx_rce_nodes_carry(ngx_rce_worker_t *w, ngx_array_t *nodes)
{
    ngx_rce_node_t  *old, *node;
    ngx_uint_t       i, j;

    old = w->nodes.elts;
    node = nodes->elts;

    for (i = 0; i < nodes->nelts; i++) {
        for (j = 0; j < w->nodes.nelts; j++) {
            if (old[j].beat == node[i].beat && node[i].beat >= 0
                && old[j].name.len == node[i].name.len
                && ngx_strncmp(old[j].name.data, node[i].name.data,
                               node[i].name.len) == 0)
            {
                node[i].sent = old[j].sent;
                node[i].draining |= old[j].draining;
                break;
            }
        }
    }
}


static void
ngx_rce_nodes_done(ngx_rce_worker_t *w)
{
    w->refreshing = 0;

    if (!ngx_exiting && !w->exiting && !w->refresh.timer_set) {
        ngx_add_timer(&w->refresh, NGX_RCE_NODES_REFRESH);
    }
}


void
ngx_rce_nodes_free(ngx_rce_worker_t *w)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;

    if (w->nodes_pool == NULL) {
        return;
    }

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        json_decref(node[i].json);
    }

    ngx_destroy_pool(w->nodes_pool);

    w->nodes_pool = NULL;
    w->nodes.nelts = 0;
    w->nodes.elts = NULL;
}


/* a node turned out to be gone: route nothing more to it until the refresh */
void
ngx_rce_nodes_forget(ngx_rce_worker_t *w, ngx_str_t *name)
{
    ngx_rce_node_t  *node;

    node = ngx_rce_nodes_find(w, name);

    if (node != NULL) {
        node->draining = 1;
    }
}


/*
 * Maps a language name or alias to its canonical name through the aliases
 * every node seen by this worker advertised, so that a language whose nodes
 * are all down is "unavailable" rather than "unknown".
 * NGX_DECLINED: no node ever offered it.
 */
ngx_int_t
ngx_rce_nodes_resolve(ngx_rce_worker_t *w, ngx_str_t *name,
    ngx_str_t *canonical)
{
    json_t  *target;
    char     key[RCE_NAME_MAX + 1];

    if (name->len == 0 || name->len > RCE_NAME_MAX) {
        return NGX_DECLINED;
    }

    ngx_cpystrn((u_char *) key, name->data, name->len + 1);
    ngx_strlow((u_char *) key, (u_char *) key, name->len);

    target = json_object_get(w->seen, key);

    if (!json_is_string(target)) {
        return NGX_DECLINED;
    }

    canonical->data = (u_char *) json_string_value(target);
    canonical->len = json_string_length(target);

    return NGX_OK;
}


/*
 * Chooses the node for a new job of this language among the live, not
 * draining nodes that offer it and whose queue is not full: the one with the
 * least outstanding work per slot (least-loaded), or the next one in turn
 * (round-robin); ties go round-robin.  The load is the node's own report
 * (at most NGX_RCE_NODES_REFRESH old) plus the jobs this worker sent since.
 * A node whose heartbeat key is gone (silent) is chosen only if no other can
 * take the job, which after a Redis stall is every node for a second or two.
 * NGX_DECLINED: no live node offers the language; NGX_BUSY: all are full.
 */
ngx_int_t
ngx_rce_nodes_choose(ngx_rce_worker_t *w, ngx_str_t *language,
    ngx_uint_t balance, ngx_uint_t priority, ngx_rce_node_t **chosen)
{
    ngx_rce_node_t  *node, *best;
    ngx_uint_t       i, k, n, offered;

    node = w->nodes.elts;
    n = w->nodes.nelts;
    best = NULL;
    offered = 0;

    for (k = 0; k < n; k++) {
        i = (w->next_node + k) % n;

        if (node[i].draining || !ngx_rce_node_has(&node[i], language)) {
            continue;
        }

        offered = 1;

        /* the node's own count, at most a heartbeat old: the bound is
         * soft by up to a second of traffic, never wrongly hard */
        if (ngx_rce_node_full(&node[i], priority)) {
            continue;
        }

        /* a silent node only when no node that beats can take it: it may
         * be dead, and a rescue moves its queue only once; a batch job
         * counts the batch lists too */
        if (best == NULL
            || (best->silent && !node[i].silent)
            || (best->silent == node[i].silent
                && balance == NGX_RCE_LEAST_LOADED
                && ngx_rce_node_load(&node[i], priority) * best->slots
                   < ngx_rce_node_load(best, priority) * node[i].slots))
        {
            best = &node[i];
        }
    }

    if (best == NULL) {
        return offered ? NGX_BUSY : NGX_DECLINED;
    }

    best->sent++;
    w->next_node = (best - node) + 1;
    *chosen = best;

    return NGX_OK;
}


/*
 * Backpressure per class: normal jobs stop at queue_max, interactive ones
 * at RCE_INTERACTIVE_HEADROOM times it (a flood of normal jobs never turns
 * an interactive one away), batch jobs at batch_max on their own list.
 */
static ngx_uint_t
ngx_rce_node_full(ngx_rce_node_t *node, ngx_uint_t priority)
{
    switch (priority) {

    case NGX_RCE_PRIORITY_BATCH:
        return node->batch_max && node->batch_queued >= node->batch_max;

    case NGX_RCE_PRIORITY_INTERACTIVE:
        return node->queue_max
               && node->queued >= RCE_INTERACTIVE_HEADROOM * node->queue_max;

    default:
        return node->queue_max && node->queued >= node->queue_max;
    }
}


static ngx_uint_t
ngx_rce_node_load(ngx_rce_node_t *node, ngx_uint_t priority)
{
    return node->load + node->sent
           + (priority == NGX_RCE_PRIORITY_BATCH ? node->batch_queued : 0);
}


static ngx_uint_t
ngx_rce_node_has(ngx_rce_node_t *node, ngx_str_t *language)
{
    size_t   i;
    json_t  *name;

    json_array_foreach(node->languages, i, name) {
        if (json_string_length(name) == language->len
            && ngx_strncmp(json_string_value(name), language->data,
                           language->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}
