
/*
 * nginx's own refusals in the module's JSON, "rce_error": the target of
 *
 *     error_page 400 405 408 411 413 414 494 501 505 /.rce-error;
 *     location = /.rce-error { internal; rce_error; }
 *
 * (a URI: a named location needs the request's own, and a request line nginx
 * could not parse has none)
 *
 * so that a body over client_max_body_size, a request nginx cannot parse, a
 * URI or header too long, or a method nginx itself refuses (TRACE) gets
 * {"error", "status"} with the limit that was passed, like every refusal of
 * the routes.  The status stays nginx's: error_page without "=" keeps it
 * (494, a header too large, becomes 400 as nginx makes it).
 *
 * A 429 of limit_req or limit_conn ("limit_req_status 429;
 * limit_conn_status 429;", with "error_page 429 /.rce-error;") names the
 * module that refused and carries Retry-After.
 */


#include "ngx_rce_module.h"


/* r->limit_req_status, r->limit_conn_status: ngx_http_limit_req_module.c's
 * NGX_HTTP_LIMIT_REQ_REJECTED, ngx_http_limit_conn_module.c's
 * NGX_HTTP_LIMIT_CONN_REJECTED */
#define NGX_RCE_LIMIT_REQ_REJECTED   3
#define NGX_RCE_LIMIT_CONN_REJECTED  2


typedef struct {
    ngx_uint_t                  status;
    const char                 *message;
} ngx_rce_error_text_t;


static json_t *ngx_rce_error_limit(ngx_http_request_t *r, ngx_uint_t status);


static ngx_rce_error_text_t  ngx_rce_error_texts[] = {
    { NGX_HTTP_BAD_REQUEST,
      "bad request: nginx could not read it (a malformed request line or "
      "header, or a header over large_client_header_buffers)" },
    { NGX_HTTP_NOT_FOUND, "no such endpoint: the engine's are "
                          "/lang/<language>, /api/v1/run, /api/v1/languages "
                          "and /health" },
    { NGX_HTTP_NOT_ALLOWED, "method not allowed" },
    { NGX_HTTP_REQUEST_TIME_OUT, "the request did not arrive in time" },
    { NGX_HTTP_LENGTH_REQUIRED, "a body needs a Content-Length or chunked "
                                "transfer encoding" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "request body too large" },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, "request URI too long" },
    { NGX_HTTP_TOO_MANY_REQUESTS, "too many requests: slow down" },
    { NGX_HTTP_NOT_IMPLEMENTED, "not implemented: a Transfer-Encoding other "
                                "than chunked" },
    { NGX_HTTP_VERSION_NOT_SUPPORTED, "HTTP version not supported" },
    { 0, NULL }
};


ngx_int_t
ngx_rce_error_handler(ngx_http_request_t *r)
{
    ngx_uint_t             status, i;
    const char            *message;
    ngx_rce_error_text_t  *t;

    status = r->err_status ? r->err_status : NGX_HTTP_INTERNAL_SERVER_ERROR;
    message = "request refused";

    /*
     * nginx discards the body of a refused request only when no error_page
     * takes the refusal over: here it is ours to do, or on a kept-alive
     * connection what is left of it is read as the next request
     */
    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    for (t = ngx_rce_error_texts, i = 0; t[i].status != 0; i++) {
        if (t[i].status == status) {
            message = t[i].message;
            break;
        }
    }

    if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        if (ngx_rce_add_retry_after(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* refused before its body was read, and the connection is kept:
         * the body must not be read as the next request */
        return ngx_rce_refuse(r, status, message,
                              ngx_rce_error_limit(r, status));
    }

    return ngx_rce_send_error(r, status, message,
                              ngx_rce_error_limit(r, status));
}


/* the limit behind the refusal, named as nginx's directive names it */
static json_t *
ngx_rce_error_limit(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_core_srv_conf_t   *cscf;

    switch (status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
        return json_pack("{s:s, s:I}", "limit", "client_max_body_size",
                         "max_bytes",
                         (json_int_t) clcf->client_max_body_size);

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        return json_pack("{s:s, s:I}", "limit", "large_client_header_buffers",
                         "max_bytes",
                         (json_int_t) cscf->large_client_header_buffers.size);

    case NGX_HTTP_TOO_MANY_REQUESTS:
        if (r->main->limit_conn_status == NGX_RCE_LIMIT_CONN_REJECTED) {
            return json_pack("{s:s}", "limit", "limit_conn");
        }

        if (r->main->limit_req_status == NGX_RCE_LIMIT_REQ_REJECTED) {
            return json_pack("{s:s}", "limit", "limit_req");
        }

        return NULL;

    default:
        return NULL;
    }
}
