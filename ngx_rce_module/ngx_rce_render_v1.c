
/*
 * The renderer of POST /api/v1/run: the verdict, the compile step (null for
 * an interpreted language) and the run (null when it never ran: a compile
 * error, or an engine failure before it started), in the API's own field
 * names rather than the node's.  Each stage's streams are text (with
 * "lossy"), or base64 for a request that asked "output_encoding": "base64"
 * (ngx_rce_output.c).
 */


#include "ngx_rce_module.h"


static ngx_int_t ngx_rce_render_v1_text_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);
static ngx_int_t ngx_rce_render_v1_base64_result(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *result);
static ngx_int_t ngx_rce_render_v1_answer(ngx_http_request_t *r,
    ngx_rce_job_t *job, json_t *res, ngx_uint_t base64);
static json_t *ngx_rce_render_v1_run(json_t *res, const char *verdict);
static ngx_int_t ngx_rce_render_v1_tests(ngx_pool_t *pool, json_t *res,
    json_t *answer, ngx_uint_t base64);


ngx_rce_renderer_t  ngx_rce_render_v1 = {
    "v1",
    ngx_rce_render_v1_text_result,
    ngx_rce_send_job_error
};


ngx_rce_renderer_t  ngx_rce_render_v1_base64 = {
    "v1-base64",
    ngx_rce_render_v1_base64_result,
    ngx_rce_send_job_error
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
    json_t     *answer;
    ngx_int_t   rc;

    answer = ngx_rce_render_v1_document(r->pool, res, base64, &rc);
    if (answer == NULL) {
        return ngx_rce_output_failed(rc);
    }

    return ngx_rce_send_json(r, NGX_HTTP_OK, answer);
}


/*
 * The answer's document for the node's result res, its streams decoded in
 * pool; NULL: *rc says why (NGX_DECLINED: malformed, NGX_ERROR: memory).
 * GET /api/v1/jobs?ids= renders many into one answer with it.
 */
json_t *
ngx_rce_render_v1_document(ngx_pool_t *pool, json_t *res, ngx_uint_t base64,
    ngx_int_t *rc)
{
    json_t      *status, *compile, *run, *answer;
    const char  *verdict;

    status = json_object_get(res, RCE_RES_STATUS);
    verdict = json_is_string(status) ? json_string_value(status)
                                     : RCE_STATUS_IE;

    compile = json_object_get(res, RCE_RES_COMPILE);

    /* judge mode answers its tests in place of the run */
    run = json_is_array(json_object_get(res, RCE_RES_TESTS))
          ? NULL : ngx_rce_render_v1_run(res, verdict);

    *rc = ngx_rce_output_json(pool, compile, compile, base64);

    if (*rc == NGX_OK && run != NULL) {
        *rc = ngx_rce_output_json(pool, run, res, base64);
    }

    if (*rc != NGX_OK) {
        json_decref(run);
        return NULL;
    }

    answer = json_pack("{s:O?, s:O?, s:O?, s:s, s:O?, s:o?, s:O?, s:O?, "
                       "s:O*, s:O*}",
                       "id", json_object_get(res, RCE_RES_ID),
                       "language", json_object_get(res, RCE_RES_LANGUAGE),
                       "version", json_object_get(res, RCE_RES_VERSION),
                       "status", verdict,
                       "compile", compile,
                       "run", run,
                       "node", json_object_get(res, RCE_RES_NODE),
                       "reason", json_object_get(res, RCE_RES_REASON),
                       "limits", json_object_get(res, RCE_RES_LIMITS),
                       "clamped", json_object_get(res, RCE_RES_CLAMPED));

    if (answer == NULL) {
        *rc = NGX_ERROR;
        return NULL;
    }

    if (json_is_array(json_object_get(res, RCE_RES_TESTS))) {
        json_object_del(answer, "run");
        *rc = ngx_rce_render_v1_tests(pool, res, answer, base64);

        if (*rc != NGX_OK) {
            json_decref(answer);
            return NULL;
        }
    }

    return answer;
}


/* judge mode: "tests", each with its streams as the run's, and the counts */
static ngx_int_t
ngx_rce_render_v1_tests(ngx_pool_t *pool, json_t *res, json_t *answer,
    ngx_uint_t base64)
{
    json_t     *tests, *test, *passed, *total;
    size_t      i;
    ngx_int_t   rc;

    tests = json_object_get(res, RCE_RES_TESTS);
    passed = json_object_get(res, RCE_RES_PASSED);
    total = json_object_get(res, RCE_RES_TOTAL);

    if (!json_is_integer(passed) || !json_is_integer(total)) {
        return NGX_DECLINED;
    }

    json_array_foreach(tests, i, test) {
        if (!json_is_object(test)) {
            return NGX_DECLINED;
        }

        rc = ngx_rce_output_json(pool, test, test, base64);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (json_object_set(answer, RCE_RES_TESTS, tests) != 0
        || json_object_set(answer, RCE_RES_PASSED, passed) != 0
        || json_object_set(answer, RCE_RES_TOTAL, total) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the run's part of the answer, or NULL when nothing ran */
static json_t *
ngx_rce_render_v1_run(json_t *res, const char *verdict)
{
    /* a job cancelled while it ran has its figures, not its exit code;
     * one cancelled before (or while compiling) has no run time */
    if (ngx_strcmp(verdict, RCE_STATUS_CE) == 0
        || (ngx_strcmp(verdict, RCE_STATUS_IE) == 0
            && !json_is_integer(json_object_get(res, RCE_RES_EXIT_CODE)))
        || (ngx_strcmp(verdict, RCE_STATUS_CANCELLED) == 0
            && json_integer_value(json_object_get(res, RCE_RES_WALL_MS))
               <= 0))
    {
        return NULL;
    }

    /* the streams are placeholders here: ngx_rce_output_json sets them */
    return json_pack("{s:n, s:n, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
                     "stdout", "stderr",
                     "exit_code", json_object_get(res, RCE_RES_EXIT_CODE),
                     "signal", json_object_get(res, RCE_RES_SIGNAL),
                     "wall_ms", json_object_get(res, RCE_RES_WALL_MS),
                     "cpu_ms", json_object_get(res, RCE_RES_CPU_MS),
                     "memory_kb", json_object_get(res, RCE_RES_MEMORY_KB),
                     "truncated", json_object_get(res, RCE_RES_TRUNCATED));
}
