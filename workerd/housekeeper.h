/* The housekeeper: one thread for everything slow or periodic that must not delay the
 * heartbeat or a job: the language table, the orphan reaper, taking over dead nodes' jobs
 * (rescue), stealing queued work when idle, the running-list reconcile, giving memory back. */
#ifndef WORKERD_HOUSEKEEPER_H
#define WORKERD_HOUSEKEEPER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "docker.h"
#include "node.h"
#include "peers.h"

struct housekeeper {
    struct node *node;
    struct docker docker;
    pthread_t thread;
    bool opened, started;
    atomic_bool stop;
    char *languages_logged;         /* the names last logged */
    char **orphans;                 /* what the last reconcile found in running, no slot holding it */
    struct peers peers;             /* what the rescue checks saw of the other nodes */
};

/* Sets up its Docker handle; -1 with what failed in err. */
int housekeeper_open(struct housekeeper *h, struct node *node, char *err, size_t errlen);

/* Before any slot runs: removes every container of this node (nothing runs yet, so all are
 * orphans) and reads the language table. */
void housekeeper_first_pass(struct housekeeper *h);

/* Starts the thread; -1 if it did not start. */
int housekeeper_start(struct housekeeper *h);

/* Stops and joins the thread (if started) and closes the Docker handle (if opened). */
void housekeeper_stop(struct housekeeper *h);

#endif
