
/*
 * HTTP helpers shared by the routes and the renderers: the request body in
 * one piece, refusals, sending bytes or JSON, every error as a JSON object
 * {"error": ..., "status": ...}, response headers, finishing a request from
 * a callback.  Nothing here knows a route, a job or a renderer.
 */


#include "ngx_rce_module.h"


static ngx_int_t ngx_rce_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_chain_t *body, off_t length);


static ngx_str_t  ngx_rce_retry_after = ngx_string(NGX_RCE_RETRY_AFTER);


/* the whole request body in one piece, from memory or its temp file */
ngx_int_t
ngx_rce_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_chain_t  *cl;
    ngx_buf_t    *b;
    size_t        len;
    ssize_t       n;
    u_char       *p;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "rce: could not read the request body file");
                return NGX_ERROR;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * A route's post handler, once ngx_http_read_client_request_body() has the
 * body: run gets it in one piece; its NGX_DONE means a job or a timer
 * finalizes the request later, anything else finalizes it now
 */
void
ngx_rce_body_run(ngx_http_request_t *r, ngx_rce_body_pt run)
{
    ngx_str_t  body;
    ngx_int_t  rc;

    if (ngx_rce_read_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = run(r, &body);

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/* an error answered before the body was read: drop the body first */
ngx_int_t
ngx_rce_refuse(ngx_http_request_t *r, ngx_uint_t status, const char *message,
    json_t *extra)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        json_decref(extra);
        return rc;
    }

    return ngx_rce_send_error(r, status, message, extra);
}


/* 405 with the methods this location answers, e.g. "GET, HEAD" */
ngx_int_t
ngx_rce_not_allowed(ngx_http_request_t *r, const char *allow,
    const char *message)
{
    ngx_str_t  value;

    value.data = (u_char *) allow;
    value.len = ngx_strlen(allow);

    if (ngx_rce_add_header(r, "Allow", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rce_refuse(r, NGX_HTTP_NOT_ALLOWED, message, NULL);
}


/* a GET route: 405 for other methods, a body dropped; NGX_DECLINED: go on */
ngx_int_t
ngx_rce_get_only(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_rce_not_allowed(r, "GET, HEAD", "method not allowed");
    }

    rc = ngx_http_discard_request_body(r);

    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


/* body (stolen) as compact JSON and a newline */
ngx_int_t
ngx_rce_send_json(ngx_http_request_t *r, ngx_uint_t status, json_t *body)
{
    ngx_int_t   rc;
    ngx_str_t   parts[2];
    char       *text;

    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    parts[0].data = (u_char *) text;
    parts[0].len = ngx_strlen(text);
    ngx_str_set(&parts[1], "\n");

    rc = ngx_rce_send_bytes(r, status, "application/json", parts, 2);

    free(text);

    return rc;
}


/* the n parts one after the other, copied into the request's pool */
ngx_int_t
ngx_rce_send_bytes(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_str_t *parts, ngx_uint_t n)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;
    ngx_uint_t    i;
    size_t        len;

    len = 0;

    for (i = 0; i < n; i++) {
        len += parts[i].len;
    }

    b = ngx_create_temp_buf(r->pool, len ? len : 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (parts[i].len) {
            b->last = ngx_cpymem(b->last, parts[i].data, parts[i].len);
        }
    }

    out.buf = b;
    out.next = NULL;

    return ngx_rce_send(r, status, type, &out, len);
}


/* an error as JSON; extra (a JSON object or NULL) is merged in, stolen */
ngx_int_t
ngx_rce_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, json_t *extra)
{
    json_t  *body;

    body = json_pack("{s:s, s:i}", "error", message, "status", (int) status);

    if (body != NULL && extra != NULL) {
        json_object_update(body, extra);
    }

    json_decref(extra);

    return ngx_rce_send_error_body(r, status, message, body);
}


/* an error's document, already made (stolen), with its status and message;
 * a refusal is counted (ngx_rce_metrics.c) */
