/* Clocks: wall time for deadlines that cross processes, monotonic time for our own intervals. */
#ifndef WORKERD_CLOCK_H
#define WORKERD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Unix time in ms: comparable with the gateway's enqueued_ms / deadline_ms. */
static inline int64_t clock_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic ms: immune to clock steps, for timeouts and measured durations. */
static inline int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void clock_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

#endif
