
/*
 * The JSON API, beside the raw route:
 *
 *     POST /api/v1/run        {"language", "files" | "code", "stdin", ...}
 *     GET  /api/v1/languages  what the live nodes can run
 *
 * A request is checked field by field before anything is queued; a bad one
 * gets 400 with the field's name and what is wrong with it.
 */


#include "ngx_rce_module.h"


#define NGX_RCE_API_MAX_ARGS       64
#define NGX_RCE_API_MAX_ARG        4096
#define NGX_RCE_API_MAX_NAME       128
#define NGX_RCE_API_MAX_BODY(code)  ((code) * 2 + 16384)


typedef struct {
    ngx_str_t                   field;       /* what is wrong, for the 400 */
    u_char                      text[192];
    ngx_uint_t                  status;
} ngx_rce_api_error_t;


static ngx_int_t ngx_rce_api_check(ngx_http_request_t *r);
static void ngx_rce_api_body_handler(ngx_http_request_t *r);
static json_t *ngx_rce_api_input(ngx_http_request_t *r, json_t *req,
    ngx_str_t *language, ngx_rce_api_error_t *err);
static ngx_int_t ngx_rce_api_files(json_t *req, json_t *input,
    size_t max_files, size_t max_size, ngx_rce_api_error_t *err);
static ngx_int_t ngx_rce_api_file_name(const char *name, size_t len);
static ngx_int_t ngx_rce_api_limits(json_t *limits,
    ngx_rce_api_error_t *err);
static ngx_int_t ngx_rce_api_fail(ngx_rce_api_error_t *err,
    ngx_uint_t status, const char *field, const char *fmt, ...);
static ngx_int_t ngx_rce_api_send_error(ngx_http_request_t *r,
    ngx_rce_api_error_t *err);
static ngx_int_t ngx_rce_api_languages(ngx_http_request_t *r);


static ngx_str_t  ngx_rce_api_limit_names[] = {
    ngx_string(RCE_LIMIT_WALL_MS),
    ngx_string(RCE_LIMIT_CPU_MS),
    ngx_string(RCE_LIMIT_MEMORY_MB),
    ngx_string(RCE_LIMIT_OUTPUT_BYTES),
    ngx_string(RCE_LIMIT_PIDS),
    ngx_null_string
};


/* before the body is read: is there anywhere to send a job, and is the
 * body within bounds (files may come base64-encoded and JSON-escaped)?
 * NGX_DECLINED: go on; anything else is the answer already sent */
