#include "cluster.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"
#include "script.h"

/* A script may touch only the keys it is given, so the ones that depend on which nodes exist
 * are named here: the node list is read first (SMEMBERS), then one script runs per node, or
 * one with every node's queue among its KEYS. A node that joins or leaves in between is seen
 * at the next pass; each script re-checks what it relies on (the node still listed, still
 * without heartbeat). */

/* The keys of another node; -1 if the name is too long to be one (no node of ours has it). */
struct node_keys {
    char node[128];         /* rce:node:<node> */
    char queue[128];        /* rce:queue:<node> */
    char batch[128];        /* rce:batch:<node> */
    char running[128];      /* rce:running:<node> */
    char epoch[128];        /* rce:epoch:<node> */
};

static int node_keys(const char *node, struct node_keys *k)
{
    if (strlen(node) >= CLUSTER_NODE_MAX)
        return -1;
    snprintf(k->node, sizeof k->node, "%s%s", RCE_KEY_NODE, node);
    snprintf(k->queue, sizeof k->queue, "%s%s", RCE_KEY_QUEUE, node);
    snprintf(k->batch, sizeof k->batch, "%s%s", RCE_KEY_BATCH, node);
    snprintf(k->running, sizeof k->running, "%s%s", RCE_KEY_RUNNING, node);
    snprintf(k->epoch, sizeof k->epoch, "%s%s", RCE_KEY_EPOCH, node);
    return 0;
}

static void nodes_free(char **nodes)
{
    for (size_t i = 0; nodes && nodes[i]; i++)
        free(nodes[i]);
    free(nodes);
}

/* The other listed nodes: a NULL-terminated array of malloc'd names, or NULL on failure. */
static char **other_nodes(struct queue *q, size_t *n)
{
    redisReply *r = queue_command(q, "listing the nodes", REDIS_REPLY_ARRAY, 0, "SMEMBERS %s", RCE_KEY_NODES);
    char **nodes = r ? calloc(r->elements + 1, sizeof *nodes) : NULL;
    *n = 0;
    for (size_t i = 0; nodes && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || strcmp(e->str, q->cfg->node) == 0
            || strlen(e->str) >= CLUSTER_NODE_MAX)
            continue;
        if (!(nodes[*n] = strdup(e->str))) {
            nodes_free(nodes);
            nodes = NULL;
            break;
        }
        (*n)++;
    }
    if (r && !nodes)
        log_error("cluster: out of memory listing the nodes");
    if (r)
        freeReplyObject(r);
    return nodes;
}

void rescue_free(struct rescue *r)
{
    for (size_t i = 0; i < r->n_lost; i++)
        free(r->lost[i]);
    free(r->lost);
    free(r->lost_len);
    memset(r, 0, sizeof *r);
}

/* Notes a job that stays in our running list for an IE answer. Out of memory, it is left
 * there unanswered: the reconcile puts it back on the queue. */
static void add_lost(struct rescue *out, const char *job, size_t len)
{
    char **lost = realloc(out->lost, (out->n_lost + 1) * sizeof *lost);
    if (lost)
        out->lost = lost;
    size_t *lens = lost ? realloc(out->lost_len, (out->n_lost + 1) * sizeof *lens) : NULL;
    if (lens)
        out->lost_len = lens;
    char *copy = lens ? malloc(len + 1) : NULL;
    if (!copy) {
        log_error("rescue: out of memory noting a job to answer");
        return;
    }
    memcpy(copy, job, len);
    copy[len] = '\0';
    out->lost[out->n_lost] = copy;
    out->lost_len[out->n_lost++] = len;
}

/* The job's id, malloc'd, or NULL if it names none. */
static char *job_id(const char *job, size_t len)
{
    json_t *root = json_loadb(job, len, JSON_ALLOW_NUL, NULL);
    const char *id = json_string_value(json_object_get(root, RCE_JOB_ID));
    char *copy = id && *id ? strdup(id) : NULL;
    json_decref(root);
    return copy;
}

/* Step 2 for one claimed job (now in our running list): run it again, or answer it. The
 * marker records whom it was taken from: "<node>@<epoch>". */
