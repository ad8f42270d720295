
/*
 * A hiredis async context attached to nginx's event loop.
 *
 * hiredis owns the socket; nginx only watches it.  Events are registered
 * level-triggered, so hiredis' add/del read/write hooks map one to one onto
 * nginx events and a reply larger than one read (hiredis reads 16 KiB at a
 * time) is simply reported again on the next loop iteration.  hiredis 0.14
 * has no timers: the connect timeout and the reconnect backoff are nginx
 * timers on rr->timer.
 */


#include "ngx_rce_module.h"


static void ngx_rce_redis_connect(ngx_rce_redis_t *rr);
static void ngx_rce_redis_schedule(ngx_rce_redis_t *rr);
static void ngx_rce_redis_timer_handler(ngx_event_t *ev);
static void ngx_rce_redis_read_handler(ngx_event_t *ev);
static void ngx_rce_redis_write_handler(ngx_event_t *ev);
static void ngx_rce_redis_add_read(void *data);
static void ngx_rce_redis_del_read(void *data);
static void ngx_rce_redis_add_write(void *data);
static void ngx_rce_redis_del_write(void *data);
static void ngx_rce_redis_cleanup(void *data);
static void ngx_rce_redis_connected(const redisAsyncContext *ac, int status);
static void ngx_rce_redis_disconnected(const redisAsyncContext *ac,
    int status);


ngx_int_t
ngx_rce_redis_start(ngx_rce_redis_t *rr)
{
    rr->timer.handler = ngx_rce_redis_timer_handler;
    rr->timer.data = rr;
    rr->timer.log = rr->log;
    rr->timer.cancelable = 1;
    rr->backoff = NGX_RCE_BACKOFF_MIN;
    rr->stopped = 0;

    ngx_rce_redis_connect(rr);

    return NGX_OK;
}


void
ngx_rce_redis_stop(ngx_rce_redis_t *rr)
{
    redisAsyncContext  *ac;

    rr->stopped = 1;

    if (rr->timer.timer_set) {
        ngx_del_timer(&rr->timer);
    }

    ac = rr->ac;

    if (ac != NULL) {
        /* pending callbacks run with a NULL reply, then cleanup runs */
        redisAsyncFree(ac);
    }
}


static void
ngx_rce_redis_connect(ngx_rce_redis_t *rr)
{
    ngx_rce_main_conf_t  *rmcf;
    ngx_connection_t     *c;
    redisAsyncContext    *ac;
    char                  host[NGX_SOCKADDR_STRLEN + 1];

    rmcf = ngx_rce_worker->conf;

    ngx_cpystrn((u_char *) host, rmcf->redis.name.data,
                ngx_min(rmcf->redis.name.len + 1, sizeof(host)));

    if (rmcf->redis.port == 0) {
        ac = redisAsyncConnectUnix(host);

    } else {
        ac = redisAsyncConnect(host, rmcf->redis.port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "rce: redis %s connection to \"%V\": out of memory",
                      rr->role, &rmcf->redis_text);
        ngx_rce_redis_schedule(rr);
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "rce: redis %s connection to \"%V\" failed: %s",
                      rr->role, &rmcf->redis_text, ac->errstr);
        redisAsyncFree(ac);
        ngx_rce_redis_schedule(rr);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rr->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_rce_redis_schedule(rr);
        return;
    }

    c->data = rr;
    c->read->handler = ngx_rce_redis_read_handler;
    c->write->handler = ngx_rce_redis_write_handler;
    c->read->log = rr->log;
    c->write->log = rr->log;

    rr->ac = ac;
    rr->connection = c;

    ac->data = rr;
    ac->ev.data = rr;
    ac->ev.addRead = ngx_rce_redis_add_read;
    ac->ev.delRead = ngx_rce_redis_del_read;
    ac->ev.addWrite = ngx_rce_redis_add_write;
    ac->ev.delWrite = ngx_rce_redis_del_write;
    ac->ev.cleanup = ngx_rce_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_rce_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_rce_redis_disconnected);

    /* hiredis 0.14 does not ask for the write event that ends a connect */
    ngx_rce_redis_add_write(rr);

    ngx_add_timer(&rr->timer, NGX_RCE_CONNECT_TIMEOUT);
}


