
/*
 * A WebSocket connection (RFC 6455) in nginx's event loop: the upgrade of
 * a GET (101 with Sec-WebSocket-Accept), then libwslay's event API for all
 * the framing, its recv and send callbacks over the connection's c->recv
 * and c->send, driven by the request's read and write events and never
 * blocking.  wslay answers pings and closes itself; text and binary
 * messages go to the route's on_message.
 *
 * The request lives as long as the connection: the upgrade takes a
 * reference (the content handler returns NGX_DONE), and the connection is
 * closed, with the request, once both sides have sent their close frames
 * (or NGX_RCE_WS_CLOSE_WAIT after ours went), or when the client goes or
 * reads nothing for send_timeout while something waits for it (each write
 * that moves re-arms it).  What waits to be sent to a slow client is
 * queued in wslay, in memory, rce_stream_buffer bytes at most: a message
 * past it is not queued, the close 4002 goes out ahead of what
 * waits, and the connection ends NGX_RCE_WS_CLOSE_WAIT later at the
 * latest.  The request's module context is its stream (ngx_rce_stream_t),
 * whose ws this is.
 */


#include "ngx_rce_module.h"

#include <ngx_sha1.h>


#define NGX_RCE_WS_GUID          "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define NGX_RCE_WS_CLOSE_WAIT    2000    /* ms for the client's close frame */
#define NGX_RCE_WS_PROTOCOL      "rce"   /* the subprotocol a client may offer
                                          * (beside its key: ngx_rce_keys.c) */


static ngx_int_t ngx_rce_ws_check(ngx_http_request_t *r, ngx_str_t *key,
    const char **why);
static ngx_uint_t ngx_rce_ws_token(ngx_table_elt_t *h, const char *token);
static ngx_int_t ngx_rce_ws_accept(ngx_http_request_t *r, ngx_str_t *key);
static ngx_rce_ws_t *ngx_rce_ws_of(ngx_http_request_t *r);
static void ngx_rce_ws_cleanup(void *data);
static void ngx_rce_ws_read(ngx_http_request_t *r);
static void ngx_rce_ws_write(ngx_http_request_t *r);
static void ngx_rce_ws_flush(ngx_rce_ws_t *ws);
static void ngx_rce_ws_too_slow(ngx_rce_ws_t *ws, size_t queued);
static void ngx_rce_ws_post(ngx_rce_ws_t *ws);
static void ngx_rce_ws_timeout(ngx_event_t *ev);
static void ngx_rce_ws_finish(ngx_rce_ws_t *ws, const char *why);
static ssize_t ngx_rce_ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf,
    size_t len, int flags, void *user_data);
static ssize_t ngx_rce_ws_send_cb(wslay_event_context_ptr ctx,
    const uint8_t *data, size_t len, int flags, void *user_data);
static void ngx_rce_ws_message_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *user_data);


static const struct wslay_event_callbacks  ngx_rce_ws_callbacks = {
    ngx_rce_ws_recv_cb,
    ngx_rce_ws_send_cb,
    NULL,
    NULL,
    NULL,
    NULL,
    ngx_rce_ws_message_cb
};


/*
 * Answers the request with 101 and makes its connection a WebSocket whose
 * messages (at most max_message bytes) go to on_message.  NULL: not done;
 * *why says what is wrong with the request (a 400), or is NULL (a 500).
 * The request's stream context must be set already.
 */
ngx_rce_ws_t *
ngx_rce_ws_upgrade(ngx_http_request_t *r, ngx_rce_ws_message_pt on_message,
    void *data, size_t max_message, const char **why)
{
    ngx_rce_ws_t        *ws;
    ngx_pool_cleanup_t  *cln;
    ngx_connection_t    *c;
    ngx_str_t            key;
    ngx_int_t            rc;

    c = r->connection;
    *why = NULL;

    if (ngx_rce_ws_check(r, &key, why) != NGX_OK) {
        return NULL;
    }

    ws = ngx_pcalloc(r->pool, sizeof(ngx_rce_ws_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ws == NULL || cln == NULL
        || wslay_event_context_server_init(&ws->ctx, &ngx_rce_ws_callbacks,
                                           ws)
           != 0)
    {
        return NULL;
    }

    cln->handler = ngx_rce_ws_cleanup;
    cln->data = ws;

    wslay_event_config_set_max_recv_msg_length(ws->ctx, max_message);

    ws->request = r;
    ws->on_message = on_message;
    ws->data = data;
    ws->timer.handler = ngx_rce_ws_timeout;
    ws->timer.data = ws;
    ws->timer.log = c->log;

    if (ngx_rce_ws_accept(r, &key) != NGX_OK) {
        return NULL;
    }

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;
    r->keepalive = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NULL;
    }

    /* the connection is the WebSocket's now: the request stays for it */
    r->main->count++;
    ngx_rce_ws_attach(ws);

    c->log->action = "in a WebSocket";

    /* frames may have come with the request's header */
    if (c->read->ready || r->header_in->pos < r->header_in->last) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "rce: WebSocket upgraded");

    return ws;
}


