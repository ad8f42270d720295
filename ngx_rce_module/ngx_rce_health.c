
/*
 * The health route, "rce_health": GET /health, 200 while a job could be
 * queued (Redis connected and subscribed, a live node), 503 otherwise; the
 * body is the catalogue's picture of the nodes either way.
 */


#include "ngx_rce_module.h"


ngx_int_t
ngx_rce_health_handler(ngx_http_request_t *r)
{
    ngx_rce_worker_t  *w;
    ngx_int_t          rc;
    ngx_uint_t         status;
    json_t            *health;

    rc = ngx_rce_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    w = ngx_rce_worker;

    if (w == NULL) {
        return ngx_rce_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "not started", NULL);
    }

    health = ngx_rce_catalogue_health(w);
    if (health == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    status = (w->command.connected && w->subscribed && w->nodes.nelts > 0)
             ? NGX_HTTP_OK : NGX_HTTP_SERVICE_UNAVAILABLE;

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_rce_add_retry_after(r) != NGX_OK)
    {
        json_decref(health);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rce_send_json(r, status, health);
}
