#include "input.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rce_base64.h"
#include "rce_protocol.h"

/* Room for the control lines of all the live stdin a job may get, and then some. */
#define INPUT_CONTROL_MAX (RCE_INPUT_MAX_BYTES / 3 * 4 + 64 * 1024)
/* Of that room, what data lines leave for signal lines and the eof line. */
#define INPUT_CONTROL_RESERVE 4096

/* Asks for the next entry: BLPOP without waiting for its answer (job_input_read takes it). */
static int ask(struct job_input *in)
{
    int done = 0;
    if (redisAppendCommand(in->conn.ctx, "BLPOP %s 0", in->key) != REDIS_OK)
        return -1;
    while (!done)
        if (redisBufferWrite(in->conn.ctx, &done) != REDIS_OK)
            return -1;
    return 0;
}

void job_input_open(struct job_input *in, const struct config *cfg, const struct job *job, atomic_bool *cancel)
{
    memset(in, 0, sizeof *in);
    queue_init(&in->conn, cfg);
    snprintf(in->key, sizeof in->key, "%s%s", RCE_KEY_INPUT, job->id);
    in->id = job->id;
    in->interactive = job->interactive;
    in->cancel = cancel;
    capture_init(&in->control, INPUT_CONTROL_MAX);
    if (queue_connect(&in->conn) != 0 || ask(in) != 0) {
        log_warn("job %s: cannot watch %s: it runs without input", job->id, in->key);
        queue_close(&in->conn);
    }
}

int job_input_fd(const struct job_input *in)
{
    return in->conn.ctx ? in->conn.ctx->fd : -1;
}

/* What a control line is, for the room it may take. */
enum control_kind { CONTROL_DATA, CONTROL_SIGNAL, CONTROL_EOF };

/* Appends one control line whole, or drops it (warned once per job): data lines leave
 * INPUT_CONTROL_RESERVE free for signals and the eof, signals leave room for the eof line,
 * which always fits (there is one at most). */
static void control(struct job_input *in, enum control_kind kind, const char *line, size_t len)
{
    size_t room = in->control.limit - in->control.len;
    size_t keep = kind == CONTROL_DATA ? INPUT_CONTROL_RESERVE : kind == CONTROL_SIGNAL && !in->eof ? 2 : 0;
    if (len + keep <= room && capture_append(&in->control, line, len) == 0)
        return;
    if (!in->dropped)
        log_warn("job %s: control lines for its container dropped (%s): its container does not take "
                 "them as fast as they come", in->id, len + keep <= room ? "out of memory" : "no room");
    in->dropped = true;
}

/* Live stdin: "d <base64>\n", as much as RCE_INPUT_MAX_BYTES leaves room for. */
static void take_stdin(struct job_input *in, const char *data, size_t n)
{
    size_t room = RCE_INPUT_MAX_BYTES - in->stdin_bytes;
    if (in->eof || n == 0)
        return;
    if (n > room) {
        log_warn("job %s: live stdin over %d bytes: %zu bytes dropped", in->id, RCE_INPUT_MAX_BYTES, n - room);
        if ((n = room) == 0)
            return;
    }
    in->stdin_bytes += n;
    char *line = malloc(rce_base64_encoded_len(n) + 4);
    if (!line) {
        log_warn("job %s: out of memory for its stdin: %zu bytes dropped", in->id, n);
        return;
    }
    memcpy(line, "d ", 2);
    rce_base64_encode((const unsigned char *)data, n, line + 2);
    size_t len = 2 + rce_base64_encoded_len(n);
    line[len++] = '\n';
    control(in, CONTROL_DATA, line, len);
    free(line);
}

