/* A job's container through its life on the Docker engine: its spec from the job and the
 * language, cold (created for the job) or warm (started beforehand, its job sent on stdin),
 * start, attach, figures, exit state, kill, removal, and the reaping of orphans. */
#ifndef WORKERD_CONTAINER_H
#define WORKERD_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "docker.h"
#include "job.h"
#include "lang.h"

/* The settings a container is created with that a job's limits decide. A warm container
 * serves only jobs of its shape. */
struct container_shape {
    long memory_mb;
    long pids;
    long cpu_s;             /* RLIMIT_CPU */
};

void container_shape(const struct config *cfg, const struct limits *limits, const struct lang *lang,
                     struct container_shape *shape);

/* The memory a run of lang may use, MiB: its memory_mb, raised to what the language's runtime
 * needs (within the node's maximum). The container is larger when the compile step needs
 * more; the run is then held to this by its peak (run.c). */
long container_run_memory_mb(const struct config *cfg, const struct limits *limits, const struct lang *lang);

/* CPUs a container of lang may use at once: one, unless the language declares more; never
 * more than the node allows. */
long container_cpus(const struct config *cfg, const struct lang *lang);

/* A warm container: started with the full sandbox spec and lang's default limits, its PID 1
 * waiting for one job on the attached stdin. */
struct container_warm {
    char id[DOCKER_ID_SIZE];
    struct docker_stream stream;
    bool attached;          /* stream is open */
};

/* Creates, starts and attaches a warm container labelled pool_token. On failure err says
 * why, and w->id may still name a container: container_warm_discard removes it. */
int container_warm_start(struct docker *d, const struct config *cfg, const struct lang *lang,
                         const char *pool_token, struct container_warm *w, char *err, size_t errlen);

/* Hangs up and force-removes (a warm container never taken, or one that failed). */
void container_warm_discard(struct docker *d, struct container_warm *w);

/* Cold start: creates job's container, attaches to it (its output into r's captures) and
 * starts it. Fills id (kept on failure too, for removal), *stream_open and *t_start, the
 * moment of the start call. A job too large for a command line (sandbox_fits_command) is
 * fed on stdin as a warm container's is, with an end token: *fed says so, and *t_start is
 * then when it was sent. -1 after failing r. */
int container_start_cold(struct docker *d, const struct config *cfg, const struct job *job,
                         const struct lang *lang, const char *marker, struct docker_stream *stream,
                         bool *stream_open, bool *fed, char *id, int64_t *t_start, struct job_result *r);

/* Warm start: hands the job to a container that waits for it, with an end token, which a
 * container fed on stdin can keep secret. Returns 1 if the container was no longer waiting
 * or took no job (discarded: start cold instead), 0 when the job is on its way (*t_start:
 * when), -1 after failing r. */
int container_start_warm(struct docker *d, const struct config *cfg, const struct job *job,
                         const struct lang *lang, const char *marker, struct container_warm *warm,
                         int64_t *t_start, struct job_result *r);

/* Reads the container's cpu total and memory peak through the stats API into r (a figure
 * the engine does not give stays unknown). Returns the cpu total in ms, or -1. */
long long container_stats(struct docker *d, const char *id, struct job_result *r);

/* True if the engine logged an OOM event for the container within the last minute: under
 * gVisor the kernel's OOM kill takes the whole sandbox, and Docker may handle the exit before
 * the event, leaving State.OOMKilled false. */
bool container_oom_seen(struct docker *d, const char *id);

/* Waits at most timeout_ms for the container to stop running, then reads its exit code and
 * OOMKilled flag. DOCKER_OK, DOCKER_TIMEOUT (still running), or DOCKER_FAILED with err. */
int container_wait_exit(struct docker *d, const char *id, long timeout_ms, int *exit_code, bool *oom_killed,
                        char *err, size_t errlen);

/* Kills at once (a failure is logged). */
void container_kill(struct docker *d, const char *id);

/* Force-removes (an empty id is nothing). A failure is only logged: the reaper retries within
 * a minute. */
void container_remove(struct docker *d, const char *id);

/* Given a container's job and pool labels (NULL when absent), whether this process still
 * uses it. */
typedef bool container_in_use(void *arg, const char *job_id, const char *pool_token);

/* Force-removes every container labelled with this node that in_use(arg, ...) denies (in_use
 * NULL: every one): the leftovers of a crash, or of a remove that failed. Returns how many,
 * or -1 if the list could not be read. */
int container_reap(struct docker *d, const char *node, container_in_use *in_use, void *arg);

#endif
