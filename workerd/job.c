#include "job.h"

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rce_base64.h"
#include "rce_protocol.h"
#include "wrapper.h"

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

/* An optional bool member into *out (absent or null: false); -1 if present and not a bool. */
static int take_optional_bool(json_t *obj, const char *key, bool *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (v && !json_is_null(v) && !json_is_boolean(v)) {
        snprintf(err, errlen, "invalid job: \"%s\" must be a bool", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* Reads "async" (an optional bool) and "result_ttl_s" (an optional integer, clamped into
 * 1..RCE_ASYNC_RESULT_TTL_MAX_S). */
static int take_async(json_t *root, struct job *job, char *err, size_t errlen)
{
    int64_t ttl = 0;
    if (take_optional_bool(root, RCE_JOB_ASYNC, &job->async, err, errlen) != 0)
        return -1;
    /* the class only matters here for the warm pool: any other value is a normal job */
    const char *priority = json_string_value(json_object_get(root, RCE_JOB_PRIORITY));
    job->batch = priority && strcmp(priority, RCE_PRIORITY_BATCH) == 0;
    json_t *v = json_object_get(root, RCE_JOB_RESULT_TTL_S);
    if (!v || json_is_null(v))
        return 0;
    if (take_optional_int(root, RCE_JOB_RESULT_TTL_S, &ttl, err, errlen) != 0)
        return -1;
    job->result_ttl_s = ttl < 1 ? 1 : ttl > RCE_ASYNC_RESULT_TTL_MAX_S ? RCE_ASYNC_RESULT_TTL_MAX_S : (int)ttl;
    return 0;
}

/* Reads one optional positive limit into *out (absent keeps the default), clamped to [floor, max];
 * sets bit in *named, and in *clamped when it was cut to max. */
static int take_limit(json_t *limits, const char *key, long floor, long max, long *out,
                      unsigned *named, unsigned *clamped, unsigned bit, char *err, size_t errlen)
{
    json_t *v = json_object_get(limits, key);
    if (!v || json_is_null(v))
        return 0;
    *named |= 1u << bit;
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        snprintf(err, errlen, "invalid job: \"%s.%s\" must be a positive integer", RCE_JOB_LIMITS, key);
        return -1;
    }
    json_int_t n = json_integer_value(v);
    if (n > max)
        *clamped |= 1u << bit;
    *out = n > max ? max : n < floor ? floor : (long)n;
    return 0;
}

/* Reads "files": [{"name", "content", "encoding"}]; a missing name is the main file. */
static int take_files(json_t *root, struct job *job, char *err, size_t errlen)
{
    json_t *files = json_object_get(root, RCE_JOB_FILES), *f;
    size_t i, n = json_array_size(files);
    if (!json_is_array(files) || n == 0) {
        snprintf(err, errlen, "invalid job: \"%s\" or \"%s\" is required", RCE_JOB_CODE, RCE_JOB_FILES);
        return -1;
    }
    if (!(job->files = calloc(n, sizeof *job->files))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_array_foreach(files, i, f) {
        struct job_file *jf = &job->files[job->n_files++];
        json_t *name = json_object_get(f, RCE_FILE_NAME), *content = json_object_get(f, RCE_FILE_CONTENT);
        const char *encoding = json_string_value(json_object_get(f, RCE_FILE_ENCODING));
        if ((name && !json_is_null(name) && take_string(f, RCE_FILE_NAME, &jf->name, NULL, err, errlen) != 0)
            || !json_is_string(content)) {
            snprintf(err, errlen, "invalid job: %s[%zu] needs a string %s", RCE_JOB_FILES, i, RCE_FILE_CONTENT);
            return -1;
        }
        if (jf->name && (strchr(jf->name, '/') || strcmp(jf->name, ".") == 0 || strcmp(jf->name, "..") == 0)) {
            snprintf(err, errlen, "invalid job: %s[%zu].%s is not a plain file name", RCE_JOB_FILES, i,
                     RCE_FILE_NAME);
            return -1;
        }
        if (encoding && strcmp(encoding, RCE_ENCODING_BASE64) == 0) {
            if (rce_base64_decode(json_string_value(content), json_string_length(content), &jf->data,
                              &jf->len) != 0) {
                snprintf(err, errlen, "invalid job: %s[%zu] is not valid base64", RCE_JOB_FILES, i);
                return -1;
            }
        } else if (take_string(f, RCE_FILE_CONTENT, &jf->data, &jf->len, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Reads an object's "stdin" and "args", both optional; where names the object in errors. */
static int take_stdin_args(json_t *obj, const char *where, char **stdin_data, size_t *stdin_len, char ***args,
                           size_t *n_args, char *err, size_t errlen)
{
    json_t *list = json_object_get(obj, RCE_JOB_ARGS), *a;
    size_t i;
    if (json_object_get(obj, RCE_JOB_STDIN)
        && take_string(obj, RCE_JOB_STDIN, stdin_data, stdin_len, err, errlen) != 0)
        return -1;
    if (!list || json_is_null(list))
        return 0;
    if (!json_is_array(list) || !(*args = calloc(json_array_size(list) + 1, sizeof **args))) {
        snprintf(err, errlen, "invalid job: %s\"%s\" must be an array of strings", where, RCE_JOB_ARGS);
        return -1;
    }
    json_array_foreach(list, i, a) {
        if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a)
            || !((*args)[(*n_args)++] = strdup(json_string_value(a)))) {
            snprintf(err, errlen, "invalid job: %s%s[%zu] must be a string without NUL", where, RCE_JOB_ARGS, i);
            return -1;
        }
    }
    return 0;
}

/* Reads "compare": a mode's name, or {"float": tolerance}; absent, lines. */
static int take_compare(json_t *root, struct compare *c, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, RCE_JOB_COMPARE);
    json_t *tolerance = json_object_get(v, RCE_COMPARE_FLOAT);
    int rc = !v || json_is_null(v) ? compare_parse(NULL, 0, c)
             : json_is_string(v) && strcmp(json_string_value(v), RCE_COMPARE_FLOAT) != 0
               ? compare_parse(json_string_value(v), 0, c)
             : json_is_object(v) && json_object_size(v) == 1 && json_is_number(tolerance)
               ? compare_parse(RCE_COMPARE_FLOAT, json_number_value(tolerance), c)
             : -1;
    if (rc != 0)
        snprintf(err, errlen, "invalid job: \"%s\" must be \"%s\", \"%s\", \"%s\" or {\"%s\": tolerance}",
                 RCE_JOB_COMPARE, RCE_COMPARE_EXACT, RCE_COMPARE_LINES, RCE_COMPARE_TOKENS, RCE_COMPARE_FLOAT);
    return rc;
}

/* Reads judge mode's "tests", "compare" and "stop_on_failure", if the job has tests. */
static int take_tests(json_t *root, struct job *job, char *err, size_t errlen)
{
    json_t *tests = json_object_get(root, RCE_JOB_TESTS), *t;
    json_t *stop = json_object_get(root, RCE_JOB_STOP_ON_FAILURE);
    size_t i, n = json_array_size(tests);
    char where[48];
    if (!tests || json_is_null(tests))
        return 0;
    if (!json_is_array(tests) || n == 0 || n > RCE_TESTS_MAX || (stop && !json_is_boolean(stop))
        || json_object_get(root, RCE_JOB_STDIN) || json_object_get(root, RCE_JOB_ARGS)) {
        snprintf(err, errlen, "invalid job: \"%s\" must be 1 to %d test objects, without \"%s\" or \"%s\" "
                 "beside them, \"%s\" a bool", RCE_JOB_TESTS, RCE_TESTS_MAX, RCE_JOB_STDIN, RCE_JOB_ARGS,
                 RCE_JOB_STOP_ON_FAILURE);
        return -1;
    }
    if (!(job->tests = calloc(n, sizeof *job->tests))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    job->stop_on_failure = json_is_true(stop);
    json_array_foreach(tests, i, t) {
        struct job_test *jt = &job->tests[job->n_tests++];
        snprintf(where, sizeof where, "%s[%zu].", RCE_JOB_TESTS, i);
        if (!json_is_object(t)) {
            snprintf(err, errlen, "invalid job: %s[%zu] must be an object", RCE_JOB_TESTS, i);
            return -1;
        }
        if (take_stdin_args(t, where, &jt->stdin_data, &jt->stdin_len, &jt->args, &jt->n_args, err, errlen) != 0
            || (json_object_get(t, RCE_TEST_EXPECTED_OUTPUT)
                && take_string(t, RCE_TEST_EXPECTED_OUTPUT, &jt->expected, &jt->expected_len, err, errlen) != 0))
            return -1;
    }
    return take_compare(root, &job->compare, err, errlen);
}

/* Reads "stream" and "interactive" (after "tests"): interactive only with stream, never with
 * tests. */
static int take_stream(json_t *root, struct job *job, char *err, size_t errlen)
{
    if (take_optional_bool(root, RCE_JOB_STREAM, &job->stream, err, errlen) != 0
        || take_optional_bool(root, RCE_JOB_INTERACTIVE, &job->interactive, err, errlen) != 0)
        return -1;
    if (job->interactive && !job->stream) {
        snprintf(err, errlen, "invalid job: \"%s\" needs \"%s\": true", RCE_JOB_INTERACTIVE, RCE_JOB_STREAM);
        return -1;
    }
    if (job->interactive && job->n_tests) {
        snprintf(err, errlen, "invalid job: \"%s\" cannot be used with \"%s\"", RCE_JOB_INTERACTIVE,
                 RCE_JOB_TESTS);
        return -1;
    }
    return 0;
}

/* Reads every limit of RCE_LIMITS the job names into job->limits, clamped to maxima. */
static int take_limits(json_t *limits, const struct limits *maxima, struct job *job, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < RCE_LIMIT_COUNT; i++) {
        long floor = i == RCE_LIMIT_INDEX_memory_mb || i == RCE_LIMIT_INDEX_compile_memory_mb
                     ? JOB_MIN_MEMORY_MB : 1;
        if (take_limit(limits, limit_fields[i].key, floor, *limits_at_const(maxima, i),
                       limits_at(&job->limits, i), &job->named, &job->clamped, (unsigned)i, err,
                       errlen) != 0)
            return -1;
    }
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
    /* id, reply_to, async and result_ttl_s first: with them an invalid job can still be
     * answered, as it asked. */
    if (take_string(root, RCE_JOB_ID, &job->id, NULL, err, errlen) != 0
        || take_string(root, RCE_JOB_REPLY_TO, &job->reply_to, NULL, err, errlen) != 0
        || take_async(root, job, err, errlen) != 0
        || take_string(root, RCE_JOB_LANGUAGE, &job->language, NULL, err, errlen) != 0
        || (json_object_get(root, RCE_JOB_CODE)
            ? take_string(root, RCE_JOB_CODE, &job->code, &job->code_len, err, errlen)
            : take_files(root, job, err, errlen)) != 0
        || take_stdin_args(root, "", &job->stdin_data, &job->stdin_len, &job->args, &job->n_args, err,
                           errlen) != 0
        || take_tests(root, job, err, errlen) != 0
        || take_optional_int(root, RCE_JOB_ENQUEUED_MS, &job->enqueued_ms, err, errlen) != 0
        || take_optional_int(root, RCE_JOB_DEADLINE_MS, &job->deadline_ms, err, errlen) != 0
        || take_stream(root, job, err, errlen) != 0)
        goto fail;

    json_t *limits = json_object_get(root, RCE_JOB_LIMITS);
    if (limits && !json_is_null(limits)) {
        if (!json_is_object(limits)) {
            snprintf(err, errlen, "invalid job: \"%s\" must be an object", RCE_JOB_LIMITS);
            goto fail;
        }
        if (take_limits(limits, maxima, job, err, errlen) != 0)
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
    for (size_t i = 0; i < job->n_files; i++) {
        free(job->files[i].name);
        free(job->files[i].data);
    }
    free(job->files);
    free(job->stdin_data);
    for (size_t i = 0; i < job->n_args; i++)
        free(job->args[i]);
    free(job->args);
    for (size_t i = 0; i < job->n_tests; i++) {
        free(job->tests[i].stdin_data);
        for (size_t j = 0; j < job->tests[i].n_args; j++)
            free(job->tests[i].args[j]);
        free(job->tests[i].args);
        free(job->tests[i].expected);
    }
    free(job->tests);
    memset(job, 0, sizeof *job);
}

int job_result_ttl_s(const struct job *job)
{
    return job->result_ttl_s > 0 ? job->result_ttl_s : RCE_RESULT_TTL_S;
}

void job_result_init(struct job_result *r, size_t output_limit)
{
    memset(r, 0, sizeof *r);
    r->status = RCE_STATUS_IE;
    r->output_limit = output_limit;
    r->cpu_ms = r->memory_kb = r->oom_kills = -1;
    r->compile_cpu_ms = r->compile_memory_kb = r->compile_oom_kills = -1;
    r->exit_status = -1;
    capture_init(&r->out, output_limit + WRAPPER_OUT_RESERVE);
    capture_init(&r->err, output_limit + WRAPPER_ERR_RESERVE);
}

void job_result_free(struct job_result *r)
{
    for (size_t i = 0; i < r->n_tests; i++) {
        free(r->tests[i].out);
        free(r->tests[i].err);
    }
    free(r->tests);
    capture_free(&r->out);
    capture_free(&r->err);
    free(r->compile_out);
    free(r->compile_err);
}

/* Moves what c holds before the compile line into *before (malloc'd; NULL if out of
 * memory) and drops the line. */
static void cut_compiled(struct capture *c, const struct wrapper_compiled *at, char **before,
                         size_t *before_len)
{
    if ((*before = malloc(at->at + 1)))
        memcpy(*before, c->data, at->at);
    *before_len = *before ? at->at : 0;
    memmove(c->data, c->data + at->next, c->len - at->next);
    c->len -= at->next;
}

/* Moves all of c into *copy (malloc'd): the compiler never finished, all that came is its. */
static void take_all(struct capture *c, char **copy, size_t *copy_len)
{
    if ((*copy = malloc(c->len + 1)) && c->len)
        memcpy(*copy, c->data, c->len);
    *copy_len = *copy ? c->len : 0;
    c->len = 0;
}

bool job_result_compile_seen(struct job_result *r, const char *marker, struct wrapper_compiled *c)
{
    size_t mlen = strlen(marker), from = r->compile_scan;
    if (wrapper_find_compiled(r->out.data + from, r->out.len - from, marker, c) == COMPILE_UNFINISHED) {
        /* a marker cut by the end of what came so far is looked at again next time */
        const char *p = r->out.len > from ? memmem(r->out.data + from, r->out.len - from, marker, mlen) : NULL;
        r->compile_scan = p ? (size_t)(p - r->out.data)
                            : r->out.len > mlen ? r->out.len - mlen : 0;
        if (r->compile_scan < from)
            r->compile_scan = from;
        return false;
    }
    return true;
}

enum wrapper_compile job_result_split_compile(struct job_result *r, const char *marker)
{
    struct wrapper_compiled err_at, out_at;
    enum wrapper_compile how = wrapper_find_compiled(r->err.data, r->err.len, marker, &err_at);
    r->compiled = true;
    r->compile_exit_code = err_at.exit_code;
    r->compile_wall_ms = err_at.ms;
    r->compile_cpu_ms = err_at.cpu_us >= 0 ? err_at.cpu_us / 1000 : -1;
    r->compile_memory_kb = err_at.maxrss_kb;
    r->compile_oom_kills = err_at.oom_kills;
    if (how == COMPILE_UNFINISHED) {
        take_all(&r->out, &r->compile_out, &r->compile_out_len);
        take_all(&r->err, &r->compile_err, &r->compile_err_len);
        return how;
    }
    cut_compiled(&r->err, &err_at, &r->compile_err, &r->compile_err_len);
    if (wrapper_find_compiled(r->out.data, r->out.len, marker, &out_at) != COMPILE_UNFINISHED)
        cut_compiled(&r->out, &out_at, &r->compile_out, &r->compile_out_len);
    return how;
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

void job_result_set_end(struct job_result *r, const char *end)
{
    r->end_line[0] = '\0';
    if (end && *end && (size_t)snprintf(r->end_line, sizeof r->end_line, "%s\n", end) >= sizeof r->end_line)
        r->end_line[0] = '\0';     /* too long to be ours: never matched */
}

bool job_result_ended(const struct job_result *r)
{
    size_t out = r->out.len, err = r->err.len;
    return !r->out.overflowed && !r->err.overflowed && wrapper_take_end(r->out.data, &out, r->end_line)
           && wrapper_take_end(r->err.data, &err, r->end_line);
}

bool job_result_take_figures(struct job_result *r, const char *buf, size_t *len)
{
    struct wrapper_figures f;
    enum wrapper_outcome got = wrapper_take_figures(buf, len, r->end_line, &f);
    if (got == WRAPPER_NO_FIGURES)
        return false;
    r->figures_trusted = got == WRAPPER_TRUSTED;
    r->cpu_ms = f.cpu_us >= 0 ? f.cpu_us / 1000 : -1;
    r->memory_kb = f.maxrss_kb;
    r->exit_status = f.status >= 0 && f.status <= 255 ? (int)f.status : -1;
    r->oom_kills = f.oom_kills;
    return true;
}

bool job_result_finish_output(struct job_result *r)
{
    wrapper_take_end(r->out.data, &r->out.len, r->end_line);
    job_result_take_figures(r, r->err.data, &r->err.len);
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
    case KILL_CANCEL:
        r->status = RCE_STATUS_CANCELLED;
        snprintf(r->reason, sizeof r->reason, "%s", JOB_CANCELLED_RUNNING);
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

/* A JSON string of text that may have been cut mid-character (a reason snprintf cut). */
static json_t *text_string(const char *text)
{
    size_t len;
    char *clean = utf8_sanitize(text, strlen(text), &len);
    if (!clean)
        return NULL;
    json_t *s = json_stringn_nocheck(clean, len);
    free(clean);
    return s;
}

/* Sets obj[key] to a stream's bytes, losslessly: the text itself when it is valid UTF-8 (a NUL
 * travels as \u0000), else its base64 with obj[encoding_key] saying so. -1 if out of memory. */
static int set_stream(json_t *obj, const char *key, const char *encoding_key, const char *data, size_t n)
{
    if (rce_utf8_valid((const unsigned char *)data, n))
        return json_object_set_new(obj, key, json_stringn_nocheck(data ? data : "", n));
    char *b64 = malloc(rce_base64_encoded_len(n) + 1);
    if (!b64)
        return -1;
    rce_base64_encode((const unsigned char *)data, n, b64);
    int rc = json_object_set_new(obj, key, json_stringn_nocheck(b64, rce_base64_encoded_len(n)))
             | json_object_set_new(obj, encoding_key, json_string(RCE_ENCODING_BASE64));
    free(b64);
    return rc;
}

/* stdout and stderr (of the run or of the compile step) into obj; -1 if out of memory. */
static int set_streams(json_t *obj, const char *out, size_t out_len, const char *err, size_t err_len)
{
    return set_stream(obj, RCE_RES_STDOUT, RCE_RES_STDOUT_ENCODING, out, out_len)
           | set_stream(obj, RCE_RES_STDERR, RCE_RES_STDERR_ENCODING, err, err_len);
}

/* a figure, or null when unknown (-1) */
static json_t *figure(long long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

/* "compile": {"stdout", "stderr", "exit_code", "wall_ms", "cpu_ms", "memory_kb"} or null;
 * NULL if out of memory. */
static json_t *compile_json(const struct job_result *r)
{
    if (!r->compiled)
        return json_null();
    /* The streams go first, as in the run's part of the result: set_streams fills them in. */
    json_t *c = json_pack("{s:n, s:n, s:o, s:o, s:o, s:o}", RCE_RES_STDOUT, RCE_RES_STDERR,
                          RCE_RES_EXIT_CODE, figure(r->compile_exit_code), RCE_RES_WALL_MS,
                          figure(r->compile_wall_ms), RCE_RES_CPU_MS, figure(r->compile_cpu_ms),
                          RCE_RES_MEMORY_KB, figure(r->compile_memory_kb));
    if (c && set_streams(c, r->compile_out, r->compile_out_len, r->compile_err, r->compile_err_len) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* the limits the run had, and which were cut to the node's maxima */
static json_t *limits_json(const struct job_result *r)
{
    json_t *o = json_object();
    if (!o)
        return json_null();
    for (size_t i = 0; i < RCE_LIMIT_COUNT; i++)
        if (*limits_at_const(&r->limits, i) > 0)
            json_object_set_new(o, limit_fields[i].key, json_integer(*limits_at_const(&r->limits, i)));
    return o;
}

static json_t *clamped_json(const struct job_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < RCE_LIMIT_COUNT; i++)
        if (r->clamped & 1u << i)
            json_array_append_new(a, json_string(limit_fields[i].key));
    return a ? a : json_null();
}

/* "tests": one object per test, in order; NULL if out of memory. */
static json_t *tests_json(const struct job_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->n_tests; i++) {
        const struct test_result *t = &r->tests[i];
        json_t *o = json_pack("{s:s, s:n, s:n, s:o, s:o, s:b, s:o, s:o, s:o, s:o}", RCE_RES_STATUS, t->status,
                              RCE_RES_STDOUT, RCE_RES_STDERR,
                              RCE_RES_EXIT_CODE, t->has_exit_code ? json_integer(t->exit_code) : json_null(),
                              RCE_RES_SIGNAL, t->has_signal ? json_integer(t->signal) : json_null(),
                              RCE_RES_TRUNCATED, t->truncated, RCE_RES_WALL_MS, figure(t->wall_ms),
                              RCE_RES_CPU_MS, figure(t->cpu_ms), RCE_RES_MEMORY_KB, figure(t->memory_kb),
                              RCE_RES_REASON, t->reason[0] ? text_string(t->reason) : json_null());
        if (!o || set_streams(o, t->out, t->out_len, t->err, t->err_len) != 0 || json_array_append_new(a, o) != 0) {
            json_decref(o);
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* passed: the tests that are OK */
static json_int_t tests_passed(const struct job_result *r)
{
    json_int_t n = 0;
    for (size_t i = 0; i < r->n_tests; i++)
        n += strcmp(r->tests[i].status, RCE_STATUS_OK) == 0;
    return n;
}

char *job_result_json(const char *id, const char *language, const char *node,
                      const struct job_result *r)
{
    char *text = NULL;
    json_t *root = json_object();
    if (!root)
        return NULL;
    int rc = json_object_set_new(root, RCE_RES_ID, json_string(id))
             | json_object_set_new(root, RCE_RES_LANGUAGE, language ? json_string(language) : json_null())
             | json_object_set_new(root, RCE_RES_STATUS, json_string(r->status))
             | json_object_set_new(root, RCE_RES_EXIT_CODE,
                                   r->has_exit_code ? json_integer(r->exit_code) : json_null())
             | json_object_set_new(root, RCE_RES_SIGNAL, r->has_signal ? json_integer(r->signal) : json_null())
             | set_streams(root, r->out.data, r->out.len, r->err.data, r->err.len)
             | json_object_set_new(root, RCE_RES_TRUNCATED, json_boolean(r->out.overflowed || r->err.overflowed))
             | json_object_set_new(root, RCE_RES_WALL_MS, json_integer(r->wall_ms))
             | json_object_set_new(root, RCE_RES_CPU_MS, r->cpu_ms >= 0 ? json_integer(r->cpu_ms) : json_null())
             | json_object_set_new(root, RCE_RES_MEMORY_KB,
                                   r->memory_kb >= 0 ? json_integer(r->memory_kb) : json_null())
             | json_object_set_new(root, RCE_RES_NODE, json_string(node))
             | json_object_set_new(root, RCE_RES_VERSION, r->version ? json_string(r->version) : json_null())
             | json_object_set_new(root, RCE_RES_COMPILE, compile_json(r))
             | json_object_set_new(root, RCE_RES_LIMITS, limits_json(r))
             | json_object_set_new(root, RCE_RES_CLAMPED, clamped_json(r))
             | json_object_set_new(root, RCE_RES_REASON, r->reason[0] ? text_string(r->reason) : json_null());
    if (rc == 0 && r->tests)
        rc = json_object_set_new(root, RCE_RES_TESTS, tests_json(r))
             | json_object_set_new(root, RCE_RES_PASSED, json_integer(tests_passed(r)))
             | json_object_set_new(root, RCE_RES_TOTAL, json_integer((json_int_t)r->n_tests));
    if (rc == 0)
        text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}
