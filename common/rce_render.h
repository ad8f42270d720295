/*
 * A node's result as a client reads it, made in one place for both programs: the gateway
 * answers POST /api/v1/run and GET /api/v1/jobs with the v1 document, and the raw route with
 * the exact bytes or the result's streams as text; workerd sends the v1 document as an
 * asynchronous job's callback.
 *
 * The node sends each stream losslessly (docs/protocol.md): the text itself when it is valid
 * UTF-8, else its base64 with "<stream>_encoding": "base64" beside it.  A client reads text,
 * in which bytes that are not UTF-8 become U+FFFD and the stream is named in "lossy", or the
 * base64 of the exact bytes when it asked for it (docs/api.md, "Output: bytes and text").
 */

#ifndef RCE_RENDER_H
#define RCE_RENDER_H

#include <stddef.h>

#include <jansson.h>

#define RCE_RENDER_STDOUT       0       /* the streams of a stage */
#define RCE_RENDER_STDERR       1

#define RCE_RENDER_OK           0       /* what the functions below return */
#define RCE_RENDER_MALFORMED    (-1)    /* the node's result is not one */
#define RCE_RENDER_NOMEM        (-2)    /* out of memory */

/* one stream's exact bytes */
typedef struct {
    const unsigned char  *data;         /* into the stage's string, or decoded */
    size_t                len;
    int                   valid;        /* the bytes are UTF-8 */
    unsigned char        *decoded;      /* malloc'd when they came in base64, else NULL:
                                           the caller free()s it after its last use of data */
} rce_render_bytes_t;

/*
 * The v1 API's document for a node's result (docs/api.md): a new reference the caller
 * owns, or NULL with *malformed set (1: the result is not one, 0: out of memory).
 * base64: each stream in base64 ("encoding": "base64") rather than text.
 * The result is left as it was.
 */
json_t *rce_render_v1(json_t *result, int base64, int *malformed);

/*
 * Sets stage's "stdout" and "stderr" to from's as a client reads them, text or base64, with
 * "encoding" and "lossy" after them, and drops the node's "<stream>_encoding".  stage may be
 * from itself (a result, its compile object or one of its tests, rewritten in place); from
 * not an object (no compile step): nothing to do.  Returns RCE_RENDER_OK,
 * RCE_RENDER_MALFORMED or RCE_RENDER_NOMEM, stage then half rewritten.
 */
int rce_render_streams(json_t *stage, json_t *from, int base64);

/*
 * The exact bytes of a stream (RCE_RENDER_STDOUT, RCE_RENDER_STDERR) of stage, decoded if
 * they came as base64; no stream is no bytes.  Returns RCE_RENDER_OK (the caller then frees
 * bytes->decoded), RCE_RENDER_MALFORMED or RCE_RENDER_NOMEM.
 */
int rce_render_stream_bytes(json_t *stage, int stream, rce_render_bytes_t *bytes);

/*
 * n bytes as a JSON string (a new reference), each byte that is not part of valid UTF-8 as
 * U+FFFD; NULL when memory runs out.  The streamed output of a WebSocket client that did not
 * ask for base64, and a stream's text in the documents.
 */
json_t *rce_render_lossy(const unsigned char *data, size_t n);

#endif