static ngx_int_t
ngx_rce_api_check(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    const char          *why;
    json_t              *extra;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    why = ngx_rce_unavailable();
    if (why != NULL) {
        return ngx_rce_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE, why, NULL);
    }

    if (r->headers_in.content_length_n
        > (off_t) NGX_RCE_API_MAX_BODY(rlcf->max_code_size))
    {
        extra = json_pack("{s:I}", "max_code_size",
                          (json_int_t) rlcf->max_code_size);
        return ngx_rce_refuse(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                              "the request is larger than the limit", extra);
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_rce_api_handler(ngx_http_request_t *r)
{
    ngx_str_t   allow;
    ngx_int_t   rc;
    size_t      len;

    len = r->uri.len;

    if (len >= 4 && ngx_strncmp(r->uri.data + len - 4, "/run", 4) == 0) {

        if (!(r->method & NGX_HTTP_POST)) {
            ngx_str_set(&allow, "POST");
            goto not_allowed;
        }

        rc = ngx_rce_api_check(r);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        rc = ngx_http_read_client_request_body(r, ngx_rce_api_body_handler);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if (len >= 10
        && ngx_strncmp(r->uri.data + len - 10, "/languages", 10) == 0)
    {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            ngx_str_set(&allow, "GET, HEAD");
            goto not_allowed;
        }

        return ngx_rce_api_languages(r);
    }

    return ngx_rce_refuse(r, NGX_HTTP_NOT_FOUND,
                          "no such API endpoint: see /api/v1/run and "
                          "/api/v1/languages", NULL);

not_allowed:

    if (ngx_rce_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rce_refuse(r, NGX_HTTP_NOT_ALLOWED, "method not allowed", NULL);
}


static void
ngx_rce_api_body_handler(ngx_http_request_t *r)
{
    ngx_rce_api_error_t  err;
    ngx_str_t            body, language;
    json_error_t         jerr;
    json_t              *req, *input;
    ngx_int_t            rc;

    if (ngx_rce_read_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memzero(&err, sizeof(ngx_rce_api_error_t));

    req = json_loadb((char *) body.data, body.len, JSON_REJECT_DUPLICATES,
                     &jerr);

    if (req == NULL) {
        /* jansson says where, and "unable to decode" for bad UTF-8 */
        (void) ngx_rce_api_fail(&err, NGX_HTTP_BAD_REQUEST, "",
                                "invalid JSON at line %d column %d: %s",
                                jerr.line, jerr.column, jerr.text);
        ngx_http_finalize_request(r, ngx_rce_api_send_error(r, &err));
        return;
    }

    input = ngx_rce_api_input(r, req, &language, &err);

    if (input == NULL) {
        rc = (err.status == NGX_HTTP_NOT_FOUND)
             ? ngx_rce_unknown_language(r, &language)
             : ngx_rce_api_send_error(r, &err);
        json_decref(req);
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_rce_job_submit(r, &language, input, NGX_RCE_FORMAT_API);

    json_decref(req);

    if (rc == NGX_DONE) {
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Checks the request document and turns it into the job's input: "files",
 * "stdin", "args", "limits".  language gets the canonical name (it points
 * into the worker's alias table, or into req for the 404).  NULL: err says
 * why.
 */
static json_t *
ngx_rce_api_input(ngx_http_request_t *r, json_t *req, ngx_str_t *language,
    ngx_rce_api_error_t *err)
{
    ngx_rce_loc_conf_t  *rlcf;
    const char          *key;
    json_t              *input, *value, *lang, *version, *arg, *known;
    size_t               i;
    ngx_str_t            name;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (!json_is_object(req)) {
        (void) ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "",
                                "the body must be a JSON object");
        return NULL;
    }

    json_object_foreach(req, key, value) {
        if (ngx_strcmp(key, "language") != 0
            && ngx_strcmp(key, "version") != 0
            && ngx_strcmp(key, "code") != 0
            && ngx_strcmp(key, "files") != 0
            && ngx_strcmp(key, "stdin") != 0
            && ngx_strcmp(key, "args") != 0
            && ngx_strcmp(key, "limits") != 0)
        {
            (void) ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, key,
                                    "unknown field");
            return NULL;
        }
    }

    lang = json_object_get(req, "language");
    if (!json_is_string(lang) || json_string_length(lang) == 0) {
        (void) ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "language",
                                "must be a non-empty string");
        return NULL;
    }

    name.data = (u_char *) json_string_value(lang);
    name.len = json_string_length(lang);

    if (ngx_rce_nodes_resolve(ngx_rce_worker, &name, language) != NGX_OK) {
        *language = name;
        err->status = NGX_HTTP_NOT_FOUND;
        return NULL;
    }

    version = json_object_get(req, "version");
    if (version != NULL) {
        if (!json_is_string(version)) {
            (void) ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "version",
                                    "must be a string");
            return NULL;
        }

        known = ngx_rce_nodes_version(ngx_rce_worker, language);

        if (known != NULL && !json_equal(known, version)) {
            (void) ngx_rce_api_fail(err, NGX_HTTP_NOT_FOUND, "version",
                                    "version \"%s\" of %V is not available: "
                                    "the nodes have \"%s\"",
                                    json_string_value(version), language,
                                    json_string_value(known));
            return NULL;
        }
    }

    input = json_object();
    if (input == NULL) {
        (void) ngx_rce_api_fail(err, NGX_HTTP_INTERNAL_SERVER_ERROR, "",
                                "out of memory");
        return NULL;
    }

    if (ngx_rce_api_files(req, input, (size_t) rlcf->max_files,
                          rlcf->max_code_size, err)
        != NGX_OK)
    {
        goto failed;
    }

    value = json_object_get(req, "stdin");
    if (value != NULL) {
        if (!json_is_string(value)) {
            (void) ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "stdin",
                                    "must be a string");
            goto failed;
        }

        if (json_string_length(value) > rlcf->max_code_size) {
            (void) ngx_rce_api_fail(err, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "stdin", "is larger than %uz bytes",
                                    rlcf->max_code_size);
            goto failed;
        }

        json_object_set(input, RCE_JOB_STDIN, value);
    }

    value = json_object_get(req, "args");
    if (value != NULL) {
        if (!json_is_array(value)
            || json_array_size(value) > NGX_RCE_API_MAX_ARGS)
        {
            (void) ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "args",
                                    "must be an array of at most %d strings",
                                    NGX_RCE_API_MAX_ARGS);
            goto failed;
        }

        json_array_foreach(value, i, arg) {
            if (!json_is_string(arg)
                || json_string_length(arg) > NGX_RCE_API_MAX_ARG
                || ngx_strlen(json_string_value(arg))
                   != json_string_length(arg))
            {
                (void) ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "args",
                                        "args[%uz] must be a string of at "
                                        "most %d bytes without NUL", i,
                                        NGX_RCE_API_MAX_ARG);
                goto failed;
            }
        }

        json_object_set(input, RCE_JOB_ARGS, value);
    }

    value = json_object_get(req, "limits");
    if (value != NULL) {
        if (ngx_rce_api_limits(value, err) != NGX_OK) {
            goto failed;
        }

        json_object_set(input, RCE_JOB_LIMITS, value);
    }

    return input;

failed:

    json_decref(input);
    return NULL;
}


