
/*
 * ngx_rce_module: directives, configuration, the per-worker state and the
 * two location handlers, "rce_run" (POST /lang/<language>) and
 * "rce_health" (GET /health).
 */


#include "ngx_rce_module.h"


typedef struct {
    ngx_str_t                   language;    /* canonical name */
} ngx_rce_ctx_t;


/* like ngx_conf_num_bounds_t, but the error names the directive */
typedef struct {
    ngx_conf_post_handler_pt    post_handler;
    ngx_int_t                   low;
    ngx_int_t                   high;
} ngx_rce_bounds_t;


static ngx_int_t ngx_rce_run_handler(ngx_http_request_t *r);
static void ngx_rce_body_handler(ngx_http_request_t *r);

static ngx_int_t ngx_rce_health_handler(ngx_http_request_t *r);

static void *ngx_rce_create_main_conf(ngx_conf_t *cf);
static char *ngx_rce_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_rce_create_loc_conf(ngx_conf_t *cf);
static char *ngx_rce_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_rce_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_rce_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_rce_balance(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_rce_check_positive(ngx_conf_t *cf, void *post, void *data);
static char *ngx_rce_check_bounds(ngx_conf_t *cf, void *post, void *data);

static ngx_int_t ngx_rce_init_process(ngx_cycle_t *cycle);
static void ngx_rce_exit_process(ngx_cycle_t *cycle);
static void ngx_rce_command_connected(ngx_rce_redis_t *rr);
static void ngx_rce_subscriber_connected(ngx_rce_redis_t *rr);
static void ngx_rce_subscriber_lost(ngx_rce_redis_t *rr);


ngx_rce_worker_t  *ngx_rce_worker;


static ngx_conf_post_t  ngx_rce_positive = { ngx_rce_check_positive };

static ngx_rce_bounds_t  ngx_rce_pids_bounds = {
    ngx_rce_check_bounds, 1, 32768
};

static ngx_rce_bounds_t  ngx_rce_files_bounds = {
    ngx_rce_check_bounds, 1, 1024
};


static ngx_command_t  ngx_rce_commands[] = {

    { ngx_string("rce_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_rce_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rce_run"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_RUN,
      NULL },

    { ngx_string("rce_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_HEALTH,
      NULL },

    { ngx_string("rce_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_API,
      NULL },

    { ngx_string("rce_max_files"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, max_files),
      &ngx_rce_files_bounds },

    { ngx_string("rce_balance"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_rce_balance,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rce_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, timeout),
      &ngx_rce_positive },

    { ngx_string("rce_max_code_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, max_code_size),
      &ngx_rce_positive },

    { ngx_string("rce_wall_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, wall_limit),
      &ngx_rce_positive },

    { ngx_string("rce_memory_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, memory_limit),
      &ngx_rce_positive },

    { ngx_string("rce_output_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, output_limit),
      &ngx_rce_positive },

    { ngx_string("rce_pids_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, pids_limit),
      &ngx_rce_pids_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_rce_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_rce_create_main_conf,              /* create main configuration */
    ngx_rce_init_main_conf,                /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_rce_create_loc_conf,               /* create location configuration */
    ngx_rce_merge_loc_conf                 /* merge location configuration */
};


ngx_module_t  ngx_rce_module = {
    NGX_MODULE_V1,
    &ngx_rce_module_ctx,                   /* module context */
    ngx_rce_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_rce_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_rce_exit_process,                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_rce_run_handler(ngx_http_request_t *r)
{
    ngx_rce_worker_t    *w;
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_ctx_t       *ctx;
    ngx_str_t            name, canonical;
    ngx_int_t            rc;
    const char          *why;
    u_char              *p, c;
    size_t               i;
    json_t              *extra;

    w = ngx_rce_worker;
    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (!(r->method & NGX_HTTP_POST)) {
        ngx_str_set(&name, "POST");

        if (ngx_rce_add_header(r, "Allow", &name) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_rce_refuse(r, NGX_HTTP_NOT_ALLOWED,
                              "method not allowed: POST the source code",
                              NULL);
    }

    /* the language is the last path segment: /lang/<language> */
    p = r->uri.data + r->uri.len;

    while (p > r->uri.data && p[-1] != '/') {
        p--;
    }

    name.data = p;
    name.len = r->uri.data + r->uri.len - p;

    for (i = 0; i < name.len; i++) {
        c = ngx_tolower(name.data[i]);

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '+' || c == '-' || c == '_' || c == '.'))
        {
            break;
        }
    }

    why = ngx_rce_unavailable();
    if (why != NULL) {
        return ngx_rce_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, NULL);
    }

    if (i < name.len
        || ngx_rce_nodes_resolve(w, &name, &canonical) != NGX_OK)
    {
        return ngx_rce_unknown_language(r, &name);
    }

    if (r->headers_in.content_length_n > (off_t) rlcf->max_code_size) {
        extra = json_pack("{s:I}", "max_code_size",
                          (json_int_t) rlcf->max_code_size);
        return ngx_rce_refuse(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "the code is larger than the limit", extra);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_rce_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->language.data = ngx_pstrdup(r->pool, &canonical);
    if (ctx->language.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->language.len = canonical.len;

    ngx_http_set_ctx(r, ctx, ngx_rce_module);

    rc = ngx_http_read_client_request_body(r, ngx_rce_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_rce_body_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_ctx_t       *ctx;
    ngx_str_t            code;
    ngx_int_t            rc;
    json_t              *extra, *source;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    ctx = ngx_http_get_module_ctx(r, ngx_rce_module);

    rc = ngx_rce_read_body(r, &code);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (code.len == 0) {
        rc = ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                "empty body: POST the source code", NULL);

    } else if (code.len > rlcf->max_code_size) {
        extra = json_pack("{s:I}", "max_code_size",
                          (json_int_t) rlcf->max_code_size);
        rc = ngx_rce_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                "the code is larger than the limit", extra);

    } else {
        /* jansson checks UTF-8: a job is readable JSON, so the code is text */
        source = json_stringn((char *) code.data, code.len);

        if (source == NULL) {
            rc = ngx_rce_send_error(r, NGX_HTTP_BAD_REQUEST,
                                    "the code is not valid UTF-8", NULL);

        } else {
            rc = ngx_rce_job_submit(r, &ctx->language,
                                    json_pack("{s:o}", RCE_JOB_CODE, source),
                                    ngx_rce_accepts_json(r)
                                    ? NGX_RCE_FORMAT_RESULT
                                    : NGX_RCE_FORMAT_TEXT);

            if (rc == NGX_DONE) {
                return;     /* the job's result or timeout finalizes */
            }
        }
    }

    ngx_http_finalize_request(r, rc);
}


/* the whole request body in one piece, from memory or its temp file */
ngx_int_t
ngx_rce_read_body(ngx_http_request_t *r, ngx_str_t *code)
{
    ngx_chain_t  *cl;
    ngx_buf_t    *b;
    size_t        len;
    ssize_t       n;
    u_char       *p;

    ngx_str_null(code);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    code->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "rce: could not read the request body file");
                return NGX_ERROR;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    code->len = p - code->data;

    return NGX_OK;
}


ngx_int_t
ngx_rce_unknown_language(ngx_http_request_t *r, ngx_str_t *name)
{
    json_t  *extra;

    extra = json_pack("{s:s%, s:o}", "language", name->data, name->len,
                      "known", ngx_rce_nodes_languages(ngx_rce_worker));

    if (extra == NULL) {
        /* the name itself was not UTF-8 */
        extra = json_pack("{s:o}", "known",
                          ngx_rce_nodes_languages(ngx_rce_worker));
    }

    return ngx_rce_refuse(r, NGX_HTTP_NOT_FOUND, "unknown language", extra);
}


static ngx_int_t
ngx_rce_health_handler(ngx_http_request_t *r)
{
    ngx_rce_worker_t  *w;
    ngx_str_t          allow;
    ngx_int_t          rc;
    ngx_uint_t         status;
    json_t            *health;

    w = ngx_rce_worker;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_str_set(&allow, "GET, HEAD");

        if (ngx_rce_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_rce_refuse(r, NGX_HTTP_NOT_ALLOWED, "method not allowed",
                              NULL);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (w == NULL) {
        return ngx_rce_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "not started", NULL);
    }

    health = ngx_rce_nodes_health(w);
    if (health == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    status = (w->command.connected && w->subscribed && w->nodes.nelts > 0)
             ? NGX_HTTP_OK : NGX_HTTP_SERVICE_UNAVAILABLE;

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        if (ngx_rce_add_header(r, "Retry-After",
                               &(ngx_str_t) ngx_string(NGX_RCE_RETRY_AFTER))
            != NGX_OK)
        {
            json_decref(health);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_rce_send_json(r, status, health);
}


/*
 * Before a body is read: is there anywhere to send a job?  NULL if so, else
 * why not, for a 503.  With no live node nobody can tell which languages
 * exist, so that is a 503 too, not a 404.
 */
const char *
ngx_rce_unavailable(void)
{
    ngx_rce_worker_t  *w;

    w = ngx_rce_worker;

    if (w == NULL || !w->command.connected || !w->subscribed) {
        return "redis is unavailable";
    }

    if (w->nodes.nelts == 0) {
        return "no live worker node";
    }

    return NULL;
}


/* an error answered before the body was read: drop the body first */
ngx_int_t
ngx_rce_refuse(ngx_http_request_t *r, ngx_uint_t status, const char *message,
    json_t *extra)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        json_decref(extra);
        return rc;
    }

    return ngx_rce_send_error(r, status, message, extra);
}


static void *
ngx_rce_create_main_conf(ngx_conf_t *cf)
{
    ngx_rce_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_rce_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->redis = { null, 0 };
     *     rmcf->redis_text = { 0, NULL };
     *     rmcf->enabled = 0;
     */

    return rmcf;
}


static char *
ngx_rce_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_rce_main_conf_t  *rmcf = conf;

    if (rmcf->redis.name.data == NULL) {
        ngx_str_set(&rmcf->redis.name, "127.0.0.1");
        ngx_str_set(&rmcf->redis_text, "127.0.0.1:6379");
        rmcf->redis.port = 6379;
    }

    return NGX_CONF_OK;
}


static void *
ngx_rce_create_loc_conf(ngx_conf_t *cf)
{
    ngx_rce_loc_conf_t  *rlcf;

    rlcf = ngx_pcalloc(cf->pool, sizeof(ngx_rce_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rlcf->handler = NGX_RCE_OFF;
     */

    rlcf->balance = NGX_CONF_UNSET_UINT;
    rlcf->timeout = NGX_CONF_UNSET_MSEC;
    rlcf->max_code_size = NGX_CONF_UNSET_SIZE;
    rlcf->max_files = NGX_CONF_UNSET;
    rlcf->wall_limit = NGX_CONF_UNSET_MSEC;
    rlcf->memory_limit = NGX_CONF_UNSET_SIZE;
    rlcf->pids_limit = NGX_CONF_UNSET;
    rlcf->output_limit = NGX_CONF_UNSET_SIZE;

    return rlcf;
}


static char *
ngx_rce_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_rce_loc_conf_t  *prev = parent;
    ngx_rce_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->balance, prev->balance,
                              NGX_RCE_LEAST_LOADED);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 60000);
    ngx_conf_merge_size_value(conf->max_code_size, prev->max_code_size,
                              64 * 1024);
    ngx_conf_merge_value(conf->max_files, prev->max_files, 16);
    ngx_conf_merge_msec_value(conf->wall_limit, prev->wall_limit, 10000);
    ngx_conf_merge_size_value(conf->memory_limit, prev->memory_limit,
                              256 * 1024 * 1024);
    ngx_conf_merge_value(conf->pids_limit, prev->pids_limit, 64);
    ngx_conf_merge_size_value(conf->output_limit, prev->output_limit,
                              64 * 1024);

    if (conf->memory_limit < 8 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_memory_limit\" must be at least 8m");
        return NGX_CONF_ERROR;
    }

    if ((conf->handler == NGX_RCE_RUN || conf->handler == NGX_RCE_API)
        && conf->timeout <= conf->wall_limit)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_timeout\" %Mms must be longer than "
                           "\"rce_wall_limit\" %Mms, or every job that "
                           "uses its time limit answers 504",
                           conf->timeout, conf->wall_limit);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* rce_redis host:port | unix:/path */
static char *
ngx_rce_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rce_main_conf_t  *rmcf = conf;

    ngx_str_t  *value;
    ngx_url_t   u;
    u_char     *p;

    if (rmcf->redis.name.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    rmcf->redis_text = value[1];

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = 6379;
    u.no_resolve = 0;

    /* resolve now: hiredis resolves names with a blocking call */
    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"rce_redis\": %s",
                           &value[1], u.err ? u.err : "bad address");
        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_redis\" \"%V\" has no address", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (u.family == AF_UNIX) {
        rmcf->redis.name = u.host;
        rmcf->redis.port = 0;

        return NGX_CONF_OK;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    rmcf->redis.name.data = p;
    rmcf->redis.name.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                         u.addrs[0].socklen, p,
                                         NGX_SOCKADDR_STRLEN, 0);
    rmcf->redis.port = u.port;

    return NGX_CONF_OK;
}


/* rce_run; rce_health; */
static char *
ngx_rce_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rce_loc_conf_t  *rlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;
    ngx_rce_main_conf_t       *rmcf;

    if (rlcf->handler != NGX_RCE_OFF) {
        return "is duplicate";
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_rce_module);
    rmcf->enabled = 1;

    rlcf->handler = cmd->offset;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (rlcf->handler == NGX_RCE_RUN) ? ngx_rce_run_handler
                    : (rlcf->handler == NGX_RCE_API) ? ngx_rce_api_handler
                                                     : ngx_rce_health_handler;

    return NGX_CONF_OK;
}


/* rce_balance least-loaded | round-robin */
static char *
ngx_rce_balance(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rce_loc_conf_t  *rlcf = conf;

    ngx_str_t  *value;

    if (rlcf->balance != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "least-loaded") == 0) {
        rlcf->balance = NGX_RCE_LEAST_LOADED;

    } else if (ngx_strcmp(value[1].data, "round-robin") == 0) {
        rlcf->balance = NGX_RCE_ROUND_ROBIN;

    } else {
        return "must be \"least-loaded\" or \"round-robin\"";
    }

    return NGX_CONF_OK;
}


static char *
ngx_rce_check_positive(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    /* msec and size slots are both unsigned and pointer-sized here */
    if (*sp == 0) {
        return "must be greater than zero";
    }

    return NGX_CONF_OK;
}


/* a number directive within [low, high]; the message names the bounds */
static char *
ngx_rce_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_rce_bounds_t  *b = post;
    ngx_int_t         *np = data;
    u_char            *msg, *p;

    if (*np >= b->low && *np <= b->high) {
        return NGX_CONF_OK;
    }

    msg = ngx_pnalloc(cf->pool, 64);
    if (msg == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_snprintf(msg, 63, "must be between %i and %i", b->low, b->high);
    *p = '\0';

    return (char *) msg;
}


static ngx_int_t
ngx_rce_init_process(ngx_cycle_t *cycle)
{
    ngx_rce_main_conf_t  *rmcf;
    ngx_rce_worker_t     *w;
    ngx_fd_t              fd;
    u_char                random[sizeof(w->id_prefix) / 2];
    u_char               *p;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    rmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_rce_module);
    if (rmcf == NULL || !rmcf->enabled) {
        return NGX_OK;
    }

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_rce_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->cycle = cycle;
    w->log = cycle->log;
    w->conf = rmcf;

    ngx_rbtree_init(&w->jobs, &w->sentinel, ngx_str_rbtree_insert_value);

    if (ngx_array_init(&w->nodes, cycle->pool, 1, sizeof(ngx_rce_node_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    w->nodes.nelts = 0;

    w->seen = json_object();
    if (w->seen == NULL) {
        return NGX_ERROR;
    }

    /* job ids and the reply channel must be unique across gateways */
    fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE
        || read(fd, random, sizeof(random)) != (ssize_t) sizeof(random))
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "rce: could not read /dev/urandom");
        if (fd != NGX_INVALID_FILE) {
            ngx_close_file(fd);
        }
        return NGX_ERROR;
    }

    ngx_close_file(fd);

    ngx_hex_dump(w->id_prefix, random, sizeof(random));

    w->reply_channel.len = sizeof(RCE_CHANNEL_REPLY) - 1
                           + sizeof(w->id_prefix);
    w->reply_channel.data = ngx_pnalloc(cycle->pool, w->reply_channel.len);
    if (w->reply_channel.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(w->reply_channel.data, RCE_CHANNEL_REPLY,
                   sizeof(RCE_CHANNEL_REPLY) - 1);
    ngx_memcpy(p, w->id_prefix, sizeof(w->id_prefix));

    ngx_rce_worker = w;

    w->refresh.handler = ngx_rce_nodes_refresh;
    w->refresh.data = w;
    w->refresh.log = cycle->log;
    w->refresh.cancelable = 1;

    w->command.role = "command";
    w->command.log = cycle->log;
    w->command.on_connect = ngx_rce_command_connected;

    w->subscriber.role = "subscriber";
    w->subscriber.log = cycle->log;
    w->subscriber.on_connect = ngx_rce_subscriber_connected;
    w->subscriber.on_disconnect = ngx_rce_subscriber_lost;

    ngx_rce_redis_start(&w->command);
    ngx_rce_redis_start(&w->subscriber);

    return NGX_OK;
}


static void
ngx_rce_exit_process(ngx_cycle_t *cycle)
{
    ngx_rce_worker_t  *w;

    w = ngx_rce_worker;
    if (w == NULL) {
        return;
    }

    w->exiting = 1;

    if (w->refresh.timer_set) {
        ngx_del_timer(&w->refresh);
    }

    ngx_rce_redis_stop(&w->subscriber);
    ngx_rce_redis_stop(&w->command);
    ngx_rce_nodes_free(w);
    json_decref(w->seen);

    ngx_rce_worker = NULL;
}


static void
ngx_rce_command_connected(ngx_rce_redis_t *rr)
{
    ngx_rce_worker_t  *w = ngx_rce_worker;

    /* read the node list now rather than at the next tick */
    if (w->refresh.timer_set) {
        ngx_del_timer(&w->refresh);
    }

    ngx_rce_nodes_refresh(&w->refresh);
}


static void
ngx_rce_subscriber_connected(ngx_rce_redis_t *rr)
{
    ngx_rce_job_subscribe(rr);
}


static void
ngx_rce_subscriber_lost(ngx_rce_redis_t *rr)
{
    ngx_rce_worker_t  *w = ngx_rce_worker;

    w->subscribed = 0;

    if (!w->exiting) {
        ngx_rce_job_fail_all(w, NGX_HTTP_SERVICE_UNAVAILABLE,
                             "lost the connection to redis");
    }
}
