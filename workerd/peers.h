/* The node's picture of its peers' liveness, by the rule of rce_protocol.h (rce_liveness_*): a
 * peer is dead only when its heartbeat has not moved for RCE_NODE_DEAD_AFTER_MS while every
 * check of ours was answered promptly, so a Redis stall, or this node not being scheduled,
 * never looks like a death. Fed by the housekeeper's rescue check; one thread only. */
#ifndef WORKERD_PEERS_H
#define WORKERD_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster.h"
#include "rce_protocol.h"

struct peer {
    char node[CLUSTER_NODE_MAX];
    rce_liveness_t live;
};

struct peers {
    struct peer *v;
    size_t n;
    long long previous_ms;      /* monotonic ms the last check was answered; 0: it failed */
};

/* Records a check sent at sent_ms and answered at answered_ms (monotonic) that saw s[0..n) (the
 * listed peers; NULL/0 when the check failed). Peers no longer listed are forgotten, new ones
 * start their window now. Returns whether the check counted as evidence; if not, every window
 * restarts. -1 if out of memory (then nothing is judged dead). */
int peers_update(struct peers *p, const struct sighting *s, size_t n, bool answered,
                 long long sent_ms, long long answered_ms);

/* Whether node is dead by the evidence so far, at now_ms. */
bool peers_dead(const struct peers *p, const char *node, long long now_ms);

void peers_free(struct peers *p);

#endif
