
/*
 * The renderers of the raw route, POST /lang/<language>: stdout then stderr
 * as text with the verdict in X-RCE-* headers, or, for a client that
 * accepts JSON, the node's result JSON as it came.
 */


#include "ngx_rce_module.h"


static ngx_int_t ngx_rce_render_text_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result, ngx_str_t *payload);
static ngx_int_t ngx_rce_render_text_headers(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);
static ngx_int_t ngx_rce_render_result_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result, ngx_str_t *payload);


ngx_rce_renderer_t  ngx_rce_render_text = {
    "text",
    ngx_rce_render_text_result,
    ngx_rce_send_job_error
};


ngx_rce_renderer_t  ngx_rce_render_result = {
    "result",
    ngx_rce_render_result_result,
    ngx_rce_send_job_error
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
    json_t *result, ngx_str_t *payload)
{
    json_t     *text;
    ngx_str_t   parts[2];

    if (ngx_rce_render_text_headers(r, job, result) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text = json_object_get(result, RCE_RES_STDOUT);
    parts[0].data = (u_char *) json_string_value(text);
    parts[0].len = json_string_length(text);

    text = json_object_get(result, RCE_RES_STDERR);
    parts[1].data = (u_char *) json_string_value(text);
    parts[1].len = json_string_length(text);

    return ngx_rce_send_bytes(r, NGX_HTTP_OK, "text/plain; charset=utf-8",
                              parts, 2);
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
    json_t *result, ngx_str_t *payload)
{
    ngx_str_t  parts[2];

    parts[0] = *payload;
    ngx_str_set(&parts[1], "\n");

    return ngx_rce_send_bytes(r, NGX_HTTP_OK, "application/json", parts, 2);
}
