/* The node among its peers: taking over the jobs of dead nodes, stealing queued work when
 * idle, and leaving the cluster. Each step that moves jobs is a Lua script (in lua/),
 * atomic in Redis, so two nodes can never take the same job. */
#ifndef WORKERD_CLUSTER_H
#define WORKERD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "queue.h"

#define CLUSTER_MAX_DEAD 16     /* dead nodes reported by one rescue */
#define CLUSTER_NODE_MAX 64     /* bytes in a node name and its NUL, as in struct config */

struct rescue {
    struct {
        char node[CLUSTER_NODE_MAX];
        long long epoch;               /* the epoch its jobs were taken from */
    } dead[CLUSTER_MAX_DEAD];          /* nodes declared dead whose jobs we took */
    int n_dead;
    long requeued;                     /* jobs put on our queue */
    char **lost;                       /* jobs a node had already died running once: they are
                                          now in our running list, to be answered IE */
    size_t *lost_len;
    size_t n_lost;
};

/* What one check saw of another listed node. */
struct sighting {
    char node[CLUSTER_NODE_MAX];
    bool present;                      /* its heartbeat key exists (then epoch and beat) */
    long long epoch;
    long long beat;
};

/* Reads the other listed nodes' heartbeats (SMEMBERS, then MGET). Returns 0 with a malloc'd
 * array in *out of *n (NULL when none), or -1 on Redis failure. */
int cluster_observe(struct queue *q, struct sighting **out, size_t *n);

/* Takes over the queued and running jobs of node if it is listed and without heartbeat, and
 * fences it (its epoch moves on; rce:dead notes when): queued ones keep their order at the head
 * of our queue; running ones are run again once (marked rce:rescued:<id> "<node>@<epoch>"), or
 * land in our running list for an IE answer if a node already died running them. Adds to *out
 * (zeroed by the caller; free with rescue_free), also on failure with what was done by then.
 * The caller decides that node is dead (peers.c); the scripts only check it has no heartbeat.
 * Returns 0, or -1 on Redis failure. */
int cluster_rescue_node(struct queue *q, const char *node, struct rescue *out);
void rescue_free(struct rescue *r);

/* The nodes declared dead more than grace_ms ago that never came back (their epoch is still the
 * one they were fenced with), each removed from rce:dead: their containers may go. NULL-
 * terminated malloc'd names, NULL on failure. */
char **cluster_dead_expired(struct queue *q, long long grace_ms);

/* When our queue is empty, moves up to max jobs, oldest first, from the tails of other nodes'
 * queues onto the head of ours, but only jobs in one of our languages. Returns how many, or
 * -1. */
long cluster_steal(struct queue *q, long max, char *const *languages, size_t n_languages);

/* Leaves the cluster: deletes the heartbeat, and removes the node from rce:nodes only when its
 * queue and running list are empty, so that jobs left behind are still found by a rescuer. */
int cluster_leave(struct queue *q);

#endif
