
/*
 * Server-Sent Events: a 200 whose body (chunked) is a stream of events,
 *
 *     event: <type>
 *     data: <one line of JSON>
 *
 * each flushed as it is made.  A client that reads slower than events come
 * has them buffered in the request (what a job writes is bounded by its
 * output cap); one that reads nothing for send_timeout, or closes, ends the
 * request, and its job's cleanup stops the job.
 */


#include "ngx_rce_module.h"


static void ngx_rce_sse_writer(ngx_http_request_t *r);
static ngx_int_t ngx_rce_sse_wait(ngx_http_request_t *r);


static ngx_str_t  ngx_rce_sse_no_cache = ngx_string("no-cache");
static ngx_str_t  ngx_rce_sse_no = ngx_string("no");


/* the response's header: the stream begins */
ngx_int_t
ngx_rce_sse_start(ngx_http_request_t *r)
{
    ngx_int_t  rc;

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
 * One event, data (borrowed) its JSON, sent now or buffered; last ends the
 * response, and then what is returned is what to finalize the request with
 */
ngx_int_t
ngx_rce_sse_send(ngx_http_request_t *r, const char *type, json_t *data,
    ngx_uint_t last)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;
    ngx_int_t     rc;
    size_t        len, tlen;
    char         *text;

    text = json_dumps(data, JSON_COMPACT);
    if (text == NULL) {
        return NGX_ERROR;
    }

    tlen = ngx_strlen(type);
    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, sizeof("event: \ndata: \n\n") - 1
                                     + tlen + len);
    if (b == NULL) {
        free(text);
        return NGX_ERROR;
    }

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

    rc = ngx_http_output_filter(r, &out);

    if (last || rc == NGX_ERROR) {
        return rc;
    }

    return ngx_rce_sse_wait(r);
}


/* what is left of the stream goes out as the client reads */
static void
ngx_rce_sse_writer(ngx_http_request_t *r)
{
    ngx_connection_t  *c;

    c = r->connection;

    if (c->write->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "rce: the event stream's client stopped reading");
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (ngx_http_output_filter(r, NULL) == NGX_ERROR
        || ngx_rce_sse_wait(r) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/* the write event armed while output waits, with send_timeout */
static ngx_int_t
ngx_rce_sse_wait(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_connection_t          *c;

    c = r->connection;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (c->buffered) {
        if (!c->write->delayed) {
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