static int rescue_job(struct queue *q, const char *from, const char *job, size_t len, struct rescue *out)
{
    char *id = job_id(job, len), *rescued = NULL, ttl[24];
    int rc = 0;
    if (!id || asprintf(&rescued, "%s%s", RCE_KEY_RESCUED, id) < 0) {
        rescued = NULL;
        add_lost(out, job, len);    /* no id (or no memory): not to be run twice either way */
        goto done;
    }
    snprintf(ttl, sizeof ttl, "%d", RCE_RESCUED_TTL_S);
    const char *keys[] = { rescued, q->running_key, q->queue_key };
    const char *args[] = { job, from, ttl };
    const size_t lens[] = { len, strlen(from), strlen(ttl) };
    redisReply *r = script_run(q, SCRIPT_RESCUE_JOB, REDIS_REPLY_INTEGER, 0, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, lens);
    if (!r) {
        rc = -1;        /* it stays in our running list: the reconcile requeues it */
        goto done;
    }
    if (r->integer == 1)
        out->requeued++;
    else
        add_lost(out, job, len);
    freeReplyObject(r);
done:
    free(id);
    free(rescued);
    return rc;
}

/* Step 3: the dead node's queue behind ours, its batch list behind our batch list; the node
 * leaves rce:nodes. */
static int absorb(struct queue *q, const char *node, const struct node_keys *k, struct rescue *out)
{
    const char *keys[] = { RCE_KEY_NODES, k->node, k->queue, q->queue_key, k->batch, q->batch_key };
    const char *args[] = { node };
    redisReply *r = script_run(q, SCRIPT_RESCUE_ABSORB, REDIS_REPLY_ARRAY, 0, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    if (!r)
        return -1;
    if (r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER
        && r->element[1]->type == REDIS_REPLY_INTEGER)
        out->requeued += (long)r->element[1]->integer;
    else
        log_error("rescue: unexpected reply from %s", "lua/rescue_absorb.lua");
    freeReplyObject(r);
    return 0;
}

int cluster_rescue_node(struct queue *q, const char *node, struct rescue *out)
{
    struct node_keys k;
    char now[24], from[CLUSTER_NODE_MAX + 24];
    if (node_keys(node, &k) != 0)
        return 0;
    snprintf(now, sizeof now, "%lld", (long long)clock_unix_ms());
    const char *keys[] = { RCE_KEY_NODES, k.node, k.running, q->running_key, k.epoch, RCE_KEY_DEAD };
    const char *args[] = { node, now };
    redisReply *r = script_run(q, SCRIPT_RESCUE_CLAIM, REDIS_REPLY_ARRAY, 1, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    int rc = 0;
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_NIL || r->elements == 0 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);     /* alive, or rescued by another node already */
        return 0;
    }
    snprintf(from, sizeof from, "%s@%lld", node, r->element[0]->integer);
    if (out->n_dead < CLUSTER_MAX_DEAD) {
        snprintf(out->dead[out->n_dead].node, sizeof out->dead[0].node, "%s", node);
        out->dead[out->n_dead++].epoch = r->element[0]->integer;
    }
    /* Newest first, as LPOP took them: pushed in that order onto the consumer end of our
     * queue, the oldest is next in line. */
    for (size_t i = 1; i < r->elements && rc == 0; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            rc = rescue_job(q, from, r->element[i]->str, r->element[i]->len, out);
    freeReplyObject(r);
    return rc == 0 ? absorb(q, node, &k, out) : rc;
}

/* The epoch and beat of a node JSON; false if it is not one. */
static bool node_figures(const char *text, size_t len, long long *epoch, long long *beat)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *e = json_object_get(root, RCE_NODE_EPOCH), *b = json_object_get(root, RCE_NODE_BEAT);
    bool ok = json_is_integer(b);
    *epoch = json_is_integer(e) ? (long long)json_integer_value(e) : 0;
    *beat = ok ? (long long)json_integer_value(b) : 0;
    json_decref(root);
    return ok;
}

