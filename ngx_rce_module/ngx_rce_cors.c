/*
 * ngx_rce_cors_module: which web pages of other origins may call the API.
 *
 *     rce_cors off | * | <origin> ...;    http, server, location; off
 *
 * A second module in the same shared object, with a preaccess handler of
 * its own: for a request with an Origin header that the location allows it
 * adds Access-Control-Allow-Origin (and Vary, and the headers a page may
 * read) to whatever the request is answered, and answers a preflight
 * (OPTIONS with Access-Control-Request-Method) itself, 204.  A WebSocket
 * upgrade from a page is refused (403) unless the page is of the gateway's
 * own origin or allowed here: browsers apply no CORS to WebSockets, and
 * without this any site its user visits could run code through it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_rce_module.h"


#define NGX_RCE_CORS_MAX_AGE   "600"


typedef struct {
    ngx_array_t                *origins;     /* ngx_str_t, lowercase; NULL:
                                                off, or unset */
    ngx_flag_t                  any;         /* "*" */
    ngx_flag_t                  set;         /* the directive was given */
} ngx_rce_cors_loc_conf_t;


static ngx_int_t ngx_rce_cors_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_rce_cors_allowed(ngx_rce_cors_loc_conf_t *clcf,
    ngx_str_t *origin);
static ngx_uint_t ngx_rce_cors_same_origin(ngx_http_request_t *r,
    ngx_str_t *origin);
static ngx_int_t ngx_rce_cors_add(ngx_http_request_t *r, const char *key,
    const char *value, size_t len);
static ngx_int_t ngx_rce_cors_preflight(ngx_http_request_t *r);
static ngx_int_t ngx_rce_cors_refuse(ngx_http_request_t *r,
    const char *message);
static char *ngx_rce_cors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static void *ngx_rce_cors_create_loc_conf(ngx_conf_t *cf);
static char *ngx_rce_cors_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_rce_cors_init(ngx_conf_t *cf);


