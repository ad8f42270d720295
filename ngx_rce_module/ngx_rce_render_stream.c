
/*
 * The renderers of a streamed job: its events, as it runs, become the
 * messages of Piston's WebSocket protocol, sent over a WebSocket
 * (ngx_rce_ws.c) or as Server-Sent Events (ngx_rce_sse.c), one vocabulary
 * for both (docs/api.md, "Streaming"):
 *
 *     {"type":"runtime","language","version"}
 *     {"type":"stage","stage":"compile"|"run"}
 *     {"type":"data","stream":"stdout"|"stderr","data", "encoding"?}
 *         bytes that are not UTF-8 (never sent raw): over SSE, and over a
 *         WebSocket that asked for it, "encoding":"base64"; else text, each
 *         byte that is not UTF-8 as U+FFFD (as Piston's data.toString())
 *     {"type":"exit","stage","code","signal", and ours: "status" (Piston's),
 *      "message", "verdict", "reason", "limits", "cpu_time", "wall_time",
 *      "memory"}
 *     {"type":"error","message"}
 *
 * A compile step that succeeded gets its exit when the run begins (its
 * figures are in the result); the last exit is the stage that was running
 * when the job ended (a compile step killed by a limit: "compile").  Over
 * SSE the stream ends with a "result" event, the /api/v1/run document; an
 * error before the stream began is the route's JSON error.  Over a
 * WebSocket the exit is followed by the close 4999, an error by 4002
 * (Piston's codes).
 */


#include "ngx_rce_module.h"

#include <rce_base64.h>


static ngx_int_t ngx_rce_render_stream_event(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *event);
static ngx_int_t ngx_rce_render_stream_send(ngx_http_request_t *r,
    ngx_rce_stream_t *st, const char *type, json_t *message);
static json_t *ngx_rce_render_stream_data(ngx_rce_stream_t *st,
    const char *stream, json_t *data, ngx_uint_t base64, ngx_int_t *rc);
static json_t *ngx_rce_render_stream_exit(ngx_rce_stream_t *st, json_t *res,
    ngx_int_t *rc);
static ngx_int_t ngx_rce_render_ws_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *res);
static ngx_int_t ngx_rce_render_ws_error(ngx_http_request_t *r,
    ngx_str_t *id, ngx_uint_t status, const char *reason);
static ngx_int_t ngx_rce_render_sse_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *res);
static ngx_int_t ngx_rce_render_sse_error(ngx_http_request_t *r,
    ngx_str_t *id, ngx_uint_t status, const char *reason);
static ngx_int_t ngx_rce_render_sse_begin(ngx_http_request_t *r,
    ngx_rce_stream_t *st);


ngx_rce_renderer_t  ngx_rce_render_ws = {
    "websocket",
    ngx_rce_render_ws_result,
    ngx_rce_render_ws_error,
    ngx_rce_render_stream_event
};


ngx_rce_renderer_t  ngx_rce_render_sse = {
    "sse",
    ngx_rce_render_sse_result,
    ngx_rce_render_sse_error,
    ngx_rce_render_stream_event
};


/*
 * The request's stream, its module context: size bytes (a route's state
 * may begin with it), zeroed, in the request's pool
 */
ngx_rce_stream_t *
ngx_rce_render_stream_ctx(ngx_http_request_t *r, ngx_rce_ws_t *ws,
    size_t size)
{
    ngx_rce_stream_t  *st;

    st = ngx_pcalloc(r->pool, ngx_max(size, sizeof(ngx_rce_stream_t)));
    if (st == NULL) {
        return NULL;
    }

    st->ws = ws;
    ngx_http_set_ctx(r, st, ngx_rce_module);

    return st;
}


