
/*
 * A result's output streams.  The node sends each one losslessly: the text
 * itself when it is valid UTF-8 (NUL included, as \u0000), else its base64
 * with "<stream>_encoding": "base64" beside it (docs/protocol.md).  Here
 * they become what a client reads: the exact bytes for the raw route, or
 * JSON text, in which bytes that are not UTF-8 become U+FFFD and the stream
 * is named in "lossy", or base64 for a client that asked for it.
 */


#include "ngx_rce_result.h"


#define NGX_RCE_OUTPUT_ENCODING     "encoding"
#define NGX_RCE_OUTPUT_LOSSY        "lossy"


static json_t *ngx_rce_output_text(ngx_pool_t *pool, ngx_str_t *bytes,
    ngx_uint_t valid, ngx_uint_t stream, json_t *lossy);
static json_t *ngx_rce_output_base64(ngx_pool_t *pool, ngx_str_t *bytes);


/* indexed by NGX_RCE_OUTPUT_STDOUT, NGX_RCE_OUTPUT_STDERR */
static struct {
    const char   *name;
    const char   *encoding;
} ngx_rce_output_streams[] = {
    { RCE_RES_STDOUT, RCE_RES_STDOUT_ENCODING },
    { RCE_RES_STDERR, RCE_RES_STDERR_ENCODING }
};


ngx_int_t
ngx_rce_output_bytes(ngx_pool_t *pool, json_t *stage, ngx_uint_t stream,
    ngx_str_t *bytes, ngx_uint_t *valid)
{
    json_t       *value;
    const char   *encoding;
    ngx_str_t     src;

    value = json_object_get(stage, ngx_rce_output_streams[stream].name);
    encoding = json_string_value(json_object_get(stage,
                                     ngx_rce_output_streams[stream].encoding));

    src.data = (u_char *) json_string_value(value);
    src.len = json_string_length(value);

    if (src.data == NULL) {
        ngx_str_set(bytes, "");
        *valid = 1;
        return NGX_OK;
    }

    if (encoding == NULL || ngx_strcmp(encoding, RCE_ENCODING_UTF8) == 0) {
        /* jansson let only valid UTF-8 into a string */
        *bytes = src;
        *valid = 1;
        return NGX_OK;
    }

    if (ngx_strcmp(encoding, RCE_ENCODING_BASE64) != 0) {
        return NGX_DECLINED;
    }

    bytes->data = ngx_pnalloc(pool, ngx_base64_decoded_length(src.len) + 1);
    if (bytes->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64(bytes, &src) != NGX_OK) {
        return NGX_DECLINED;
    }

    *valid = rce_utf8_valid(bytes->data, bytes->len);

    return NGX_OK;
}


ngx_int_t
ngx_rce_output_json(ngx_pool_t *pool, json_t *stage, json_t *from,
    ngx_uint_t base64)
{
    json_t      *lossy, *value;
    ngx_str_t    bytes;
    ngx_uint_t   i, valid;
    ngx_int_t    rc;

    if (!json_is_object(from)) {
        return NGX_OK;      /* no compile step */
    }

    lossy = json_array();
    if (lossy == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        rc = ngx_rce_output_bytes(pool, from, i, &bytes, &valid);
        if (rc != NGX_OK) {
            json_decref(lossy);
            return rc;
        }

        value = base64 ? ngx_rce_output_base64(pool, &bytes)
                       : ngx_rce_output_text(pool, &bytes, valid, i, lossy);

        /* bytes may point into from's old value: set_new frees it after */
        if (json_object_set_new(stage, ngx_rce_output_streams[i].name, value)
            != 0)
        {
            json_decref(lossy);
            return NGX_ERROR;
        }

        json_object_del(stage, ngx_rce_output_streams[i].encoding);
    }

    if (json_object_set_new(stage, NGX_RCE_OUTPUT_ENCODING,
                            json_string(base64 ? RCE_ENCODING_BASE64
                                               : RCE_ENCODING_UTF8))
        != 0
        || json_object_set_new(stage, NGX_RCE_OUTPUT_LOSSY, lossy) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* bytes as a JSON string: bytes that are not UTF-8 become U+FFFD */
static json_t *
ngx_rce_output_text(ngx_pool_t *pool, ngx_str_t *bytes, ngx_uint_t valid,
    ngx_uint_t stream, json_t *lossy)
{
    u_char  *p;
    size_t   len;

    if (valid) {
        return json_stringn_nocheck((char *) bytes->data, bytes->len);
    }

    p = ngx_pnalloc(pool, bytes->len * 3 + 1);
    if (p == NULL) {
        return NULL;
    }

    len = rce_utf8_repair(bytes->data, bytes->len, p);

    if (json_array_append_new(lossy,
                              json_string(ngx_rce_output_streams[stream].name))
        != 0)
    {
        return NULL;
    }

    return json_stringn_nocheck((char *) p, len);
}


static json_t *
ngx_rce_output_base64(ngx_pool_t *pool, ngx_str_t *bytes)
{
    ngx_str_t  text;

    text.data = ngx_pnalloc(pool, ngx_base64_encoded_length(bytes->len) + 1);
    if (text.data == NULL) {
        return NULL;
    }

    ngx_encode_base64(&text, bytes);

    return json_stringn_nocheck((char *) text.data, text.len);
}
