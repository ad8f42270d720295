
/*
 * The renderer of POST /api/v1/run: the verdict, the compile step (null for
 * an interpreted language) and the run (null when it never ran: a compile
 * error, or an engine failure before it started), in the API's own field
 * names rather than the node's.  Each stage's streams are text (with
 * "lossy"), or base64 for a request that asked "output_encoding": "base64".
 * The document is made by the code shared with workerd, which sends the same
 * one to an asynchronous job's callback (common/rce_render.c).
 */


#include "ngx_rce_module.h"


static ngx_int_t ngx_rce_render_v1_text_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);
static ngx_int_t ngx_rce_render_v1_base64_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);
static ngx_int_t ngx_rce_render_v1_answer(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *res, ngx_uint_t base64);


ngx_rce_renderer_t  ngx_rce_render_v1 = {
    "v1",
    ngx_rce_render_v1_text_result,
    ngx_rce_send_job_error,
    NULL
};


ngx_rce_renderer_t  ngx_rce_render_v1_base64 = {
    "v1-base64",
    ngx_rce_render_v1_base64_result,
    ngx_rce_send_job_error,
    NULL
};


static ngx_int_t
ngx_rce_render_v1_text_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *res)
{
    return ngx_rce_render_v1_answer(r, job, res, 0);
}


static ngx_int_t
ngx_rce_render_v1_base64_result(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *res)
{
    return ngx_rce_render_v1_answer(r, job, res, 1);
}


static ngx_int_t
ngx_rce_render_v1_answer(ngx_http_request_t *r, ngx_rce_job_t *job,
    json_t *res, ngx_uint_t base64)
{
    int      malformed;
    json_t  *answer;

    answer = rce_render_v1(res, base64, &malformed);
    if (answer == NULL) {
        return ngx_rce_render_failed(malformed);
    }

    return ngx_rce_send_json(r, NGX_HTTP_OK, answer);
}
