
/*
 * nginx-dev ships nginx's headers, not its core's .c files: the core
 * functions the module's nginx-free files call are served here for the fuzz
 * targets.  Base64 is the one the module shares with workerd,
 * common/rce_base64.c (both are RFC 4648, padding optional on decoding);
 * the comparison is libc's.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <strings.h>

#include <rce_base64.h>


ngx_int_t
ngx_decode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    char    *out;
    size_t   len;

    if (rce_base64_decode((const char *) src->data, src->len, &out, &len)
        != 0)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, out, len);
    dst->len = len;
    free(out);

    return NGX_OK;
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    return strncasecmp((const char *) s1, (const char *) s2, n);
}
