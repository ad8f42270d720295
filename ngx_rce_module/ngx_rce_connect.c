
/*
 * GET /api/v2/connect: Piston's WebSocket protocol (its api/src/api/v2.js),
 * over a WebSocket of ngx_rce_ws.c, for an interactive job whose messages
 * ngx_rce_render_stream.c sends.
 *
 *     client                                   server
 *     {"type":"init", ...execute fields}  →    {"type":"runtime", ...}, then
 *                                              stage, data, exit: 4999
 *     {"type":"data","stream":"stdin",
 *      "data", "eof"?}                    →    rce:input:<id> {"stdin"},
 *                                              and {"eof"} with "eof":true
 *     {"type":"signal","signal":"SIGINT"} →    rce:input:<id> {"signal": 2}
 *
 * Piston's close codes: 4000 a second init, 4001 no init within 1 s, 4002
 * an error told first ({"type":"error","message"}: a message that is not
 * JSON, or null, an init Piston would refuse, input past
 * RCE_INPUT_MAX_BYTES, the job refused or failed, a client too slow),
 * 4003 data or signal before init, 4004 data for a stream other than
 * stdin, 4005 a signal that is not one of Piston's names of 1..31, 4999 the
 * job completed.  A message of another type, or JSON that is not an object
 * (but null), is ignored, as Piston ignores it.  "eof" (ours) closes the
 * program's stdin; init's "stdin", if any, is its first input, as it is
 * (Piston ignores it); init's "output_encoding" (ours): "base64" sends
 * output that is not UTF-8 in base64, else it is text with U+FFFD, as
 * Piston's data.toString() makes it.
 *
 * Every entry pushed onto rce:input:<id> counts its stdin's length, and at
 * least RCE_INPUT_ENTRY_MIN_BYTES, against RCE_INPUT_MAX_BYTES, and so does
 * init's stdin: a client cannot grow the list past 16384 entries.
 *
 * A client that goes while its job runs ends the request, whose job's
 * cleanup tells the node to stop the job.
 */


#include "ngx_rce_module.h"

#include <rce_base64.h>


#define NGX_RCE_CONNECT_INIT_TIMEOUT  1000      /* ms: Piston's */

#define NGX_RCE_CONNECT_STR(x)        NGX_RCE_CONNECT_STR_(x)
#define NGX_RCE_CONNECT_STR_(x)       #x

#define NGX_RCE_CONNECT_TOO_MUCH                                             \
    "input is limited to " NGX_RCE_CONNECT_STR(RCE_INPUT_MAX_BYTES)          \
    " bytes in all (RCE_INPUT_MAX_BYTES): stdin, each data, eof or signal "  \
    "counting at least " NGX_RCE_CONNECT_STR(RCE_INPUT_ENTRY_MIN_BYTES)      \
    " bytes"


typedef struct {
    ngx_rce_stream_t            stream;      /* first: the request's context */
    ngx_event_t                 init;        /* no init in time: 4001 */
    size_t                      input_bytes; /* counted against
                                                RCE_INPUT_MAX_BYTES so far */
    unsigned                    initialized:1;
} ngx_rce_connect_t;


static void ngx_rce_connect_cleanup(void *data);
static void ngx_rce_connect_timeout(ngx_event_t *ev);
static void ngx_rce_connect_message(ngx_rce_ws_t *ws, u_char *data,
    size_t len);
static void ngx_rce_connect_init(ngx_rce_connect_t *cn, json_t *msg);
static void ngx_rce_connect_refused(ngx_rce_connect_t *cn, json_t *refusal);
static ngx_int_t ngx_rce_connect_stdin_first(ngx_rce_connect_t *cn,
    json_t *msg, json_t *input);
static void ngx_rce_connect_stdin(ngx_rce_connect_t *cn, json_t *msg);
static void ngx_rce_connect_signal(ngx_rce_connect_t *cn, json_t *msg);
static ngx_int_t ngx_rce_connect_charge(ngx_rce_connect_t *cn,
    size_t cost);
static ngx_uint_t ngx_rce_connect_is(json_t *value, const char *text);
static void ngx_rce_connect_close(ngx_rce_connect_t *cn, ngx_uint_t code,
    const char *reason);
static ngx_int_t ngx_rce_connect_push(ngx_rce_connect_t *cn, json_t *entry);


