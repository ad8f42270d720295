/* The heartbeat: the node JSON (rce_protocol.h RCE_NODE_*) at rce:node:<node>, refreshed every
 * RCE_NODE_HEARTBEAT_MS, which is how the gateway learns what the node runs and how busy it is. */
#ifndef WORKERD_HEARTBEAT_H
#define WORKERD_HEARTBEAT_H

#include "node.h"
#include "queue.h"

/* Publishes the node JSON once (SET with a TTL, SADD rce:nodes). A failure is logged; the next
 * beat retries. Main thread only. */
void heartbeat(struct node *n, struct queue *q);

#endif