/* RFC 6455 4.2.1: a GET over HTTP/1.1 asking to upgrade, version 13 */
static ngx_int_t
ngx_rce_ws_check(ngx_http_request_t *r, ngx_str_t *key, const char **why)
{
    ngx_table_elt_t  *h;
    u_char            raw[32];
    ngx_str_t         decoded;

    h = ngx_rce_header_in(r, "Upgrade");

    if (h == NULL || !ngx_rce_ws_token(h, "websocket")) {
        *why = "this is a WebSocket endpoint: connect with a WebSocket "
               "client (GET with Upgrade: websocket)";
        return NGX_DECLINED;
    }

    if (r->http_version != NGX_HTTP_VERSION_11) {
        *why = "a WebSocket needs HTTP/1.1";
        return NGX_DECLINED;
    }

    /* nginx 1.22 keeps no pointer to Connection: the list has it */
    h = ngx_rce_header_in(r, "Connection");

    if (h == NULL || !ngx_rce_ws_token(h, "upgrade")) {
        *why = "a WebSocket upgrade needs Connection: Upgrade";
        return NGX_DECLINED;
    }

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        *why = "a WebSocket upgrade has no body";
        return NGX_DECLINED;
    }

    h = ngx_rce_header_in(r, "Sec-WebSocket-Version");
    if (h == NULL || h->value.len != 2
        || ngx_strncmp(h->value.data, "13", 2) != 0)
    {
        *why = "Sec-WebSocket-Version must be 13";
        return NGX_DECLINED;
    }

    /* a nonce of 16 bytes, in base64 */
    h = ngx_rce_header_in(r, "Sec-WebSocket-Key");
    decoded.data = raw;

    if (h == NULL || h->value.len != 24
        || ngx_decode_base64(&decoded, &h->value) != NGX_OK
        || decoded.len != 16)
    {
        *why = "Sec-WebSocket-Key must be 16 bytes in base64";
        return NGX_DECLINED;
    }

    *key = h->value;

    return NGX_OK;
}


