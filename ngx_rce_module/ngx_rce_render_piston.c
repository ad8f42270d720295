
/*
 * The renderer of Piston's POST /api/v2/execute: {"language", "version",
 * "run", "compile"?}, each stage {"stdout", "stderr", "output", "code",
 * "signal", "message", "status", "cpu_time", "wall_time", "memory"} as
 * Piston's job.js makes it.  Our verdicts become Piston's statuses (the map
 * is in docs/api.md, "Piston v2"):
 *
 *     OK   null                RE   "RE", or "SG" when a signal ended it
 *     TLE  "TO"                MLE  "SG" (SIGKILL: the kernel's OOM kill)
 *     OLE  "OL" (stdout) or "EL" (stderr)
 *     IE, anything else  "XX"
 *     CE   the compile stage's own (RE, TO, SG, OL), and "run" is a copy
 *          of "compile", as Piston answers a failed compile
 *
 * A node's result keeps stdout and stderr apart, not the order they were
 * written in: "output" is stdout then stderr.  Streams are text, bytes
 * that are not UTF-8 as U+FFFD (common/rce_render.c).
 */


#include "ngx_rce_module.h"


static ngx_int_t ngx_rce_render_piston_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *res);
static ngx_int_t ngx_rce_render_piston_error(ngx_http_request_t *r,
    ngx_str_t *id, ngx_uint_t status, const char *reason);
static json_t *ngx_rce_render_piston_stage(json_t *from, const char *verdict,
    json_t *res, int *rc);
static const char *ngx_rce_render_piston_status(json_t *from,
    const char *verdict, json_t *res, ngx_uint_t *killed, const char **text,
    u_char *number, size_t size);
static const char *ngx_rce_render_piston_compile(json_t *from,
    const char *reason, ngx_uint_t *killed, const char **text,
    u_char *number, size_t size);
static ngx_uint_t ngx_rce_render_piston_stdout_full(json_t *from, json_t *res);
static json_t *ngx_rce_render_piston_signal(json_t *signal,
    ngx_uint_t killed);
static json_t *ngx_rce_render_piston_known(json_t *figure);
static json_t *ngx_rce_render_piston_memory(json_t *kb);


ngx_rce_renderer_t  ngx_rce_render_piston = {
    "piston",
    ngx_rce_render_piston_result,
    ngx_rce_render_piston_error,
    NULL
};


/* the names Piston gives signals (its globals.js), by number */
const char  *ngx_rce_piston_signals[NGX_RCE_PISTON_SIGNALS] = {
    NULL, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
    "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2",
    "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
    "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
    "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
    "SIGSYS"
};


static ngx_int_t
ngx_rce_render_piston_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *res)
{
    json_t      *answer, *status;
    const char  *verdict;
    ngx_int_t    rc;

    answer = ngx_rce_render_piston_answer(res, &rc);
    if (answer == NULL) {
        return rc;
    }

    verdict = json_string_value(json_object_get(res, RCE_RES_STATUS));

    if (verdict == NULL || ngx_strcmp(verdict, RCE_STATUS_OK) != 0) {
        status = json_object_get(json_object_get(answer, "run"), "status");

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rce: job %V: verdict %s answered as Piston's %s",
                      &job->id, verdict ? verdict : RCE_STATUS_IE,
                      json_is_string(status) ? json_string_value(status)
                                             : "null");
    }

    return ngx_rce_send_json(r, NGX_HTTP_OK, answer);
}


/*
 * Piston's answer to a result: {"language", "version", "run", "compile"?};
 * NULL when it cannot be made, *rc then what to return (NGX_DECLINED for
 * a malformed result).  The WebSocket's exit message takes a stage of it.
 */
json_t *
ngx_rce_render_piston_answer(json_t *res, ngx_int_t *rc)
{
    json_t      *status, *compile, *run, *answer;
    const char  *verdict;
    int          made;

    status = json_object_get(res, RCE_RES_STATUS);
    verdict = json_is_string(status) ? json_string_value(status)
                                     : RCE_STATUS_IE;

    compile = NULL;
    run = NULL;
    made = RCE_RENDER_OK;

    if (json_is_object(json_object_get(res, RCE_RES_COMPILE))) {
        compile = ngx_rce_render_piston_stage(
                      json_object_get(res, RCE_RES_COMPILE),
                      ngx_strcmp(verdict, RCE_STATUS_CE) == 0
                      ? RCE_STATUS_CE : RCE_STATUS_OK,
                      res, &made);
    }

    if (made == RCE_RENDER_OK) {
        /* a failed compile: "run" is the compile stage (Piston's v2.js) */
        run = (compile != NULL && ngx_strcmp(verdict, RCE_STATUS_CE) == 0)
              ? json_incref(compile)
              : ngx_rce_render_piston_stage(res, verdict, res, &made);
    }

    if (made != RCE_RENDER_OK) {
        json_decref(compile);
        json_decref(run);
        *rc = ngx_rce_render_failed(made == RCE_RENDER_MALFORMED);
        return NULL;
    }

    answer = json_pack("{s:O?, s:O?, s:o, s:o*}",
                       "language", json_object_get(res, RCE_RES_LANGUAGE),
                       "version", json_object_get(res, RCE_RES_VERSION),
                       "run", run,
                       "compile", compile);

    *rc = (answer != NULL) ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;

    return answer;
}


