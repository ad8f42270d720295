#include "job.h"

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rce_protocol.h"
#include "sandbox.h"

/* Copies a string member into *out. Only code (len != NULL) may be empty or hold NUL bytes:
 * the other fields are used as C strings. -1 (reason in err) if missing or unfit. */
static int take_string(json_t *obj, const char *key, char **out, size_t *len, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    size_t n = json_string_length(v);
    if (!json_is_string(v) || (!len && (n == 0 || strlen(json_string_value(v)) != n))) {
        snprintf(err, errlen, "invalid job: \"%s\" must be a%s string", key, len ? "" : " non-empty");
        return -1;
    }
    *out = malloc(n + 1);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(*out, json_string_value(v), n + 1);
    if (len)
        *len = n;
    return 0;
}

/* Reads an optional integer member (absent or null leaves *out); -1 if present and not one. */
static int take_optional_int(json_t *obj, const char *key, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "invalid job: \"%s\" must be an integer", key);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* Reads one optional positive limit into *out (absent keeps the default), clamped to [floor, max]. */
static int take_limit(json_t *limits, const char *key, long floor, long max, long *out, char *err,
                      size_t errlen)
{
    json_t *v = json_object_get(limits, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        snprintf(err, errlen, "invalid job: \"%s.%s\" must be a positive integer", RCE_JOB_LIMITS, key);
        return -1;
    }
    json_int_t n = json_integer_value(v);
    *out = n > max ? max : n < floor ? floor : (long)n;
    return 0;
}

int job_parse(const char *text, size_t len, const struct limits *defaults,
              const struct limits *maxima, struct job *job, char *err, size_t errlen)
{
    json_error_t jerr;
    memset(job, 0, sizeof *job);
    job->limits = *defaults;

    /* Code may legitimately contain NUL; it reaches the container through base64. */
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid job: not JSON: %s", jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "invalid job: not a JSON object");
        goto fail;
    }
    /* id and reply_to first: with them an invalid job can still be answered. */
    if (take_string(root, RCE_JOB_ID, &job->id, NULL, err, errlen) != 0
        || take_string(root, RCE_JOB_REPLY_TO, &job->reply_to, NULL, err, errlen) != 0
        || take_string(root, RCE_JOB_LANGUAGE, &job->language, NULL, err, errlen) != 0
        || take_string(root, RCE_JOB_CODE, &job->code, &job->code_len, err, errlen) != 0
        || take_optional_int(root, RCE_JOB_ENQUEUED_MS, &job->enqueued_ms, err, errlen) != 0
        || take_optional_int(root, RCE_JOB_DEADLINE_MS, &job->deadline_ms, err, errlen) != 0)
        goto fail;

    json_t *limits = json_object_get(root, RCE_JOB_LIMITS);
    if (limits && !json_is_null(limits)) {
        if (!json_is_object(limits)) {
            snprintf(err, errlen, "invalid job: \"%s\" must be an object", RCE_JOB_LIMITS);
            goto fail;
        }
        if (take_limit(limits, RCE_LIMIT_WALL_MS, 1, maxima->wall_ms, &job->limits.wall_ms, err, errlen)
            || take_limit(limits, RCE_LIMIT_MEMORY_MB, JOB_MIN_MEMORY_MB, maxima->memory_mb,
                          &job->limits.memory_mb, err, errlen)
            || take_limit(limits, RCE_LIMIT_PIDS, 1, maxima->pids, &job->limits.pids, err, errlen)
            || take_limit(limits, RCE_LIMIT_OUTPUT_BYTES, 1, maxima->output_bytes,
                          &job->limits.output_bytes, err, errlen)
            || take_limit(limits, RCE_LIMIT_CPU_MS, 1, maxima->cpu_ms, &job->limits.cpu_ms, err, errlen))
            goto fail;
    }
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    return -1;
}

void job_free(struct job *job)
{
    free(job->id);
    free(job->language);
    free(job->code);
    free(job->reply_to);
    memset(job, 0, sizeof *job);
}

void job_result_init(struct job_result *r, size_t output_limit)
{
    memset(r, 0, sizeof *r);
    r->status = RCE_STATUS_IE;
    r->output_limit = output_limit;
    r->cpu_ms = r->memory_kb = -1;
    capture_init(&r->out, output_limit);
    capture_init(&r->err, output_limit + SANDBOX_STATS_MAX);
}

void job_result_free(struct job_result *r)
{
    capture_free(&r->out);
    capture_free(&r->err);
}

