
/*
 * libFuzzer target: the /api/v1/run request document (ngx_rce_input.c), as
 * the route checks it, without nginx: any body is parsed, its language and
 * version read, its job built and its output encoding read; a refusal names
 * a status of the four and says why in a NUL-terminated text.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "../ngx_rce_input.h"
#include "ngx_rce_fuzz_check.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t                 *req, *job;
    ngx_str_t               language, version;
    ngx_uint_t              base64;
    ngx_rce_input_error_t   err;
    ngx_rce_input_bounds_t  bounds = { 4, 65536, 8 };

    req = NULL;
    ngx_memzero(&err, sizeof(err));

    if (ngx_rce_input_parse(data, size, &req, &language, &version, &err)
        != NGX_OK)
    {
        ngx_rce_fuzz_check(&err);
        json_decref(req);
        return 0;
    }

    if (language.len == 0 || memchr(language.data, '\0', language.len)) {
        abort();
    }

    job = ngx_rce_input_job(req, &bounds, &err);

    if (job == NULL) {
        ngx_rce_fuzz_check(&err);

    } else {
        json_decref(job);
    }

    if (ngx_rce_input_output_encoding(req, &base64, &err) != NGX_OK) {
        ngx_rce_fuzz_check(&err);
    }

    json_decref(req);

    return 0;
}
