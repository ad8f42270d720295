
/*
 * The raw route, "rce_run": POST /lang/<language> with the source code as
 * the body.  The language is any name or alias a node advertises (the last
 * path segment, percent-decoded: /lang/c%23 is "c#").  The answer is text,
 * or the result JSON for a client that accepts JSON (ngx_rce_render_raw.c).
 */


#include "ngx_rce_module.h"


typedef struct {
    ngx_str_t                   language;    /* canonical name */
} ngx_rce_lang_ctx_t;


static ngx_int_t ngx_rce_lang_name(ngx_http_request_t *r, ngx_str_t *name);
static ngx_int_t ngx_rce_lang_too_large(ngx_http_request_t *r,
    ngx_uint_t refuse);
static void ngx_rce_lang_body_handler(ngx_http_request_t *r);


ngx_int_t
ngx_rce_lang_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_lang_ctx_t  *ctx;
    ngx_str_t            name, canonical;
    ngx_int_t            rc;
    const char          *why;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_rce_not_allowed(r, "POST",
                                   "method not allowed: POST the source code");
    }

    rc = ngx_rce_lang_name(r, &name);

    why = ngx_rce_job_unavailable();
    if (why != NULL) {
        return ngx_rce_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, NULL);
    }

    if (rc != NGX_OK
        || ngx_rce_nodes_resolve(ngx_rce_worker, &name, &canonical) != NGX_OK)
    {
        return ngx_rce_refuse(r, NGX_HTTP_NOT_FOUND, "unknown language",
                              ngx_rce_catalogue_unknown(ngx_rce_worker,
                                                        &name));
    }

    if (r->headers_in.content_length_n > (off_t) rlcf->max_code_size) {
        return ngx_rce_lang_too_large(r, 1);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_rce_lang_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->language.data = ngx_pstrdup(r->pool, &canonical);
    if (ctx->language.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->language.len = canonical.len;

    ngx_http_set_ctx(r, ctx, ngx_rce_module);

    rc = ngx_http_read_client_request_body(r, ngx_rce_lang_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* the last path segment; NGX_DECLINED if it cannot be a name or alias */
static ngx_int_t
ngx_rce_lang_name(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char  *p, *last;

    last = r->uri.data + r->uri.len;

    for (p = last; p > r->uri.data && p[-1] != '/'; p--) {
        /* void */
    }

    name->data = p;
    name->len = last - p;

    if (name->len == 0 || name->len > RCE_NAME_MAX) {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < last; p++) {
        if (!rce_alias_char(*p)) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* 413 for code over rce_max_code_size, before (refuse) or after the body */
static ngx_int_t
ngx_rce_lang_too_large(ngx_http_request_t *r, ngx_uint_t refuse)
{
    ngx_rce_loc_conf_t  *rlcf;
    json_t              *extra;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    extra = json_pack("{s:I}", "max_code_size",
                      (json_int_t) rlcf->max_code_size);

    if (refuse) {
        return ngx_rce_refuse(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "the code is larger than the limit", extra);
    }

    return ngx_rce_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "the code is larger than the limit", extra);
}


static void
ngx_rce_lang_body_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_lang_ctx_t  *ctx;
    ngx_rce_renderer_t  *renderer;
    ngx_str_t            code;
    ngx_int_t            rc;
    json_t              *source;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    ctx = ngx_http_get_module_ctx(r, ngx_rce_module);

    if (ngx_rce_read_body(r, &code) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* jansson checks UTF-8: a job is readable JSON, so the code is text */
    source = (code.len == 0 || code.len > rlcf->max_code_size)
             ? NULL : json_stringn((char *) code.data, code.len);

    if (code.len == 0) {
        rc = ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                "empty body: POST the source code", NULL);

    } else if (code.len > rlcf->max_code_size) {
        rc = ngx_rce_lang_too_large(r, 0);

    } else if (source == NULL) {
        rc = ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                "the code is not valid UTF-8", NULL);

    } else {
        renderer = ngx_rce_accepts(r, "application/json") ? &ngx_rce_render_result
                                           : &ngx_rce_render_text;

        rc = ngx_rce_job_submit(r, &ctx->language,
                                json_pack("{s:o}", RCE_JOB_CODE, source),
                                renderer);

        if (rc == NGX_DONE) {
            return;     /* the job's result or timeout finalizes */
        }
    }

    ngx_http_finalize_request(r, rc);
}