int cluster_observe(struct queue *q, struct sighting **out, size_t *n)
{
    char **nodes = other_nodes(q, n), **keys = NULL;
    struct sighting *s = NULL;
    redisReply *r = NULL;
    int rc = -1;
    *out = NULL;
    if (!nodes)
        return -1;
    if (*n == 0) {
        rc = 0;
        goto done;
    }
    keys = calloc(*n + 1, sizeof *keys);
    s = calloc(*n, sizeof *s);
    for (size_t i = 0; keys && s && i < *n; i++)
        if (asprintf(&keys[i + 1], "%s%s", RCE_KEY_NODE, nodes[i]) < 0)
            goto oom;
    if (!keys || !s)
        goto oom;
    keys[0] = "MGET";
    if (!(r = queue_command_argv(q, "reading the heartbeats", REDIS_REPLY_ARRAY, (int)*n + 1,
                                 (const char **)keys)))
        goto done;
    for (size_t i = 0; i < *n && i < r->elements; i++) {
        snprintf(s[i].node, sizeof s[i].node, "%s", nodes[i]);
        s[i].present = r->element[i]->type == REDIS_REPLY_STRING
                       && node_figures(r->element[i]->str, r->element[i]->len, &s[i].epoch, &s[i].beat);
    }
    *out = s;
    s = NULL;
    rc = 0;
    goto done;
oom:
    log_error("cluster: out of memory reading the heartbeats");
done:
    if (r)
        freeReplyObject(r);
    for (size_t i = 0; keys && i < *n; i++)
        free(keys[i + 1]);
    free(keys);
    free(s);
    nodes_free(nodes);
    return rc;
}

char **cluster_dead_expired(struct queue *q, long long grace_ms)
{
    redisReply *r = queue_command(q, "listing dead nodes", REDIS_REPLY_ARRAY, 0, "HKEYS %s", RCE_KEY_DEAD);
    char **out = r ? calloc(r->elements + 1, sizeof *out) : NULL, now[24], grace[24];
    size_t n = 0;
    if (!out)
        goto done;
    snprintf(now, sizeof now, "%lld", (long long)clock_unix_ms());
    snprintf(grace, sizeof grace, "%lld", grace_ms);
    for (size_t i = 0; i < r->elements; i++) {
        struct node_keys k;
        const char *node = r->element[i]->str;
        if (r->element[i]->type != REDIS_REPLY_STRING || strcmp(node, q->cfg->node) == 0
            || node_keys(node, &k) != 0)
            continue;
        const char *keys[] = { RCE_KEY_DEAD, k.epoch };
        const char *args[] = { node, now, grace };
        redisReply *e = script_run(q, SCRIPT_DEAD_EXPIRED, REDIS_REPLY_INTEGER, 0, SCRIPT_COUNT_OF(keys),
                                   keys, SCRIPT_COUNT_OF(args), args, NULL);
        if (e && e->integer == 1 && (out[n] = strdup(node)))
            n++;
        if (e)
            freeReplyObject(e);
    }
done:
    if (r)
        freeReplyObject(r);
    return out;
}

long cluster_steal(struct queue *q, long max, char *const *languages, size_t n_languages)
{
    size_t n_nodes, n_keys = 0, n_args = 0;
    char **nodes = other_nodes(q, &n_nodes), max_text[24];
    char (*queues)[128] = nodes ? calloc(n_nodes + 1, sizeof *queues) : NULL;
    const char **keys = queues ? calloc(n_nodes + 1, sizeof *keys) : NULL;
    const char **args = keys ? calloc(n_languages + 2, sizeof *args) : NULL;
    long taken = -1;
    if (!args)
        goto done;
    taken = 0;
    if (n_nodes == 0 || n_languages == 0)
        goto done;
    snprintf(max_text, sizeof max_text, "%ld", max);
    keys[n_keys++] = q->queue_key;
    for (size_t i = 0; i < n_nodes; i++) {
        snprintf(queues[i], sizeof queues[i], "%s%s", RCE_KEY_QUEUE, nodes[i]);
        keys[n_keys++] = queues[i];
    }
    args[n_args++] = RCE_JOB_LANGUAGE;
    args[n_args++] = max_text;
    for (size_t i = 0; i < n_languages; i++)
        args[n_args++] = languages[i];
    redisReply *r = script_run(q, SCRIPT_STEAL, REDIS_REPLY_INTEGER, 0, n_keys, keys, n_args, args, NULL);
    taken = r ? (long)r->integer : -1;
    if (r)
        freeReplyObject(r);
done:
    free(args);
    free(keys);
    free(queues);
    nodes_free(nodes);
    return taken;
}

int cluster_leave(struct queue *q)
{
    const char *keys[] = { RCE_KEY_NODES, q->node_key, q->queue_key, q->running_key, q->batch_key };
    const char *args[] = { q->cfg->node };
    redisReply *r = script_run(q, SCRIPT_LEAVE, REDIS_REPLY_INTEGER, 0, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    if (!r)
        return -1;
    if (r->integer == 0)
        log_warn("jobs remain in %s, %s or %s: the node stays listed for a rescuer", q->queue_key,
                 q->batch_key, q->running_key);
    freeReplyObject(r);
    return 0;
}
