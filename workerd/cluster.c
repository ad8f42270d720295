#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rce_protocol.h"

/* Key prefixes and field names reach the scripts as arguments, from rce_protocol.h, so they
 * stay defined in one place. Node keys are computed inside the scripts: fine on a single
 * Redis, which is what rce uses (not Redis Cluster). */
#define PROTOCOL_ARGS "%s %s %s %s %s %s %s"
#define PROTOCOL_VALUES RCE_KEY_NODES, RCE_KEY_NODE, RCE_KEY_QUEUE, RCE_KEY_RUNNING, \
                        RCE_KEY_RESCUED, RCE_JOB_ID, RCE_JOB_LANGUAGE
#define PROTOCOL_LUA \
    "local nodes_key, node_p, queue_p, running_p, rescued_p, f_id, f_lang =" \
    " ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"

/* ARGV[8] = this node, ARGV[9] = rescued marker TTL. Returns {dead nodes, requeued, lost}. */
static const char rescue_lua[] = PROTOCOL_LUA
    "local me, ttl = ARGV[8], tonumber(ARGV[9])\n"
    "local mine, my_running = queue_p .. me, running_p .. me\n"
    "local dead, requeued, lost = {}, 0, {}\n"
    "for _, node in ipairs(redis.call('SMEMBERS', nodes_key)) do\n"
    "  if node ~= me and redis.call('EXISTS', node_p .. node) == 0 then\n"
    "    local running = running_p .. node\n"
    "    local job = redis.call('LPOP', running)\n"
    "    while job do\n"
    "      local ok, j = pcall(cjson.decode, job)\n"
    "      local id = ok and type(j) == 'table' and j[f_id]\n"
    "      if type(id) == 'string' and redis.call('SET', rescued_p .. id, node, 'NX', 'EX', ttl) then\n"
    "        redis.call('RPUSH', mine, job)\n"
    "        requeued = requeued + 1\n"
    "      else\n"
    "        redis.call('LPUSH', my_running, job)\n"
    "        lost[#lost + 1] = job\n"
    "      end\n"
    "      job = redis.call('LPOP', running)\n"
    "    end\n"
    "    while redis.call('LMOVE', queue_p .. node, mine, 'LEFT', 'RIGHT') do\n"
    "      requeued = requeued + 1\n"
    "    end\n"
    "    redis.call('SREM', nodes_key, node)\n"
    "    dead[#dead + 1] = node\n"
    "  end\n"
    "end\n"
    "return {dead, requeued, lost}\n";

/* ARGV[8] = this node, ARGV[9] = how many at most, ARGV[10..] = our languages. */
static const char steal_lua[] = PROTOCOL_LUA
    "local me, max = ARGV[8], tonumber(ARGV[9])\n"
    "local langs = {}\n"
    "for i = 10, #ARGV do langs[ARGV[i]] = true end\n"
    "local mine, taken = queue_p .. me, 0\n"
    "if redis.call('LLEN', mine) > 0 then return 0 end\n"
    "for _, node in ipairs(redis.call('SMEMBERS', nodes_key)) do\n"
    "  if node ~= me then\n"
    "    local victim = queue_p .. node\n"
    "    while taken < max do\n"
    "      local job = redis.call('LINDEX', victim, -1)\n"
    "      if not job then break end\n"
    "      local ok, j = pcall(cjson.decode, job)\n"
    "      if not (ok and type(j) == 'table' and langs[j[f_lang]]) then break end\n"
    "      redis.call('RPOP', victim)\n"
    "      redis.call('RPUSH', mine, job)\n"
    "      taken = taken + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return taken\n";

/* ARGV[8] = this node. Returns 1 if it left rce:nodes, 0 if jobs keep it listed. */
static const char leave_lua[] = PROTOCOL_LUA
    "local me = ARGV[8]\n"
    "redis.call('DEL', node_p .. me)\n"
    "if redis.call('LLEN', queue_p .. me) == 0 and redis.call('LLEN', running_p .. me) == 0 then\n"
    "  redis.call('SREM', nodes_key, me)\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

