
/*
 * The worker process's picture of the live worker nodes.
 *
 * Read from Redis at most once per NGX_RCE_NODES_REFRESH (SMEMBERS rce:nodes,
 * then MGET of their heartbeat keys), never per request: routing and /health
 * use the cached list.  A node whose heartbeat key expired is dead.
 */


#include "ngx_rce_module.h"


static void ngx_rce_nodes_members(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_rce_nodes_values(redisAsyncContext *ac, void *reply,
    void *data);
static ngx_int_t ngx_rce_nodes_add(ngx_array_t *nodes, redisReply *value,
    ngx_log_t *log);
static void ngx_rce_nodes_done(ngx_rce_worker_t *w);
static void ngx_rce_nodes_carry(ngx_rce_worker_t *w, ngx_array_t *nodes);
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
}


static void
ngx_rce_nodes_members(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_worker_t  *w = data;
    redisReply        *r = reply;
    const char       **argv;
    size_t            *argvlen;
    size_t             i, n;
    u_char            *p;
    int                rc;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        ngx_rce_nodes_free(w);
        ngx_rce_nodes_done(w);
        return;
    }

    if (r->elements == 0) {
        ngx_rce_nodes_free(w);
        w->nodes_known = 1;
        w->nodes_time = ngx_current_msec;
        ngx_rce_nodes_done(w);
        return;
    }

    n = r->elements + 1;

    argv = ngx_alloc(n * sizeof(char *), w->log);
    argvlen = ngx_alloc(n * sizeof(size_t), w->log);

    if (argv == NULL || argvlen == NULL) {
        goto failed;
    }

    argv[0] = "MGET";
    argvlen[0] = 4;

    for (i = 0; i < r->elements; i++) {
        p = ngx_alloc(sizeof(RCE_KEY_NODE) - 1 + r->element[i]->len, w->log);
        if (p == NULL) {
            n = i + 1;
            goto failed;
        }

        argvlen[i + 1] = ngx_cpymem(p, RCE_KEY_NODE, sizeof(RCE_KEY_NODE) - 1)
                         - p;
        ngx_memcpy(p + argvlen[i + 1], r->element[i]->str,
                   r->element[i]->len);
        argvlen[i + 1] += r->element[i]->len;
        argv[i + 1] = (char *) p;
    }

    rc = redisAsyncCommandArgv(ac, ngx_rce_nodes_values, w, (int) n, argv,
                               argvlen);

    for (i = 1; i < n; i++) {
        ngx_free((void *) argv[i]);
    }

    ngx_free(argv);
    ngx_free(argvlen);

    if (rc != REDIS_OK) {
        ngx_rce_nodes_done(w);
    }

    return;

failed:

    if (argv != NULL) {
        for (i = 1; i < n; i++) {
            ngx_free((void *) argv[i]);
        }

        ngx_free(argv);
    }

    if (argvlen != NULL) {
        ngx_free(argvlen);
    }

    ngx_rce_nodes_done(w);
}


static void
ngx_rce_nodes_values(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_rce_worker_t  *w = data;
    redisReply        *r = reply;
    ngx_rce_node_t    *node;
    ngx_pool_t        *pool;
    ngx_array_t        nodes;
    size_t             i;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        ngx_rce_nodes_free(w);
        ngx_rce_nodes_done(w);
        return;
    }

    pool = ngx_create_pool(4096, w->log);
    if (pool == NULL) {
        ngx_rce_nodes_done(w);
        return;
    }

    if (ngx_array_init(&nodes, pool, r->elements, sizeof(ngx_rce_node_t))
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        ngx_rce_nodes_done(w);
        return;
    }

    for (i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            continue;       /* heartbeat expired: the node is dead */
        }

        if (ngx_rce_nodes_add(&nodes, r->element[i], w->log) != NGX_OK) {
            continue;
        }

        node = (ngx_rce_node_t *) nodes.elts + nodes.nelts - 1;

        if (json_is_object(node->aliases)) {
            json_object_update(w->seen, node->aliases);
        }
    }

    ngx_rce_nodes_carry(w, &nodes);
    ngx_rce_nodes_free(w);

    w->nodes = nodes;
    w->nodes_pool = pool;
    w->nodes_known = 1;
    w->nodes_time = ngx_current_msec;

    ngx_rce_nodes_done(w);
}


