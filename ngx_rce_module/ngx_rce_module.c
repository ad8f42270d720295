
/*
 * ngx_rce_module: directives, configuration, and the per-worker state from
 * process start to exit (the two Redis connections and what their connect
 * and disconnect start or stop).  Each route directive puts its location's
 * content handler in place: the routes are ngx_rce_lang.c, ngx_rce_api.c,
 * ngx_rce_jobs.c, ngx_rce_piston.c, ngx_rce_health.c and
 * ngx_rce_metrics.c, and ngx_rce_error.c answers nginx's own refusals.
 */


#include "ngx_rce_module.h"


/* like ngx_conf_num_bounds_t, but the error names the directive */
typedef struct {
    ngx_conf_post_handler_pt    post_handler;
    ngx_int_t                   low;
    ngx_int_t                   high;
} ngx_rce_bounds_t;


static ngx_int_t ngx_rce_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_rce_postconfiguration(ngx_conf_t *cf);
static void *ngx_rce_create_main_conf(ngx_conf_t *cf);
static char *ngx_rce_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_rce_create_loc_conf(ngx_conf_t *cf);
static char *ngx_rce_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_rce_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_rce_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_rce_api_gone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_rce_balance(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_rce_check_positive(ngx_conf_t *cf, void *post, void *data);
static char *ngx_rce_check_bounds(ngx_conf_t *cf, void *post, void *data);
static char *ngx_rce_check_ttl(ngx_conf_t *cf, void *post, void *data);

static ngx_int_t ngx_rce_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_rce_init_names(ngx_rce_worker_t *w);
static void ngx_rce_exit_process(ngx_cycle_t *cycle);
static void ngx_rce_command_connected(ngx_rce_redis_t *rr);
static void ngx_rce_subscriber_lost(ngx_rce_redis_t *rr);


ngx_rce_worker_t  *ngx_rce_worker;


/* the content handler of each route, by ngx_rce_handler_e */
static ngx_http_handler_pt  ngx_rce_handlers[] = {
    NULL,
    ngx_rce_lang_handler,
    ngx_rce_health_handler,
    ngx_rce_api_run_handler,
    ngx_rce_api_languages_handler,
    ngx_rce_jobs_handler,
    ngx_rce_error_handler,
    ngx_rce_piston_handler,
    ngx_rce_metrics_handler
};


static ngx_conf_post_t  ngx_rce_positive = { ngx_rce_check_positive };

static ngx_conf_post_t  ngx_rce_ttl_bounds = { ngx_rce_check_ttl };

static ngx_rce_bounds_t  ngx_rce_pids_bounds = {
    ngx_rce_check_bounds, 1, 32768
};

static ngx_rce_bounds_t  ngx_rce_files_bounds = {
    ngx_rce_check_bounds, 1, 1024
};

static ngx_rce_bounds_t  ngx_rce_batch_bounds = {
    ngx_rce_check_bounds, 1, 10000
};

/* 0 turns judge mode off */
static ngx_rce_bounds_t  ngx_rce_tests_bounds = {
    ngx_rce_check_bounds, 0, RCE_TESTS_MAX
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

    { ngx_string("rce_api_run"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_API_RUN,
      NULL },

    { ngx_string("rce_api_languages"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_API_LANGUAGES,
      NULL },

    { ngx_string("rce_api_jobs"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_API_JOBS,
      NULL },

    { ngx_string("rce_api_piston"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_API_PISTON,
      NULL },

    { ngx_string("rce_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_METRICS,
      NULL },

    { ngx_string("rce_compile_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, compile_limit),
      &ngx_rce_positive },

    { ngx_string("rce_result_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, result_ttl),
      &ngx_rce_ttl_bounds },

    { ngx_string("rce_jobs_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, jobs_timeout),
      &ngx_rce_positive },

    { ngx_string("rce_max_wait"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, max_wait),
      NULL },

    { ngx_string("rce_max_batch"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, max_batch),
      &ngx_rce_batch_bounds },

    { ngx_string("rce_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_RCE_ERROR,
      NULL },

    /* routed by URI suffix until one directive per endpoint replaced it */
    { ngx_string("rce_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rce_api_gone,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rce_max_files"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, max_files),
      &ngx_rce_files_bounds },

    { ngx_string("rce_max_tests"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, max_tests),
      &ngx_rce_tests_bounds },

    { ngx_string("rce_tests_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, tests_timeout),
      &ngx_rce_positive },

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

    { ngx_string("rce_stream_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, stream_buffer),
      &ngx_rce_positive },

    { ngx_string("rce_api_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_rce_keys_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rce_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_rce_limit_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rce_pids_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rce_loc_conf_t, pids_limit),
      &ngx_rce_pids_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_rce_module_ctx = {
    ngx_rce_preconfiguration,              /* preconfiguration */
    ngx_rce_postconfiguration,             /* postconfiguration */

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


/* $rce_client */
static ngx_int_t
ngx_rce_preconfiguration(ngx_conf_t *cf)
{
    return ngx_rce_keys_add_variable(cf);
}


/*
 * The access phase: the key check, then the quota (nginx runs a phase's
 * handlers in the reverse order of their registration); and, once a
 * location uses the module, its counters (ngx_rce_metrics.c)
 */
static ngx_int_t
ngx_rce_postconfiguration(ngx_conf_t *cf)
{
    ngx_rce_main_conf_t        *rmcf;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_handler_pt        *h;

    if (ngx_rce_keys_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_rce_limit_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_rce_keys_access_handler;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_rce_module);

    if (!rmcf->enabled) {
        return NGX_OK;
    }

    return ngx_rce_metrics_init(cf, rmcf);
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
    rlcf->max_tests = NGX_CONF_UNSET;
    rlcf->tests_timeout = NGX_CONF_UNSET_MSEC;
    rlcf->wall_limit = NGX_CONF_UNSET_MSEC;
    rlcf->compile_limit = NGX_CONF_UNSET_MSEC;
    rlcf->memory_limit = NGX_CONF_UNSET_SIZE;
    rlcf->pids_limit = NGX_CONF_UNSET;
    rlcf->output_limit = NGX_CONF_UNSET_SIZE;
    rlcf->stream_buffer = NGX_CONF_UNSET_SIZE;
    rlcf->result_ttl = NGX_CONF_UNSET;
    rlcf->jobs_timeout = NGX_CONF_UNSET_MSEC;
    rlcf->max_wait = NGX_CONF_UNSET_MSEC;
    rlcf->max_batch = NGX_CONF_UNSET;
    rlcf->keys = NGX_CONF_UNSET_PTR;
    rlcf->limit = NGX_CONF_UNSET_PTR;

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
    ngx_conf_merge_value(conf->max_tests, prev->max_tests, 100);
    ngx_conf_merge_msec_value(conf->tests_timeout, prev->tests_timeout,
                              300000);
    ngx_conf_merge_msec_value(conf->wall_limit, prev->wall_limit, 10000);
    ngx_conf_merge_msec_value(conf->compile_limit, prev->compile_limit,
                              20000);
    ngx_conf_merge_size_value(conf->memory_limit, prev->memory_limit,
                              256 * 1024 * 1024);
    ngx_conf_merge_value(conf->pids_limit, prev->pids_limit, 64);
    ngx_conf_merge_size_value(conf->output_limit, prev->output_limit,
                              64 * 1024);
    ngx_conf_merge_size_value(conf->stream_buffer, prev->stream_buffer,
                              8 * 1024 * 1024);
    ngx_conf_merge_sec_value(conf->result_ttl, prev->result_ttl, 3600);
    ngx_conf_merge_msec_value(conf->jobs_timeout, prev->jobs_timeout,
                              3600000);
    ngx_conf_merge_msec_value(conf->max_wait, prev->max_wait, 60000);
    ngx_conf_merge_value(conf->max_batch, prev->max_batch, 100);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_ptr_value(conf->limit, prev->limit, NULL);

    if (conf->memory_limit < 8 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_memory_limit\" must be at least 8m");
        return NGX_CONF_ERROR;
    }

    if ((conf->handler == NGX_RCE_RUN || conf->handler == NGX_RCE_API_RUN
         || conf->handler == NGX_RCE_API_PISTON)
        && conf->timeout <= conf->wall_limit)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_timeout\" %Mms must be longer than "
                           "\"rce_wall_limit\" %Mms, or every job that "
                           "uses its time limit answers 504",
                           conf->timeout, conf->wall_limit);
        return NGX_CONF_ERROR;
    }

    /* a Piston request may use its compile and its run limits both */
    if (conf->handler == NGX_RCE_API_PISTON
        && conf->timeout <= conf->wall_limit + conf->compile_limit)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_timeout\" %Mms must be longer than "
                           "\"rce_wall_limit\" %Mms and "
                           "\"rce_compile_limit\" %Mms together, or a "
                           "Piston request that uses both answers 504",
                           conf->timeout, conf->wall_limit,
                           conf->compile_limit);
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


/* rce_run; rce_health; rce_api_run; rce_api_languages; rce_api_jobs;
 * rce_api_piston; rce_error; rce_metrics; */
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
    clcf->handler = ngx_rce_handlers[rlcf->handler];

    return NGX_CONF_OK;
}


static char *
ngx_rce_api_gone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return "is replaced by one directive per endpoint: "
           "\"location = /api/v1/run { rce_api_run; }\" and "
           "\"location = /api/v1/languages { rce_api_languages; }\"";
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


/* rce_result_ttl: 1 s to RCE_ASYNC_RESULT_TTL_MAX_S, which nodes hold to */
static char *
ngx_rce_check_ttl(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *tp = data;

    if (*tp < 1 || *tp > RCE_ASYNC_RESULT_TTL_MAX_S) {
        return "must be between 1s and 7d";
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
    ngx_rbtree_init(&w->watchers, &w->watchers_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&w->charges, &w->charges_sentinel,
                    ngx_str_rbtree_insert_value);

    if (ngx_array_init(&w->nodes, cycle->pool, 1, sizeof(ngx_rce_node_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    w->nodes.nelts = 0;

    w->seen = json_object();
    if (w->seen == NULL || ngx_rce_init_names(w) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_rce_worker = w;

    w->refresh.handler = ngx_rce_nodes_refresh;
    w->refresh.data = w;
    w->refresh.log = cycle->log;
    w->refresh.cancelable = 1;
    w->on_nodes = ngx_rce_job_orphans;

    w->command.role = "command";
    w->command.log = cycle->log;
    w->command.on_connect = ngx_rce_command_connected;

    w->subscriber.role = "subscriber";
    w->subscriber.log = cycle->log;
    w->subscriber.on_connect = ngx_rce_job_subscribe;
    w->subscriber.on_disconnect = ngx_rce_subscriber_lost;

    ngx_rce_redis_start(&w->command);
    ngx_rce_redis_start(&w->subscriber);

    return NGX_OK;
}


/* job ids and the reply channel must be unique across gateways */
static ngx_int_t
ngx_rce_init_names(ngx_rce_worker_t *w)
{
    ngx_fd_t   fd;
    u_char     random[sizeof(w->id_prefix) / 2];
    u_char    *p;

    fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE
        || read(fd, random, sizeof(random)) != (ssize_t) sizeof(random))
    {
        ngx_log_error(NGX_LOG_EMERG, w->log, ngx_errno,
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
    w->reply_channel.data = ngx_pnalloc(w->cycle->pool, w->reply_channel.len);
    if (w->reply_channel.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(w->reply_channel.data, RCE_CHANNEL_REPLY,
                   sizeof(RCE_CHANNEL_REPLY) - 1);
    ngx_memcpy(p, w->id_prefix, sizeof(w->id_prefix));

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

    /* the streamed jobs of connections that go with this process stop */
    ngx_rce_feed_flush(w);

    ngx_rce_redis_stop(&w->subscriber);
    ngx_rce_redis_stop(&w->command);
    ngx_rce_nodes_free(w);
    ngx_rce_job_charges_free(w);
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
ngx_rce_subscriber_lost(ngx_rce_redis_t *rr)
{
    ngx_rce_worker_t  *w = ngx_rce_worker;

    w->subscribed = 0;

    if (!w->exiting) {
        ngx_rce_job_fail_all(w, NGX_HTTP_SERVICE_UNAVAILABLE,
                             "lost the connection to redis");
    }
}