/* {"type":"runtime","language","version"}: the stream's first message */
ngx_int_t
ngx_rce_render_stream_runtime(ngx_http_request_t *r, ngx_rce_stream_t *st)
{
    json_t     *message;
    ngx_int_t   rc;

    st->started = 1;

    message = json_pack("{s:s, s:s%, s:s%}",
                        "type", "runtime",
                        "language", st->language.data, st->language.len,
                        "version", st->version.data, st->version.len);
    if (message == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_rce_render_stream_send(r, st, "runtime", message);
    json_decref(message);

    return rc;
}


/* {"type":"error","message"}, and the WebSocket's close with code */
void
ngx_rce_render_stream_error(ngx_http_request_t *r, ngx_rce_stream_t *st,
    ngx_uint_t code, const char *message)
{
    json_t  *json;

    json = json_pack("{s:s, s:s}", "type", "error", "message", message);

    if (json != NULL) {
        (void) ngx_rce_render_stream_send(r, st, "error", json);
        json_decref(json);
    }

    st->ended = 1;

    if (st->ws != NULL) {
        ngx_rce_ws_close(st->ws, code, "Notified Error");
    }
}


/* an event of the node's (checked as it is read) as the client's message */
static ngx_int_t
ngx_rce_render_stream_event(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *event)
{
    ngx_rce_stream_t  *st;
    json_t            *message, *exit;
    const char        *kind, *stage, *stream, *encoding;
    ngx_uint_t         n;
    ngx_int_t          rc;

    st = ngx_http_get_module_ctx(r, ngx_rce_module);

    if (st == NULL || st->ended) {
        return NGX_OK;
    }

    kind = json_string_value(json_object_get(event, RCE_EVENT_KIND));
    stage = json_string_value(json_object_get(event, RCE_EVENT_STAGE));
    message = NULL;

    if (ngx_strcmp(kind, RCE_EVENT_STAGE) == 0 && stage != NULL) {
        n = (ngx_strcmp(stage, RCE_STAGE_COMPILE) == 0) ? NGX_RCE_STAGE_COMPILE
            : (ngx_strcmp(stage, RCE_STAGE_RUN) == 0) ? NGX_RCE_STAGE_RUN : 0;

        if (n == 0) {
            goto unknown;
        }

        if (n == NGX_RCE_STAGE_RUN && st->stage == NGX_RCE_STAGE_COMPILE) {
            /* the compile step succeeded: the run began */
            exit = json_pack("{s:s, s:s, s:i, s:n}", "type", "exit",
                             "stage", RCE_STAGE_COMPILE, "code", 0,
                             "signal");
            rc = exit ? ngx_rce_render_stream_send(r, st, "exit", exit)
                      : NGX_ERROR;
            json_decref(exit);

            if (rc != NGX_OK) {
                return rc;
            }
        }

        st->stage = n;
        message = json_pack("{s:s, s:s}", "type", "stage", "stage", stage);

    } else if (ngx_strcmp(kind, RCE_EVENT_OUTPUT) == 0) {
        stream = json_string_value(json_object_get(event, RCE_EVENT_STREAM));
        encoding = json_string_value(json_object_get(event,
                                                     RCE_EVENT_ENCODING));

        if (stream == NULL
            || (ngx_strcmp(stream, "stdout") != 0
                && ngx_strcmp(stream, "stderr") != 0)
            || !json_is_string(json_object_get(event, RCE_EVENT_DATA)))
        {
            goto unknown;
        }

        message = ngx_rce_render_stream_data(st, stream,
                      json_object_get(event, RCE_EVENT_DATA),
                      encoding != NULL
                      && ngx_strcmp(encoding, RCE_ENCODING_BASE64) == 0,
                      &rc);

        if (message == NULL && rc == NGX_DECLINED) {
            goto unknown;
        }

    } else {
        goto unknown;
    }

    if (message == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_rce_render_stream_send(r, st, json_string_value(
                                        json_object_get(message, "type")),
                                    message);
    json_decref(message);

    return rc;

unknown:

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "rce: job %V: ignoring an event of node %V that cannot be "
                  "read (event \"%s\")", &job->id, &job->node,
                  kind ? kind : "");

    return NGX_OK;
}


/*
 * A data message of an output event's data (in base64 if base64): base64
 * as it came, unless the client takes text (st->text), then the bytes with
 * U+FFFD for what is not UTF-8 (the node cut the chunk between
 * characters).  NULL with *rc NGX_DECLINED for data that is not base64,
 * else NGX_ERROR.
 */
static json_t *
ngx_rce_render_stream_data(ngx_rce_stream_t *st, const char *stream,
    json_t *data, ngx_uint_t base64, ngx_int_t *rc)
{
    json_t  *text, *message;
    char    *bytes;
    size_t   len;
    int      decoded;

    *rc = NGX_ERROR;

    if (!base64) {
        return json_pack("{s:s, s:s, s:O}", "type", "data", "stream", stream,
                         "data", data);
    }

    if (!st->text) {
        return json_pack("{s:s, s:s, s:O, s:s}", "type", "data",
                         "stream", stream, "data", data,
                         "encoding", RCE_ENCODING_BASE64);
    }

    decoded = rce_base64_decode(json_string_value(data),
                                json_string_length(data), &bytes, &len);
    if (decoded != 0) {
        *rc = (decoded == -1) ? NGX_DECLINED : NGX_ERROR;
        return NULL;
    }

    text = rce_render_lossy((const unsigned char *) bytes, len);
    free(bytes);

    if (text == NULL) {
        return NULL;
    }

    message = json_pack("{s:s, s:s, s:o}", "type", "data", "stream", stream,
                        "data", text);

    return message;
}


/*
 * A message to the client, by the request's transport: NGX_OK, NGX_ERROR
 * when the client cannot be written to, or NGX_DONE when the WebSocket's
 * client is too slow (its close is under way)
 */
static ngx_int_t
ngx_rce_render_stream_send(ngx_http_request_t *r, ngx_rce_stream_t *st,
    const char *type, json_t *message)
{
    ngx_int_t  rc;

    if (st->ws != NULL) {
        rc = ngx_rce_ws_send(st->ws, message);

        if (rc == NGX_ABORT) {
            st->ended = 1;
            return NGX_DONE;
        }

        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    if (!r->header_sent && ngx_rce_render_sse_begin(r, st) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_rce_sse_send(r, type, message, 0);

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


/*
 * The exit message of a result (NULL for an IE: the stream ends with an
 * error; *rc then NGX_OK), or NULL with *rc what to return.  Its stage is
 * the one running when the job ended: the compile step when the run never
 * began (a CE, or a compile step the job's limits or its cancel killed).
 */
static json_t *
ngx_rce_render_stream_exit(ngx_rce_stream_t *st, json_t *res, ngx_int_t *rc)
{
    json_t      *stage, *exit;
    const char  *verdict, *name;
    ngx_uint_t   compile;

    verdict = json_string_value(json_object_get(res, RCE_RES_STATUS));

    if (verdict == NULL || ngx_strcmp(verdict, RCE_STATUS_IE) == 0) {
        *rc = NGX_OK;
        return NULL;
    }

    compile = json_is_object(json_object_get(res, RCE_RES_COMPILE));

    if (st->stage == NGX_RCE_STAGE_COMPILE) {
        compile = 1;                /* no run stage was announced */

    } else if (st->stage == NGX_RCE_STAGE_RUN) {
        compile = 0;

    } else {
        /* no stage event came: what the result says */
        compile = compile && ngx_strcmp(verdict, RCE_STATUS_CE) == 0;
    }

    name = compile ? RCE_STAGE_COMPILE : RCE_STAGE_RUN;

    stage = ngx_rce_render_piston_ended(res, compile, rc);
    if (stage == NULL) {
        return NULL;
    }

    exit = json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:s, s:O?, s:O?,"
                     " s:O?, s:O?, s:O?}",
                     "type", "exit",
                     "stage", name,
                     "code", json_object_get(stage, "code"),
                     "signal", json_object_get(stage, "signal"),
                     "status", json_object_get(stage, "status"),
                     "message", json_object_get(stage, "message"),
                     "verdict", verdict,
                     "reason", json_object_get(res, RCE_RES_REASON),
                     "limits", json_object_get(res, RCE_RES_LIMITS),
                     "cpu_time", json_object_get(stage, "cpu_time"),
                     "wall_time", json_object_get(stage, "wall_time"),
                     "memory", json_object_get(stage, "memory"));

    json_decref(stage);

    *rc = (exit != NULL) ? NGX_OK : NGX_HTTP_INTERNAL_SERVER_ERROR;

    return exit;
}


/* the exit and the close 4999; an IE is an error and 4002 */
static ngx_int_t
ngx_rce_render_ws_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *res)
{
    ngx_rce_stream_t  *st;
    json_t            *exit;
    const char        *reason;
    ngx_int_t          rc;

    st = ngx_http_get_module_ctx(r, ngx_rce_module);

    if (st->ended) {
        return NGX_DONE;
    }

    exit = ngx_rce_render_stream_exit(st, res, &rc);

    if (exit == NULL && rc == NGX_DECLINED) {
        return NGX_DECLINED;        /* the job answers IE: an error */
    }

    if (exit == NULL && rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "rce: job %V: its exit message could not be made",
                      &job->id);

        ngx_rce_render_stream_error(r, st, 4002, "internal error");
        return NGX_DONE;
    }

    if (exit == NULL) {
        reason = json_string_value(json_object_get(res, RCE_RES_REASON));

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rce: job %V: internal error, told as an error",
                      &job->id);

        ngx_rce_render_stream_error(r, st, 4002,
                                    reason ? reason : "internal error");
        return NGX_DONE;
    }

    (void) ngx_rce_ws_send(st->ws, exit);
    json_decref(exit);

    st->ended = 1;
    ngx_rce_ws_close(st->ws, 4999, "Job Completed");

    /* the connection ends with its close handshake, not here */
    return NGX_DONE;
}