/* parse one node JSON into nodes; the json_t is owned by the entry */
static ngx_int_t
ngx_rce_nodes_add(ngx_array_t *nodes, redisReply *value, ngx_log_t *log)
{
    ngx_rce_node_t  *node;
    json_t          *json, *name, *slots, *busy, *queued, *queue_max, *draining,
                    *beat;
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
    draining = json_object_get(json, RCE_NODE_DRAINING);
    beat = json_object_get(json, RCE_NODE_BEAT);

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
    node->load = node->queued + node->busy;
    node->sent = 0;
    node->beat = json_is_integer(beat) ? json_integer_value(beat) : -1;
    node->draining = json_is_true(draining);

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
    ngx_uint_t       i;

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        if (node[i].name.len == name->len
            && ngx_strncmp(node[i].name.data, name->data, name->len) == 0)
        {
            node[i].draining = 1;
        }
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
    char     key[NGX_RCE_LANGUAGE_MAX + 1];

    if (name->len == 0 || name->len > NGX_RCE_LANGUAGE_MAX) {
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
 * NGX_DECLINED: no live node offers the language; NGX_BUSY: all are full.
 */
ngx_int_t
ngx_rce_nodes_choose(ngx_rce_worker_t *w, ngx_str_t *language,
    ngx_uint_t balance, ngx_rce_node_t **chosen)
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
        if (node[i].queue_max && node[i].queued >= node[i].queue_max) {
            continue;
        }

        if (best == NULL
            || (balance == NGX_RCE_LEAST_LOADED
                && (node[i].load + node[i].sent) * best->slots
                   < (best->load + best->sent) * node[i].slots))
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


/* the sorted, distinct canonical names the live nodes can run */
json_t *
ngx_rce_nodes_languages(ngx_rce_worker_t *w)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    size_t           j, k, n;
    json_t          *all, *name, *a, *b;

    all = json_array();
    if (all == NULL) {
        return NULL;
    }

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        json_array_foreach(node[i].languages, j, name) {
            if (!json_is_string(name)) {
                continue;
            }

            n = json_array_size(all);

            for (k = 0; k < n; k++) {
                if (json_equal(json_array_get(all, k), name)) {
                    break;
                }
            }

            if (k == n) {
                json_array_append(all, name);
            }
        }
    }

    /* insertion sort: a handful of names */
    n = json_array_size(all);

    for (j = 1; j < n; j++) {
        for (k = j; k > 0; k--) {
            a = json_array_get(all, k - 1);
            b = json_array_get(all, k);

            if (ngx_strcmp(json_string_value(a), json_string_value(b)) <= 0) {
                break;
            }

            json_incref(a);
            json_array_set(all, k - 1, b);
            json_array_set_new(all, k, a);
        }
    }

    return all;
}


/* the version live nodes advertise for a language, or NULL */
json_t *
ngx_rce_nodes_version(ngx_rce_worker_t *w, ngx_str_t *language)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    json_t          *v;
    char             key[NGX_RCE_LANGUAGE_MAX + 1];

    if (language->len > NGX_RCE_LANGUAGE_MAX) {
        return NULL;
    }

    ngx_cpystrn((u_char *) key, language->data, language->len + 1);

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        v = json_object_get(json_object_get(node[i].json, RCE_NODE_VERSIONS),
                            key);
        if (json_is_string(v)) {
            return v;
        }
    }

    return NULL;
}


/* [{"name", "version", "aliases", "compiled"}], sorted by name */
json_t *
ngx_rce_nodes_catalogue(ngx_rce_worker_t *w)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    size_t           j, k;
    const char      *alias;
    json_t          *names, *list, *entry, *aliases, *name, *target,
                    *compiled, *c;
    ngx_str_t        lang;
    ngx_uint_t       is_compiled;

    names = ngx_rce_nodes_languages(w);
    list = json_array();

    if (names == NULL || list == NULL) {
        json_decref(names);
        json_decref(list);
        return NULL;
    }

    node = w->nodes.elts;

    json_array_foreach(names, j, name) {
        lang.data = (u_char *) json_string_value(name);
        lang.len = json_string_length(name);

        aliases = json_array();
        is_compiled = 0;

        for (i = 0; i < w->nodes.nelts; i++) {
            json_object_foreach(node[i].aliases, alias, target) {
                if (json_equal(target, name)
                    && ngx_strcmp(alias, json_string_value(name)) != 0)
                {
                    json_array_append_new(aliases, json_string(alias));
                }
            }

            compiled = json_object_get(node[i].json, RCE_NODE_COMPILED);

            for (k = 0; k < json_array_size(compiled); k++) {
                c = json_array_get(compiled, k);
                is_compiled |= json_equal(c, name);
            }

            if (json_array_size(aliases)) {
                break;      /* one node's view is enough */
            }
        }

        entry = json_pack("{s:O, s:O?, s:o, s:b}",
                          "name", name,
                          "version", ngx_rce_nodes_version(w, &lang),
                          "aliases", aliases,
                          "compiled", (int) is_compiled);

        if (entry != NULL) {
            json_array_append_new(list, entry);
        }
    }

    json_decref(names);

    return list;
}


/* the /health document: {"redis": ..., "nodes": [...]} */
json_t *
ngx_rce_nodes_health(ngx_rce_worker_t *w)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    json_t          *health, *nodes, *entry, *v;

    health = json_object();
    nodes = json_array();

    if (health == NULL || nodes == NULL) {
        json_decref(health);
        json_decref(nodes);
        return NULL;
    }

    json_object_set_new(health, "redis",
                        json_string(w->command.connected ? "ok" : "down"));

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        entry = json_object();
        if (entry == NULL) {
            continue;
        }

        json_object_set_new(entry, "name",
                            json_stringn((char *) node[i].name.data,
                                         node[i].name.len));

        v = node[i].languages;
        json_object_set_new(entry, "languages",
                            v ? json_incref(v) : json_array());

        json_object_set_new(entry, "slots", json_integer(node[i].slots));

        v = json_object_get(node[i].json, RCE_NODE_BUSY);
        json_object_set_new(entry, "busy",
                            json_integer(json_integer_value(v)));

        json_object_set_new(entry, "queued", json_integer(node[i].queued));
        json_object_set_new(entry, "queue_max",
                            json_integer(node[i].queue_max));

        json_object_set_new(entry, "draining",
                            json_boolean(node[i].draining));

        if (json_is_true(json_object_get(node[i].json, RCE_NODE_BENCH))) {
            /* workerd --bench-no-container: it answers without running */
            json_object_set_new(entry, "bench", json_true());
        }

        json_array_append_new(nodes, entry);
    }

    json_object_set_new(health, "nodes", nodes);
    json_object_set_new(health, "age_ms",
                        json_integer(w->nodes_known
                                     ? (json_int_t) (ngx_current_msec
                                                     - w->nodes_time)
                                     : -1));

    return health;
}
