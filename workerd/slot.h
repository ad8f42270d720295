/* The slots: the threads that run jobs (each: its own Redis connection and Docker handle;
 * take a job, run it, answer), and the registry of what each one holds. */
#ifndef WORKERD_SLOT_H
#define WORKERD_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct config;
struct node;

/* Per slot, the id of the job it runs and the queue element it holds (NULL: none), so that
 * the reaper spares their containers and the reconcile can tell a job in running that no
 * slot holds. The entries point at what the slot owns (a job's text can be MiBs): a slot
 * clears its entry before freeing it. An asynchronous job's slot has a cancel flag, which
 * the cancel poll (async.c) sets for that job alone: noting a job, or none, clears it. */
struct slot_registry {
    pthread_mutex_t lock;
    int n;
    const char **running_ids;
    const char **held;
    bool *async;                /* the running job is asynchronous: it can be cancelled */
    atomic_bool *cancel;        /* stop the running job (run.c reads it through job->cancel) */
};

/* An asynchronous job some slot runs (slot_async_jobs). */
struct slot_job {
    int slot;
    char *id;                   /* malloc'd copy */
};

/* Sets up room for n slots; -1 if out of memory. */
int slot_registry_init(struct slot_registry *r, int n);
void slot_registry_destroy(struct slot_registry *r);

/* True if some slot runs the job with this id. */
bool slot_runs_job(struct slot_registry *r, const char *job_id);

/* True if some slot holds this queue element. */
bool slot_holds(struct slot_registry *r, const char *text);

/* Notes that slot runs the job with this id (NULL: none now), and whether it is
 * asynchronous; clears the slot's cancel flag either way. id must outlive the entry. */
void slot_note_running(struct slot_registry *r, int slot, const char *id, bool async);

/* The asynchronous jobs the slots run now, into *jobs (malloc'd, *n of them; free with
 * slot_jobs_free). Returns 0, or -1 if out of memory (*jobs NULL, *n 0). */
int slot_async_jobs(struct slot_registry *r, struct slot_job **jobs, size_t *n);
void slot_jobs_free(struct slot_job *jobs, size_t n);

/* Raises slot's cancel flag if it still runs the job with this id (a job of an earlier
 * look may be gone, the slot running another). Returns true if this call raised it. */
bool slot_cancel(struct slot_registry *r, int slot, const char *job_id);

struct slot {
    struct node *node;
    int index;
    pthread_t thread;
};

/* Starts slot index of node: it takes jobs from the node's queue until the node drains and
 * the queue is empty (jobs the gateway sent before it learned of the drain are this node's
 * to finish), counted in node->live_slots while it runs. -1 if the thread did not start. */
int slot_start(struct slot *s, struct node *node, int index);

/* Batch-class jobs the node runs at once, at most: --batch-slots (at most --slots), or all
 * slots but one (at least one), so that a slot is always free for interactive and normal jobs. */
int slot_batch_limit(const struct config *cfg);

#endif
