/* Running one job: from its container's start to the verdict, driving container.c (the
 * container's life) and reading the wrapper's lines through job.c and wrapper.c. */
#ifndef WORKERD_RUN_H
#define WORKERD_RUN_H

#include <stddef.h>

#include "config.h"
#include "container.h"
#include "docker.h"
#include "job.h"
#include "lang.h"

/* Runs job and fills r (initialised by the caller with the job's output cap): verdict,
 * output, exit code, wall time, or IE with the failing step. With warm (taken from the
 * pool; its shape must be the job's) the job goes to that container, else to a cold one
 * (also when the warm one turns out dead: it is removed). The wall limit is the job's, cut
 * short by its deadline. The container is stopped by then; it is removed on every path:
 * here, or, when left is given, by the caller with container_remove(left) after answering,
 * which keeps the removal off the answer's path (left: DOCKER_ID_SIZE bytes). A stream job's
 * stages and output are published as they come (job->events, stream.c), its input is taken
 * meanwhile and passed on to the container (job->input, input.c, opened by the caller). */
void run_job(struct docker *d, const struct config *cfg, const struct job *job,
             const struct lang *lang, struct container_warm *warm, struct job_result *r,
             char *left, size_t left_len);

#endif
