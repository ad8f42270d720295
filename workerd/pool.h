/* The warm pool: per language, containers started with the full sandbox spec before their
 * job exists, each handed to exactly one job and then removed like any job container.
 * Filler threads keep every language at its target, within the node's memory budget. The
 * target follows the language's jobs (demand.h) above its --pool floor; when the budget is
 * full, a waiting container of the least recently used language gives way to a language in
 * use that lacks one. */
#ifndef WORKERD_POOL_H
#define WORKERD_POOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lang.h"
#include "run.h"

struct pool;

/* Starts the filler threads (none when every pool size is 0). NULL if out of memory. */
struct pool *pool_start(const struct config *cfg, struct lang_registry *langs);

/* Stops the fillers and removes every warm container not handed out; frees p. Every
 * container handed out must have been released first. */
void pool_stop(struct pool *p);

/* Hands out a warm container of lang's current image for a job of this shape, or NULL: the
 * job runs cold. A batch job gets one only if another stays ready, for the interactive and
 * normal jobs. Its memory stays counted in the budget until pool_release. */
struct container_warm *pool_take(struct pool *p, const struct lang *lang, const struct container_shape *shape,
                                 bool batch);

/* Counts a cold job container's memory in the budget while it exists. */
void pool_reserve(struct pool *p, long memory_mb);

/* After a job's container was removed: gives back its memory, the warm one's (w, which is
 * freed; the job counts as warm unless run_job found it dead and discarded it) or the
 * memory_mb pool_reserve counted. */
void pool_release(struct pool *p, struct container_warm *w, long memory_mb);

/* A language's last job, for the cluster's record (RCE_KEY_RECENT). */
struct pool_asked {
    char language[RCE_NAME_MAX + 1];
    int64_t age_ms;         /* how long ago it came */
};

/* Fills out with up to max languages whose jobs (with the default limits) came since they
 * were last handed out here, each at most once per RCE_RECENT_REPORT_MS while its jobs keep
 * coming. Returns how many. */
size_t pool_asked(struct pool *p, struct pool_asked *out, size_t max);

/* The cluster's record says a job of language came age_ms ago: if the node runs it, its pool
 * is on and demand-driven, and that is within --pool-idle-s, one container of it is kept warm
 * until that period has passed since (demand_seed). True if that raised its target. */
bool pool_seed(struct pool *p, const char *language, int64_t age_ms);

/* Starts no more warm containers (the node is draining). */
void pool_drain(struct pool *p);

/* For the reaper: true if the container with this rce.pool label is a warm container this
 * pool answers for (waiting, being started or handed out). */
bool pool_owns(struct pool *p, const char *pool_label);

/* Fills the node JSON's pool object (RCE_POOL_*: starting and lent only when some are;
 * target lists the languages whose target is above 0). */
int pool_describe(struct pool *p, json_t *pool);

#endif
