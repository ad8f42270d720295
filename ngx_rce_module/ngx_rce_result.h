
/*
 * A node's result, read without nginx's HTTP layer: the message off the
 * reply channel (ngx_rce_result.c) and its output streams (ngx_rce_output.c).
 * They need jansson, nginx's core string functions and a pool only, so they
 * run (and are fuzzed) outside nginx.
 */


#ifndef _NGX_RCE_RESULT_H_INCLUDED_
#define _NGX_RCE_RESULT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include <rce_protocol.h>


#define NGX_RCE_OUTPUT_STDOUT        0       /* the streams of a result */
#define NGX_RCE_OUTPUT_STDERR        1


/* a message off the reply channel, read */
typedef struct {
    json_t                     *json;        /* the message's JSON, if any */
    ngx_str_t                   id;          /* into json or the message */
    const char                 *why;         /* NULL: json is a result to
                                                answer with; else why the
                                                message cannot be read */
    char                        text[JSON_ERROR_TEXT_LENGTH];
} ngx_rce_result_t;


/* ngx_rce_result.c */

/*
 * Reads a message: NGX_OK with its job's id in res->id, and res->why NULL
 * (res->json is the result) or saying why it cannot be read (not JSON, no
 * verdict, over RCE_RESULT_MAX_BYTES); NGX_DECLINED: no id can be made out,
 * why says what else was wrong.  The caller json_decref()s res->json after
 * its last use of res->id.
 */
ngx_int_t ngx_rce_result_read(const char *message, size_t len,
    ngx_rce_result_t *res);


/* ngx_rce_output.c */

/*
 * The exact bytes of a stream of stage (the result, or its compile object),
 * decoded into pool if they came as base64; valid says they are UTF-8.
 * NGX_DECLINED: the stream is malformed; NGX_ERROR: no memory.
 */
ngx_int_t ngx_rce_output_bytes(ngx_pool_t *pool, json_t *stage,
    ngx_uint_t stream, ngx_str_t *bytes, ngx_uint_t *valid);

/*
 * Sets stage's "stdout" and "stderr" to from's as a client reads them: text
 * (U+FFFD for bytes that are not UTF-8, the stream then named in "lossy")
 * or base64, with "encoding" and "lossy"; drops the node's
 * <stream>_encoding.  stage may be from itself; from not an object (a null
 * compile step): nothing to do.  NGX_DECLINED: malformed; NGX_ERROR: no
 * memory.
 */
ngx_int_t ngx_rce_output_json(ngx_pool_t *pool, json_t *stage, json_t *from,
    ngx_uint_t base64);


#endif /* _NGX_RCE_RESULT_H_INCLUDED_ */
