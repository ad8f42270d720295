#include "peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct peer *find(const struct peers *p, const char *node)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].node, node) == 0)
            return &p->v[i];
    return NULL;
}

static void restart_all(struct peers *p, long long now_ms)
{
    for (size_t i = 0; i < p->n; i++)
        p->v[i].live.since_ms = now_ms;
}

/* The peers of s, carried over from p where known, else new with a window from now_ms. */
static struct peer *next_table(const struct peers *p, const struct sighting *s, size_t n,
                               long long now_ms)
{
    struct peer *v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        const struct peer *old = find(p, s[i].node);
        if (old) {
            v[i] = *old;
        } else {
            snprintf(v[i].node, sizeof v[i].node, "%s", s[i].node);
            v[i].live = (rce_liveness_t){ .epoch = -1, .beat = -1, .since_ms = now_ms };
        }
    }
    return v;
}

int peers_update(struct peers *p, const struct sighting *s, size_t n, bool answered,
                 long long sent_ms, long long answered_ms)
{
    bool counted = answered && rce_liveness_counts(p->previous_ms, sent_ms, answered_ms);
    p->previous_ms = answered ? answered_ms : 0;
    if (!answered) {
        restart_all(p, answered_ms);
        return 0;
    }
    struct peer *v = next_table(p, s, n, answered_ms);
    if (!v) {
        restart_all(p, answered_ms);
        return -1;
    }
    free(p->v);
    p->v = v;
    p->n = n;
    if (!counted) {
        restart_all(p, answered_ms);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        rce_liveness_seen(&p->v[i].live, s[i].present, s[i].epoch, s[i].beat, answered_ms);
    return 1;
}

bool peers_dead(const struct peers *p, const char *node, long long now_ms)
{
    const struct peer *peer = find(p, node);
    return peer && rce_liveness_dead(&peer->live, now_ms);
}

void peers_free(struct peers *p)
{
    free(p->v);
    memset(p, 0, sizeof *p);
}