/* whether the header's comma-separated list holds token, in any case */
static ngx_uint_t
ngx_rce_ws_token(ngx_table_elt_t *h, const char *token)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   item;

    len = ngx_strlen(token);
    p = h->value.data;

    while (ngx_rce_list_next(&p, h->value.data + h->value.len, &item)) {
        if (item.len == len
            && ngx_strncasecmp(item.data, (u_char *) token, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* Upgrade, and Sec-WebSocket-Accept: base64(SHA-1(key GUID)) */
static ngx_int_t
ngx_rce_ws_accept(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_sha1_t        sha1;
    u_char            digest[20];
    ngx_str_t         raw, accept, upgrade, protocol;
    ngx_table_elt_t  *h;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key->data, key->len);
    ngx_sha1_update(&sha1, NGX_RCE_WS_GUID, sizeof(NGX_RCE_WS_GUID) - 1);
    ngx_sha1_final(digest, &sha1);

    raw.data = digest;
    raw.len = sizeof(digest);

    accept.data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(raw.len));
    if (accept.data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64(&accept, &raw);
    ngx_str_set(&upgrade, "websocket");

    if (ngx_rce_add_header(r, "Upgrade", &upgrade) != NGX_OK
        || ngx_rce_add_header(r, "Sec-WebSocket-Accept", &accept) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * a client that offers subprotocols fails unless one is chosen: "rce"
     * is, when offered (a browser sends its key as another, never echoed)
     */
    h = ngx_rce_header_in(r, "Sec-WebSocket-Protocol");

    if (h != NULL && ngx_rce_ws_token(h, NGX_RCE_WS_PROTOCOL)) {
        ngx_str_set(&protocol, NGX_RCE_WS_PROTOCOL);

        if (ngx_rce_add_header(r, "Sec-WebSocket-Protocol", &protocol)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the request's events drive the WebSocket (again, after a job that
 * waits set its own) */
void
ngx_rce_ws_attach(ngx_rce_ws_t *ws)
{
    ws->request->read_event_handler = ngx_rce_ws_read;
    ws->request->write_event_handler = ngx_rce_ws_write;
}


/*
 * message (borrowed), as a text frame, queued; it goes out as it can.
 * NGX_ABORT: the client leaves more than rce_stream_buffer bytes unread,
 * and is closed with 4002 at once (ahead of what waits for it)
 */
ngx_int_t
ngx_rce_ws_send(ngx_rce_ws_t *ws, json_t *message)
{
    struct wslay_event_msg   msg;
    ngx_rce_loc_conf_t      *rlcf;
    char                    *text;
    size_t                   len, queued;
    int                      rv;

    if (ws->closing || ws->finished) {
        return NGX_DECLINED;
    }

    text = json_dumps(message, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    rlcf = ngx_http_get_module_loc_conf(ws->request, ngx_rce_module);
    len = ngx_strlen(text);
    queued = wslay_event_get_queued_msg_length(ws->ctx);

    if (queued > rlcf->stream_buffer || len > rlcf->stream_buffer - queued) {
        free(text);
        ngx_rce_ws_too_slow(ws, queued);
        return NGX_ABORT;
    }

    msg.opcode = WSLAY_TEXT_FRAME;
    msg.msg = (uint8_t *) text;
    msg.msg_length = len;

    rv = wslay_event_queue_msg(ws->ctx, &msg);      /* copies it */
    free(text);

    if (rv != 0) {
        return NGX_ERROR;
    }

    ngx_rce_ws_post(ws);

    return NGX_OK;
}


/*
 * A client that leaves too much unread: our close 4002, as a control frame
 * ahead of the messages that wait (wslay sends nothing after it), and the
 * end NGX_RCE_WS_CLOSE_WAIT later, whether it could go out or not
 */
static void
ngx_rce_ws_too_slow(ngx_rce_ws_t *ws, size_t queued)
{
    ngx_rce_loc_conf_t  *rlcf;

    static const char  reason[] = "client too slow";

    rlcf = ngx_http_get_module_loc_conf(ws->request, ngx_rce_module);

    ngx_log_error(NGX_LOG_INFO, ws->request->connection->log, 0,
                  "rce: WebSocket: the client leaves %uz bytes unread, more "
                  "than rce_stream_buffer %uz: closing it (4002)", queued,
                  rlcf->stream_buffer);

    ws->closing = 1;
    ws->close_queued = 1;
    ws->close_code = 4002;
    ws->close_reason = reason;

    (void) wslay_event_queue_close(ws->ctx, 4002, (const uint8_t *) reason,
                                   sizeof(reason) - 1);

    if (!ws->timer.timer_set) {
        ngx_add_timer(&ws->timer, NGX_RCE_WS_CLOSE_WAIT);
    }

    ngx_rce_ws_post(ws);
}


/* our close frame, queued after what is queued already: the end begins */
void
ngx_rce_ws_close(ngx_rce_ws_t *ws, ngx_uint_t code, const char *reason)
{
    if (ws->closing || ws->finished) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ws->request->connection->log, 0,
                   "rce: WebSocket closing: %ui %s", code, reason);

    /* wslay sends control frames first: the close is queued in its turn,
     * when every message before it has gone (ngx_rce_ws_flush) */
    ws->closing = 1;
    ws->close_code = code;
    ws->close_reason = reason;

    ngx_rce_ws_post(ws);
}


static ngx_rce_ws_t *
ngx_rce_ws_of(ngx_http_request_t *r)
{
    ngx_rce_stream_t  *st;

    st = ngx_http_get_module_ctx(r, ngx_rce_module);

    return (st != NULL) ? st->ws : NULL;
}


/* the request's pool goes: so does wslay's context */
static void
ngx_rce_ws_cleanup(void *data)
{
    ngx_rce_ws_t  *ws = data;

    ws->finished = 1;

    if (ws->timer.timer_set) {
        ngx_del_timer(&ws->timer);
    }

    if (ws->ctx != NULL) {
        wslay_event_context_free(ws->ctx);
        ws->ctx = NULL;
    }
}


static void
ngx_rce_ws_read(ngx_http_request_t *r)
{
    ngx_rce_ws_t  *ws;

    ws = ngx_rce_ws_of(r);

    if (ws == NULL || ws->finished) {
        return;
    }

    if (wslay_event_recv(ws->ctx) != 0) {
        ngx_rce_ws_finish(ws, "the client closed the connection");
        return;
    }

    ngx_rce_ws_flush(ws);
}


static void
ngx_rce_ws_write(ngx_http_request_t *r)
{
    ngx_rce_ws_t  *ws;

    ws = ngx_rce_ws_of(r);

    if (ws == NULL || ws->finished) {
        return;
    }

    if (r->connection->write->timedout) {
        ngx_rce_ws_finish(ws, "the client stopped reading");
        return;
    }

    ngx_rce_ws_flush(ws);
}


/*
 * Sends what can be sent, then waits for the events that let the rest go:
 * the connection ends when wslay wants neither to read nor to write (both
 * close frames went)
 */
static void
ngx_rce_ws_flush(ngx_rce_ws_t *ws)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_request_t        *r;
    ngx_connection_t          *c;
    off_t                      sent;

    r = ws->request;
    c = r->connection;
    sent = c->sent;

    if (c->buffered) {
        /* the rest of the 101 */
        if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
            ngx_rce_ws_finish(ws, "the client cannot be written to");
            return;
        }
    }

    while (!c->buffered) {
        if (wslay_event_want_write(ws->ctx)
            && wslay_event_send(ws->ctx) != 0)
        {
            ngx_rce_ws_finish(ws, "the client cannot be written to");
            return;
        }

        if (!ws->closing || ws->close_queued
            || wslay_event_get_queued_msg_count(ws->ctx) != 0)
        {
            break;
        }

        ws->close_queued = 1;

        (void) wslay_event_queue_close(ws->ctx, (uint16_t) ws->close_code,
                                       (const uint8_t *) ws->close_reason,
                                       ngx_strlen(ws->close_reason));
    }

    if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx))
    {
        ngx_rce_ws_finish(ws, NULL);
        return;
    }

    /* our close went: the client has a while to answer it */
    if (wslay_event_get_close_sent(ws->ctx) && !ws->timer.timer_set) {
        ngx_add_timer(&ws->timer, NGX_RCE_WS_CLOSE_WAIT);
    }

    /* what waits for a slow client waits send_timeout at most for the
     * next bytes to go: armed when a wait begins, again each time some
     * went (a steady reader, however slow, is not cut off), never for
     * nothing sent */
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (wslay_event_want_write(ws->ctx)) {
        if (!c->write->timer_set || c->sent != sent) {
            ngx_add_timer(c->write, clcf->send_timeout);
        }

    } else if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK
        || ngx_handle_read_event(c->read, 0) != NGX_OK)
    {
        ngx_rce_ws_finish(ws, "the connection's events failed");
    }
}


