/* Programs workerd hands to others, embedded at build time from files of their own (embed.pl
 * writes build/embedded.c from them; see the Makefile): the container's PID 1 and the Redis
 * scripts. */
#ifndef WORKERD_EMBEDDED_H
#define WORKERD_EMBEDDED_H

#include <stddef.h>

struct embedded {
    const char *data;       /* the file's bytes, NUL-terminated */
    size_t len;             /* without the NUL */
    const char *path;       /* relative to workerd/ */
};

extern const struct embedded embed_prelude_pl;      /* prelude.pl */
extern const struct embedded embed_wrapper_pl;      /* wrapper.pl */
extern const struct embedded embed_lua_callback_done_lua;
extern const struct embedded embed_lua_callback_take_lua;
extern const struct embedded embed_lua_dead_expired_lua;
extern const struct embedded embed_lua_finish_lua;
extern const struct embedded embed_lua_heartbeat_lua;
extern const struct embedded embed_lua_leave_lua;
extern const struct embedded embed_lua_requeue_lua;
extern const struct embedded embed_lua_rescue_absorb_lua;
extern const struct embedded embed_lua_rescue_claim_lua;
extern const struct embedded embed_lua_rescue_job_lua;
extern const struct embedded embed_lua_started_lua;
extern const struct embedded embed_lua_steal_lua;
extern const struct embedded embed_lua_take_lua;

#endif
