/* Running one job: a one-shot container from create to remove. */
#ifndef WORKERD_RUN_H
#define WORKERD_RUN_H

#include "config.h"
#include "docker.h"
#include "job.h"
#include "lang.h"

/* Runs job in a fresh container of lang's image on d and fills r (initialised by the caller
 * with the job's output cap): verdict, output, exit code, wall time, or IE with the failing
 * step. The wall limit is the job's, cut short by its deadline. The container is stopped by
 * then; it is removed on every path: here, or, when left is given, by the caller with
 * run_remove(left) after answering, which keeps the removal off the answer's path. */
void run_job(struct docker *d, const struct config *cfg, const struct job *job,
             const struct lang *lang, struct job_result *r, char *left, size_t left_len);

/* Force-removes a container run_job left (an empty id is nothing). */
void run_remove(struct docker *d, const char *id);

/* Room for a container id in run_job's left. */
#define RUN_CONTAINER_ID_SIZE 65    /* 64 hex digits and the NUL */

/* Force-removes every container labelled with this node whose job in_use() denies: the
 * leftovers of a crash, or of a remove that failed. Returns how many, or -1 if the list
 * could not be read. */
int run_reap(struct docker *d, const char *node, bool (*in_use)(const char *job_id));

#endif
