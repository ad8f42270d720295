
/*
 * Piston's execute document, as POST /api/v2/execute takes it and as the
 * WebSocket's "init" message carries it (Piston's get_job() checks both
 * alike): checked by ngx_rce_piston_input.c against the location's limits
 * and the runtimes the live nodes offer, and made a job's input; or
 * Piston's refusal, {"message"} (or {"stack"} for a body that is not JSON).
 */


#include "ngx_rce_module.h"
#include "ngx_rce_piston_input.h"


static json_t *ngx_rce_piston_runtime(ngx_str_t *name, ngx_str_t *selector,
    ngx_str_t *language);


/*
 * req (borrowed) as a job: NULL, with *input its input (the caller's),
 * *language its canonical language (the node cache's: copy it to keep it)
 * and *version the version chosen (a new reference); else the refusal to
 * answer with (the caller's), with its status
 */
json_t *
ngx_rce_piston_document(ngx_http_request_t *r, json_t *req,
    ngx_str_t *language, json_t **version, json_t **input,
    ngx_uint_t *status)
{
    ngx_rce_loc_conf_t       *rlcf;
    ngx_rce_input_error_t     err;
    ngx_rce_input_bounds_t    bounds;
    ngx_rce_piston_limits_t   limits;
    ngx_str_t                 name, selector;
    json_t                   *text, *refusal;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    *input = NULL;
    *version = NULL;

    if (ngx_rce_piston_request(req, &name, &selector, &err) != NGX_OK) {
        return ngx_rce_piston_refusal(&err, status);
    }

    *version = ngx_rce_piston_runtime(&name, &selector, language);

    if (*version == NULL) {
        text = json_sprintf("%.*s-%.*s runtime is unknown",
                            (int) name.len, name.data,
                            (int) selector.len, selector.data);

        refusal = json_pack("{s:s}", "message",
                            text ? json_string_value(text)
                                 : "runtime is unknown");
        json_decref(text);

        *status = NGX_HTTP_BAD_REQUEST;
        return refusal;
    }

    /* Piston's configured limits: each is the default and the most */
    limits.timeout[NGX_RCE_PISTON_RUN] = (double) rlcf->wall_limit;
    limits.cpu_time[NGX_RCE_PISTON_RUN] = (double) rlcf->wall_limit;
    limits.memory_limit[NGX_RCE_PISTON_RUN] = (double) rlcf->memory_limit;
    limits.timeout[NGX_RCE_PISTON_COMPILE] = (double) rlcf->compile_limit;
    limits.cpu_time[NGX_RCE_PISTON_COMPILE] = (double) rlcf->compile_limit;
    limits.memory_limit[NGX_RCE_PISTON_COMPILE] = (double) rlcf->memory_limit;

    bounds.max_files = (size_t) rlcf->max_files;
    bounds.max_size = rlcf->max_code_size;
    bounds.max_tests = 0;

    *input = ngx_rce_piston_job(req, &limits, &bounds, &err);

    if (*input == NULL) {
        json_decref(*version);
        *version = NULL;
        return ngx_rce_piston_refusal(&err, status);
    }

    return NULL;
}


/*
 * A refused document: Piston's {"message"} (the field in front when the
 * text does not name it), or {"stack"} for a body that is not JSON
 */
json_t *
ngx_rce_piston_refusal(ngx_rce_input_error_t *err, ngx_uint_t *status)
{
    const char  *text;
    size_t       len;

    text = (const char *) err->text;
    len = ngx_strlen(err->field);
    *status = err->status;

    if (ngx_strcmp(err->field, NGX_RCE_PISTON_STACK) == 0) {
        return json_pack("{s:s}", NGX_RCE_PISTON_STACK, text);
    }

    if (len == 0 || ngx_strncmp(text, err->field, len) == 0) {
        return json_pack("{s:s}", "message", text);
    }

    return json_pack("{s:s++}", "message", err->field, ": ", text);
}


/*
 * The version a live node runs of the language (a name or an alias) that
 * the selector picks, highest first (a new reference), and the language's
 * canonical name; NULL when none does
 */
static json_t *
ngx_rce_piston_runtime(ngx_str_t *name, ngx_str_t *selector,
    ngx_str_t *language)
{
    json_t  *versions, *version;

    if (ngx_rce_nodes_resolve(ngx_rce_worker, name, language) != NGX_OK) {
        return NULL;
    }

    versions = ngx_rce_catalogue_versions(ngx_rce_worker, language);

    version = json_incref(ngx_rce_piston_semver_pick(versions,
                                                     selector->data,
                                                     selector->len));
    json_decref(versions);

    return version;
}
