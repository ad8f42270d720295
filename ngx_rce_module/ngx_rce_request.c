
/*
 * A run request's document, as POST /api/v1/run and POST /api/v1/jobs take
 * it: from the checked document to a job's input, or to the refusal that
 * says why not ({"error", "status", "field"?, ...}, the shape every error
 * answer has).  A batch of asynchronous jobs refuses its entries one by one
 * without an HTTP answer each, which is why a refusal is a document here.
 */


#include "ngx_rce_module.h"
#include "ngx_rce_input.h"
#include "rce_allow.h"


static json_t *ngx_rce_request_version(ngx_str_t *language,
    ngx_str_t *version);
static json_t *ngx_rce_request_no_version(ngx_str_t *language,
    ngx_str_t *version, json_t *versions);
static json_t *ngx_rce_request_callback(ngx_http_request_t *r, json_t *input,
    ngx_uint_t async);


/*
 * req (borrowed) is a run request's document, for an asynchronous job or
 * not.  NULL when it can run: then *input (the caller's) is the job's input,
 * *language its canonical language and *base64 how its output is to be
 * rendered.  Otherwise the refusal (the caller's to send or to json_decref).
 */
json_t *
ngx_rce_request_input(ngx_http_request_t *r, json_t *req, ngx_uint_t async,
    ngx_str_t *language, json_t **input, ngx_uint_t *base64)
{
    ngx_rce_loc_conf_t      *rlcf;
    ngx_rce_input_error_t    err;
    ngx_rce_input_bounds_t   bounds;
    ngx_str_t                name, version;
    json_t                  *versions, *refusal;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    *input = NULL;

    if (ngx_rce_input_request(req, &name, &version, &err) != NGX_OK) {
        return ngx_rce_request_input_error(&err);
    }

    if (ngx_rce_nodes_resolve(ngx_rce_worker, &name, language) != NGX_OK) {
        return ngx_rce_request_refusal(NGX_HTTP_NOT_FOUND, "unknown language",
                                       ngx_rce_catalogue_unknown(
                                           ngx_rce_worker, &name));
    }

    versions = ngx_rce_request_version(language, &version);
    if (versions != NULL) {
        return ngx_rce_request_no_version(language, &version, versions);
    }

    if (ngx_rce_input_output_encoding(req, base64, &err) != NGX_OK) {
        return ngx_rce_request_input_error(&err);
    }

    bounds.max_files = (size_t) rlcf->max_files;
    bounds.max_size = rlcf->max_code_size;
    bounds.max_tests = (size_t) rlcf->max_tests;

    *input = ngx_rce_input_job(req, &bounds, &err);
    if (*input == NULL) {
        return ngx_rce_request_input_error(&err);
    }

    refusal = ngx_rce_request_callback(r, *input, async);
    if (refusal != NULL) {
        json_decref(*input);
        *input = NULL;
    }

    return refusal;
}


/*
 * A callback_url is for an asynchronous job, and its host must be one the
 * live nodes may call back (their --callback-allow; a node checks again,
 * with the addresses the name resolves to, when it delivers).  NULL if the
 * input has none or it may be used, else the refusal.
 */
