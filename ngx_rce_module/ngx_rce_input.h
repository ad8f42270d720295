
/*
 * The /api/v1/run request document, checked field by field and turned into
 * a job's input.  Needs jansson and nginx's core string functions only, not
 * a request, a worker or an event loop: the checks can run (and be fuzzed)
 * outside nginx.
 */


#ifndef _NGX_RCE_INPUT_H_INCLUDED_
#define _NGX_RCE_INPUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include <rce_protocol.h>


#define NGX_RCE_INPUT_MAX_ARGS      64
#define NGX_RCE_INPUT_MAX_ARG       4096     /* bytes in one argument */
#define NGX_RCE_INPUT_MAX_NAME      128      /* bytes in a file name */

/* where an asynchronous job's result is POSTed when it ends (the route
 * takes it out of the input: it is kept in the job's state, not its JSON) */
#define NGX_RCE_INPUT_CALLBACK_URL  "callback_url"

/* HTTP statuses, as numbers: this file does not include ngx_http.h */
#define NGX_RCE_INPUT_BAD           400
#define NGX_RCE_INPUT_NOT_FOUND     404
#define NGX_RCE_INPUT_TOO_LARGE     413
#define NGX_RCE_INPUT_NO_MEMORY     500


/* what is wrong with a request: its status, the field at fault, why */
typedef struct {
    ngx_uint_t                  status;
    const char                 *field;       /* "" for the whole document */
    u_char                      text[192];   /* NUL-terminated */
} ngx_rce_input_error_t;


/* the location's bounds the document is checked against */
typedef struct {
    size_t                      max_files;
    size_t                      max_size;    /* code, files in all, stdin */
    size_t                      max_tests;   /* 0: judge mode is off */
} ngx_rce_input_bounds_t;


/*
 * The request's first layer, before its language is looked up: a JSON
 * object of known fields, "language" a non-empty string, "version" absent
 * or a string.  *req gets the document (the caller's to json_decref),
 * language and version point into it (version->len 0: not given).
 */
ngx_int_t ngx_rce_input_parse(const u_char *body, size_t len, json_t **req,
    ngx_str_t *language, ngx_str_t *version, ngx_rce_input_error_t *err);

/* the body as a JSON object (*req, the caller's to json_decref) */
ngx_int_t ngx_rce_input_load(const u_char *body, size_t len, json_t **req,
    ngx_rce_input_error_t *err);

/* ngx_rce_input_parse's checks of a document already loaded */
ngx_int_t ngx_rce_input_request(json_t *req, ngx_str_t *language,
    ngx_str_t *version, ngx_rce_input_error_t *err);

/*
 * The job's input from a parsed request: "code" or "files", "stdin",
 * "args", "limits", and judge mode's "tests", "compare" and
 * "stop_on_failure", checked against the bounds.  NULL: err says why.
 */
json_t *ngx_rce_input_job(json_t *req, ngx_rce_input_bounds_t *bounds,
    ngx_rce_input_error_t *err);

/*
 * How the answer carries the program's output: "output_encoding" absent or
 * "utf8" (*base64 0: text, bytes that are not UTF-8 replaced and flagged),
 * or "base64" (1: every stream in base64).
 */
ngx_int_t ngx_rce_input_output_encoding(json_t *req, ngx_uint_t *base64,
    ngx_rce_input_error_t *err);

/* fills err and returns NGX_ERROR, for a one-line "return fail(...)" */
ngx_int_t ngx_rce_input_fail(ngx_rce_input_error_t *err, ngx_uint_t status,
    const char *field, const char *fmt, ...);


#endif /* _NGX_RCE_INPUT_H_INCLUDED_ */