/* write from the event loop, never from the caller's stack */
static void
ngx_rce_ws_post(ngx_rce_ws_t *ws)
{
    ngx_post_event(ws->request->connection->write, &ngx_posted_events);
}


static void
ngx_rce_ws_timeout(ngx_event_t *ev)
{
    ngx_rce_ws_t  *ws = ev->data;

    ngx_rce_ws_finish(ws, "no close frame from the client in time");
}


/* the connection ends, and the request (its cleanups stop a job) */
static void
ngx_rce_ws_finish(ngx_rce_ws_t *ws, const char *why)
{
    ngx_http_request_t  *r;

    if (ws->finished) {
        return;
    }

    ws->finished = 1;
    r = ws->request;

    if (ws->timer.timer_set) {
        ngx_del_timer(&ws->timer);
    }

    if (why != NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rce: WebSocket ends: %s", why);
    }

    ngx_rce_finish(r, NGX_ERROR);
}


static ssize_t
ngx_rce_ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *user_data)
{
    ngx_rce_ws_t      *ws = user_data;
    ngx_connection_t  *c;
    ngx_buf_t         *b;
    ssize_t            n;

    c = ws->request->connection;
    b = ws->request->header_in;

    /* what came with the request's header first */
    if (b != NULL && b->pos < b->last) {
        n = ngx_min((size_t) (b->last - b->pos), len);
        ngx_memcpy(buf, b->pos, n);
        b->pos += n;
        return n;
    }

    n = c->recv(c, buf, len);

    if (n == NGX_AGAIN) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }

    if (n <= 0) {
        /* closed or failed: wslay_event_recv() fails, and we end */
        c->error = 1;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }

    return n;
}


static ssize_t
ngx_rce_ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
    size_t len, int flags, void *user_data)
{
    ngx_rce_ws_t      *ws = user_data;
    ngx_connection_t  *c;
    ssize_t            n;

    c = ws->request->connection;

    n = c->send(c, (u_char *) data, len);

    if (n == NGX_AGAIN || n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }

    if (n < 0) {
        c->error = 1;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }

    return n;
}


static void
ngx_rce_ws_message_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *user_data)
{
    ngx_rce_ws_t  *ws = user_data;

    if (ws->closing || ws->finished) {
        return;
    }

    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
    {
        ws->on_message(ws, (u_char *) arg->msg, arg->msg_length);
    }
}
