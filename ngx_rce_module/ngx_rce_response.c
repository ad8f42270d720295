
/*
 * Responses: results as text/plain with X-RCE-* headers or as JSON, and
 * every error as a JSON object {"error": ..., "status": ...}.
 */


#include "ngx_rce_module.h"


static ngx_int_t ngx_rce_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, size_t type_len, ngx_chain_t *body, off_t length);
static ngx_int_t ngx_rce_add_header_json(ngx_http_request_t *r,
    const char *key, json_t *value);


static ngx_str_t  ngx_rce_retry_after = ngx_string(NGX_RCE_RETRY_AFTER);


ngx_int_t
ngx_rce_send_json(ngx_http_request_t *r, ngx_uint_t status, json_t *body)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;
    char         *text;
    size_t        len;

    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    *b->last++ = '\n';
    free(text);

    out.buf = b;
    out.next = NULL;

    return ngx_rce_send(r, status, "application/json",
                        sizeof("application/json") - 1, &out, len + 1);
}


/* an error as JSON; extra (a JSON object or NULL) is merged in, stolen */
ngx_int_t
ngx_rce_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, json_t *extra)
{
    json_t      *body;
    ngx_uint_t   level;

    body = json_pack("{s:s, s:i}", "error", message, "status", (int) status);

    if (body != NULL && extra != NULL) {
        json_object_update(body, extra);
    }

    json_decref(extra);

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        if (ngx_rce_add_header(r, "Retry-After", &ngx_rce_retry_after)
            != NGX_OK)
        {
            json_decref(body);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    level = (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) ? NGX_LOG_WARN
                                                       : NGX_LOG_INFO;

    ngx_log_error(level, r->connection->log, 0, "rce: answering %ui: %s",
                  status, message);

    return ngx_rce_send_json(r, status, body);
}


/*
 * A job's result: its JSON as it came from the node for JSON clients,
 * otherwise stdout then stderr as text with the verdict in headers.
 */
ngx_int_t
ngx_rce_send_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *result, const char *payload, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;
    json_t       *out_text, *err_text;
    ngx_str_t     id;
    size_t        out_len, err_len;

    if (job->format == NGX_RCE_FORMAT_API) {
        return ngx_rce_send_json(r, NGX_HTTP_OK, ngx_rce_api_result(result));
    }

    if (job->format == NGX_RCE_FORMAT_RESULT) {
        b = ngx_create_temp_buf(r->pool, len + 1);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = ngx_cpymem(b->last, payload, len);
        *b->last++ = '\n';

        out.buf = b;
        out.next = NULL;

        return ngx_rce_send(r, NGX_HTTP_OK, "application/json",
                            sizeof("application/json") - 1, &out, len + 1);
    }

    id = job->id;

    if (ngx_rce_add_header(r, "X-RCE-Job-Id", &id) != NGX_OK
        || ngx_rce_add_header_json(r, "X-RCE-Status",
                                   json_object_get(result, RCE_RES_STATUS))
           != NGX_OK
        || ngx_rce_add_header_json(r, "X-RCE-Exit-Code",
                                   json_object_get(result, RCE_RES_EXIT_CODE))
           != NGX_OK
        || ngx_rce_add_header_json(r, "X-RCE-Signal",
                                   json_object_get(result, RCE_RES_SIGNAL))
           != NGX_OK
        || ngx_rce_add_header_json(r, "X-RCE-Time-Ms",
                                   json_object_get(result, RCE_RES_WALL_MS))
           != NGX_OK
        || ngx_rce_add_header_json(r, "X-RCE-Node",
                                   json_object_get(result, RCE_RES_NODE))
           != NGX_OK
        || ngx_rce_add_header_json(r, "X-RCE-Reason",
                                   json_object_get(result, RCE_RES_REASON))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    out_text = json_object_get(result, RCE_RES_STDOUT);
    err_text = json_object_get(result, RCE_RES_STDERR);
    out_len = json_string_length(out_text);
    err_len = json_string_length(err_text);

    b = ngx_create_temp_buf(r->pool, out_len + err_len + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (out_len) {
        b->last = ngx_cpymem(b->last, json_string_value(out_text), out_len);
    }

    if (err_len) {
        b->last = ngx_cpymem(b->last, json_string_value(err_text), err_len);
    }

    out.buf = b;
    out.next = NULL;

    return ngx_rce_send(r, NGX_HTTP_OK, "text/plain; charset=utf-8",
                        sizeof("text/plain; charset=utf-8") - 1, &out,
                        out_len + err_len);
}


static ngx_int_t
ngx_rce_send(ngx_http_request_t *r, ngx_uint_t status, const char *type,
    size_t type_len, ngx_chain_t *body, off_t length)
{
    ngx_int_t  rc;

    r->headers_out.status = status;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = type_len;
    r->headers_out.content_type_len = type_len;
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

    return NGX_OK;
}


/* a header from a JSON string or integer; null or absent adds nothing */
static ngx_int_t
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


ngx_uint_t
ngx_rce_accepts_json(ngx_http_request_t *r)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;
    ngx_uint_t        i;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "application/json",
                                sizeof("application/json") - 2)
               != NULL)
        {
            return 1;
        }
    }
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
