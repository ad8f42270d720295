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
 * ends. When it ends, stream_events_end publishes whatever of the result's streams is left. */
#ifndef WORKERD_STREAM_H
#define WORKERD_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"
#include "output.h"

struct queue;

/* Sends an event's JSON on channel: 0, or -1 if it could not (the event is lost: the gateway
 * sees the gap in seq). */
typedef int stream_sink(void *arg, const char *channel, const char *json, size_t len);

enum stream_stage { STREAM_COMPILE, STREAM_RUN };
enum stream_fd { STREAM_STDOUT, STREAM_STDERR };

/* One of the job's output streams, as far as it was published. */
struct stream_side {
    size_t at;                  /* in the capture: what is before was published (or skipped) */
    bool compiled;              /* its compile line has passed (always, without a compile stage) */
    size_t sent[2];             /* bytes published of each stage */
};

struct stream_events {
    const char *id;             /* the job's (not owned) */
    const char *reply_to;       /* its channel (not owned) */
    stream_sink *sink;          /* PUBLISH on q, unless a test put its own */
    void *sink_arg;
    long long seq;              /* the next event's */
    bool begun;                 /* stream_events_begin ran: its first stage was published */
    bool live;                  /* the run's output is published as it comes (not in judge
                                 * mode, whose stdout holds the test records) */
    bool compiles;              /* the job has a compile stage */
    const char *marker;         /* its compile line's (not owned), while the job runs */
    bool compile_failed;        /* a compile line said so: no run stage */
    bool running;               /* the stage run was published */
    struct stream_side fd[2];
};

/* Sets up ev for job, whose events go by PUBLISH on q's connection. */
void stream_events_init(struct stream_events *ev, const struct job *job, struct queue *q);

/* The job's container took it: publishes its first stage, compile when marker (its compile
 * line's, which must outlive the run) is given, else run. live false (judge mode): the run's
 * output is published only at the end (the compile step's still as it comes). */
void stream_events_begin(struct stream_events *ev, const char *marker, bool live);

/* While the job runs: publishes what came in out and err since the last call, as far as it
 * may be (see above), never past limit bytes of a capture (the job's output cap). */
void stream_events_live(struct stream_events *ev, const struct capture *out, const struct capture *err,
                        size_t limit);

/* Before the result is published: whatever of its streams (compile and run) has not been. */
void stream_events_end(struct stream_events *ev, const struct job_result *r);

/* The pure parts, for tests. How many of buf's len bytes may be published while more may come:
 * up to the first \036 of the lines at its end that hold one. */
size_t stream_releasable(const char *buf, size_t len);

/* The next chunk at p (n bytes left, final: no more will come): its length (at most
 * RCE_STREAM_CHUNK_BYTES), and in *base64 whether it must go as base64 (it is not valid UTF-8);
 * 0 when nothing may go yet (n is 0, or only the start of a character that more may finish). */
size_t stream_chunk(const char *p, size_t n, bool final, bool *base64);

#endif
