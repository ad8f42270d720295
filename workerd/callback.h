/* Callbacks: when an asynchronous job with a callback_url ends, its result is POSTed there
 * (delivery.c). What is due lives in Redis (rce:callbacks, written in the same step as the
 * result), so a restart of a gateway or of any node loses none; every node runs senders that
 * take what is due, retry with backoff and record where each callback stands in the job's
 * state. A delivery may happen more than once (a sender that dies mid-attempt leaves it to be
 * taken again after a lease): receivers tell repeats apart by the job id. */
#ifndef WORKERD_CALLBACK_H
#define WORKERD_CALLBACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "node.h"
#include "rce_allow.h"

#define CALLBACK_SENDERS 2          /* threads: one slow receiver does not hold up every other */
#define CALLBACK_SECRET_MAX 4096

struct callbacks {
    struct node *node;
    rce_allow_t allow;
    unsigned char secret[CALLBACK_SECRET_MAX];
    size_t secret_len;
    pthread_t threads[CALLBACK_SENDERS];
    int started;
    atomic_bool stop;
};

/* Reads the destinations list and the secret of the node's configuration; -1 with what is
 * wrong (naming the flag) in err. With no list, callbacks are off and nothing starts. */
int callbacks_open(struct callbacks *c, struct node *node, char *err, size_t errlen);

/* Whether callbacks are on (a list was given). */
bool callbacks_enabled(const struct callbacks *c);

/* Starts the senders (none when callbacks are off); -1 if a thread did not start. */
int callbacks_start(struct callbacks *c);

/* Stops and joins the senders: an attempt under way ends first (at most --callback-timeout-ms). */
void callbacks_stop(struct callbacks *c);

#endif
