
/*
 * libFuzzer target: Piston's POST /api/v2/execute document
 * (ngx_rce_piston_input.c) as the Piston route checks it, without nginx: any
 * body is loaded, its first fields checked, its version selector matched
 * against a few versions (and itself), its job built through the
 * /api/v1/run checks; a refusal names a status of the four and says why in
 * a NUL-terminated text.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "../ngx_rce_piston_input.h"
#include "ngx_rce_fuzz_check.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t                   *req, *job, *versions, *picked;
    ngx_str_t                 language, version;
    ngx_rce_input_error_t     err;
    ngx_rce_input_bounds_t    bounds = { 4, 65536, 0 };
    ngx_rce_piston_limits_t   limits = {
        { 20000, 10000 }, { 20000, 10000 }, { 268435456, 268435456 }
    };

    req = NULL;
    ngx_memzero(&err, sizeof(err));

    if (ngx_rce_piston_load(data, size, &req, &err) != NGX_OK
        || ngx_rce_piston_request(req, &language, &version, &err) != NGX_OK)
    {
        ngx_rce_fuzz_check(&err);
        json_decref(req);
        return 0;
    }

    if (language.len == 0 || version.len == 0) {
        abort();
    }

    /* a selector always matches the version it spells exactly */
    if (!ngx_rce_piston_semver_match(version.data, version.len,
                                     version.data, version.len))
    {
        abort();
    }

    versions = json_pack("[s, s, s, s, s%]", "3.11.2", "6.8.0.105", "1.19",
                         "17.0.6_10", version.data, version.len);

    picked = ngx_rce_piston_semver_pick(versions, version.data, version.len);

    if (picked == NULL
        || !ngx_rce_piston_semver_match(version.data, version.len,
                                        (u_char *) json_string_value(picked),
                                        json_string_length(picked)))
    {
        abort();
    }

    json_decref(versions);

    job = ngx_rce_piston_job(req, &limits, &bounds, &err);

    if (job == NULL) {
        ngx_rce_fuzz_check(&err);

    } else {
        json_decref(job);
    }

    json_decref(req);

    return 0;
}
