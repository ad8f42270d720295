#include "heartbeat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rce_protocol.h"
#include "script.h"
#include "stats.h"

/* The registry's languages, aliases, versions, compiled languages and libraries into node. */
static int add_languages(struct node *n, json_t *node)
{
    json_t *names = json_array(), *aliases = json_object(), *versions = json_object(),
           *compiled = json_array(), *libraries = json_object();
    int rc = -1;
    if (names && aliases && versions && compiled && libraries
        && lang_registry_describe(&n->languages, names, aliases) == 0
        && lang_registry_details(&n->languages, versions, compiled, libraries) == 0
        && json_object_set(node, RCE_NODE_LANGUAGES, names) == 0
        && json_object_set(node, RCE_NODE_ALIASES, aliases) == 0
        && json_object_set(node, RCE_NODE_VERSIONS, versions) == 0
        && json_object_set(node, RCE_NODE_COMPILED, compiled) == 0
        && json_object_set(node, RCE_NODE_LIBRARIES, libraries) == 0)
        rc = 0;
    json_decref(names);
    json_decref(aliases);
    json_decref(versions);
    json_decref(compiled);
    json_decref(libraries);
    return rc;
}

/* The node JSON; malloc'd, NULL if out of memory. */
static char *node_json(struct node *n, long queued, long batch_queued)
{
    static json_int_t beat;     /* lets the gateway tell a new report from one it has seen */
    json_t *node = json_pack("{s:s, s:i, s:i, s:I, s:i, s:I, s:i, s:b, s:I, s:I}",
                             RCE_NODE_NAME, n->cfg.node,
                             RCE_NODE_SLOTS, n->cfg.slots,
                             RCE_NODE_BUSY, atomic_load(&n->busy),
                             RCE_NODE_QUEUED, (json_int_t)queued,
                             RCE_NODE_QUEUE_MAX, n->cfg.queue_max,
                             RCE_NODE_BATCH_QUEUED, (json_int_t)batch_queued,
                             RCE_NODE_BATCH_MAX, n->cfg.batch_queue_max,
                             RCE_NODE_DRAINING, (int)atomic_load(&n->draining),
                             RCE_NODE_BEAT, ++beat,
                             RCE_NODE_EPOCH, (json_int_t)atomic_load(&n->epoch));
    json_t *warm = json_object();
    char *text = NULL;
    if (!node || !warm || add_languages(n, node) != 0)
        goto done;
    if (n->cfg.bench_no_container)
        json_object_set_new(node, RCE_NODE_BENCH, json_true());
    if (n->cfg.callback_allow[strspn(n->cfg.callback_allow, ", \t\n")] != '\0')   /* callbacks are on */
        json_object_set_new(node, RCE_NODE_CALLBACK_ALLOW, json_string(n->cfg.callback_allow));
    if (n->pool && pool_describe(n->pool, warm) == 0)
        json_object_set(node, RCE_NODE_POOL, warm);
    if (stats_describe(&n->stats, node) != 0)
        goto done;      /* a beat without its counters would look like a restart */
    text = json_dumps(node, JSON_COMPACT);
done:
    json_decref(warm);
    json_decref(node);
    return text;
}

int heartbeat_register(struct node *n, struct queue *q)
{
    long long epoch = queue_register(q);
    if (epoch <= 0)
        return -1;
    atomic_store(&n->epoch, epoch);
    log_info("node %s: registered, epoch %lld", n->cfg.node, epoch);
    return 0;
}

/* Writes the node JSON while our epoch is current. Returns the epoch that is current (ours:
 * written; another: we were declared dead; 0: Redis lost it), or -1 on Redis failure. */
static long long beat(struct node *n, struct queue *q, const char *text)
{
    char ttl[24], epoch[24];
    snprintf(ttl, sizeof ttl, "%d", RCE_NODE_TTL_MS);
    snprintf(epoch, sizeof epoch, "%lld", (long long)atomic_load(&n->epoch));
    const char *keys[] = { q->node_key, RCE_KEY_NODES, q->epoch_key };
    const char *args[] = { text, ttl, epoch, n->cfg.node };
    redisReply *r = script_run(q, SCRIPT_HEARTBEAT, REDIS_REPLY_INTEGER, 0, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    long long rc = r ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return rc;
}

void heartbeat(struct node *n, struct queue *q)
{
    long queued = queue_length(q, q->queue_key);
    long batch_queued = queued < 0 ? -1 : queue_length(q, q->batch_key);
    if (queued < 0 || batch_queued < 0)
        return;     /* Redis trouble, already logged; the next beat retries */
    for (int attempt = 0; attempt < 2; attempt++) {     /* once more after registering again */
        char *text = node_json(n, queued, batch_queued);
        if (!text) {
            log_error("heartbeat: out of memory");
            return;
        }
        long long mine = atomic_load(&n->epoch), current = beat(n, q, text);
        free(text);
        if (current < 0 || current == mine)
            return;
        if (current == 0)
            log_info("node %s: Redis no longer knows its epoch (it restarted without its data): "
                     "registering again", n->cfg.node);
        else
            log_warn("node %s was declared dead by a peer (epoch %lld, now %lld): the jobs it was "
                     "running run again there and their results here are dropped; registering "
                     "again", n->cfg.node, mine, current);
        if (heartbeat_register(n, q) != 0)
            return;
    }
}
