
/*
 * Server-Sent Events: a 200 whose body (chunked) is a stream of events,
 *
 *     event: <type>
 *     data: <one line of JSON>
 *
 * each flushed as it is made.  Each event's bytes are allocated on their
 * own (not from the request's pool) and freed once sent; their ngx_buf_t,
 * from the pool, serve the events after them.  A client that reads slower
 * than events come has what it has not read kept, rce_stream_buffer bytes
 * at most: past it, it is too slow, and the request ends (its job's
 * cleanup stops the job), as when it closes or when send_timeout passes
 * without a byte going out.
 */


#include "ngx_rce_module.h"


static void ngx_rce_sse_writer(ngx_http_request_t *r);
static ngx_int_t ngx_rce_sse_wait(ngx_http_request_t *r, off_t sent);
static void ngx_rce_sse_sweep(ngx_rce_stream_t *st);
static void ngx_rce_sse_cleanup(void *data);


static ngx_str_t  ngx_rce_sse_no_cache = ngx_string("no-cache");
static ngx_str_t  ngx_rce_sse_no = ngx_string("no");


/* the response's header: the stream begins */
ngx_int_t
ngx_rce_sse_start(ngx_http_request_t *r)
{
    ngx_rce_stream_t    *st;
    ngx_pool_cleanup_t  *cln;
    ngx_int_t            rc;

    st = ngx_http_get_module_ctx(r, ngx_rce_module);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (st == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_rce_sse_cleanup;
    cln->data = st;

    if (ngx_rce_add_header(r, "Cache-Control", &ngx_rce_sse_no_cache)
        != NGX_OK
        || ngx_rce_add_header(r, "X-Accel-Buffering", &ngx_rce_sse_no)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = -1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return NGX_ERROR;
    }

    r->write_event_handler = ngx_rce_sse_writer;

    return NGX_OK;
}


/*
 * One event, data (borrowed) its JSON, sent now or kept until the client
 * reads it; last ends the response, and then what is returned is what to
 * finalize the request with.  NGX_ERROR for a client too slow, too: one
 * that leaves more than rce_stream_buffer bytes unread.
 */
ngx_int_t
ngx_rce_sse_send(ngx_http_request_t *r, const char *type, json_t *data,
    ngx_uint_t last)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_stream_t    *st;
    ngx_connection_t    *c;
    ngx_buf_t           *b;
    ngx_chain_t          out, *cl;
    ngx_int_t            rc;
    size_t               len, tlen, size;
    off_t                sent;
    u_char              *p;
    char                *text;

    c = r->connection;
    st = ngx_http_get_module_ctx(r, ngx_rce_module);
    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (st == NULL) {
        return NGX_ERROR;
    }

    ngx_rce_sse_sweep(st);

    text = json_dumps(data, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    tlen = ngx_strlen(type);
    len = ngx_strlen(text);
    size = sizeof("event: \ndata: \n\n") - 1 + tlen + len;

    if (st->unsent > rlcf->stream_buffer
        || size > rlcf->stream_buffer - st->unsent)
    {
        free(text);
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "rce: the event stream's client leaves %uz bytes "
                      "unread, more than rce_stream_buffer %uz: too slow, "
                      "ending it", st->unsent, rlcf->stream_buffer);
        return NGX_ERROR;
    }

    /* a buf of an event sent already, or a new one */
    cl = st->sse_free;

    if (cl != NULL) {
        st->sse_free = cl->next;

    } else {
        cl = ngx_alloc_chain_link(r->pool);
        b = ngx_calloc_buf(r->pool);

        if (cl == NULL || b == NULL) {
            free(text);
            return NGX_ERROR;
        }

        cl->buf = b;
    }

    p = ngx_alloc(size, c->log);
    if (p == NULL) {
        cl->next = st->sse_free;
        st->sse_free = cl;
        free(text);
        return NGX_ERROR;
    }

    b = cl->buf;
    ngx_memzero(b, sizeof(ngx_buf_t));

    b->start = p;
    b->pos = p;
    b->last = p;
    b->end = p + size;
    b->temporary = 1;
    b->tag = (ngx_buf_tag_t) &ngx_rce_module;

    /* busy in the order sent */
    cl->next = NULL;

    if (st->sse_busy == NULL) {
        st->sse_busy = cl;

    } else {
        st->sse_tail->next = cl;
    }

    st->sse_tail = cl;
    st->unsent += size;

    b->last = ngx_cpymem(b->last, "event: ", sizeof("event: ") - 1);
    b->last = ngx_cpymem(b->last, type, tlen);
    b->last = ngx_cpymem(b->last, "\ndata: ", sizeof("\ndata: ") - 1);
    b->last = ngx_cpymem(b->last, text, len);
    b->last = ngx_cpymem(b->last, "\n\n", 2);
    free(text);

    b->flush = 1;
    b->last_buf = last ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    sent = c->sent;
    rc = ngx_http_output_filter(r, &out);

    ngx_rce_sse_sweep(st);

    if (last || rc == NGX_ERROR) {
        return rc;
    }

    return ngx_rce_sse_wait(r, sent);
}


/* the events sent: their bytes freed, their bufs for the next ones */
static void
ngx_rce_sse_sweep(ngx_rce_stream_t *st)
{
    ngx_chain_t  *cl;
    ngx_buf_t    *b;

    while (st->sse_busy != NULL && ngx_buf_size(st->sse_busy->buf) == 0) {
        cl = st->sse_busy;
        b = cl->buf;

        st->sse_busy = cl->next;
        st->unsent -= b->end - b->start;

        ngx_free(b->start);
        b->start = NULL;
        b->end = NULL;

        cl->next = st->sse_free;
        st->sse_free = cl;
    }
}


/* the request's pool goes: so do the bytes of what was not sent */
static void
ngx_rce_sse_cleanup(void *data)
{
    ngx_rce_stream_t  *st = data;

    ngx_chain_t  *cl;

    for (cl = st->sse_busy; cl; cl = cl->next) {
        ngx_free(cl->buf->start);
        cl->buf->start = NULL;
        cl->buf->pos = NULL;
        cl->buf->last = NULL;
    }

    st->sse_busy = NULL;
    st->unsent = 0;
}


/* what is left of the stream goes out as the client reads */
static void
ngx_rce_sse_writer(ngx_http_request_t *r)
{
    ngx_rce_stream_t  *st;
    ngx_connection_t  *c;
    off_t              sent;

    c = r->connection;

    if (c->write->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "rce: the event stream's client stopped reading");
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    sent = c->sent;

    if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    st = ngx_http_get_module_ctx(r, ngx_rce_module);

    if (st != NULL) {
        ngx_rce_sse_sweep(st);
    }

    if (ngx_rce_sse_wait(r, sent) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/*
 * The write event armed while output waits, with send_timeout for the
 * next bytes to go: armed when a wait begins, and again only when some
 * went since sent (c->sent then) -- new events for a client that reads
 * nothing do not keep it
 */
static ngx_int_t
ngx_rce_sse_wait(ngx_http_request_t *r, off_t sent)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_connection_t          *c;

    c = r->connection;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (c->buffered) {
        if (!c->write->delayed
            && (!c->write->timer_set || c->sent != sent))
        {
            ngx_add_timer(c->write, clcf->send_timeout);
        }

    } else if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
