
/*
 * The renderers of the raw route, POST /lang/<language>: the bytes of
 * stdout then stderr exactly, with the verdict in X-RCE-* headers, or, for a
 * client that accepts JSON, the node's result JSON with its streams as text
 * (common/rce_render.c).
 */


#include "ngx_rce_module.h"


static ngx_int_t ngx_rce_render_text_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);
static ngx_int_t ngx_rce_render_text_headers(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);
static ngx_int_t ngx_rce_render_result_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);


ngx_rce_renderer_t  ngx_rce_render_text = {
    "text",
    ngx_rce_render_text_result,
    ngx_rce_send_job_error,
    NULL
};


ngx_rce_renderer_t  ngx_rce_render_result = {
    "result",
    ngx_rce_render_result_result,
    ngx_rce_send_job_error,
    NULL
};


/* the header for each result field, in the order they are added */
static struct {
    const char   *header;
    const char   *field;
} ngx_rce_render_text_fields[] = {
    { "X-RCE-Status",     RCE_RES_STATUS },
    { "X-RCE-Exit-Code",  RCE_RES_EXIT_CODE },
    { "X-RCE-Signal",     RCE_RES_SIGNAL },
    { "X-RCE-Time-Ms",    RCE_RES_WALL_MS },
    { "X-RCE-Node",       RCE_RES_NODE },
    { "X-RCE-Reason",     RCE_RES_REASON },
    { NULL, NULL }
};


static ngx_int_t
ngx_rce_render_text_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *result)
{
    int                  rc;
    ngx_str_t            parts[2];
    ngx_int_t            sent;
    ngx_uint_t           i, text;
    rce_render_bytes_t   bytes[2];

    bytes[0].decoded = NULL;
    bytes[1].decoded = NULL;
    text = 1;

    for (i = 0; i < 2; i++) {
        rc = rce_render_stream_bytes(result, i, &bytes[i]);
        if (rc != RCE_RENDER_OK) {
            sent = ngx_rce_render_failed(rc == RCE_RENDER_MALFORMED);
            goto done;
        }

        parts[i].data = (u_char *) bytes[i].data;
        parts[i].len = bytes[i].len;
        text &= bytes[i].valid;
    }

    if (ngx_rce_render_text_headers(r, job, result) != NGX_OK) {
        sent = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    /* two valid UTF-8 strings make one; the parts are copied */
    sent = ngx_rce_send_bytes(r, NGX_HTTP_OK,
                              text ? "text/plain; charset=utf-8"
                                   : "application/octet-stream",
                              parts, 2);

done:

    free(bytes[0].decoded);
    free(bytes[1].decoded);

    return sent;
}


static ngx_int_t
ngx_rce_render_text_headers(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *result)
{
    ngx_uint_t  i;

    if (ngx_rce_add_header(r, "X-RCE-Job-Id", &job->id) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; ngx_rce_render_text_fields[i].header != NULL; i++) {
        if (ngx_rce_add_header_json(r, ngx_rce_render_text_fields[i].header,
                                    json_object_get(result,
                                        ngx_rce_render_text_fields[i].field))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rce_render_result_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *result)
{
    int      rc;
    json_t  *compile;

    compile = json_object_get(result, RCE_RES_COMPILE);

    rc = rce_render_streams(result, result, 0);

    if (rc == RCE_RENDER_OK) {
        rc = rce_render_streams(compile, compile, 0);
    }

    if (rc != RCE_RENDER_OK) {
        return ngx_rce_render_failed(rc == RCE_RENDER_MALFORMED);
    }

    return ngx_rce_send_json(r, NGX_HTTP_OK, json_incref(result));
}
