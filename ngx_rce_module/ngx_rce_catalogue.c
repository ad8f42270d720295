
/*
 * What the live nodes offer, as JSON, from the node cache (ngx_rce_nodes.c):
 * the language names, their versions, the /api/v1/languages catalogue, the
 * details of a 404 for an unknown language, whether a callback may go to a
 * host, and the /health document.
 */


#include "ngx_rce_module.h"
#include "rce_allow.h"


static void ngx_rce_catalogue_add(json_t *set, json_t *value);
static void ngx_rce_catalogue_sort(json_t *names);
static json_t *ngx_rce_catalogue_entry(ngx_rce_worker_t *w, json_t *name);
static json_t *ngx_rce_catalogue_libraries(ngx_rce_worker_t *w, json_t *name);
static json_t *ngx_rce_catalogue_node(ngx_rce_node_t *node);


/* the sorted, distinct canonical names the live nodes can run */
json_t *
ngx_rce_catalogue_names(ngx_rce_worker_t *w)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    size_t           j;
    json_t          *all, *name;

    all = json_array();
    if (all == NULL) {
        return NULL;
    }

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        json_array_foreach(node[i].languages, j, name) {
            ngx_rce_catalogue_add(all, name);
        }
    }

    ngx_rce_catalogue_sort(all);

    return all;
}


/* the distinct versions live nodes advertise for a language, in node order */
json_t *
ngx_rce_catalogue_versions(ngx_rce_worker_t *w, ngx_str_t *language)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    json_t          *all;
    char             key[RCE_NAME_MAX + 1];

    all = json_array();
    if (all == NULL || language->len > RCE_NAME_MAX) {
        return all;
    }

    ngx_cpystrn((u_char *) key, language->data, language->len + 1);

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        ngx_rce_catalogue_add(all,
            json_object_get(json_object_get(node[i].json, RCE_NODE_VERSIONS),
                            key));
    }

    return all;
}


/*
 * Whether a live node may call host back (rce_allow.h): NGX_OK if one lists
 * it, NGX_DECLINED if none does, NGX_ABORT if callbacks are off on all of
 * them, NGX_ERROR when out of memory.
 */
ngx_int_t
ngx_rce_catalogue_callback(ngx_rce_worker_t *w, ngx_log_t *log,
    const char *host)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    ngx_int_t        rc;
    rce_allow_t     *allow;
    const char      *list;
    char             why[128];

    /* ~9 KB, for this call only: not from the request's pool, where a
     * batch's entries would pile them up */
    allow = ngx_alloc(sizeof(rce_allow_t), log);
    if (allow == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ABORT;
    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        list = json_string_value(json_object_get(node[i].json,
                                                 RCE_NODE_CALLBACK_ALLOW));

        if (list == NULL || rce_allow_parse(allow, list, why, sizeof(why)) != 0
            || rce_allow_empty(allow))
        {
            continue;
        }

        if (rce_allow_host(allow, host)) {
            rc = NGX_OK;
            break;
        }

        rc = NGX_DECLINED;
    }

    ngx_free(allow);

    return rc;
}


/* [{"name", "version", "aliases", "compiled", "libraries"}], sorted by name */
json_t *
ngx_rce_catalogue_languages(ngx_rce_worker_t *w)
{
    size_t   j;
    json_t  *names, *list, *name, *entry;

    names = ngx_rce_catalogue_names(w);
    list = json_array();

    if (names == NULL || list == NULL) {
        json_decref(names);
        json_decref(list);
        return NULL;
    }

    json_array_foreach(names, j, name) {
        entry = ngx_rce_catalogue_entry(w, name);

        if (entry != NULL) {
            json_array_append_new(list, entry);
        }
    }

    json_decref(names);

    return list;
}


/* the details of a 404 for a language no node ever offered */
json_t *
ngx_rce_catalogue_unknown(ngx_rce_worker_t *w, ngx_str_t *name)
{
    json_t  *extra;

    extra = json_pack("{s:s%, s:o}", "language", name->data, name->len,
                      "known", ngx_rce_catalogue_names(w));

    if (extra == NULL) {
        /* the name itself was not UTF-8 */
        extra = json_pack("{s:o}", "known", ngx_rce_catalogue_names(w));
    }

    return extra;
}


