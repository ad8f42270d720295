
/*
 * nginx-dev ships nginx's headers, not its core's .c files: the few core
 * functions the module's nginx-free files call are served here for the
 * fuzz targets.  Base64 is workerd's (both are RFC 4648, padding optional
 * on decoding); a pool allocation is a malloc() the target frees after each
 * input with ngx_rce_fuzz_pool_free().
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_core_stand_in.h"
#include "../../workerd/base64.h"


#define NGX_RCE_FUZZ_POOL_MAX  64


static void        *ngx_rce_fuzz_blocks[NGX_RCE_FUZZ_POOL_MAX];
static ngx_uint_t   ngx_rce_fuzz_nblocks;


ngx_int_t
ngx_decode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    char    *out;
    size_t   len;

    if (base64_decode((const char *) src->data, src->len, &out, &len) != 0) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, out, len);
    dst->len = len;
    free(out);

    return NGX_OK;
}


void
ngx_encode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    base64_encode(src->data, src->len, (char *) dst->data);
    dst->len = base64_encoded_len(src->len);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    (void) pool;

    if (ngx_rce_fuzz_nblocks == NGX_RCE_FUZZ_POOL_MAX) {
        return NULL;        /* the callers' out-of-memory path */
    }

    p = malloc(size);
    if (p != NULL) {
        ngx_rce_fuzz_blocks[ngx_rce_fuzz_nblocks++] = p;
    }

    return p;
}


void
ngx_rce_fuzz_pool_free(void)
{
    while (ngx_rce_fuzz_nblocks > 0) {
        free(ngx_rce_fuzz_blocks[--ngx_rce_fuzz_nblocks]);
    }
}