static json_t *
ngx_rce_request_callback(ngx_http_request_t *r, json_t *input,
    ngx_uint_t async)
{
    ngx_url_t    u;
    ngx_str_t    url;
    ngx_int_t    rc;
    ngx_uint_t   https;
    u_char       host[RCE_ALLOW_NAME_MAX + 1];
    u_char       text[RCE_ALLOW_NAME_MAX + 96], *p;
    json_t      *value;

    value = json_object_get(input, NGX_RCE_INPUT_CALLBACK_URL);
    if (value == NULL) {
        return NULL;
    }

    if (!async) {
        return ngx_rce_request_refusal(NGX_HTTP_BAD_REQUEST,
                   "only asynchronous jobs (POST /api/v1/jobs) are called "
                   "back", json_pack("{s:s}", "field",
                                     NGX_RCE_INPUT_CALLBACK_URL));
    }

    url.data = (u_char *) json_string_value(value);
    url.len = json_string_length(value);
    https = (url.data[4] == 's' || url.data[4] == 'S');

    /* the authority: after the scheme, up to the path, query or fragment */
    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url.data = url.data + (https ? 8 : 7);
    u.url.len = 0;

    while (u.url.data + u.url.len < url.data + url.len
           && ngx_strchr("/?#", u.url.data[u.url.len]) == NULL)
    {
        u.url.len++;
    }

    u.default_port = https ? 443 : 80;
    u.no_resolve = 1;

    /* no credentials (the signature is what authenticates a callback) */
    if (ngx_strlchr(u.url.data, u.url.data + u.url.len, '@') != NULL
        || ngx_parse_url(r->pool, &u) != NGX_OK || u.host.len == 0
        || u.host.len > RCE_ALLOW_NAME_MAX)
    {
        return ngx_rce_request_refusal(NGX_HTTP_BAD_REQUEST,
                   "is not a URL with a host (and no credentials) to call "
                   "back", json_pack("{s:s}", "field",
                                     NGX_RCE_INPUT_CALLBACK_URL));
    }

    /* an IPv6 literal without its brackets */
    if (u.host.data[0] == '[' && u.host.len > 2) {
        u.host.data++;
        u.host.len -= 2;
    }

    ngx_cpystrn(host, u.host.data, u.host.len + 1);

    rc = ngx_rce_catalogue_callback(ngx_rce_worker, r->connection->log,
                                    (char *) host);

    if (rc == NGX_OK) {
        return NULL;
    }

    if (rc == NGX_ERROR) {
        return ngx_rce_request_refusal(NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "out of memory", NULL);
    }

    p = (rc == NGX_ABORT)
        ? ngx_snprintf(text, sizeof(text) - 1,
                       "callbacks are off: no live node has a "
                       "--callback-allow list")
        : ngx_snprintf(text, sizeof(text) - 1,
                       "%s is not among the hosts callbacks may go to "
                       "(the nodes' --callback-allow)", host);
    *p = '\0';

    return ngx_rce_request_refusal(NGX_HTTP_BAD_REQUEST, (char *) text,
                                   json_pack("{s:s}", "field",
                                             NGX_RCE_INPUT_CALLBACK_URL));
}


/* {"error": message, "status": status} with extra's fields (stolen) */
json_t *
ngx_rce_request_refusal(ngx_uint_t status, const char *message, json_t *extra)
{
    json_t  *body;

    body = json_pack("{s:s, s:i}", "error", message, "status", (int) status);

    if (body != NULL && extra != NULL) {
        json_object_update(body, extra);
    }

    json_decref(extra);

    return body;
}


/* the refusal of a document that ngx_rce_input.c found wrong */
json_t *
ngx_rce_request_input_error(ngx_rce_input_error_t *err)
{
    json_t  *extra;

    extra = NULL;

    if (err->field[0] != '\0') {
        extra = json_pack("{s:s}", "field", err->field);
    }

    return ngx_rce_request_refusal(err->status, (char *) err->text, extra);
}


/* answers the request with the refusal (stolen), by its own status */
ngx_int_t
ngx_rce_request_refuse(ngx_http_request_t *r, json_t *refusal)
{
    json_t      *message, *status;
    ngx_uint_t   code;

    message = json_object_get(refusal, "error");
    status = json_object_get(refusal, "status");

    if (!json_is_string(message) || !json_is_integer(status)) {
        json_decref(refusal);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    code = (ngx_uint_t) json_integer_value(status);

    return ngx_rce_send_error_body(r, code, json_string_value(message),
                                   refusal);
}


/*
 * A version asked for must be one the live nodes run (none advertised: any
 * goes).  NULL if it is, else the versions there are, for the 404.
 */
static json_t *
ngx_rce_request_version(ngx_str_t *language, ngx_str_t *version)
{
    json_t  *versions, *v;
    size_t   i;

    if (version->data == NULL) {
        return NULL;
    }

    versions = ngx_rce_catalogue_versions(ngx_rce_worker, language);

    json_array_foreach(versions, i, v) {
        if (json_string_length(v) == version->len
            && ngx_strncmp(json_string_value(v), version->data,
                           version->len) == 0)
        {
            break;
        }
    }

    if (versions == NULL || json_array_size(versions) == 0
        || i < json_array_size(versions))
    {
        json_decref(versions);
        return NULL;
    }

    return versions;
}


/* 404 for a version no live node runs, with the versions they do run */
static json_t *
ngx_rce_request_no_version(ngx_str_t *language, ngx_str_t *version,
    json_t *versions)
{
    u_char  text[192], *p;

    p = ngx_snprintf(text, sizeof(text) - 1,
                     "version \"%V\" of %V is not available", version,
                     language);
    *p = '\0';

    return ngx_rce_request_refusal(NGX_HTTP_NOT_FOUND, (char *) text,
                                   json_pack("{s:s, s:o}", "field", "version",
                                             "versions", versions));
}