void job_result_fail(struct job_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    r->status = RCE_STATUS_IE;
    r->has_exit_code = r->has_signal = false;
}

void job_result_clip_output(struct job_result *r)
{
    struct capture *c[] = { &r->out, &r->err };
    for (int i = 0; i < 2; i++)
        if (c[i]->len > r->output_limit) {
            c[i]->len = r->output_limit;
            c[i]->overflowed = true;
        }
}

bool job_result_finish_output(struct job_result *r)
{
    struct sandbox_stats st;
    if (sandbox_take_stats(r->err.data, &r->err.len, &st)) {
        r->cpu_ms = st.cpu_us >= 0 ? st.cpu_us / 1000 : -1;
        r->memory_kb = st.maxrss_kb;
    }
    job_result_clip_output(r);
    return r->out.overflowed || r->err.overflowed;
}

void job_result_decide(struct job_result *r, enum kill_cause killed, bool oom_killed, int exit_code,
                       long cpu_limit_ms)
{
    r->reason[0] = '\0';
    r->has_exit_code = r->has_signal = false;
    switch (killed) {
    case KILL_OUTPUT_CAP:
        r->status = RCE_STATUS_OLE;
        return;
    case KILL_DEADLINE:
    case KILL_CPU:
        r->status = RCE_STATUS_TLE;
        return;
    case KILL_NONE:
        break;
    }
    r->has_exit_code = true;
    r->exit_code = exit_code;
    if (exit_code > 128) {
        r->has_signal = true;
        r->signal = exit_code - 128;
    }
    if (oom_killed)
        r->status = RCE_STATUS_MLE;
    else if ((r->has_signal && r->signal == SIGXCPU) || (r->cpu_ms >= 0 && r->cpu_ms > cpu_limit_ms))
        r->status = RCE_STATUS_TLE;
    else
        r->status = exit_code == 0 ? RCE_STATUS_OK : RCE_STATUS_RE;
}

/* A JSON string of arbitrary bytes, repaired to UTF-8 because jansson rejects anything else
 * (program output, or a reason that snprintf cut in the middle of a character). */
static json_t *bytes_string(const char *data, size_t n)
{
    size_t len;
    char *clean = utf8_sanitize(data ? data : "", n, &len);
    if (!clean)
        return NULL;
    json_t *s = json_stringn_nocheck(clean, len);
    free(clean);
    return s;
}

char *job_result_json(const char *id, const char *language, const char *node,
                      const struct job_result *r)
{
    char *text = NULL;
    json_t *root = json_object();
    json_t *out = bytes_string(r->out.data, r->out.len), *err = bytes_string(r->err.data, r->err.len);
    if (!root || !out || !err)
        goto done;
    /* The _new setters take the reference, so out and err belong to root from here on. */
    int rc = json_object_set_new(root, RCE_RES_ID, json_string(id))
             | json_object_set_new(root, RCE_RES_LANGUAGE, language ? json_string(language) : json_null())
             | json_object_set_new(root, RCE_RES_STATUS, json_string(r->status))
             | json_object_set_new(root, RCE_RES_EXIT_CODE,
                                   r->has_exit_code ? json_integer(r->exit_code) : json_null())
             | json_object_set_new(root, RCE_RES_SIGNAL, r->has_signal ? json_integer(r->signal) : json_null())
             | json_object_set_new(root, RCE_RES_STDOUT, out)
             | json_object_set_new(root, RCE_RES_STDERR, err)
             | json_object_set_new(root, RCE_RES_TRUNCATED, json_boolean(r->out.overflowed || r->err.overflowed))
             | json_object_set_new(root, RCE_RES_WALL_MS, json_integer(r->wall_ms))
             | json_object_set_new(root, RCE_RES_CPU_MS, r->cpu_ms >= 0 ? json_integer(r->cpu_ms) : json_null())
             | json_object_set_new(root, RCE_RES_MEMORY_KB,
                                   r->memory_kb >= 0 ? json_integer(r->memory_kb) : json_null())
             | json_object_set_new(root, RCE_RES_NODE, json_string(node))
             | json_object_set_new(root, RCE_RES_REASON,
                                   r->reason[0] ? bytes_string(r->reason, strlen(r->reason)) : json_null());
    out = err = NULL;
    if (rc == 0)
        text = json_dumps(root, JSON_COMPACT);
done:
    json_decref(out);
    json_decref(err);
    json_decref(root);
    return text;
}