void rescue_free(struct rescue *r)
{
    for (size_t i = 0; i < r->n_lost; i++)
        free(r->lost[i]);
    free(r->lost);
    free(r->lost_len);
    memset(r, 0, sizeof *r);
}

/* Copies the script's {dead, requeued, lost} reply into out. */
static int read_rescue(const redisReply *reply, struct rescue *out)
{
    const redisReply *dead = reply->element[0], *lost = reply->element[2];
    for (size_t i = 0; i < dead->elements && out->n_dead < CLUSTER_MAX_DEAD; i++)
        snprintf(out->dead[out->n_dead++], sizeof out->dead[0], "%s", dead->element[i]->str);
    out->requeued = (long)reply->element[1]->integer;
    if (lost->elements == 0)
        return 0;
    out->lost = calloc(lost->elements, sizeof *out->lost);
    out->lost_len = calloc(lost->elements, sizeof *out->lost_len);
    if (!out->lost || !out->lost_len)
        return -1;
    for (size_t i = 0; i < lost->elements; i++) {
        if (!(out->lost[i] = malloc(lost->element[i]->len + 1)))
            return -1;
        memcpy(out->lost[i], lost->element[i]->str, lost->element[i]->len + 1);
        out->lost_len[i] = lost->element[i]->len;
        out->n_lost++;
    }
    return 0;
}

int cluster_rescue(struct queue *q, struct rescue *out)
{
    memset(out, 0, sizeof *out);
    redisReply *r = queue_command(q, "rescuing dead nodes", REDIS_REPLY_ARRAY, 0,
                                  "EVAL %s 0 " PROTOCOL_ARGS " %s %d", rescue_lua, PROTOCOL_VALUES,
                                  q->cfg->node, RCE_RESCUED_TTL_S);
    if (!r)
        return -1;
    int rc = 0;
    if (r->elements != 3 || r->element[0]->type != REDIS_REPLY_ARRAY
        || r->element[2]->type != REDIS_REPLY_ARRAY) {
        log_error("rescue: unexpected reply from the script");
        rc = -1;
    } else if (read_rescue(r, out) != 0) {
        /* the lost jobs are safe in our running list: the next start answers them */
        log_error("rescue: out of memory reading the reply");
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

long cluster_steal(struct queue *q, long max, char *const *languages, size_t n_languages)
{
    size_t argc = 0, fixed = 12;
    const char **argv = calloc(fixed + n_languages, sizeof *argv);
    size_t *argvlen = calloc(fixed + n_languages, sizeof *argvlen);
    char max_text[24];
    long taken = -1;
    if (!argv || !argvlen)
        goto fail;
    snprintf(max_text, sizeof max_text, "%ld", max);
    const char *head[] = { "EVAL", steal_lua, "0", PROTOCOL_VALUES, q->cfg->node, max_text };
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        argv[argc++] = head[i];
    for (size_t i = 0; i < n_languages; i++)
        argv[argc++] = languages[i];
    for (size_t i = 0; i < argc; i++)
        argvlen[i] = strlen(argv[i]);
    if (queue_connect(q) != 0)
        goto fail;
    redisReply *r = redisCommandArgv(q->ctx, (int)argc, argv, argvlen);
    if (r && r->type == REDIS_REPLY_INTEGER)
        taken = (long)r->integer;
    else
        log_warn("steal: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
    if (r)
        freeReplyObject(r);
    else
        queue_close(q);     /* the connection is in an unknown state */
fail:
    free(argv);
    free(argvlen);
    return taken;
}

int cluster_leave(struct queue *q)
{
    redisReply *r = queue_command(q, "leaving the cluster", REDIS_REPLY_INTEGER, 0,
                                  "EVAL %s 0 " PROTOCOL_ARGS " %s", leave_lua, PROTOCOL_VALUES,
                                  q->cfg->node);
    if (!r)
        return -1;
    if (r->integer == 0)
        log_warn("jobs remain in %s%s or %s%s: the node stays listed for a rescuer", RCE_KEY_QUEUE,
                 q->cfg->node, RCE_KEY_RUNNING, q->cfg->node);
    freeReplyObject(r);
    return 0;
}
