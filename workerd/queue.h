/* The Redis side of a node: reliable job queue, results, heartbeat. One struct per thread. */
#ifndef WORKERD_QUEUE_H
#define WORKERD_QUEUE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define QUEUE_SCRIPTS 16    /* room for script.c's scripts */
#define QUEUE_COMMAND_TIMEOUT_MS 5000   /* socket timeout, on top of BLMOVE's own wait */

struct queue {
    redisContext *ctx;      /* NULL while disconnected */
    const struct config *cfg;
    char queue_key[128];    /* rce:queue:<node> */
    char running_key[128];  /* rce:running:<node>: jobs taken and not yet answered */
    char batch_key[128];    /* rce:batch:<node>: the batch class, taken when the queue is empty */
    char node_key[128];     /* rce:node:<node> */
    char epoch_key[128];    /* rce:epoch:<node> */
    int64_t backoff_ms;     /* pause after the next failure: 100 ms doubling to 1 s */
    bool failing;           /* an outage is under way: logged once, not on every retry */
    bool full;              /* Redis is at maxmemory: logged once, until it takes BLMOVE again */
    char script_sha[QUEUE_SCRIPTS][41];   /* SCRIPT LOAD's answer per script (script.c); "": not loaded */
};

void queue_init(struct queue *q, const struct config *cfg);
void queue_close(struct queue *q);

/* Connects if not connected. On failure logs, sleeps the backoff and returns -1. Every other
 * call fails (-1) the same way: it drops the connection and sleeps, so a caller just retries. */
int queue_connect(struct queue *q);

/* queue_command with the arguments as C strings (argc of them), for a command whose length
 * is known only at run time. */
redisReply *queue_command_argv(struct queue *q, const char *what, int want, int argc, const char **argv);

/* queue_take's answer when Redis refused BLMOVE for being at maxmemory: nothing was taken,
 * nothing backed off; lua/take.lua may still take a job then (slot.c). */
#define QUEUE_OUT_OF_MEMORY (-2)

/* The longest a slot waits in queue_take: how soon it notices shutdown. */
#define QUEUE_TAKE_TIMEOUT_MS 1000

/* Waits up to timeout_ms (> 0, at most QUEUE_TAKE_TIMEOUT_MS) for a job and moves it to
 * running in the same step (BLMOVE), so a crash never loses it. Returns 1 with a malloc'd copy
 * in *job, 0 if none came, -1 on error, or QUEUE_OUT_OF_MEMORY. */
int queue_take(struct queue *q, long timeout_ms, char **job, size_t *len);

/* A taken job's reply (a string, or nil: none), which it frees: 1 with a malloc'd copy in
 * *job, 0 for nil or when out of memory (logged; the job stays in running). */
int queue_taken(struct queue *q, redisReply *r, char **job, size_t *len);


/* Forgets a job nobody waits for: LREM it from running. */
int queue_drop(struct queue *q, const char *job, size_t len);

/* Moves every job a previous incarnation left in running back to the head of the queue,
 * oldest first in line. Returns how many, or -1. */
long queue_requeue_running(struct queue *q);

/* The jobs now in running (LRANGE), NULL-terminated, malloc'd strings in a malloc'd array;
 * NULL on failure (or out of memory). */
char **queue_running(struct queue *q);

/* Registers the node: a new epoch (INCR rce:epoch:<node>), and no longer noted dead (HDEL
 * rce:dead). Returns the epoch (> 0), or -1. */
long long queue_register(struct queue *q);

/* LLEN of key (one of this node's lists), or -1. */
long queue_length(struct queue *q, const char *key);

/* Every failure ends here: logs (once per outage), drops the connection (a reply may be half
 * read) and sleeps the backoff. what names the step, reply (may be NULL) says why. Returns -1. */
int queue_fail(struct queue *q, const char *what, const redisReply *reply);

/* A command went through: the next failure starts backing off from the bottom again. */
void queue_succeeded(struct queue *q);

/* Runs one command (printf-style, hiredis formats); the reply must have type `want`, or
 * REDIS_REPLY_NIL when nil_ok. Returns the reply (caller frees) or NULL after a failure, which
 * is logged and backed off like every other. */
redisReply *queue_command(struct queue *q, const char *what, int want, int nil_ok,
                          const char *fmt, ...);

/* queue_command for a caller that must not stall: on the connection as it is (none: NULL at
 * once), waiting at most timeout_ms (> 0) for the reply, which must have type want. A failure
 * is logged and drops the connection (the next queue_command connects again), without backing
 * off. Returns the reply (caller frees) or NULL. */
redisReply *queue_command_within(struct queue *q, long timeout_ms, const char *what, int want, const char *fmt,
                                 ...);

#endif