static ngx_int_t
ngx_rce_render_ws_error(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t status, const char *reason)
{
    ngx_rce_stream_t  *st;

    st = ngx_http_get_module_ctx(r, ngx_rce_module);

    if (id != NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rce: job %V: %ui, told as an error: %s", id, status,
                      reason);
    }

    if (id == NULL) {
        st->refused = 1;
    }

    if (!st->ended) {
        ngx_rce_render_stream_error(r, st, 4002, reason);
    }

    return NGX_DONE;
}


/* the exit (or an error), then the result document, and the end */
static ngx_int_t
ngx_rce_render_sse_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *res)
{
    ngx_rce_stream_t  *st;
    json_t            *exit, *doc, *error;
    const char        *reason;
    ngx_int_t          rc;
    int                malformed;

    st = ngx_http_get_module_ctx(r, ngx_rce_module);

    exit = ngx_rce_render_stream_exit(st, res, &rc);
    if (exit == NULL && rc != NGX_OK) {
        return rc;
    }

    doc = rce_render_v1(res, st->base64, &malformed);
    if (doc == NULL) {
        json_decref(exit);
        return ngx_rce_render_failed(malformed);
    }

    if (exit == NULL) {
        reason = json_string_value(json_object_get(res, RCE_RES_REASON));
        error = json_pack("{s:s, s:s}", "type", "error",
                          "message", reason ? reason : "internal error");
    } else {
        error = NULL;
    }

    rc = NGX_OK;

    if (!r->header_sent) {
        rc = ngx_rce_render_sse_begin(r, st);
    }

    if (rc == NGX_OK && (exit != NULL || error != NULL)) {
        rc = ngx_rce_sse_send(r, exit ? "exit" : "error", exit ? exit : error,
                              0);
        rc = (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    json_decref(exit);
    json_decref(error);

    if (rc != NGX_OK) {
        json_decref(doc);
        return NGX_ERROR;
    }

    st->ended = 1;
    rc = ngx_rce_sse_send(r, "result", doc, 1);
    json_decref(doc);

    return rc;
}


/* the JSON error before the stream began; an error event after */
static ngx_int_t
ngx_rce_render_sse_error(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t status, const char *reason)
{
    json_t     *error;
    ngx_int_t   rc;

    if (!r->header_sent) {
        return ngx_rce_send_job_error(r, id, status, reason);
    }

    if (id != NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rce: job %V: %ui, ending its event stream: %s", id,
                      status, reason);
    }

    error = json_pack("{s:s, s:s, s:i}", "type", "error", "message", reason,
                      "status", (int) status);
    if (error == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_rce_sse_send(r, "error", error, 1);
    json_decref(error);

    return rc;
}


/* the response's header and the runtime message */
static ngx_int_t
ngx_rce_render_sse_begin(ngx_http_request_t *r, ngx_rce_stream_t *st)
{
    if (ngx_rce_sse_start(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_rce_render_stream_runtime(r, st);
}
