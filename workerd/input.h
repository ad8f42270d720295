/* A stream job's input (docs/protocol.md, "Streaming and interactive jobs"): while it runs,
 * the node BLPOPs rce:input:<id> on a Redis connection of its own, without blocking (run.c
 * polls its fd beside the container's stream). A kill entry raises the job's cancel flag
 * (run.c stops it, CANCELLED); an interactive job's stdin, eof and signal entries become the
 * wrapper's control lines (wrapper.h), sent on the container's attached stdin as the
 * connection takes them. Live stdin past RCE_INPUT_MAX_BYTES is dropped (and logged). A
 * control line is held whole or dropped, never cut; data lines leave room for signals and the
 * eof line, so an eof is never lost to stdin the container did not take (wrapper.h). */
#ifndef WORKERD_INPUT_H
#define WORKERD_INPUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "docker.h"
#include "job.h"
#include "output.h"
#include "queue.h"

struct job_input {
    struct queue conn;          /* its own connection; conn.ctx NULL: not watching */
    char key[256];              /* rce:input:<id> */
    const char *id;             /* the job's (not owned) */
    bool interactive;
    atomic_bool *cancel;        /* the job's cancel flag, raised by a kill entry */
    size_t stdin_bytes;         /* live stdin taken so far */
    bool eof;                   /* the program's stdin is closed: later stdin is dropped */
    struct capture control;     /* control lines not yet sent to the container (whole lines) */
    bool dropped;               /* a control line was dropped for want of room (warned) */
};

/* Sets in up for job (a stream job) and starts watching its rce:input:<id> (cfg names Redis).
 * A failure is logged: the job then runs without input. */
void job_input_open(struct job_input *in, const struct config *cfg, const struct job *job, atomic_bool *cancel);

/* The fd to poll for input (readable: call job_input_read), or -1. */
int job_input_fd(const struct job_input *in);

/* Takes the entries that came (the fd was readable) and waits for the next. */
void job_input_read(struct job_input *in);

/* Sends what it can of the pending control lines on the container's attached stdin, without
 * waiting (what is left goes next time). */
void job_input_flush(struct job_input *in, struct docker_stream *s);

/* Stops watching and frees in; then DELetes rce:input:<id> on q (the slot's connection). */
void job_input_close(struct job_input *in, struct queue *q);

/* Acts on one entry of rce:input:<id> (JSON); for tests. */
void job_input_take(struct job_input *in, const char *text, size_t len);

#endif
