
/*
 * libFuzzer target: the API key file (ngx_rce_keys_file.c) as nginx reads it
 * at configuration time: any bytes are read line by line to the end or the
 * first wrong line; every entry lies within the text, on a line counted so
 * far, with a name and a key that follow the rules.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdlib.h>

#include "../ngx_rce_keys_file.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                *text, *pos, *last;
    ngx_uint_t             line, i;
    ngx_rce_keys_entry_t   e;
    const char            *why;
    ngx_int_t              rc;

    /* a copy of its own size, so that a read past the end is caught */
    text = malloc(size ? size : 1);
    if (text == NULL) {
        return 0;
    }

    memcpy(text, data, size);

    pos = text;
    last = text + size;
    line = 0;

    for ( ;; ) {
        why = NULL;
        rc = ngx_rce_keys_file_next(&pos, last, &line, &e, &why);

        if (pos < text || pos > last) {
            abort();
        }

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            if (why == NULL || rc != NGX_ERROR) {
                abort();
            }
            break;
        }

        if (e.line == 0 || e.line > line
            || e.name.data < text || e.name.data + e.name.len > last
            || e.key.data < text || e.key.data + e.key.len > last
            || e.name.len == 0 || e.name.len > NGX_RCE_KEYS_NAME_MAX
            || e.key.len < NGX_RCE_KEYS_KEY_MIN
            || e.key.len > NGX_RCE_KEYS_KEY_MAX)
        {
            abort();
        }

        for (i = 0; i < e.name.len; i++) {
            if (e.name.data[i] == ':' || e.name.data[i] <= ' ') {
                abort();
            }
        }

        for (i = 0; i < e.key.len; i++) {
            if (e.key.data[i] <= ' ' || e.key.data[i] > '~') {
                abort();
            }
        }
    }

    free(text);

    return 0;
}