static ngx_command_t  ngx_rce_cors_commands[] = {

    { ngx_string("rce_cors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_rce_cors,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_rce_cors_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_rce_cors_init,                     /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_rce_cors_create_loc_conf,          /* create location configuration */
    ngx_rce_cors_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_rce_cors_module = {
    NGX_MODULE_V1,
    &ngx_rce_cors_module_ctx,              /* module context */
    ngx_rce_cors_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_rce_cors_handler(ngx_http_request_t *r)
{
    ngx_int_t                 allowed;
    ngx_table_elt_t          *origin;
    ngx_rce_cors_loc_conf_t  *clcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    origin = ngx_rce_header_in(r, "Origin");
    if (origin == NULL) {
        return NGX_DECLINED;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_rce_cors_module);
    allowed = ngx_rce_cors_allowed(clcf, &origin->value);

    /* a WebSocket's origin is checked in whatever location it ends up */
    if (r->headers_in.upgrade != NULL) {
        if (allowed || ngx_rce_cors_same_origin(r, &origin->value)) {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "rce: a WebSocket from the page of \"%V\" refused: "
                      "not this gateway's origin nor allowed by rce_cors",
                      &origin->value);

        return ngx_rce_cors_refuse(r, "a page of another origin may not "
                                   "open a WebSocket here: list it in "
                                   "rce_cors");
    }

    /* no CORS headers: the browser keeps the answer from the page; and an
       error_page's redirect keeps the headers the first pass added */
    if (!allowed || r->internal) {
        return NGX_DECLINED;
    }

    if (ngx_rce_cors_add(r, "Access-Control-Allow-Origin",
                         clcf->any ? "*" : (char *) origin->value.data,
                         clcf->any ? 1 : origin->value.len) != NGX_OK
        || ngx_rce_cors_add(r, "Vary", "Origin", 6) != NGX_OK
        || ngx_rce_cors_add(r, "Access-Control-Expose-Headers",
                            "Retry-After, WWW-Authenticate, RateLimit, "
                            "RateLimit-Policy, X-RCE-Status, X-RCE-Reason, "
                            "X-RCE-Exit-Code, X-RCE-Job-Id",
                            sizeof("Retry-After, WWW-Authenticate, "
                                   "RateLimit, RateLimit-Policy, "
                                   "X-RCE-Status, X-RCE-Reason, "
                                   "X-RCE-Exit-Code, X-RCE-Job-Id") - 1)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_OPTIONS
        && ngx_rce_header_in(r, "Access-Control-Request-Method") != NULL)
    {
        return ngx_rce_cors_preflight(r);
    }

    return NGX_DECLINED;
}


/* listed (scheme and host compared as lowercase), or "*" */
static ngx_uint_t
ngx_rce_cors_allowed(ngx_rce_cors_loc_conf_t *clcf, ngx_str_t *origin)
{
    ngx_str_t   *o;
    ngx_uint_t   i;

    if (clcf->any) {
        return 1;
    }

    if (clcf->origins == NULL) {
        return 0;
    }

    o = clcf->origins->elts;

    for (i = 0; i < clcf->origins->nelts; i++) {
        if (o[i].len == origin->len
            && ngx_strncasecmp(o[i].data, origin->data, origin->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* "http://" + the Host the request was sent to: the page is the gateway's */
static ngx_uint_t
ngx_rce_cors_same_origin(ngx_http_request_t *r, ngx_str_t *origin)
{
    ngx_str_t  *host;
    size_t      skip;

    if (r->headers_in.host == NULL) {
        return 0;
    }

    host = &r->headers_in.host->value;

    if (origin->len > 7
        && ngx_strncasecmp(origin->data, (u_char *) "http://", 7) == 0)
    {
        skip = 7;

    } else if (origin->len > 8
               && ngx_strncasecmp(origin->data, (u_char *) "https://", 8)
                  == 0)
    {
        skip = 8;

    } else {
        return 0;
    }

    return origin->len - skip == host->len
           && ngx_strncasecmp(origin->data + skip, host->data, host->len)
              == 0;
}


static ngx_int_t
ngx_rce_cors_add(ngx_http_request_t *r, const char *key, const char *value,
    size_t len)
{
    ngx_str_t  v;

    v.data = (u_char *) value;
    v.len = len;

    return ngx_rce_add_header(r, key, &v);
}


/* 204: the methods and headers the API takes, for ten minutes */
static ngx_int_t
ngx_rce_cors_preflight(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_rce_cors_add(r, "Access-Control-Allow-Methods",
                         "GET, HEAD, POST, DELETE",
                         sizeof("GET, HEAD, POST, DELETE") - 1)
           != NGX_OK
        || ngx_rce_cors_add(r, "Access-Control-Allow-Headers",
                            "Content-Type, Accept, Authorization, X-API-Key",
                            sizeof("Content-Type, Accept, Authorization, "
                                   "X-API-Key") - 1)
           != NGX_OK
        || ngx_rce_cors_add(r, "Access-Control-Max-Age",
                            NGX_RCE_CORS_MAX_AGE,
                            sizeof(NGX_RCE_CORS_MAX_AGE) - 1)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* 403 with the module's JSON error, the request ended here */
static ngx_int_t
ngx_rce_cors_refuse(ngx_http_request_t *r, const char *message)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_rce_send_error(r, NGX_HTTP_FORBIDDEN, message, NULL);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static char *
ngx_rce_cors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rce_cors_loc_conf_t  *clcf = conf;

    ngx_str_t   *value, *o;
    ngx_uint_t   i;

    if (clcf->set) {
        return "is duplicate";
    }

    clcf->set = 1;
    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "*") == 0) {
        clcf->any = 1;
        return NGX_CONF_OK;
    }

    clcf->origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_str_t));
    if (clcf->origins == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        /* an origin: scheme://host[:port], nothing after it */
        if ((ngx_strncasecmp(value[i].data, (u_char *) "http://", 7) != 0
             && ngx_strncasecmp(value[i].data, (u_char *) "https://", 8)
                != 0)
            || ngx_strlchr(value[i].data + 8, value[i].data + value[i].len,
                           '/')
               != NULL
            || value[i].len <= 8)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"rce_cors\": \"%V\" is not an origin "
                               "(scheme://host[:port], no path), \"*\" or "
                               "\"off\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        o = ngx_array_push(clcf->origins);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        *o = value[i];
    }

    return NGX_CONF_OK;
}


static void *
ngx_rce_cors_create_loc_conf(ngx_conf_t *cf)
{
    ngx_rce_cors_loc_conf_t  *clcf;

    clcf = ngx_pcalloc(cf->pool, sizeof(ngx_rce_cors_loc_conf_t));
    if (clcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     clcf->origins = NULL;
     *     clcf->any = 0;
     *     clcf->set = 0;
     */

    return clcf;
}


static char *
ngx_rce_cors_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_rce_cors_loc_conf_t  *prev = parent;
    ngx_rce_cors_loc_conf_t  *conf = child;

    if (!conf->set) {
        conf->origins = prev->origins;
        conf->any = prev->any;
        conf->set = prev->set;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_rce_cors_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_rce_cors_handler;

    return NGX_OK;
}