ngx_int_t
ngx_rce_connect_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_connect_t   *cn;
    ngx_pool_cleanup_t  *cln;
    ngx_rce_ws_t        *ws;
    ngx_str_t            upgrade;
    ngx_uint_t           status;
    ngx_int_t            rc;
    const char          *why;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    why = ngx_rce_job_unavailable();
    status = NGX_HTTP_SERVICE_UNAVAILABLE;

    if (why == NULL) {
        cn = (ngx_rce_connect_t *) ngx_rce_render_stream_ctx(r, NULL,
                                       sizeof(ngx_rce_connect_t));
        cln = ngx_pool_cleanup_add(r->pool, 0);

        if (cn == NULL || cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_rce_connect_cleanup;
        cln->data = cn;

        ws = ngx_rce_ws_upgrade(r, ngx_rce_connect_message, cn,
                                NGX_RCE_PISTON_MAX_BODY(rlcf->max_code_size),
                                &why);
        if (ws != NULL) {
            cn->stream.ws = ws;

            cn->init.handler = ngx_rce_connect_timeout;
            cn->init.data = cn;
            cn->init.log = r->connection->log;
            ngx_add_timer(&cn->init, NGX_RCE_CONNECT_INIT_TIMEOUT);

            return NGX_DONE;
        }

        ngx_http_set_ctx(r, NULL, ngx_rce_module);

        if (why == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        status = NGX_HTTP_BAD_REQUEST;

        if (r->headers_in.upgrade == NULL) {
            /* not a WebSocket client at all */
            status = 426;
            ngx_str_set(&upgrade, "websocket");

            if (ngx_rce_add_header(r, "Upgrade", &upgrade) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_rce_render_piston.send_error(r, NULL, status, why);
}


static void
ngx_rce_connect_cleanup(void *data)
{
    ngx_rce_connect_t  *cn = data;

    if (cn->init.timer_set) {
        ngx_del_timer(&cn->init);
    }
}


static void
ngx_rce_connect_timeout(ngx_event_t *ev)
{
    ngx_rce_connect_t  *cn = ev->data;

    if (!cn->initialized) {
        ngx_rce_connect_close(cn, 4001, "Initialization Timeout");
    }
}


/* one message of the client's, as Piston's ws.on('message') takes it */
static void
ngx_rce_connect_message(ngx_rce_ws_t *ws, u_char *data, size_t len)
{
    ngx_rce_connect_t  *cn = ws->data;
    json_t             *msg, *type;
    json_error_t        err, nul;

    if (cn->stream.ended) {
        return;
    }

    msg = json_loadb((char *) data, len, JSON_DECODE_ANY, &err);

    if (msg == NULL && json_error_code(&err) == json_error_null_character) {
        /*
         * "\u0000" is stdin's to carry (a data message's, pushed in
         * base64): nowhere else, not in init's names and files
         */
        msg = json_loadb((char *) data, len, JSON_DECODE_ANY|JSON_ALLOW_NUL,
                         &nul);

        if (!ngx_rce_connect_is(json_object_get(msg, "type"), "data")) {
            json_decref(msg);
            msg = NULL;
        }
    }

    if (msg == NULL || json_is_null(msg)) {
        /* Piston's JSON.parse() throws, and so does null's msg.type */
        ngx_rce_render_stream_error(ws->request, &cn->stream, 4002,
            msg ? "a message must be a JSON object"
            : (json_error_code(&err) == json_error_null_character)
            ? "\\u0000 is allowed only in a data message's data (stdin)"
            : err.text);
        json_decref(msg);
        return;
    }

    type = json_object_get(msg, "type");    /* NULL: not an object */

    if (!json_is_string(type)) {
        /* ignored, as Piston's switch on msg.type ignores it */

    } else if (ngx_rce_connect_is(type, "init")) {
        if (cn->initialized) {
            ngx_rce_connect_close(cn, 4000, "Already Initialized");

        } else {
            ngx_rce_connect_init(cn, msg);
        }

    } else if (ngx_rce_connect_is(type, "data")
               || ngx_rce_connect_is(type, "signal"))
    {
        if (!cn->initialized) {
            ngx_rce_connect_close(cn, 4003, "Not yet initialized");

        } else if (ngx_rce_connect_is(type, "signal")) {
            ngx_rce_connect_signal(cn, msg);

        } else if (!ngx_rce_connect_is(json_object_get(msg, "stream"),
                                       "stdin"))
        {
            ngx_rce_connect_close(cn, 4004, "Can only write to stdin");

        } else {
            ngx_rce_connect_stdin(cn, msg);
        }
    }

    json_decref(msg);
}


/* the execute document, checked as POST /api/v2/execute checks it */
static void
ngx_rce_connect_init(ngx_rce_connect_t *cn, json_t *msg)
{
    ngx_http_request_t  *r;
    ngx_rce_stream_t    *st;
    ngx_str_t            language;
    json_t              *version, *input, *refusal;
    ngx_uint_t           status, base64;
    ngx_int_t            rc;
    ngx_rce_input_error_t  err;

    st = &cn->stream;
    r = st->ws->request;
    cn->initialized = 1;

    if (cn->init.timer_set) {
        ngx_del_timer(&cn->init);
    }

    if (ngx_rce_input_output_encoding(msg, &base64, &err) != NGX_OK) {
        ngx_rce_connect_refused(cn, ngx_rce_piston_refusal(&err, &status));
        return;
    }

    /* output that is not UTF-8: Piston's lossy text, or base64 if asked */
    st->text = base64 ? 0 : 1;

    refusal = ngx_rce_piston_document(r, msg, &language, &version, &input,
                                      &status);
    if (refusal != NULL) {
        ngx_rce_connect_refused(cn, refusal);
        return;
    }

    st->language.data = ngx_pstrdup(r->pool, &language);
    st->language.len = language.len;
    st->version.len = json_string_length(version);
    st->version.data = ngx_pnalloc(r->pool, st->version.len + 1);

    if (st->language.data == NULL || st->version.data == NULL
        || json_object_set_new(input, RCE_JOB_INTERACTIVE, json_true()) != 0)
    {
        json_decref(version);
        json_decref(input);
        ngx_rce_render_stream_error(r, st, 4002, "internal error");
        return;
    }

    rc = ngx_rce_connect_stdin_first(cn, msg, input);

    if (rc != NGX_OK) {
        json_decref(version);
        json_decref(input);

        if (rc == NGX_ERROR) {
            ngx_rce_render_stream_error(r, st, 4002, "internal error");
        }

        return;
    }

    ngx_memcpy(st->version.data, json_string_value(version),
               st->version.len);
    json_decref(version);

    if (ngx_rce_render_stream_runtime(r, st) != NGX_OK) {
        json_decref(input);
        ngx_rce_render_stream_error(r, st, 4002, "internal error");
        return;
    }

    /* the job's own reference to the request: its renderer gives it back
     * (NGX_DONE) when it is answered */
    r->main->count++;

    rc = ngx_rce_job_submit_stream(r, &language, input, &ngx_rce_render_ws,
                                   st);

    /* the job's wait set the request's handlers: they are the socket's */
    ngx_rce_ws_attach(st->ws);

    if (rc == NGX_DONE && !st->refused) {
        st->attached = 1;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "rce: job %V: interactive over a WebSocket", &st->id);
        return;
    }

    r->main->count--;

    if (rc != NGX_DONE) {
        ngx_rce_render_stream_error(r, st, 4002, "internal error");
    }
}


/* an init Piston would refuse: its message, then 4002; refusal is taken */
static void
ngx_rce_connect_refused(ngx_rce_connect_t *cn, json_t *refusal)
{
    json_t  *text;

    text = json_object_get(refusal, "message");

    ngx_rce_render_stream_error(cn->stream.ws->request, &cn->stream, 4002,
                                json_is_string(text)
                                ? json_string_value(text)
                                : "the init message is refused");
    json_decref(refusal);
}


/*
 * init's stdin, as it is, is the program's first input (no newline added,
 * as the execute document gets); none, or empty: nothing before the
 * client's data messages.  It counts against RCE_INPUT_MAX_BYTES: more is
 * refused (NGX_DECLINED, the error told).
 */
static ngx_int_t
ngx_rce_connect_stdin_first(ngx_rce_connect_t *cn, json_t *msg, json_t *input)
{
    json_t  *value;

    value = json_object_get(msg, "stdin");

    if (!json_is_string(value) || json_string_length(value) == 0) {
        (void) json_object_del(input, RCE_JOB_STDIN);
        return NGX_OK;
    }

    if (ngx_rce_connect_charge(cn, json_string_length(value)) != NGX_OK) {
        return NGX_DECLINED;
    }

    return json_object_set(input, RCE_JOB_STDIN, value) == 0
           ? NGX_OK : NGX_ERROR;
}


/* {"type":"data","stream":"stdin","data", "eof"?} onto the job's input */
static void
ngx_rce_connect_stdin(ngx_rce_connect_t *cn, json_t *msg)
{
    ngx_http_request_t  *r;
    json_t              *data, *entry;
    size_t               len, cost;
    ngx_uint_t           eof;
    ngx_int_t            rc;
    char                *b64;

    r = cn->stream.ws->request;
    data = json_object_get(msg, "data");

    if (!json_is_string(data)) {
        ngx_rce_render_stream_error(r, &cn->stream, 4002,
                                    "data must be a string");
        return;
    }

    len = json_string_length(data);
    eof = json_is_true(json_object_get(msg, "eof"));

    /* an entry for the data, another for the eof: each counts */
    cost = (len > 0) ? ngx_max(len, RCE_INPUT_ENTRY_MIN_BYTES) : 0;
    cost += eof ? RCE_INPUT_ENTRY_MIN_BYTES : 0;

    if (ngx_rce_connect_charge(cn, cost) != NGX_OK) {
        return;
    }

    rc = NGX_OK;

    if (len > 0
        && ngx_strlen(json_string_value(data)) == len)
    {
        entry = json_pack("{s:O}", RCE_INPUT_STDIN, data);
        rc = ngx_rce_connect_push(cn, entry);
        json_decref(entry);

    } else if (len > 0) {
        /* a NUL in it: the entry carries the bytes in base64 */
        b64 = ngx_alloc(rce_base64_encoded_len(len) + 1, r->connection->log);
        entry = NULL;

        if (b64 != NULL) {
            rce_base64_encode((const unsigned char *) json_string_value(data),
                              len, b64);
            entry = json_pack("{s:s, s:s}", RCE_INPUT_STDIN, b64,
                              RCE_INPUT_ENCODING, RCE_ENCODING_BASE64);
            ngx_free(b64);
        }

        rc = ngx_rce_connect_push(cn, entry);
        json_decref(entry);
    }

    if (rc == NGX_OK && eof) {
        entry = json_pack("{s:b}", RCE_INPUT_EOF, 1);
        rc = ngx_rce_connect_push(cn, entry);
        json_decref(entry);
    }

    if (rc != NGX_OK) {
        ngx_rce_render_stream_error(r, &cn->stream, 4002,
                                    "redis is unavailable");
    }
}


/* {"type":"signal","signal":"SIGINT"}: Piston's names of 1..31 */
static void
ngx_rce_connect_signal(ngx_rce_connect_t *cn, json_t *msg)
{
    const char  *name;
    json_t      *entry;
    ngx_uint_t   n;

    name = json_string_value(json_object_get(msg, "signal"));

    for (n = 1; name != NULL && n < NGX_RCE_PISTON_SIGNALS; n++) {
        if (ngx_strcmp(name, ngx_rce_piston_signals[n]) == 0) {
            break;
        }
    }

    if (name == NULL || n >= NGX_RCE_PISTON_SIGNALS
        || ngx_strlen(name) != json_string_length(json_object_get(msg,
                                                                  "signal")))
    {
        ngx_rce_connect_close(cn, 4005, "Invalid signal");
        return;
    }

    if (ngx_rce_connect_charge(cn, RCE_INPUT_ENTRY_MIN_BYTES) != NGX_OK) {
        return;
    }

    entry = json_pack("{s:i}", RCE_INPUT_SIGNAL, (int) n);

    if (ngx_rce_connect_push(cn, entry) != NGX_OK) {
        ngx_rce_render_stream_error(cn->stream.ws->request, &cn->stream, 4002,
                                    "redis is unavailable");
    }

    json_decref(entry);
}


/*
 * cost bytes more of the job's input, counted against RCE_INPUT_MAX_BYTES:
 * NGX_OK, or NGX_DECLINED with the error told and the close 4002 queued
 */
static ngx_int_t
ngx_rce_connect_charge(ngx_rce_connect_t *cn, size_t cost)
{
    ngx_http_request_t  *r;

    if (cn->input_bytes <= RCE_INPUT_MAX_BYTES
        && cost <= RCE_INPUT_MAX_BYTES - cn->input_bytes)
    {
        cn->input_bytes += cost;
        return NGX_OK;
    }

    r = cn->stream.ws->request;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rce: job %V: more input than %d bytes (%uz counted, %uz "
                  "more), refused", &cn->stream.id, RCE_INPUT_MAX_BYTES,
                  cn->input_bytes, cost);

    ngx_rce_render_stream_error(r, &cn->stream, 4002,
                                NGX_RCE_CONNECT_TOO_MUCH);

    return NGX_DECLINED;
}


/* whether value is the string text, exactly (a NUL in it is not) */
static ngx_uint_t
ngx_rce_connect_is(json_t *value, const char *text)
{
    size_t  len;

    len = ngx_strlen(text);

    return json_is_string(value) && json_string_length(value) == len
           && ngx_strncmp(json_string_value(value), text, len) == 0;
}


/* Piston's close without an error message before it */
static void
ngx_rce_connect_close(ngx_rce_connect_t *cn, ngx_uint_t code,
    const char *reason)
{
    cn->stream.ended = 1;
    ngx_rce_ws_close(cn->stream.ws, code, reason);
}


/* entry (borrowed) onto the job's rce:input:<id>, if it has a job */
static ngx_int_t
ngx_rce_connect_push(ngx_rce_connect_t *cn, json_t *entry)
{
    if (entry == NULL) {
        return NGX_ERROR;
    }

    if (!cn->stream.attached) {
        return NGX_OK;      /* its job was refused: the end is on its way */
    }

    return ngx_rce_feed_push(&cn->stream.id, cn->stream.deadline, entry);
}