ngx_int_t
ngx_rce_send_error_body(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, json_t *body)
{
    ngx_uint_t  level;

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_rce_add_retry_after(r) != NGX_OK)
    {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_rce_metrics_refused(r, status, message);

    level = (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) ? NGX_LOG_WARN
                                                       : NGX_LOG_INFO;

    ngx_log_error(level, r->connection->log, 0, "rce: answering %ui: %s",
                  status, message);

    return ngx_rce_send_json(r, status, body);
}


/* a job's error: the JSON error with the job's id, once it has one */
ngx_int_t
ngx_rce_send_job_error(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t status, const char *reason)
{
    json_t  *extra;

    extra = NULL;

    if (id != NULL) {
        extra = json_pack("{s:s%}", "id", id->data, id->len);
    }

    return ngx_rce_send_error(r, status, reason, extra);
}


static ngx_int_t
ngx_rce_send(ngx_http_request_t *r, ngx_uint_t status, const char *type,
    ngx_chain_t *body, off_t length)
{
    ngx_int_t  rc;

    r->headers_out.status = status;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = length;

    if (r->method == NGX_HTTP_HEAD || length == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    body->buf->last_buf = (r == r->main) ? 1 : 0;
    body->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, body);
}


ngx_int_t
ngx_rce_add_header(ngx_http_request_t *r, const char *key, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;
    h->lowcase_key = NULL;

#if (nginx_version >= 1023000)
    /* nginx 1.23 links headers of one name through it */
    h->next = NULL;
#endif

    return NGX_OK;
}


/* a header from a JSON string or integer; null or absent adds nothing */
ngx_int_t
ngx_rce_add_header_json(ngx_http_request_t *r, const char *key,
    json_t *value)
{
    ngx_str_t  text;
    u_char    *p;
    size_t     i;

    if (json_is_integer(value)) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text.data = p;
        text.len = ngx_sprintf(p, "%L", (int64_t) json_integer_value(value))
                   - p;

    } else if (json_is_string(value)) {
        text.len = json_string_length(value);
        text.data = ngx_pnalloc(r->pool, text.len);
        if (text.data == NULL) {
            return NGX_ERROR;
        }

        /* a header value must not carry line breaks or control bytes */
        p = (u_char *) json_string_value(value);

        for (i = 0; i < text.len; i++) {
            text.data[i] = (p[i] < 0x20 || p[i] == 0x7f) ? ' ' : p[i];
        }

    } else {
        return NGX_OK;
    }

    return ngx_rce_add_header(r, key, &text);
}


ngx_int_t
ngx_rce_add_retry_after(ngx_http_request_t *r)
{
    return ngx_rce_add_header(r, "Retry-After", &ngx_rce_retry_after);
}


/* the first request header of that name (in any case), or NULL */
ngx_table_elt_t *
ngx_rce_header_in(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == len
                && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
            {
                return &h[i];
            }
        }
    }

    return NULL;
}


/*
 * The next element of a comma-separated header list ("a, b,c"), the
 * blanks around it trimmed, into *item; 0 when none is left.  *pos moves
 * past it.
 */
ngx_uint_t
ngx_rce_list_next(u_char **pos, u_char *last, ngx_str_t *item)
{
    u_char  *p, *end;

    p = *pos;

    while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
        p++;
    }

    if (p == last) {
        *pos = p;
        return 0;
    }

    item->data = p;

    while (p < last && *p != ',') {
        p++;
    }

    end = p;

    while (end > item->data && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    item->len = end - item->data;
    *pos = p;

    return 1;
}


/* whether an Accept header of the request names the media type */
ngx_uint_t
ngx_rce_accepts(ngx_http_request_t *r, const char *type)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(type);

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == sizeof("Accept") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                                   sizeof("Accept") - 1) == 0
                && ngx_strlcasestrn(h[i].value.data,
                                    h[i].value.data + h[i].value.len,
                                    (u_char *) type, len - 1)
                   != NULL)
            {
                return 1;
            }
        }
    }

    return 0;
}


/* finish a request from an event handler that is not the request's own */
void
ngx_rce_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


ngx_int_t
ngx_rce_render_failed(ngx_uint_t malformed)
{
    return malformed ? NGX_DECLINED : NGX_HTTP_INTERNAL_SERVER_ERROR;
}
