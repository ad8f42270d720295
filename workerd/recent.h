/* The cluster's record of the languages its jobs asked for lately (RCE_KEY_RECENT), so that a
 * node that starts (a new one, or one restarted) keeps a warm container of each language the
 * cluster ran within its idle period instead of none. Redis absent or slow never holds the
 * pool up: every call waits at most RECENT_TIMEOUT_MS, on the connection as it is, and a
 * failure only means fewer warm containers. For the main thread (its own connection). */
#ifndef WORKERD_RECENT_H
#define WORKERD_RECENT_H

#include "node.h"
#include "queue.h"

#define RECENT_TIMEOUT_MS 500       /* one Redis command of this file, at most */

/* Once, after the pool started: reads the record and seeds the pool with it (pool_seed);
 * removes fields older than RCE_RECENT_KEEP_MS or unreadable. Logs what it warmed. */
void recent_load(struct node *n, struct queue *q);

/* After each heartbeat: writes the languages pool_asked hands out. Nothing without a
 * connection (the next beat makes one). */
void recent_store(struct node *n, struct queue *q);

#endif
