
/*
 * What the gateway's request fuzz targets (fuzz_input.c, fuzz_piston.c)
 * hold every refusal to: a status of the four ngx_rce_input.h names, a
 * field, and a NUL-terminated text that says why.
 */


#ifndef _NGX_RCE_FUZZ_CHECK_H_INCLUDED_
#define _NGX_RCE_FUZZ_CHECK_H_INCLUDED_


#include "../ngx_rce_input.h"


static void
ngx_rce_fuzz_check(ngx_rce_input_error_t *err)
{
    if ((err->status != NGX_RCE_INPUT_BAD
         && err->status != NGX_RCE_INPUT_NOT_FOUND
         && err->status != NGX_RCE_INPUT_TOO_LARGE
         && err->status != NGX_RCE_INPUT_NO_MEMORY)
        || err->field == NULL
        || memchr(err->text, '\0', sizeof(err->text)) == NULL
        || err->text[0] == '\0')
    {
        abort();
    }
}


#endif /* _NGX_RCE_FUZZ_CHECK_H_INCLUDED_ */
