
/*
 * libFuzzer target: a message off the reply channel as the gateway reads it
 * (ngx_rce_result.c) and turns its output into what a client gets (the code
 * shared with workerd, common/rce_render.c), without nginx: any bytes are
 * read; a message that cannot be read says why, one that can has its id and
 * verdict, or is an event (RCE_EVENT_KIND); each stage's streams are decoded as the raw route sends them, and
 * rewritten as JSON text and as base64, which must carry the same bytes; the
 * v1 document is made in both encodings, and leaves the result as it was.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <rce_render.h>

#include "../ngx_rce_result.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_rce_fuzz_stage(json_t *result, const char *name);
static void ngx_rce_fuzz_rewrite(json_t *stage, rce_render_bytes_t *bytes,
    int base64);
static void ngx_rce_fuzz_v1(json_t *result);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_rce_result_t  res;

    if (ngx_rce_result_read((const char *) data, size, &res) != NGX_OK) {
        if (res.json != NULL || res.why == NULL || res.why[0] == '\0') {
            abort();
        }

        return 0;
    }

    if (res.id.len == 0
        || (res.json == NULL
            && (res.id.data < (u_char *) data
                || res.id.data + res.id.len > (u_char *) data + size)))
    {
        abort();
    }

    if (res.why != NULL) {
        if (memchr(res.why, '\0', JSON_ERROR_TEXT_LENGTH) == NULL) {
            abort();
        }

    } else if (res.event) {
        /* an event of a running job: its kind is a string */
        if (!json_is_string(json_object_get(res.json, RCE_EVENT_KIND))) {
            abort();
        }

    } else {
        if (!json_is_string(json_object_get(res.json, RCE_RES_STATUS))) {
            abort();
        }

        ngx_rce_fuzz_stage(res.json, NULL);
        ngx_rce_fuzz_stage(res.json, RCE_RES_COMPILE);
        ngx_rce_fuzz_v1(res.json);
    }

    json_decref(res.json);

    return 0;
}


/* one stage (the result itself, or its compile object): raw, text, base64 */
static void
ngx_rce_fuzz_stage(json_t *result, const char *name)
{
    int                  i, rc, base64;
    json_t              *stage;
    rce_render_bytes_t   bytes[2];

    stage = (name == NULL) ? result : json_object_get(result, name);
    if (!json_is_object(stage)) {
        return;
    }

    bytes[0].decoded = NULL;
    bytes[1].decoded = NULL;

    for (i = 0; i < 2; i++) {
        rc = rce_render_stream_bytes(stage, i, &bytes[i]);

        if (rc != RCE_RENDER_OK) {
            if (rc != RCE_RENDER_MALFORMED && rc != RCE_RENDER_NOMEM) {
                abort();
            }

            goto done;
        }

        if (bytes[i].valid != rce_utf8_valid(bytes[i].data, bytes[i].len)) {
            abort();
        }
    }

    for (base64 = 0; base64 < 2; base64++) {
        ngx_rce_fuzz_rewrite(stage, bytes, base64);
    }

done:

    free(bytes[0].decoded);
    free(bytes[1].decoded);
}


/* the stage rewritten for a client, on a copy: the same bytes must come out */
static void
ngx_rce_fuzz_rewrite(json_t *stage, rce_render_bytes_t *bytes, int base64)
{
    int                  i, rc;
    json_t              *copy;
    rce_render_bytes_t   out;

    copy = json_deep_copy(stage);
    if (copy == NULL) {
        return;
    }

    rc = rce_render_streams(copy, copy, base64);

    if (rc == RCE_RENDER_OK) {
        for (i = 0; i < 2; i++) {
            if (base64) {
                json_object_set_new(copy, i ? RCE_RES_STDERR_ENCODING
                                            : RCE_RES_STDOUT_ENCODING,
                                    json_string(RCE_ENCODING_BASE64));
            }

            if (rce_render_stream_bytes(copy, i, &out) != RCE_RENDER_OK) {
                abort();
            }

            if (((base64 || bytes[i].valid)
                 && (out.len != bytes[i].len
                     || ngx_memcmp(out.data, bytes[i].data, out.len) != 0))
                || (!out.valid && !base64))
            {
                abort();
            }

            free(out.decoded);
        }

    } else if (rc != RCE_RENDER_MALFORMED && rc != RCE_RENDER_NOMEM) {
        abort();
    }

    json_decref(copy);
}


/* the v1 document, text and base64: the result stays as it was */
static void
ngx_rce_fuzz_v1(json_t *result)
{
    int      base64, malformed;
    char    *before, *after;
    json_t  *doc;

    before = json_dumps(result, JSON_COMPACT);
    if (before == NULL) {
        return;
    }

    for (base64 = 0; base64 < 2; base64++) {
        malformed = -1;
        doc = rce_render_v1(result, base64, &malformed);

        if (doc == NULL ? (malformed != 0 && malformed != 1)
                        : (malformed != 0
                           || !json_is_string(json_object_get(doc, "status"))))
        {
            abort();
        }

        json_decref(doc);
    }

    after = json_dumps(result, JSON_COMPACT);

    if (after == NULL || ngx_strcmp(before, after) != 0) {
        abort();
    }

    free(before);
    free(after);
}
