/* Running one job: a one-shot container, cold (created for the job) or warm (started
 * beforehand and waiting for a job on stdin), from its start to its removal. */
#ifndef WORKERD_RUN_H
#define WORKERD_RUN_H

#include <stdbool.h>

#include "config.h"
#include "docker.h"
#include "job.h"
#include "lang.h"

/* The settings a container is created with that a job's limits decide. A warm container
 * serves only jobs of its shape. */
struct run_shape {
    long memory_mb;
    long pids;
    long cpu_s;             /* RLIMIT_CPU */
};

void run_shape(const struct config *cfg, const struct limits *limits, const struct lang *lang,
               struct run_shape *shape);

/* A warm container: started with the full sandbox spec and lang's default limits, its PID 1
 * waiting for one job on the attached stdin. */
struct run_warm {
    char id[DOCKER_ID_SIZE];
    struct docker_stream stream;
    bool attached;          /* stream is open */
};

/* Creates, starts and attaches a warm container labelled pool_token. On failure err says
 * why, and w->id may still name a container: run_warm_discard removes it. */
int run_warm_start(struct docker *d, const struct config *cfg, const struct lang *lang,
                   const char *pool_token, struct run_warm *w, char *err, size_t errlen);

/* Hangs up and force-removes (a warm container never taken, or one that failed). */
void run_warm_discard(struct docker *d, struct run_warm *w);

/* Runs job and fills r (initialised by the caller with the job's output cap): verdict,
 * output, exit code, wall time, or IE with the failing step. With warm (taken from the
 * pool; its shape must be the job's) the job goes to that container, else to a cold one
 * (also when the warm one turns out dead: it is removed). The wall limit is the job's, cut
 * short by its deadline. The container is stopped by then; it is removed on every path:
 * here, or, when left is given, by the caller with run_remove(left) after answering, which
 * keeps the removal off the answer's path (left: DOCKER_ID_SIZE bytes). */
void run_job(struct docker *d, const struct config *cfg, const struct job *job,
             const struct lang *lang, struct run_warm *warm, struct job_result *r,
             char *left, size_t left_len);

/* Force-removes a container run_job left (an empty id is nothing). */
void run_remove(struct docker *d, const char *id);

/* Force-removes every container labelled with this node that in_use() denies (given its id
 * and its job and pool labels, NULL when absent): the leftovers of a crash, or of a remove
 * that failed. Returns how many, or -1 if the list could not be read. */
int run_reap(struct docker *d, const char *node, bool (*in_use)(const char *id, const char *job_id,
                                                                const char *pool_token));

#endif
