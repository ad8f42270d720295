/* The node among its peers: taking over the jobs of dead nodes, stealing queued work when
 * idle, and leaving the cluster. Each step that moves jobs is a Lua script (in lua/),
 * atomic in Redis, so two nodes can never take the same job. */
#ifndef WORKERD_CLUSTER_H
#define WORKERD_CLUSTER_H

#include <stddef.h>

#include "queue.h"

#define CLUSTER_MAX_DEAD 16     /* dead nodes reported by one rescue */
#define CLUSTER_NODE_MAX 64     /* bytes in a node name and its NUL, as in struct config */

struct rescue {
    char dead[CLUSTER_MAX_DEAD][CLUSTER_NODE_MAX];   /* nodes whose heartbeat expired and whose jobs we took */
    int n_dead;
    long requeued;                     /* jobs put on our queue */
    char **lost;                       /* jobs a node had already died running once: they are
                                          now in our running list, to be answered IE */
    size_t *lost_len;
    size_t n_lost;
};

/* Takes over the queued and running jobs of every registered node whose heartbeat expired:
 * queued ones keep their order at the head of our queue; running ones are run again once
 * (marked rce:rescued:<id>), or land in our running list for an IE answer if a node already
 * died running them. Fills *out (free with rescue_free), also on failure with what was done
 * by then. Returns 0, or -1 on Redis failure. */
int cluster_rescue(struct queue *q, struct rescue *out);
void rescue_free(struct rescue *r);

/* When our queue is empty, moves up to max jobs, oldest first, from the tails of other nodes'
 * queues onto the head of ours, but only jobs in one of our languages. Returns how many, or
 * -1. */
long cluster_steal(struct queue *q, long max, char *const *languages, size_t n_languages);

/* Leaves the cluster: deletes the heartbeat, and removes the node from rce:nodes only when its
 * queue and running list are empty, so that jobs left behind are still found by a rescuer. */
int cluster_leave(struct queue *q);

#endif
