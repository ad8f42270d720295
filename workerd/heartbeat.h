/* The heartbeat: the node JSON (rce_protocol.h RCE_NODE_*) at rce:node:<node>, refreshed every
 * RCE_NODE_HEARTBEAT_MS, which is how the gateway learns what the node runs and how busy it is. */
#ifndef WORKERD_HEARTBEAT_H
#define WORKERD_HEARTBEAT_H

#include "node.h"
#include "queue.h"

/* Registers the node with a new epoch (queue_register) and keeps it in n->epoch. Returns 0, or
 * -1 on Redis failure (logged). */
int heartbeat_register(struct node *n, struct queue *q);

/* Publishes the node JSON once (lua/heartbeat.lua: SET with a TTL, SADD rce:nodes) while the
 * node's epoch is current; a node fenced by a peer registers again and beats. A failure is
 * logged; the next beat retries. Main thread only. */
void heartbeat(struct node *n, struct queue *q);

#endif
