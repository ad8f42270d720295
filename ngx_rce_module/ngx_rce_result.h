
/*
 * A node's result, read without nginx's HTTP layer: the message off the
 * reply channel (ngx_rce_result.c).  It needs jansson and nginx's core
 * string functions only, so it runs (and is fuzzed) outside nginx.  Its
 * output streams become what a client reads in the code shared with
 * workerd, common/rce_render.c.
 */


#ifndef _NGX_RCE_RESULT_H_INCLUDED_
#define _NGX_RCE_RESULT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include <rce_protocol.h>


/* a message off the reply channel, read */
typedef struct {
    json_t                     *json;        /* the message's JSON, if any */
    ngx_str_t                   id;          /* into json or the message */
    const char                 *why;         /* NULL: json is a result to
                                                answer with; else why the
                                                message cannot be read */
    ngx_uint_t                  event;       /* json is an event of a
                                                running job (RCE_EVENT_KIND),
                                                not its result */
    char                        text[JSON_ERROR_TEXT_LENGTH];
} ngx_rce_result_t;


/* ngx_rce_result.c */

/*
 * Reads a message: NGX_OK with its job's id in res->id, and res->why NULL
 * (res->json is the result, or an event when res->event) or saying why it
 * cannot be read (not JSON, no verdict, over RCE_RESULT_MAX_BYTES);
 * NGX_DECLINED: no id can be made out,
 * why says what else was wrong.  The caller json_decref()s res->json after
 * its last use of res->id.
 */
ngx_int_t ngx_rce_result_read(const char *message, size_t len,
    ngx_rce_result_t *res);


#endif /* _NGX_RCE_RESULT_H_INCLUDED_ */