/*
 * The stage a job ended in, as Piston's answer has it under the job's
 * verdict: its compile step (compile: the result's compile object, its
 * figures, empty if it has none) or its run.  A compile step killed by a
 * job limit is "TO", "OL", "EL" (signal SIGKILL) or "SG", as Piston's
 * would be.  NULL when it cannot be made, *rc then what to return
 * (NGX_DECLINED for a malformed result).  The streams' exit message.
 */
json_t *
ngx_rce_render_piston_ended(json_t *res, ngx_uint_t compile, ngx_int_t *rc)
{
    json_t      *status, *from, *empty, *stage;
    const char  *verdict;
    int          made;

    status = json_object_get(res, RCE_RES_STATUS);
    verdict = json_is_string(status) ? json_string_value(status)
                                     : RCE_STATUS_IE;
    empty = NULL;
    from = res;

    if (compile) {
        from = json_object_get(res, RCE_RES_COMPILE);

        if (!json_is_object(from)) {
            empty = json_object();
            from = empty;
        }
    }

    made = (from != NULL) ? RCE_RENDER_OK : RCE_RENDER_NOMEM;
    stage = (from != NULL)
            ? ngx_rce_render_piston_stage(from, verdict, res, &made)
            : NULL;

    json_decref(empty);

    if (stage == NULL) {
        *rc = ngx_rce_render_failed(made == RCE_RENDER_MALFORMED);
        return NULL;
    }

    *rc = NGX_OK;

    return stage;
}


/* Piston's error shape: {"message"}; a 503 still carries Retry-After */
static ngx_int_t
ngx_rce_render_piston_error(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t status, const char *reason)
{
    if (id != NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rce: job %V: answering Piston's %ui", id, status);
    }

    return ngx_rce_send_error_body(r, status, reason,
                                   json_pack("{s:s}", "message", reason));
}


/*
 * One stage of the answer from one of the result's (the result itself for
 * the run, its "compile" object): NULL with *rc set when it cannot be made
 */
static json_t *
ngx_rce_render_piston_stage(json_t *from, const char *verdict, json_t *res,
    int *rc)
{
    json_t      *text, *out, *err, *stage, *code, *signal;
    const char  *status;
    ngx_uint_t   killed;
    const char  *message;
    u_char       number[64];

    text = json_object();
    if (text == NULL) {
        *rc = RCE_RENDER_NOMEM;
        return NULL;
    }

    *rc = rce_render_streams(text, from, 0);
    if (*rc != RCE_RENDER_OK) {
        json_decref(text);
        return NULL;
    }

    out = json_object_get(text, RCE_RES_STDOUT);
    err = json_object_get(text, RCE_RES_STDERR);

    killed = 0;
    message = NULL;
    status = ngx_rce_render_piston_status(from, verdict, res, &killed,
                                          &message, number, sizeof(number));

    signal = ngx_rce_render_piston_signal(json_object_get(from, RCE_RES_SIGNAL),
                                          killed);

    /* isolate's meta has an exitcode only for a program that exited:
       Piston's code is null beside a signal */
    code = json_is_null(signal) ? json_object_get(from, RCE_RES_EXIT_CODE)
                                : NULL;

    /* output: stdout then stderr (the result has not their order) */
    stage = json_pack("{s:O, s:O, s:s%+%, s:O?, s:o, s:s?, s:s?, s:O?, s:O?,"
                      " s:o}",
                      "stdout", out,
                      "stderr", err,
                      "output", json_string_value(out),
                      json_string_length(out),
                      json_string_value(err), json_string_length(err),
                      "code", json_is_integer(code) ? code : NULL,
                      "signal", signal,
                      "message", message,
                      "status", status,
                      "cpu_time", ngx_rce_render_piston_known(
                                      json_object_get(from, RCE_RES_CPU_MS)),
                      "wall_time", ngx_rce_render_piston_known(
                                       json_object_get(from,
                                                       RCE_RES_WALL_MS)),
                      "memory", ngx_rce_render_piston_memory(
                                    json_object_get(from,
                                                    RCE_RES_MEMORY_KB)));

    json_decref(text);

    if (stage == NULL) {
        *rc = RCE_RENDER_NOMEM;
    }

    return stage;
}


/*
 * Piston's status of a stage with our verdict (NULL: none), its message in
 * *text (the node's reason, whole, or a fixed text, or one with a number
 * made in number), and *killed when Piston would name SIGKILL as its signal
 * (it does for TO, OL and EL, and for an OOM kill)
 */