/* "files" (or the "code" shorthand for one file) into input */
static ngx_int_t
ngx_rce_api_files(json_t *req, json_t *input, size_t max_files,
    size_t max_size, ngx_rce_api_error_t *err)
{
    json_t      *files, *code, *file, *name, *content, *encoding, *out, *f;
    const char  *key;
    json_t      *value;
    size_t       i, j, total;
    ngx_str_t    src, dst;
    u_char      *buf;
    ngx_int_t    rc;

    files = json_object_get(req, "files");
    code = json_object_get(req, "code");

    if (files != NULL && code != NULL) {
        return ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "code",
                                "give \"code\" or \"files\", not both");
    }

    if (code != NULL) {
        if (!json_is_string(code) || json_string_length(code) == 0) {
            return ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "code",
                                    "must be a non-empty string");
        }

        if (json_string_length(code) > max_size) {
            return ngx_rce_api_fail(err, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "code", "is larger than %uz bytes",
                                    max_size);
        }

        json_object_set(input, RCE_JOB_CODE, code);
        return NGX_OK;
    }

    if (!json_is_array(files) || json_array_size(files) == 0) {
        return ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                "must be a non-empty array (or give "
                                "\"code\")");
    }

    if (json_array_size(files) > max_files) {
        return ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                "at most %uz files", max_files);
    }

    out = json_array();
    if (out == NULL) {
        return ngx_rce_api_fail(err, NGX_HTTP_INTERNAL_SERVER_ERROR, "",
                                "out of memory");
    }

    total = 0;
    rc = NGX_OK;

    json_array_foreach(files, i, file) {

        if (!json_is_object(file)) {
            rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                  "files[%uz] must be an object", i);
            break;
        }

        json_object_foreach(file, key, value) {
            if (ngx_strcmp(key, "name") != 0
                && ngx_strcmp(key, "content") != 0
                && ngx_strcmp(key, "encoding") != 0)
            {
                rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                      "files[%uz]: unknown field \"%s\"",
                                      i, key);
                break;
            }
        }

        if (rc != NGX_OK) {
            break;
        }

        name = json_object_get(file, "name");
        content = json_object_get(file, "content");
        encoding = json_object_get(file, "encoding");

        if (name == NULL && i > 0) {
            rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                  "files[%uz].name is required (only the "
                                  "first file may go without)", i);
            break;
        }

        if (name != NULL
            && (!json_is_string(name)
                || ngx_rce_api_file_name(json_string_value(name),
                                         json_string_length(name))
                   != NGX_OK))
        {
            rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                  "files[%uz].name must be a plain file "
                                  "name: no \"/\", not \".\" or \"..\", "
                                  "at most %d bytes", i,
                                  NGX_RCE_API_MAX_NAME);
            break;
        }

        for (j = 0; name != NULL && j < i; j++) {
            if (json_equal(json_object_get(json_array_get(files, j), "name"),
                           name))
            {
                break;
            }
        }

        if (name != NULL && j < i) {
            rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                  "files[%uz].name repeats files[%uz].name",
                                  i, j);
            break;
        }

        if (!json_is_string(content)) {
            rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                  "files[%uz].content must be a string", i);
            break;
        }

        if (encoding != NULL
            && !(json_is_string(encoding)
                 && (ngx_strcmp(json_string_value(encoding), "utf8") == 0
                     || ngx_strcmp(json_string_value(encoding), "base64")
                        == 0)))
        {
            rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                  "files[%uz].encoding must be \"utf8\" "
                                  "or \"base64\"", i);
            break;
        }

        src.data = (u_char *) json_string_value(content);
        src.len = json_string_length(content);
        total += src.len;

        if (encoding != NULL
            && ngx_strcmp(json_string_value(encoding), "base64") == 0)
        {
            buf = ngx_alloc(ngx_base64_decoded_length(src.len) + 1,
                            ngx_cycle->log);
            if (buf == NULL) {
                rc = ngx_rce_api_fail(err, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "", "out of memory");
                break;
            }

            dst.data = buf;

            if (ngx_decode_base64(&dst, &src) != NGX_OK) {
                ngx_free(buf);
                rc = ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "files",
                                      "files[%uz].content is not valid "
                                      "base64", i);
                break;
            }

            total += dst.len - src.len;
            ngx_free(buf);
        }

        if (total > max_size) {
            rc = ngx_rce_api_fail(err, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "files", "the files are larger than %uz "
                                  "bytes in all", max_size);
            break;
        }

        f = json_pack("{s:O*, s:O, s:s}", RCE_FILE_NAME, name,
                      RCE_FILE_CONTENT, content, RCE_FILE_ENCODING,
                      encoding ? json_string_value(encoding) : "utf8");

        if (f == NULL || json_array_append_new(out, f) != 0) {
            rc = ngx_rce_api_fail(err, NGX_HTTP_INTERNAL_SERVER_ERROR, "",
                                  "out of memory");
            break;
        }
    }

    if (rc != NGX_OK) {
        json_decref(out);
        return rc;
    }

    json_object_set_new(input, RCE_JOB_FILES, out);

    return NGX_OK;
}


