#include "script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "log.h"

#define SHA_LEN 40
#define FIXED_ARGS 3                /* EVALSHA <sha> <numkeys> */

_Static_assert(SCRIPT_COUNT <= QUEUE_SCRIPTS, "struct queue keeps a digest per script");
_Static_assert(sizeof ((struct queue *)0)->script_sha[0] == SHA_LEN + 1, "a digest and its NUL");

static const struct {
    const char *what;               /* for the log */
    const struct embedded *lua;
} scripts[SCRIPT_COUNT] = {
    [SCRIPT_CALLBACK_DONE] = { "recording a callback", &embed_lua_callback_done_lua },
    [SCRIPT_CALLBACK_TAKE] = { "taking a callback", &embed_lua_callback_take_lua },
    [SCRIPT_DEAD_EXPIRED] = { "reaping a dead node", &embed_lua_dead_expired_lua },
    [SCRIPT_FINISH] = { "answering", &embed_lua_finish_lua },
    [SCRIPT_HEARTBEAT] = { "heartbeat", &embed_lua_heartbeat_lua },
    [SCRIPT_LEAVE] = { "leaving the cluster", &embed_lua_leave_lua },
    [SCRIPT_REQUEUE] = { "requeue", &embed_lua_requeue_lua },
    [SCRIPT_RESCUE_ABSORB] = { "rescue (queue)", &embed_lua_rescue_absorb_lua },
    [SCRIPT_RESCUE_CLAIM] = { "rescue (running)", &embed_lua_rescue_claim_lua },
    [SCRIPT_RESCUE_JOB] = { "rescue (job)", &embed_lua_rescue_job_lua },
    [SCRIPT_STARTED] = { "starting an asynchronous job", &embed_lua_started_lua },
    [SCRIPT_STEAL] = { "steal", &embed_lua_steal_lua },
    [SCRIPT_TAKE] = { "taking a job (out of memory)", &embed_lua_take_lua },
};

const char *script_source(enum script_id id, size_t *len)
{
    *len = scripts[id].lua->len;
    return scripts[id].lua->data;
}

static int load(struct queue *q, enum script_id id)
{
    const struct embedded *lua = scripts[id].lua;
    redisReply *r = queue_command(q, "SCRIPT LOAD", REDIS_REPLY_STRING, 0, "SCRIPT LOAD %b", lua->data,
                                  lua->len);
    if (!r)
        return -1;
    int rc = r->len == SHA_LEN ? 0 : -1;
    if (rc == 0)
        memcpy(q->script_sha[id], r->str, SHA_LEN + 1);
    else
        log_error("redis: SCRIPT LOAD of %s answered no SHA1 digest", lua->path);
    freeReplyObject(r);
    return rc;
}

/* EVALSHA, loading the script first when this connection has not, and again once if Redis
 * no longer knows it. NULL after a failure, already handled. */
static redisReply *evalsha(struct queue *q, enum script_id id, int argc, const char **argv,
                           size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!q->script_sha[id][0] && load(q, id) != 0)
            return NULL;
        if (queue_connect(q) != 0)
            return NULL;
        argv[1] = q->script_sha[id];
        lens[1] = SHA_LEN;
        redisReply *r = redisCommandArgv(q->ctx, argc, argv, lens);
        if (!r) {
            queue_fail(q, scripts[id].what, NULL);
            return NULL;
        }
        if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0)
            return r;
        freeReplyObject(r);     /* Redis restarted, or its scripts were flushed */
        q->script_sha[id][0] = '\0';
    }
    queue_fail(q, scripts[id].what, NULL);
    return NULL;
}

redisReply *script_run(struct queue *q, enum script_id id, int want, int nil_ok, size_t nkeys,
                       const char *const *keys, size_t nargs, const char *const *args,
                       const size_t *arg_lens)
{
    size_t argc = FIXED_ARGS + nkeys + nargs;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    char numkeys[24];
    redisReply *r = NULL;
    if (!argv || !lens) {
        log_error("redis: %s: out of memory", scripts[id].what);
        goto done;
    }
    snprintf(numkeys, sizeof numkeys, "%zu", nkeys);
    argv[0] = "EVALSHA";
    argv[2] = numkeys;
    for (size_t i = 0; i < nkeys; i++)
        argv[FIXED_ARGS + i] = keys[i];
    for (size_t i = 0; i < nargs; i++)
        argv[FIXED_ARGS + nkeys + i] = args[i];
    for (size_t i = 0; i < argc; i++)
        lens[i] = i >= FIXED_ARGS + nkeys && arg_lens ? arg_lens[i - FIXED_ARGS - nkeys]
                  : argv[i] ? strlen(argv[i]) : 0;
    if (!(r = evalsha(q, id, (int)argc, argv, lens)))
        goto done;
    if (r->type != want && !(nil_ok && r->type == REDIS_REPLY_NIL)) {
        queue_fail(q, scripts[id].what, r);
        freeReplyObject(r);
        r = NULL;
    } else {
        queue_succeeded(q);
    }
done:
    free(argv);
    free(lens);
    return r;
}
