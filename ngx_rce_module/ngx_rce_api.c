
/*
 * The JSON API routes, one directive each:
 *
 *     rce_api_run;        POST /api/v1/run  {"language", "files" | "code",
 *                                            "stdin", "args", "limits",
 *                                            "output_encoding", ...}
 *                         with Accept: text/event-stream, its events as
 *                         Server-Sent Events (ngx_rce_render_stream.c)
 *     rce_api_languages;  GET /api/v1/languages: what the live nodes run
 *
 * ngx_rce_input.c checks the document; the answer is rendered by
 * ngx_rce_render_v1.c.
 */


#include "ngx_rce_module.h"
#include "ngx_rce_input.h"


/*
 * files may come base64-encoded and JSON-escaped; judge mode's tests bring
 * their input and their expected output
 */
#define NGX_RCE_API_MAX_BODY(code, tests)                                     \
    ((code) * 2 + 16384 + ((tests) ? 2 * RCE_TESTS_INPUT_MAX_BYTES : 0))


static void ngx_rce_api_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_rce_api_run(ngx_http_request_t *r, ngx_str_t *body);
static ngx_int_t ngx_rce_api_stream(ngx_http_request_t *r,
    ngx_str_t *language, json_t *input, ngx_uint_t base64);


ngx_int_t
ngx_rce_api_run_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_int_t            rc;
    size_t               max_body;
    const char          *why;
    json_t              *extra;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_rce_not_allowed(r, "POST", "method not allowed");
    }

    why = ngx_rce_job_unavailable();
    if (why != NULL) {
        return ngx_rce_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, NULL);
    }

    max_body = NGX_RCE_API_MAX_BODY(rlcf->max_code_size, rlcf->max_tests);

    if (r->headers_in.content_length_n > (off_t) max_body) {
        extra = json_pack("{s:I}", "max_code_size",
                          (json_int_t) rlcf->max_code_size);
        return ngx_rce_refuse(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "the request is larger than the limit", extra);
    }

    rc = ngx_http_read_client_request_body(r, ngx_rce_api_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* [{"name", "version", "aliases", "compiled"}] for what live nodes run */
ngx_int_t
ngx_rce_api_languages_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    json_t    *list;

    rc = ngx_rce_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    list = ngx_rce_catalogue_languages(ngx_rce_worker);
    if (list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rce_send_json(r, NGX_HTTP_OK, list);
}


static void
ngx_rce_api_body_handler(ngx_http_request_t *r)
{
    ngx_rce_body_run(r, ngx_rce_api_run);
}


/* the checked document becomes a job, answered by the v1 renderer */
static ngx_int_t
ngx_rce_api_run(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_rce_input_error_t   err;
    ngx_str_t               name, version, language;
    json_t                 *req, *input, *refusal;
    ngx_uint_t              base64;
    ngx_int_t               rc;

    if (ngx_rce_input_parse(body->data, body->len, &req, &name, &version,
                            &err)
        != NGX_OK)
    {
        json_decref(req);
        return ngx_rce_request_refuse(r, ngx_rce_request_input_error(&err));
    }

    refusal = ngx_rce_request_input(r, req, 0, &language, &input,
                                    &base64);

    rc = (refusal != NULL)
         ? ngx_rce_request_refuse(r, refusal)
         : ngx_rce_accepts(r, "text/event-stream")
           ? ngx_rce_api_stream(r, &language, input, base64)
           : ngx_rce_job_submit(r, &language, input,
                                base64 ? &ngx_rce_render_v1_base64
                                       : &ngx_rce_render_v1);

    json_decref(req);

    return rc;
}


/*
 * The job streamed as Server-Sent Events (ngx_rce_render_stream.c); the
 * result comes last, as the document this route answers (base64 or not).
 * Judge mode is not streamed.
 */
static ngx_int_t
ngx_rce_api_stream(ngx_http_request_t *r, ngx_str_t *language, json_t *input,
    ngx_uint_t base64)
{
    ngx_rce_stream_t  *st;
    json_t            *versions, *version;

    if (json_object_get(input, RCE_JOB_TESTS) != NULL) {
        json_decref(input);
        return ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                  "judge mode (tests) is not streamed: ask "
                                  "without Accept: text/event-stream",
                                  json_pack("{s:s}", "field", "tests"));
    }

    st = ngx_rce_render_stream_ctx(r, NULL, sizeof(ngx_rce_stream_t));
    if (st == NULL) {
        json_decref(input);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->base64 = base64;
    st->language.data = ngx_pstrdup(r->pool, language);
    st->language.len = language->len;

    /* the version the live nodes run (one, unless they differ) */
    versions = ngx_rce_catalogue_versions(ngx_rce_worker, language);
    version = json_array_get(versions, 0);

    if (json_is_string(version)) {
        st->version.len = json_string_length(version);
        st->version.data = ngx_pnalloc(r->pool, st->version.len + 1);

        if (st->version.data != NULL) {
            ngx_memcpy(st->version.data, json_string_value(version),
                       st->version.len);
        } else {
            st->version.len = 0;
        }
    }

    json_decref(versions);

    if (st->language.data == NULL) {
        json_decref(input);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rce_job_submit_stream(r, language, input, &ngx_rce_render_sse,
                                     st);
}
