/* The slots: the threads that run jobs (each: its own Redis connection and Docker handle;
 * take a job, run it, answer), and the registry of what each one holds. */
#ifndef WORKERD_SLOT_H
#define WORKERD_SLOT_H

#include <pthread.h>
#include <stdbool.h>

struct node;

/* Per slot, the id of the job it runs and the queue element it holds (NULL: none), so that
 * the reaper spares their containers and the reconcile can tell a job in running that no
 * slot holds. The entries point at what the slot owns (a job's text can be MiBs): a slot
 * clears its entry before freeing it. */
struct slot_registry {
    pthread_mutex_t lock;
    int n;
    const char **running_ids;
    const char **held;
};

/* Sets up room for n slots; -1 if out of memory. */
int slot_registry_init(struct slot_registry *r, int n);
void slot_registry_destroy(struct slot_registry *r);

/* True if some slot runs the job with this id. */
bool slot_runs_job(struct slot_registry *r, const char *job_id);

/* True if some slot holds this queue element. */
bool slot_holds(struct slot_registry *r, const char *text);

struct slot {
    struct node *node;
    int index;
    pthread_t thread;
};

/* Starts slot index of node: it takes jobs from the node's queue until the node drains and
 * the queue is empty (jobs the gateway sent before it learned of the drain are this node's
 * to finish), counted in node->live_slots while it runs. -1 if the thread did not start. */
int slot_start(struct slot *s, struct node *node, int index);

#endif
