/* A stream job's events (docs/protocol.md, "Streaming and interactive jobs"): its stages and
 * its output, PUBLISHed on its reply_to as they come, from the slot's connection (the one that
 * later runs lua/finish.lua, so that every event comes before the result), numbered 0, 1, ...
 *
 * What is published of a stage and stream, put together, is exactly that stage's stream in
 * the result. While the job runs, its captures (r->out, r->err) are read past what was
 * published; the wrapper's lines (wrapper.h: each begins with \036, the compile line, the
 * figures line, the end line) are never published: the compile line ends the compile stage
 * on its stream, and the lines at the end of a stream that hold a \036 are held back until a
 * line without one follows (only then can they not be the wrapper's last lines), or the job
 * ends. When it ends, stream_events_end publishes whatever of the result's streams is left.
 *
 * A stalled Redis must not stretch the job's wall limit: while the job runs, each PUBLISH waits
 * at most the time left to the step's deadline (STREAM_PUBLISH_MIN_MS at least), and none is
 * sent once it has passed or one failed: what was not published then goes at the end, before
 * the result (a failed PUBLISH counts as sent: Redis may still have taken it; a loss shows as
 * a gap in seq). At the end, the first failure (one command's timeout) drops the rest (logged),
 * so the answer waits for Redis no longer than it would without events. */
#ifndef WORKERD_STREAM_H
#define WORKERD_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "output.h"

struct queue;

#define STREAM_PUBLISH_MIN_MS 50     /* the least a PUBLISH near the deadline may wait */

/* Sends an event's JSON on channel, waiting at most timeout_ms for it (0: the connection's own
 * bound): 0, or -1 if it could not (the event may be lost: the gateway sees the gap in seq). */
typedef int stream_sink(void *arg, const char *channel, const char *json, size_t len, long timeout_ms);

enum stream_stage { STREAM_COMPILE, STREAM_RUN };
enum stream_fd { STREAM_STDOUT, STREAM_STDERR };

/* One of the job's output streams, as far as it was published. */
/* Where stream_releasable's look at a capture stands (offsets in the capture): kept between
 * calls while the part it looks at begins at the same offset, so that every byte is looked at
 * about once, not once per call. */
struct stream_scan {
    bool started;               /* false: starts over at the next call */
    size_t from;                /* the part looked at begins here */
    size_t done;                /* what is before was looked at */
    size_t line;                /* the last line (not ended yet) begins here */
    size_t run;                 /* the first \036 of the lines before it that all hold one, up
                                 * to it; SIZE_MAX: none (the line before it has none) */
    size_t mark;                /* the last line's first \036; SIZE_MAX: none yet */
};

struct stream_side {
    size_t at;                  /* in the capture: what is before was published (or skipped) */
    struct stream_scan scan;    /* what may be released past at */
    bool compiled;              /* its compile line has passed (always, without a compile stage) */
    size_t compile_scan;        /* in the capture: no compile line begins before it */
    size_t sent[2];             /* bytes published of each stage */
};

struct stream_events {
    const char *id;             /* the job's (not owned) */
    const char *reply_to;       /* its channel (not owned) */
    stream_sink *sink;          /* PUBLISH on q, unless a test put its own */
    void *sink_arg;
    long long seq;              /* the next event's */
    int attempt;                /* RCE_EVENT_ATTEMPT: 1, or 2 for a re-run after a node died */
    int64_t deadline;           /* the current step's (clock_mono_ms), set by run.c while the
                                 * job runs; 0: none */
    bool held;                  /* nothing more is published live: the deadline passed or a
                                 * publish failed (the rest goes at the end) */
    bool ending;                /* stream_events_end runs: no deadline; a failure drops the rest */
    bool begun;                 /* stream_events_begin ran: its first stage was published */
    bool live;                  /* the run's output is published as it comes (not in judge
                                 * mode, whose stdout holds the test records) */
    bool compiles;              /* the job has a compile stage */
    const char *marker;         /* its compile line's (not owned), while the job runs */
    bool compile_failed;        /* a compile line said so: no run stage */
    bool compile_staged;        /* the stage compile was published */
    bool running;               /* the stage run was published */
    struct stream_side fd[2];
};

/* Sets up ev for job, whose events go by PUBLISH on q's connection; attempt 1. */
void stream_events_init(struct stream_events *ev, const struct job *job, struct queue *q);

/* The job's attempt (RCE_EVENT_ATTEMPT), asked of Redis on q: 2 if it is a re-run after its
 * node died (rce:rescued:<id> exists, cluster.c), else 1 (also when Redis failed: logged). */
int stream_attempt(struct queue *q, const char *id);

/* The job's container took it: publishes its first stage (unless ev->deadline passed: then at
 * the end), compile when marker (its compile line's, which must outlive the run) is given, else
 * run. live false (judge mode): the run's
 * output is published only at the end (the compile step's still as it comes). */
void stream_events_begin(struct stream_events *ev, const char *marker, bool live);

/* While the job runs: publishes what came in out and err since the last call, as far as it
 * may be (see above), never past limit bytes of a capture (the job's output cap), and not
 * past ev->deadline (the caller keeps it the current step's). */
void stream_events_live(struct stream_events *ev, const struct capture *out, const struct capture *err,
                        size_t limit);

/* Before the result is published: whatever of its streams (compile and run) has not been. */
void stream_events_end(struct stream_events *ev, const struct job_result *r);

/* The pure parts, for tests. Of buf's bytes from `from` to len (more may come), up to where
 * they may be published (an offset in buf): the first \036 of the lines at the end that hold
 * one (the part's first line begins at from), else len. *s keeps its place between calls for
 * the same buf, growing (a fresh zeroed one, or one for another from, starts over). */
size_t stream_releasable(struct stream_scan *s, const char *buf, size_t from, size_t len);

/* The next chunk at p (n bytes left, final: no more will come): its length (at most
 * RCE_STREAM_CHUNK_BYTES), and in *base64 whether it must go as base64 (it is not valid UTF-8);
 * 0 when nothing may go yet (n is 0, or only the start of a character that more may finish). */
size_t stream_chunk(const char *p, size_t n, bool final, bool *base64);

#endif
