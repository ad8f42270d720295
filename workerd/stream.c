#include "stream.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "queue.h"
#include "rce_base64.h"
#include "rce_protocol.h"
#include "wrapper.h"

static const char *const stage_names[2] = { RCE_STAGE_COMPILE, RCE_STAGE_RUN };
static const char *const fd_names[2] = { RCE_RES_STDOUT, RCE_RES_STDERR };

/* The sink of a real job: PUBLISH on the slot's connection (q), within timeout_ms if given
 * (without reconnecting or backing off: a failure drops the connection, the end reconnects). */
static int publish_on_queue(void *arg, const char *channel, const char *json, size_t len, long timeout_ms)
{
    redisReply *r = timeout_ms > 0
                    ? queue_command_within(arg, timeout_ms, "PUBLISH", REDIS_REPLY_INTEGER, "PUBLISH %s %b",
                                           channel, json, len)
                    : queue_command(arg, "PUBLISH", REDIS_REPLY_INTEGER, 0, "PUBLISH %s %b", channel, json, len);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

void stream_events_init(struct stream_events *ev, const struct job *job, struct queue *q)
{
    memset(ev, 0, sizeof *ev);
    ev->id = job->id;
    ev->reply_to = job->reply_to;
    ev->attempt = 1;
    ev->sink = publish_on_queue;
    ev->sink_arg = q;
}

int stream_attempt(struct queue *q, const char *id)
{
    redisReply *r = queue_command(q, "EXISTS", REDIS_REPLY_INTEGER, 0, "EXISTS %s%s", RCE_KEY_RESCUED, id);
    if (!r) {
        log_warn("job %s: whether it is a re-run is unknown (Redis failed): its events say attempt 1", id);
        return 1;
    }
    int attempt = r->integer > 0 ? 2 : 1;
    freeReplyObject(r);
    return attempt;
}

/* Whether an event may go now. While the job runs: not once the deadline passed or a publish
 * failed (then nothing more goes live); at the end: until a publish failed. *timeout_ms: how
 * long its PUBLISH may wait (0: the connection's own bound). */
static bool may_emit(struct stream_events *ev, long *timeout_ms)
{
    *timeout_ms = 0;
    if (ev->held || ev->ending || ev->deadline == 0)
        return !ev->held;
    int64_t left = ev->deadline - clock_mono_ms();
    if (left <= 0) {
        ev->held = true;
        return false;
    }
    if (left < QUEUE_COMMAND_TIMEOUT_MS)
        *timeout_ms = left > STREAM_PUBLISH_MIN_MS ? (long)left : STREAM_PUBLISH_MIN_MS;
    return true;
}

/* Sends one event (taking event; it has ev->seq), lost or not: the next has the next seq. The
 * caller checked may_emit (timeout_ms); a failure holds the rest. */
static void emit(struct stream_events *ev, json_t *event, long timeout_ms)
{
    char *text = event ? json_dumps(event, JSON_COMPACT) : NULL;
    if (!text) {
        log_warn("job %s: event %lld lost: out of memory", ev->id, ev->seq);
    } else if (ev->sink(ev->sink_arg, ev->reply_to, text, strlen(text), timeout_ms) != 0) {
        log_warn("job %s: event %lld lost: not published%s", ev->id, ev->seq,
                 ev->ending ? "; the rest is dropped" : "; the rest goes at the end");
        ev->held = true;
    }
    ev->seq++;
    free(text);
    json_decref(event);
}

/* Publishes that a stage began, if an event may go now: returns whether it went. */
static bool emit_stage(struct stream_events *ev, enum stream_stage stage)
{
    long timeout_ms;
    if (!may_emit(ev, &timeout_ms))
        return false;
    emit(ev, json_pack("{s:s, s:s, s:I, s:i, s:s}", RCE_RES_ID, ev->id, RCE_EVENT_KIND, RCE_EVENT_STAGE,
                       RCE_EVENT_SEQ, (json_int_t)ev->seq, RCE_EVENT_ATTEMPT, ev->attempt, RCE_EVENT_STAGE,
                       stage_names[stage]), timeout_ms);
    return true;
}

/* One output event of n bytes at p, as text or as base64. */
static void emit_output(struct stream_events *ev, enum stream_stage stage, enum stream_fd fd, const char *p,
                        size_t n, bool base64, long timeout_ms)
{
    char *b64 = base64 ? malloc(rce_base64_encoded_len(n) + 1) : NULL;
    json_t *data = NULL;
    if (b64) {
        rce_base64_encode((const unsigned char *)p, n, b64);
        data = json_stringn_nocheck(b64, rce_base64_encoded_len(n));
    } else if (!base64) {
        data = json_stringn_nocheck(n ? p : "", n);
    }
    free(b64);
    emit(ev, data ? json_pack("{s:s, s:s, s:I, s:i, s:s, s:s, s:o, s:s}", RCE_RES_ID, ev->id, RCE_EVENT_KIND,
                              RCE_EVENT_OUTPUT, RCE_EVENT_SEQ, (json_int_t)ev->seq, RCE_EVENT_ATTEMPT,
                              ev->attempt, RCE_EVENT_STAGE, stage_names[stage], RCE_EVENT_STREAM, fd_names[fd],
                              RCE_EVENT_DATA, data, RCE_EVENT_ENCODING,
                              base64 ? RCE_ENCODING_BASE64 : RCE_ENCODING_UTF8) : NULL, timeout_ms);
}

/* Publishes what of n bytes at p may go now (final: all of them), in chunks, as long as events
 * may go (may_emit); returns how much. */
static size_t publish(struct stream_events *ev, enum stream_stage stage, enum stream_fd fd, const char *p,
                      size_t n, bool final)
{
    size_t done = 0, len;
    bool base64;
    long timeout_ms;
    if (n == 0)
        return 0;       /* p may be NULL then: an empty capture */
    while ((len = stream_chunk(p + done, n - done, final, &base64)) > 0 && may_emit(ev, &timeout_ms)) {
        emit_output(ev, stage, fd, p + done, len, base64, timeout_ms);
        done += len;
    }
    ev->fd[fd].sent[stage] += done;
    return done;
}

void stream_events_begin(struct stream_events *ev, const char *marker, bool live)
{
    ev->begun = true;
    ev->live = live;
    ev->marker = marker;
    ev->compiles = marker != NULL;
    for (int i = 0; i < 2; i++)
        ev->fd[i].compiled = !marker;
    bool went = emit_stage(ev, marker ? STREAM_COMPILE : STREAM_RUN);
    ev->compile_staged = marker && went;
    ev->running = !marker && went;
}

/* One capture's news: the compile stage's output up to its compile line, then the run's once
 * its stage is published. */
static void live_fd(struct stream_events *ev, enum stream_fd fd, const struct capture *c, size_t limit)
{
    size_t end = c->len < limit ? c->len : limit;
    struct stream_side *f = &ev->fd[fd];
    if (!c->data)
        return;         /* nothing came yet */
    const char *at = c->data + f->at;
    if (f->compiled) {
        if (ev->running && ev->live)
            f->at += publish(ev, STREAM_RUN, fd, at, stream_releasable(&f->scan, c->data, f->at, end) - f->at,
                             false);
        return;
    }
    struct wrapper_compiled line;
    size_t from = f->compile_scan > f->at ? f->compile_scan : f->at, mlen = strlen(ev->marker);
    enum wrapper_compile how = wrapper_find_compiled(c->data + from, end - from, ev->marker, &line);
    if (how == COMPILE_UNFINISHED) {
        /* the compile line is not before its marker, nor a marker before the last mlen bytes */
        const char *p = memmem(c->data + from, end - from, ev->marker, mlen);
        f->compile_scan = p ? (size_t)(p - c->data) : end > from + mlen ? end - mlen : from;
        f->at += publish(ev, STREAM_COMPILE, fd, at, stream_releasable(&f->scan, c->data, f->at, end) - f->at,
                         false);
        return;
    }
    publish(ev, STREAM_COMPILE, fd, at, from + line.at - f->at, true);
    f->compiled = true;
    f->at = from + line.next;
    if (how != COMPILE_SUCCEEDED)
        ev->compile_failed = true;
}

void stream_events_live(struct stream_events *ev, const struct capture *out, const struct capture *err,
                        size_t limit)
{
    live_fd(ev, STREAM_STDOUT, out, limit);
    live_fd(ev, STREAM_STDERR, err, limit);
    /* Docker may bring one stream's frames ahead of the other's: the run starts once both
     * streams passed the compile line */
    if (ev->running || ev->compile_failed || !ev->fd[0].compiled || !ev->fd[1].compiled
        || !emit_stage(ev, STREAM_RUN))
        return;
    ev->running = true;
    live_fd(ev, STREAM_STDOUT, out, limit);
    live_fd(ev, STREAM_STDERR, err, limit);
}

/* What of a stage's stream in the result was not published yet. */
static void publish_rest(struct stream_events *ev, enum stream_stage stage, enum stream_fd fd, const char *data,
                         size_t len)
{
    size_t sent = ev->fd[fd].sent[stage];
    if (sent > len) {
        log_warn("job %s: %zu bytes of %s %s were published, but the result has %zu", ev->id, sent,
                 stage_names[stage], fd_names[fd], len);
        return;
    }
    if (sent < len)
        publish(ev, stage, fd, data + sent, len - sent, true);
}

void stream_events_end(struct stream_events *ev, const struct job_result *r)
{
    if (!ev->begun)
        return;
    ev->marker = NULL;      /* the job's run is over */
    ev->ending = true;
    ev->held = false;       /* what waited goes now, on a connection made again if need be */
    if (ev->compiles && !ev->compile_staged)
        ev->compile_staged = emit_stage(ev, STREAM_COMPILE);
    if (ev->compiles && r->compiled) {
        publish_rest(ev, STREAM_COMPILE, STREAM_STDOUT, r->compile_out, r->compile_out_len);
        publish_rest(ev, STREAM_COMPILE, STREAM_STDERR, r->compile_err, r->compile_err_len);
    }
    if (ev->compiles && !(r->compiled && r->compile_exit_code == 0))
        return;     /* the run never started */
    if (!ev->running) {
        ev->running = true;
        emit_stage(ev, STREAM_RUN);
    }
    publish_rest(ev, STREAM_RUN, STREAM_STDOUT, r->out.data, r->out.len);
    publish_rest(ev, STREAM_RUN, STREAM_STDERR, r->err.data, r->err.len);
}

size_t stream_releasable(struct stream_scan *s, const char *buf, size_t from, size_t len)
{
    if (!s->started || s->from != from || s->done > len)
        *s = (struct stream_scan){ .started = true, .from = from, .done = from, .line = from,
                                   .run = SIZE_MAX, .mark = SIZE_MAX };
    for (; s->done < len; s->done++) {
        if (buf[s->done] == '\036' && s->mark == SIZE_MAX) {
            s->mark = s->done;
        } else if (buf[s->done] == '\n') {
            /* a line with a \036 may be the wrapper's: the run of them goes on; one without
             * ends it */
            s->run = s->mark == SIZE_MAX ? SIZE_MAX : s->run != SIZE_MAX ? s->run : s->mark;
            s->line = s->done + 1;
            s->mark = SIZE_MAX;
        }
    }
    if (s->mark != SIZE_MAX)
        return s->run != SIZE_MAX ? s->run : s->mark;
    if (s->done > s->line || s->run == SIZE_MAX)
        return len;         /* a last line without one: the program's, and all before it */
    return s->run;
}

/* True if the n bytes at s (fewer than a character needs) may begin a valid character. */
static bool char_started(const unsigned char *s, size_t n)
{
    size_t need = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                  : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (n >= need)
        return false;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return false;
    return true;
}

size_t stream_chunk(const char *p, size_t n, bool final, bool *base64)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t window = n < RCE_STREAM_CHUNK_BYTES ? n : RCE_STREAM_CHUNK_BYTES, valid = 0, len;
    while (valid < window && (len = rce_utf8_len(s + valid, n - valid)) > 0 && valid + len <= window)
        valid += len;
    *base64 = false;
    if (valid > 0)
        return valid;           /* whole characters, as text */
    if (n == 0 || (!final && char_started(s, n)))
        return 0;               /* the rest of the character may come */
    *base64 = true;             /* bytes that are no text: the window as they are */
    return window;
}