/* the /health document: {"redis": ..., "nodes": [...], "age_ms": ...} */
json_t *
ngx_rce_catalogue_health(ngx_rce_worker_t *w)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    json_t          *health, *nodes, *entry;

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
        entry = ngx_rce_catalogue_node(&node[i]);

        if (entry != NULL) {
            json_array_append_new(nodes, entry);
        }
    }

    json_object_set_new(health, "nodes", nodes);
    json_object_set_new(health, "age_ms",
                        json_integer(w->nodes_known
                                     ? (json_int_t) (ngx_current_msec
                                                     - w->nodes_time)
                                     : -1));

    return health;
}


/* a string into an array of distinct strings; anything else is ignored */
static void
ngx_rce_catalogue_add(json_t *set, json_t *value)
{
    size_t  k, n;

    if (!json_is_string(value)) {
        return;
    }

    n = json_array_size(set);

    for (k = 0; k < n; k++) {
        if (json_equal(json_array_get(set, k), value)) {
            return;
        }
    }

    json_array_append(set, value);
}


/* insertion sort: a handful of names */
static void
ngx_rce_catalogue_sort(json_t *names)
{
    size_t   j, k, n;
    json_t  *a, *b;

    n = json_array_size(names);

    for (j = 1; j < n; j++) {
        for (k = j; k > 0; k--) {
            a = json_array_get(names, k - 1);
            b = json_array_get(names, k);

            if (ngx_strcmp(json_string_value(a), json_string_value(b)) <= 0) {
                break;
            }

            json_incref(a);
            json_array_set(names, k - 1, b);
            json_array_set_new(names, k, a);
        }
    }
}


static json_t *
ngx_rce_catalogue_entry(ngx_rce_worker_t *w, json_t *name)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i, is_compiled;
    size_t           k;
    const char      *alias;
    json_t          *aliases, *target, *compiled, *versions, *entry;
    ngx_str_t        lang;

    lang.data = (u_char *) json_string_value(name);
    lang.len = json_string_length(name);

    aliases = json_array();
    is_compiled = 0;
    node = w->nodes.elts;

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
            is_compiled |= json_equal(json_array_get(compiled, k), name);
        }

        if (json_array_size(aliases)) {
            break;      /* one node's view is enough */
        }
    }

    versions = ngx_rce_catalogue_versions(w, &lang);

    entry = json_pack("{s:O, s:O?, s:o, s:b, s:o}",
                      "name", name,
                      "version", json_array_get(versions, 0),
                      "aliases", aliases,
                      "compiled", (int) is_compiled,
                      "libraries", ngx_rce_catalogue_libraries(w, name));

    json_decref(versions);

    return entry;
}


/*
 * {library: version} of a language, as the first live node that names any
 * for it advertises them; {} when none does
 */
static json_t *
ngx_rce_catalogue_libraries(ngx_rce_worker_t *w, json_t *name)
{
    ngx_rce_node_t  *node;
    ngx_uint_t       i;
    json_t          *libraries;

    node = w->nodes.elts;

    for (i = 0; i < w->nodes.nelts; i++) {
        libraries = json_object_get(json_object_get(node[i].json,
                                                    RCE_NODE_LIBRARIES),
                                    json_string_value(name));

        if (json_is_object(libraries)) {
            return json_incref(libraries);
        }
    }

    return json_object();
}


/* one node as /health shows it */
static json_t *
ngx_rce_catalogue_node(ngx_rce_node_t *node)
{
    json_t  *entry;

    entry = json_pack("{s:s%, s:O?, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
                      "name", node->name.data, node->name.len,
                      "languages", node->languages,
                      "slots", (json_int_t) node->slots,
                      "busy", json_integer_value(
                                  json_object_get(node->json, RCE_NODE_BUSY)),
                      "queued", (json_int_t) node->queued,
                      "queue_max", (json_int_t) node->queue_max,
                      "batch_queued", (json_int_t) node->batch_queued,
                      "batch_max", (json_int_t) node->batch_max,
                      "draining", (int) node->draining);

    if (entry == NULL) {
        return NULL;
    }

    if (node->languages == NULL) {
        json_object_set_new(entry, "languages", json_array());
    }

    if (json_is_true(json_object_get(node->json, RCE_NODE_BENCH))) {
        /* workerd --bench-no-container: it answers without running */
        json_object_set_new(entry, "bench", json_true());
    }

    /* whether it calls back (not where: that is the operator's to know) */
    (void) json_object_set_new(entry, "callbacks",
               json_boolean(json_is_string(json_object_get(node->json,
                                               RCE_NODE_CALLBACK_ALLOW))));

    return entry;
}
