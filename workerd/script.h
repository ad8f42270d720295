/* The Redis Lua scripts (the .lua files in lua/, embedded at build time): loaded once per connection with
 * SCRIPT LOAD, run with EVALSHA, loaded again when Redis answers NOSCRIPT (it restarted).
 * Every key a script touches comes in KEYS, named in C from rce_protocol.h. */
#ifndef WORKERD_SCRIPT_H
#define WORKERD_SCRIPT_H

#include <stddef.h>

#include "queue.h"

/* The number of keys or arguments in an array given to script_run. */
#define SCRIPT_COUNT_OF(a) (sizeof (a) / sizeof (a)[0])

enum script_id {
    SCRIPT_CALLBACK_DONE,   /* lua/callback_done.lua */
    SCRIPT_CALLBACK_TAKE,   /* lua/callback_take.lua */
    SCRIPT_DEAD_EXPIRED,    /* lua/dead_expired.lua */
    SCRIPT_FINISH,          /* lua/finish.lua */
    SCRIPT_HEARTBEAT,       /* lua/heartbeat.lua */
    SCRIPT_LEAVE,           /* lua/leave.lua */
    SCRIPT_REQUEUE,         /* lua/requeue.lua */
    SCRIPT_RESCUE_ABSORB,   /* lua/rescue_absorb.lua */
    SCRIPT_RESCUE_CLAIM,    /* lua/rescue_claim.lua */
    SCRIPT_RESCUE_JOB,      /* lua/rescue_job.lua */
    SCRIPT_STARTED,         /* lua/started.lua */
    SCRIPT_STEAL,           /* lua/steal.lua */
    SCRIPT_TAKE,            /* lua/take.lua */
    SCRIPT_COUNT
};

/* The script's source, for tests. */
const char *script_source(enum script_id id, size_t *len);

/* Runs script id on q with nkeys keys and nargs arguments (arg_lens NULL: C strings). The
 * reply must have type want, or be nil when nil_ok. Returns the reply (caller frees), or NULL
 * after a failure, logged and backed off as queue_command does. */
redisReply *script_run(struct queue *q, enum script_id id, int want, int nil_ok, size_t nkeys,
                       const char *const *keys, size_t nargs, const char *const *args,
                       const size_t *arg_lens);

#endif