/* A stdin entry's bytes, decoded. */
static void take_stdin_entry(struct job_input *in, json_t *e)
{
    json_t *data = json_object_get(e, RCE_INPUT_STDIN);
    const char *encoding = json_string_value(json_object_get(e, RCE_INPUT_ENCODING));
    char *bytes = NULL;
    size_t n = 0;
    if (!encoding || strcmp(encoding, RCE_ENCODING_UTF8) == 0) {
        take_stdin(in, json_string_value(data), json_string_length(data));
    } else if (strcmp(encoding, RCE_ENCODING_BASE64) == 0
               && rce_base64_decode(json_string_value(data), json_string_length(data), &bytes, &n) == 0) {
        take_stdin(in, bytes, n);
        free(bytes);
    } else {
        log_warn("job %s: an input entry's %s is not %s or valid %s: dropped", in->id, RCE_INPUT_STDIN,
                 RCE_ENCODING_UTF8, RCE_ENCODING_BASE64);
    }
}

void job_input_take(struct job_input *in, const char *text, size_t len)
{
    json_t *e = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    json_t *signal = json_object_get(e, RCE_INPUT_SIGNAL);
    char line[32];
    if (json_is_true(json_object_get(e, RCE_INPUT_KILL))) {
        log_info("job %s: killed through %s", in->id, in->key);
        atomic_store(in->cancel, true);
    } else if (!json_is_object(e)) {
        log_warn("job %s: an input entry is not a JSON object: dropped", in->id);
    } else if (!in->interactive) {
        ;   /* the program's stdin is not live: only a kill counts */
    } else if (json_is_string(json_object_get(e, RCE_INPUT_STDIN))) {
        take_stdin_entry(in, e);
    } else if (json_is_true(json_object_get(e, RCE_INPUT_EOF))) {
        if (!in->eof)
            control(in, CONTROL_EOF, "e\n", 2);
        in->eof = true;
    } else if (json_is_integer(signal) && json_integer_value(signal) >= 1 && json_integer_value(signal) <= 31) {
        control(in, CONTROL_SIGNAL, line, (size_t)snprintf(line, sizeof line, "s %d\n",
                                                           (int)json_integer_value(signal)));
    } else {
        log_warn("job %s: an input entry with nothing to do: dropped", in->id);
    }
    json_decref(e);
}

/* Stops watching after a failure of the connection. */
static void lost(struct job_input *in, const char *why)
{
    log_warn("job %s: watching %s failed (%s): it runs on without input", in->id, in->key, why);
    queue_close(&in->conn);
}

void job_input_read(struct job_input *in)
{
    redisReply *r = NULL;
    if (!in->conn.ctx)
        return;
    if (redisBufferRead(in->conn.ctx) != REDIS_OK) {
        lost(in, in->conn.ctx->errstr);
        return;
    }
    for (;;) {
        if (redisGetReplyFromReader(in->conn.ctx, (void **)&r) != REDIS_OK) {
            lost(in, in->conn.ctx->errstr);
            return;
        }
        if (!r)
            return;         /* the rest of a reply has not come */
        bool entry = r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING;
        if (entry)
            job_input_take(in, r->element[1]->str, r->element[1]->len);
        freeReplyObject(r);
        if (!entry) {
            lost(in, "an unexpected reply to BLPOP");
            return;
        }
        if (ask(in) != 0) {
            lost(in, in->conn.ctx->errstr);
            return;
        }
    }
}

void job_input_flush(struct job_input *in, struct docker_stream *s)
{
    size_t sent = 0;
    if (in->control.len == 0)
        return;
    if (docker_stream_send_some(s, in->control.data, in->control.len, &sent) != 0) {
        log_warn("job %s: its container's stdin is closed: %zu bytes of control lines dropped", in->id,
                 in->control.len);
        sent = in->control.len;
    }
    memmove(in->control.data, in->control.data + sent, in->control.len - sent);
    in->control.len -= sent;
}

void job_input_close(struct job_input *in, struct queue *q)
{
    queue_close(&in->conn);
    capture_free(&in->control);
    redisReply *r = queue_command(q, "DEL", REDIS_REPLY_INTEGER, 0, "DEL %s", in->key);
    if (r)
        freeReplyObject(r);
}