static ngx_int_t
ngx_rce_api_file_name(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_RCE_API_MAX_NAME
        || (len == 1 && name[0] == '.')
        || (len == 2 && name[0] == '.' && name[1] == '.'))
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if (name[i] == '/' || name[i] == '\\' || (u_char) name[i] < 0x20
            || name[i] == 0x7f)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* every limit asked for is a known name with a positive integer value */
static ngx_int_t
ngx_rce_api_limits(json_t *limits, ngx_rce_api_error_t *err)
{
    const char  *key;
    json_t      *value;
    ngx_str_t   *name;

    if (!json_is_object(limits)) {
        return ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "limits",
                                "must be an object");
    }

    json_object_foreach(limits, key, value) {

        for (name = ngx_rce_api_limit_names; name->len; name++) {
            if (ngx_strcmp(key, name->data) == 0) {
                break;
            }
        }

        if (name->len == 0) {
            return ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "limits",
                                    "unknown limit \"%s\": the limits are "
                                    "wall_ms, cpu_ms, memory_mb, "
                                    "output_bytes, pids", key);
        }

        if (!json_is_integer(value) || json_integer_value(value) <= 0) {
            return ngx_rce_api_fail(err, NGX_HTTP_BAD_REQUEST, "limits",
                                    "limits.%s must be a positive integer",
                                    key);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rce_api_fail(ngx_rce_api_error_t *err, ngx_uint_t status,
    const char *field, const char *fmt, ...)
{
    va_list  args;
    u_char  *p;

    err->status = status;
    err->field.data = (u_char *) field;
    err->field.len = ngx_strlen(field);

    va_start(args, fmt);
    p = ngx_vslprintf(err->text, err->text + sizeof(err->text) - 1, fmt,
                      args);
    va_end(args);

    *p = '\0';

    return NGX_ERROR;
}


static ngx_int_t
ngx_rce_api_send_error(ngx_http_request_t *r, ngx_rce_api_error_t *err)
{
    json_t  *extra;

    extra = NULL;

    if (err->field.len) {
        extra = json_pack("{s:s%}", "field", err->field.data, err->field.len);
    }

    return ngx_rce_send_error(r, err->status, (char *) err->text, extra);
}


/* [{"name", "version", "aliases", "compiled"}] for what live nodes run */
static ngx_int_t
ngx_rce_api_languages(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    json_t    *list;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    list = ngx_rce_nodes_catalogue(ngx_rce_worker);
    if (list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_rce_send_json(r, NGX_HTTP_OK, list);
}


/*
 * The /api/v1/run answer from a node's result: the verdict, the compile
 * step (null for an interpreted language) and the run (null when it never
 * ran: a compile error, or an engine failure before it started).
 */
json_t *
ngx_rce_api_result(json_t *res)
{
    json_t      *run, *status;
    const char  *verdict;

    status = json_object_get(res, RCE_RES_STATUS);
    verdict = json_is_string(status) ? json_string_value(status) : "IE";

    run = NULL;

    if (!(ngx_strcmp(verdict, RCE_STATUS_CE) == 0
          || (ngx_strcmp(verdict, RCE_STATUS_IE) == 0
              && !json_is_integer(json_object_get(res, RCE_RES_EXIT_CODE)))))
    {
        run = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
                        "stdout", json_object_get(res, RCE_RES_STDOUT),
                        "stderr", json_object_get(res, RCE_RES_STDERR),
                        "exit_code", json_object_get(res, RCE_RES_EXIT_CODE),
                        "signal", json_object_get(res, RCE_RES_SIGNAL),
                        "wall_ms", json_object_get(res, RCE_RES_WALL_MS),
                        "cpu_ms", json_object_get(res, RCE_RES_CPU_MS),
                        "memory_kb", json_object_get(res, RCE_RES_MEMORY_KB),
                        "truncated", json_object_get(res, RCE_RES_TRUNCATED));
    }

    return json_pack("{s:O?, s:O?, s:O?, s:s, s:O?, s:o?, s:O?, s:O?, s:O*, "
                     "s:O*}",
                     "id", json_object_get(res, RCE_RES_ID),
                     "language", json_object_get(res, RCE_RES_LANGUAGE),
                     "version", json_object_get(res, RCE_RES_VERSION),
                     "status", verdict,
                     "compile", json_object_get(res, RCE_RES_COMPILE),
                     "run", run,
                     "node", json_object_get(res, RCE_RES_NODE),
                     "reason", json_object_get(res, RCE_RES_REASON),
                     "limits", json_object_get(res, RCE_RES_LIMITS),
                     "clamped", json_object_get(res, RCE_RES_CLAMPED));
}