static void
ngx_rce_redis_schedule(ngx_rce_redis_t *rr)
{
    if (rr->stopped || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rr->timer.timer_set) {
        ngx_del_timer(&rr->timer);
    }

    ngx_add_timer(&rr->timer, rr->backoff);

    rr->backoff = ngx_min(rr->backoff * 2, NGX_RCE_BACKOFF_MAX);
}


static void
ngx_rce_redis_timer_handler(ngx_event_t *ev)
{
    ngx_rce_redis_t  *rr;

    rr = ev->data;

    if (rr->ac != NULL) {
        /* the connect did not finish in time */
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "rce: redis %s connect timed out", rr->role);
        redisAsyncFree(rr->ac);
        ngx_rce_redis_schedule(rr);
        return;
    }

    ngx_rce_redis_connect(rr);
}


static void
ngx_rce_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;
    ngx_rce_redis_t   *rr;

    c = ev->data;
    rr = c->data;

    if (rr->ac != NULL) {
        redisAsyncHandleRead(rr->ac);
    }
}


static void
ngx_rce_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;
    ngx_rce_redis_t   *rr;

    c = ev->data;
    rr = c->data;

    if (rr->ac != NULL) {
        redisAsyncHandleWrite(rr->ac);
    }
}


static void
ngx_rce_redis_add_read(void *data)
{
    ngx_rce_redis_t  *rr = data;

    if (rr->connection != NULL && !rr->connection->read->active) {
        (void) ngx_add_event(rr->connection->read, NGX_READ_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


static void
ngx_rce_redis_del_read(void *data)
{
    ngx_rce_redis_t  *rr = data;

    if (rr->connection != NULL && rr->connection->read->active) {
        (void) ngx_del_event(rr->connection->read, NGX_READ_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


static void
ngx_rce_redis_add_write(void *data)
{
    ngx_rce_redis_t  *rr = data;

    if (rr->connection != NULL && !rr->connection->write->active) {
        (void) ngx_add_event(rr->connection->write, NGX_WRITE_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


static void
ngx_rce_redis_del_write(void *data)
{
    ngx_rce_redis_t  *rr = data;

    if (rr->connection != NULL && rr->connection->write->active) {
        (void) ngx_del_event(rr->connection->write, NGX_WRITE_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


/* hiredis is about to close the fd: forget the nginx side of it */
static void
ngx_rce_redis_cleanup(void *data)
{
    ngx_rce_redis_t   *rr = data;
    ngx_connection_t  *c;

    c = rr->connection;

    if (c != NULL) {
        ngx_rce_redis_del_read(rr);
        ngx_rce_redis_del_write(rr);

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
    }

    rr->connection = NULL;
    rr->ac = NULL;

    if (rr->connected) {
        rr->connected = 0;
    }
}


static void
ngx_rce_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_rce_redis_t  *rr;

    rr = ac->data;

    if (rr->timer.timer_set) {
        ngx_del_timer(&rr->timer);
    }

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "rce: redis %s connection to \"%V\" failed: %s",
                      rr->role, &ngx_rce_worker->conf->redis_text,
                      ac->errstr);

        /* hiredis frees the context after this returns */
        ngx_rce_redis_schedule(rr);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, rr->log, 0,
                  "rce: redis %s connection to \"%V\" established",
                  rr->role, &ngx_rce_worker->conf->redis_text);

    rr->connected = 1;
    rr->backoff = NGX_RCE_BACKOFF_MIN;

    if (rr->on_connect) {
        rr->on_connect(rr);
    }
}


static void
ngx_rce_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_rce_redis_t  *rr;

    rr = ac->data;
    rr->connected = 0;

    if (!rr->stopped) {
        ngx_log_error(NGX_LOG_ERR, rr->log, 0,
                      "rce: redis %s connection lost: %s", rr->role,
                      status == REDIS_OK ? "closed" : ac->errstr);
    }

    if (rr->on_disconnect) {
        rr->on_disconnect(rr);
    }

    /* hiredis frees the context (and calls cleanup) after this returns */
    ngx_rce_redis_schedule(rr);
}
