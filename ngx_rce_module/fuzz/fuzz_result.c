
/*
 * libFuzzer target: a message off the reply channel as the gateway reads it
 * (ngx_rce_result.c) and turns its output into what a client gets
 * (ngx_rce_output.c), without nginx: any bytes are read; a message that
 * cannot be read says why, one that can has its id and verdict; each
 * stage's streams are decoded as the raw route sends them, and rewritten as
 * JSON text and as base64, which must carry the same bytes.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "../ngx_rce_result.h"
#include "ngx_core_stand_in.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_rce_fuzz_stage(json_t *result, const char *name);
static void ngx_rce_fuzz_rewrite(json_t *stage, ngx_str_t *bytes,
    ngx_uint_t *valid, ngx_uint_t base64);


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

    } else {
        if (!json_is_string(json_object_get(res.json, RCE_RES_STATUS))) {
            abort();
        }

        ngx_rce_fuzz_stage(res.json, NULL);
        ngx_rce_fuzz_stage(res.json, RCE_RES_COMPILE);
    }

    json_decref(res.json);

    return 0;
}


/* one stage (the result itself, or its compile object): raw, text, base64 */
static void
ngx_rce_fuzz_stage(json_t *result, const char *name)
{
    json_t      *stage;
    ngx_str_t    bytes[2];
    ngx_uint_t   i, valid[2], base64;
    ngx_int_t    rc;

    stage = (name == NULL) ? result : json_object_get(result, name);
    if (!json_is_object(stage)) {
        return;
    }

    for (i = 0; i < 2; i++) {
        rc = ngx_rce_output_bytes(NULL, stage, i, &bytes[i], &valid[i]);

        if (rc != NGX_OK) {
            if (rc != NGX_DECLINED && rc != NGX_ERROR) {
                abort();
            }

            ngx_rce_fuzz_pool_free();
            return;
        }

        if (valid[i]
            != (ngx_uint_t) rce_utf8_valid(bytes[i].data, bytes[i].len))
        {
            abort();
        }
    }

    for (base64 = 0; base64 < 2; base64++) {
        ngx_rce_fuzz_rewrite(stage, bytes, valid, base64);
    }

    ngx_rce_fuzz_pool_free();
}


/* the stage rewritten for a client, on a copy: the same bytes must come out */
static void
ngx_rce_fuzz_rewrite(json_t *stage, ngx_str_t *bytes, ngx_uint_t *valid,
    ngx_uint_t base64)
{
    json_t      *copy;
    ngx_str_t    out;
    ngx_uint_t   i, out_valid;
    ngx_int_t    rc;

    copy = json_deep_copy(stage);
    if (copy == NULL) {
        return;
    }

    rc = ngx_rce_output_json(NULL, copy, copy, base64);

    if (rc == NGX_OK) {
        for (i = 0; i < 2; i++) {
            if (base64) {
                json_object_set_new(copy, i ? RCE_RES_STDERR_ENCODING
                                            : RCE_RES_STDOUT_ENCODING,
                                    json_string(RCE_ENCODING_BASE64));
            }

            if (ngx_rce_output_bytes(NULL, copy, i, &out, &out_valid) != NGX_OK
                || ((base64 || valid[i])
                    && (out.len != bytes[i].len
                        || ngx_memcmp(out.data, bytes[i].data, out.len) != 0))
                || (!out_valid && !base64))
            {
                abort();
            }
        }

    } else if (rc != NGX_DECLINED && rc != NGX_ERROR) {
        abort();
    }

    json_decref(copy);
}
