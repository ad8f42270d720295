/* peers.c and the liveness rule of rce_protocol.h: a beat that stands still while every check
 * counts is a death after RCE_NODE_DEAD_AFTER_MS; a failed, slow or late check restarts every
 * window, so a Redis stall (whose expired keys look like silence) is never taken for one. */
#include <stdio.h>

#include "peers.h"
#include "test.h"

static struct sighting seen(const char *node, bool present, long long epoch, long long beat)
{
    struct sighting s = { .present = present, .epoch = epoch, .beat = beat };
    snprintf(s.node, sizeof s.node, "%s", node);
    return s;
}

/* One prompt check at t (sent 5 ms before) that sees b with the given beat, or absent. */
static int check(struct peers *p, long long t, bool present, long long beat)
{
    struct sighting s = seen("b", present, 1, beat);
    return peers_update(p, &s, 1, true, t - 5, t);
}

static void test_silence_is_death(void)
{
    struct peers p = { 0 };
    assert(check(&p, 1000, true, 1) == 0);      /* the first check only starts the windows */
    assert(check(&p, 2000, true, 2) == 1);
    assert(check(&p, 3000, false, 0) == 1);
    assert(check(&p, 4000, false, 0) == 1);
    assert(!peers_dead(&p, "b", 4000));
    assert(check(&p, 5000, false, 0) == 1);
    assert(peers_dead(&p, "b", 5000));          /* still since 2000 */
    assert(!peers_dead(&p, "nobody", 5000));
    peers_free(&p);
}

static void test_moving_beat_lives(void)
{
    struct peers p = { 0 };
    for (long long t = 1000; t <= 20000; t += 1000)
        check(&p, t, true, t / 1000);
    assert(!peers_dead(&p, "b", 20000));
    /* a node that restarted (new epoch, beat from 1) moved too */
    struct sighting s = seen("b", true, 2, 1);
    assert(peers_update(&p, &s, 1, true, 20995, 21000) == 1);
    assert(!peers_dead(&p, "b", 23999));
    peers_free(&p);
}

static void test_stall_restarts(void)
{
    struct peers p = { 0 };
    check(&p, 1000, true, 1);
    check(&p, 2000, true, 2);
    /* Redis paused from 2500 to 8000: the check sent at 3000 is answered at 8000, slow; the
     * keys expired meanwhile by Redis's clock */
    struct sighting s = seen("b", false, 0, 0);
    assert(peers_update(&p, &s, 1, true, 3000, 8000) == 0);
    assert(!peers_dead(&p, "b", 8000));
    assert(check(&p, 9000, false, 0) == 1);
    assert(check(&p, 10000, false, 0) == 1);
    assert(!peers_dead(&p, "b", 10000));        /* it beats again at 10500 */
    assert(check(&p, 11000, true, 3) == 1);
    assert(!peers_dead(&p, "b", 13999));
    peers_free(&p);
}

static void test_failure_and_gap_restart(void)
{
    struct peers p = { 0 };
    check(&p, 1000, true, 1);
    check(&p, 2000, true, 2);
    assert(peers_update(&p, NULL, 0, false, 3000, 5000) == 0);     /* Redis unreachable */
    assert(!peers_dead(&p, "b", 5000));
    assert(check(&p, 6000, false, 0) == 0);     /* the first check after a failure: no evidence */
    assert(check(&p, 7000, false, 0) == 1);
    assert(!peers_dead(&p, "b", 8999));
    /* this node was not scheduled for 4 s: the check after the gap does not count */
    assert(check(&p, 13000, false, 0) == 0);
    assert(!peers_dead(&p, "b", 13000));
    assert(check(&p, 14000, false, 0) == 1 && check(&p, 15000, false, 0) == 1);
    assert(check(&p, 16000, false, 0) == 1);
    assert(peers_dead(&p, "b", 16000));
    peers_free(&p);
}

static void test_listing_changes(void)
{
    struct peers p = { 0 };
    struct sighting two[] = { seen("b", true, 1, 1), seen("c", true, 1, 1) };
    peers_update(&p, two, 2, true, 995, 1000);
    peers_update(&p, two, 2, true, 1995, 2000);
    /* c joins late: its window starts when it is first listed */
    struct sighting one[] = { seen("b", true, 1, 2) };
    peers_update(&p, one, 1, true, 2995, 3000);
    assert(p.n == 1 && !peers_dead(&p, "c", 9000));
    peers_update(&p, two, 2, true, 3995, 4000);
    assert(!peers_dead(&p, "c", 6999) && peers_dead(&p, "c", 7000));
    peers_free(&p);
}

int main(void)
{
    RUN(test_silence_is_death);
    RUN(test_moving_beat_lives);
    RUN(test_stall_restarts);
    RUN(test_failure_and_gap_restart);
    RUN(test_listing_changes);
    return REPORT("test_peers");
}
