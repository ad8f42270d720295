
/*
 * Piston v2's POST /api/v2/execute document, checked as Piston checks it
 * (its api/src/api/v2.js and job.js) and turned into a /api/v1/run document,
 * which ngx_rce_input.c then makes a job's input; and the semver selectors
 * its "version" takes.  Like ngx_rce_input.c: jansson and nginx's core
 * string functions only, no request, worker or event loop, so that it can
 * be unit-tested and fuzzed outside nginx.
 */


#ifndef _NGX_RCE_PISTON_INPUT_H_INCLUDED_
#define _NGX_RCE_PISTON_INPUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_rce_input.h"


/* an error whose text goes in Piston's {"stack"} rather than {"message"}:
 * a body that is not JSON, as Express' body parser answers it */
#define NGX_RCE_PISTON_STACK        "stack"

#define NGX_RCE_PISTON_COMPILE      0
#define NGX_RCE_PISTON_RUN          1

/* a version has at most this many numeric parts: "6.8.0.105" */
#define NGX_RCE_PISTON_VERSION_PARTS  4


/*
 * The server's configured limits, by stage: what a request gets when it
 * asks none, and the most it may ask (Piston's configured limit is both)
 */
typedef struct {
    double                      timeout[2];       /* wall clock, ms */
    double                      cpu_time[2];      /* ms */
    double                      memory_limit[2];  /* bytes */
} ngx_rce_piston_limits_t;


/*
 * The body as JSON (*req, the caller's to json_decref): an empty body is
 * {}, as Express' body parser makes it; one that is not JSON, or JSON that
 * is not an object or an array, fails with err->field NGX_RCE_PISTON_STACK.
 */
ngx_int_t ngx_rce_piston_load(const u_char *body, size_t len, json_t **req,
    ngx_rce_input_error_t *err);

/*
 * Piston's first checks, before its runtime is looked up: "language" and
 * "version" non-empty strings (pointed to by language, version), "files" an
 * array whose every element has a string "content".  err->text is Piston's
 * message.
 */
ngx_int_t ngx_rce_piston_request(json_t *req, ngx_str_t *language,
    ngx_str_t *version, ngx_rce_input_error_t *err);

/*
 * The rest, once the runtime is known: a utf8 file among the files, the six
 * limits against the configured ones, then the job's input as ngx_rce_input.c
 * makes it from the /api/v1/run document this becomes (files named as Piston
 * names them, hex made base64, stdin with its trailing newline, the limits
 * in the job's units).  NULL: err says why.
 */
json_t *ngx_rce_piston_job(json_t *req, ngx_rce_piston_limits_t *limits,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err);

/*
 * Whether version satisfies the selector: node-semver's ranges ("*", "x",
 * "3.x", "3.11.x", "3.11.2", ">=3.8 <4", "^3.10", "~3.10.1", "3.8 - 3.11",
 * alternatives joined by "||"), over versions of up to four numeric parts;
 * a version the selector names in fewer parts matches as a prefix.  A
 * selector or version that cannot be read matches nothing, as in Piston.
 */
ngx_uint_t ngx_rce_piston_semver_match(const u_char *sel, size_t sel_len,
    const u_char *version, size_t version_len);

/* the highest of the versions (strings) the selector matches, or NULL */
json_t *ngx_rce_piston_semver_pick(json_t *versions, const u_char *sel,
    size_t sel_len);


#endif /* _NGX_RCE_PISTON_INPUT_H_INCLUDED_ */
