
/*
 * Piston v2's HTTP API, for its clients to run unchanged: one directive for
 * the prefix location that holds it, routed by what follows the location's
 * URI as Piston's api/src/api/v2.js routes it.
 *
 *     location /api/v2/ { rce_api_piston; }
 *
 *     GET  /api/v2/             {"message"}
 *     GET  /api/v2/runtimes     [{"language", "version", "aliases"}]
 *     POST /api/v2/execute      a job: ngx_rce_piston_input.c checks the
 *                               document, ngx_rce_render_piston.c answers
 *     GET  /api/v2/packages     [{"language", "language_version",
 *                                 "installed"}]
 *     GET  /api/v2/connect      Piston's WebSocket: ngx_rce_connect.c
 *     POST, DELETE /api/v2/packages   501: languages are the nodes' images
 *     anything else             404 {"message": "Not Found"}
 *
 * A request with a body that is not JSON is 415 on every path, as in
 * Piston; text/plain is taken as JSON too (what fetch() sends a string
 * body as, and npm's piston-client does).  Errors are {"message"}.
 */


#include "ngx_rce_module.h"
#include "ngx_rce_piston_input.h"

#define NGX_RCE_PISTON_VERSION  "Piston v3.1.1 compatible (rce)"


typedef enum {
    NGX_RCE_PISTON_ROOT = 0,
    NGX_RCE_PISTON_RUNTIMES,
    NGX_RCE_PISTON_EXECUTE,
    NGX_RCE_PISTON_PACKAGES,
    NGX_RCE_PISTON_CONNECT,
    NGX_RCE_PISTON_UNKNOWN
} ngx_rce_piston_path_e;


static ngx_uint_t ngx_rce_piston_path(ngx_http_request_t *r);
static ngx_uint_t ngx_rce_piston_json_type(ngx_http_request_t *r);
static ngx_int_t ngx_rce_piston_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
static ngx_int_t ngx_rce_piston_message(ngx_http_request_t *r,
    const char *message);
static ngx_int_t ngx_rce_piston_list(ngx_http_request_t *r,
    ngx_uint_t packages);
static ngx_int_t ngx_rce_piston_execute_handler(ngx_http_request_t *r);
static void ngx_rce_piston_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_rce_piston_execute(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_rce_piston_refusal_send(ngx_http_request_t *r,
    ngx_uint_t status, json_t *body);


static ngx_str_t  ngx_rce_piston_paths[] = {
    ngx_string(""),
    ngx_string("runtimes"),
    ngx_string("execute"),
    ngx_string("packages"),
    ngx_string("connect")
};


ngx_int_t
ngx_rce_piston_handler(ngx_http_request_t *r)
{
    ngx_uint_t  path, get;

    path = ngx_rce_piston_path(r);
    get = r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD);

    /* Piston checks the type of every body but a GET's, HEAD's, OPTIONS' */
    if (!get && !(r->method & NGX_HTTP_OPTIONS)
        && !ngx_rce_piston_json_type(r))
    {
        return ngx_rce_piston_refuse(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                     "requests must be of type "
                                     "application/json");
    }

    if (path == NGX_RCE_PISTON_CONNECT && (r->method & NGX_HTTP_GET)) {
        return ngx_rce_connect_handler(r);
    }

    if (get && path == NGX_RCE_PISTON_ROOT) {
        return ngx_rce_piston_message(r, NGX_RCE_PISTON_VERSION);
    }

    if (get && path == NGX_RCE_PISTON_RUNTIMES) {
        return ngx_rce_piston_list(r, 0);
    }

    if (get && path == NGX_RCE_PISTON_PACKAGES) {
        return ngx_rce_piston_list(r, 1);
    }

    if ((r->method & NGX_HTTP_POST) && path == NGX_RCE_PISTON_EXECUTE) {
        return ngx_rce_piston_execute_handler(r);
    }

    if ((r->method & (NGX_HTTP_POST|NGX_HTTP_DELETE))
        && path == NGX_RCE_PISTON_PACKAGES)
    {
        return ngx_rce_piston_refuse(r, NGX_HTTP_NOT_IMPLEMENTED,
                                     "packages are not installed or removed "
                                     "over this API: a language is a worker "
                                     "node's image (GET /api/v2/packages "
                                     "lists them)");
    }

    return ngx_rce_piston_refuse(r, NGX_HTTP_NOT_FOUND, "Not Found");
}