static const char *
ngx_rce_render_piston_status(json_t *from, const char *verdict, json_t *res,
    ngx_uint_t *killed, const char **text, u_char *number, size_t size)
{
    json_t      *code, *signal;
    const char  *reason;

    code = json_object_get(from, RCE_RES_EXIT_CODE);
    signal = json_object_get(from, RCE_RES_SIGNAL);
    reason = json_string_value(json_object_get(res, RCE_RES_REASON));

    if (reason != NULL && reason[0] == '\0') {
        reason = NULL;
    }

    if (ngx_strcmp(verdict, RCE_STATUS_OK) == 0) {
        return NULL;
    }

    if (ngx_strcmp(verdict, RCE_STATUS_CE) == 0) {
        return ngx_rce_render_piston_compile(from, reason, killed, text,
                                             number, size);
    }

    if (ngx_strcmp(verdict, RCE_STATUS_RE) == 0) {
        if (json_is_integer(signal)) {
            ngx_snprintf(number, size - 1, "Caught fatal signal %L%Z",
                         (int64_t) json_integer_value(signal));
            *text = (const char *) number;
            return "SG";
        }

        ngx_snprintf(number, size - 1, "Exited with error status %L%Z",
                     (int64_t) json_integer_value(code));
        *text = (const char *) number;
        return "RE";
    }

    *killed = 1;

    if (ngx_strcmp(verdict, RCE_STATUS_TLE) == 0) {
        *text = reason ? reason : "Time limit exceeded";
        return "TO";
    }

    if (ngx_strcmp(verdict, RCE_STATUS_MLE) == 0) {
        *text = reason ? reason : "Memory limit exceeded";
        return "SG";
    }

    if (ngx_strcmp(verdict, RCE_STATUS_OLE) == 0) {
        if (ngx_rce_render_piston_stdout_full(from, res)) {
            *text = "stdout length exceeded";
            return "OL";
        }

        *text = "stderr length exceeded";
        return "EL";
    }

    /* IE, and a verdict Piston has no word for (CANCELLED) */
    *killed = 0;
    *text = reason ? reason
            : (ngx_strcmp(verdict, RCE_STATUS_IE) == 0) ? "internal error"
            : verdict;

    return "XX";
}


/* a failed compile step: how it ended, from the node's reason */
static const char *
ngx_rce_render_piston_compile(json_t *from, const char *reason,
    ngx_uint_t *killed, const char **text, u_char *number, size_t size)
{
    json_t  *code;

    code = json_object_get(from, RCE_RES_EXIT_CODE);

    if (reason == NULL) {
        if (!json_is_integer(code)) {
            *text = "the compile step failed";
            return "XX";
        }

        ngx_snprintf(number, size - 1, "Exited with error status %L%Z",
                     (int64_t) json_integer_value(code));
        *text = (const char *) number;
        return "RE";
    }

    *text = reason;
    *killed = 1;

    if (ngx_strstr(reason, RCE_LIMIT_COMPILE_MEMORY_MB) != NULL) {
        return "SG";
    }

    if (ngx_strstr(reason, "output") != NULL) {
        return "OL";
    }

    /* compile_wall_ms, compile_cpu_ms, or "did not finish in its limits" */
    return "TO";
}


/* an OLE: whether stdout is the stream that reached the cap */
static ngx_uint_t
ngx_rce_render_piston_stdout_full(json_t *from, json_t *res)
{
    rce_render_bytes_t  bytes;
    json_int_t          cap;
    ngx_uint_t          full;

    cap = json_integer_value(json_object_get(
              json_object_get(res, RCE_RES_LIMITS), RCE_LIMIT_OUTPUT_BYTES));

    if (rce_render_stream_bytes(from, RCE_RENDER_STDOUT, &bytes)
        != RCE_RENDER_OK)
    {
        return 1;
    }

    full = (cap <= 0 || bytes.len >= (size_t) cap);
    free(bytes.decoded);

    return full;
}


/* a signal's name, as Piston's globals.js names it, or null */
static json_t *
ngx_rce_render_piston_signal(json_t *signal, ngx_uint_t killed)
{
    json_int_t  n;

    if (killed) {
        return json_string("SIGKILL");
    }

    n = json_integer_value(signal);

    if (!json_is_integer(signal) || n <= 0
        || n >= (json_int_t) (sizeof(ngx_rce_piston_signals)
                              / sizeof(ngx_rce_piston_signals[0])))
    {
        return json_null();
    }

    return json_string(ngx_rce_piston_signals[n]);
}


/* a figure, or null when the node did not know it (-1) */
static json_t *
ngx_rce_render_piston_known(json_t *figure)
{
    return json_is_integer(figure) && json_integer_value(figure) >= 0
           ? figure : NULL;
}


/* bytes from KiB; null stays null */
static json_t *
ngx_rce_render_piston_memory(json_t *kb)
{
    if (!json_is_integer(kb) || json_integer_value(kb) < 0
        || json_integer_value(kb) > ((json_int_t) 1 << 40))
    {
        return json_null();
    }

    return json_integer(json_integer_value(kb) * 1024);
}