/* what follows the location's prefix, without its slashes, by name */
static ngx_uint_t
ngx_rce_piston_path(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;
    u_char                    *p, *last;
    ngx_uint_t                 i;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (r->uri.len >= clcf->name.len
        && ngx_strncmp(p, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;
    }

    /* Express routes "/runtimes/" as "/runtimes", and ignores case */
    while (p < last && *p == '/') {
        p++;
    }

    if (last > p && last[-1] == '/') {
        last--;
    }

    for (i = 0; i < sizeof(ngx_rce_piston_paths) / sizeof(ngx_str_t); i++) {
        if ((size_t) (last - p) == ngx_rce_piston_paths[i].len
            && ngx_strncasecmp(p, ngx_rce_piston_paths[i].data,
                               ngx_rce_piston_paths[i].len)
               == 0)
        {
            return i;
        }
    }

    return NGX_RCE_PISTON_UNKNOWN;
}


/*
 * application/json, or text/plain (a string body sent by node's fetch(), as
 * npm's piston-client sends it) from a client that is not a browser: a page
 * may POST text/plain anywhere without asking (no CORS preflight), and a
 * browser always says where the page came from (Origin)
 */
static ngx_uint_t
ngx_rce_piston_json_type(ngx_http_request_t *r)
{
    ngx_str_t  *type;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    type = &r->headers_in.content_type->value;

    if (type->len >= sizeof("application/json") - 1
        && ngx_strncasecmp(type->data, (u_char *) "application/json",
                           sizeof("application/json") - 1) == 0)
    {
        return 1;
    }

    if (type->len < sizeof("text/plain") - 1
        || ngx_strncasecmp(type->data, (u_char *) "text/plain",
                           sizeof("text/plain") - 1) != 0)
    {
        return 0;
    }

    return ngx_rce_header_in(r, "Origin") == NULL;
}


/* an error before the body is read: dropped, then {"message"} */
static ngx_int_t
ngx_rce_piston_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_rce_render_piston.send_error(r, NULL, status, message);
}


static ngx_int_t
ngx_rce_piston_message(ngx_http_request_t *r, const char *message)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_rce_send_json(r, NGX_HTTP_OK,
                             json_pack("{s:s}", "message", message));
}


/*
 * What the live nodes run, one entry per language and version: as
 * runtimes, or as Piston's package list (every one installed)
 */
static ngx_int_t
ngx_rce_piston_list(ngx_http_request_t *r, ngx_uint_t packages)
{
    ngx_int_t   rc;
    json_t     *languages, *list, *entry, *versions, *version, *item;
    size_t      i, j;
    ngx_str_t   name;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    languages = ngx_rce_catalogue_languages(ngx_rce_worker);
    list = json_array();

    if (languages == NULL || list == NULL) {
        json_decref(languages);
        json_decref(list);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_array_foreach(languages, i, entry) {
        name.data = (u_char *) json_string_value(json_object_get(entry,
                                                                 "name"));
        name.len = ngx_strlen(name.data);

        versions = ngx_rce_catalogue_versions(ngx_rce_worker, &name);

        json_array_foreach(versions, j, version) {
            item = packages
                   ? json_pack("{s:O, s:O, s:b}",
                               "language", json_object_get(entry, "name"),
                               "language_version", version,
                               "installed", 1)
                   : json_pack("{s:O, s:O, s:O}",
                               "language", json_object_get(entry, "name"),
                               "version", version,
                               "aliases", json_object_get(entry, "aliases"));

            if (item == NULL || json_array_append_new(list, item) != 0) {
                json_decref(versions);
                json_decref(languages);
                json_decref(list);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        json_decref(versions);
    }

    json_decref(languages);

    return ngx_rce_send_json(r, NGX_HTTP_OK, list);
}


static ngx_int_t
ngx_rce_piston_execute_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_int_t            rc;
    const char          *why;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    why = ngx_rce_job_unavailable();
    if (why != NULL) {
        return ngx_rce_piston_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE, why);
    }

    if (r->headers_in.content_length_n
        > (off_t) NGX_RCE_PISTON_MAX_BODY(rlcf->max_code_size))
    {
        return ngx_rce_piston_refuse(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "request entity too large");
    }

    rc = ngx_http_read_client_request_body(r, ngx_rce_piston_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_rce_piston_body_handler(ngx_http_request_t *r)
{
    ngx_rce_body_run(r, ngx_rce_piston_execute);
}


/* the checked document becomes a job, answered by the Piston renderer */
static ngx_int_t
ngx_rce_piston_execute(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_rce_input_error_t   err;
    ngx_str_t               language;
    json_t                 *req, *version, *input, *refusal;
    ngx_uint_t              status;

    req = NULL;

    if (ngx_rce_piston_load(body->data, body->len, &req, &err) != NGX_OK) {
        json_decref(req);
        refusal = ngx_rce_piston_refusal(&err, &status);
        return ngx_rce_piston_refusal_send(r, status, refusal);
    }

    refusal = ngx_rce_piston_document(r, req, &language, &version, &input,
                                 &status);
    json_decref(req);

    if (refusal != NULL) {
        return ngx_rce_piston_refusal_send(r, status, refusal);
    }

    json_decref(version);

    return ngx_rce_job_submit(r, &language, input, &ngx_rce_render_piston);
}


/* Piston's refusal (stolen), {"message"} or {"stack"}, with its status */
static ngx_int_t
ngx_rce_piston_refusal_send(ngx_http_request_t *r, ngx_uint_t status,
    json_t *body)
{
    json_t  *text;

    text = json_object_get(body, "message");
    if (text == NULL) {
        text = json_object_get(body, NGX_RCE_PISTON_STACK);
    }

    return ngx_rce_send_error_body(r, status,
                                   json_is_string(text)
                                   ? json_string_value(text) : "refused",
                                   body);
}
