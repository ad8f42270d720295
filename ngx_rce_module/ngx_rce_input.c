
/*
 * The /api/v1/run request document, checked before anything is queued: a
 * bad one gets its status with the field's name and what is wrong with it.
 * See ngx_rce_input.h for why nothing here knows about HTTP requests.
 */


#include "ngx_rce_input.h"


static const char *ngx_rce_input_unknown(json_t *object, const char **known);
static ngx_int_t ngx_rce_input_code(json_t *code, json_t *input,
    size_t max_size, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_files(json_t *files, json_t *input,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err);
static json_t *ngx_rce_input_file(json_t *files, size_t i, size_t *total,
    size_t max_size, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_file_name(json_t *files, size_t i,
    json_t *name, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_plain_name(const char *name, size_t len);
static ngx_int_t ngx_rce_input_file_size(json_t *content, json_t *encoding,
    size_t i, size_t *total, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_stdin(json_t *value, json_t *input,
    size_t max_size, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_args(json_t *value, json_t *input,
    ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_check_args(json_t *value, const char *field,
    const char *where, size_t *total, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_judge(json_t *req, json_t *input,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_tests(json_t *tests, json_t *input,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_test(json_t *test, size_t i, size_t *total,
    size_t max_size, ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_compare(json_t *value, json_t *input,
    ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_limits(json_t *limits, json_t *input,
    ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_encoding(json_t *value, ngx_uint_t *base64);
static ngx_int_t ngx_rce_input_priority(json_t *value, json_t *input,
    ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_input_callback(json_t *value, json_t *input,
    ngx_rce_input_error_t *err);


static const char  *ngx_rce_input_request_fields[] = {
    "language", "version", "code", "files", "stdin", "args", "limits",
    "output_encoding", RCE_JOB_TESTS, RCE_JOB_COMPARE,
    RCE_JOB_STOP_ON_FAILURE, RCE_JOB_PRIORITY, NGX_RCE_INPUT_CALLBACK_URL,
    NULL
};

static const char  *ngx_rce_input_test_fields[] = {
    RCE_TEST_STDIN, RCE_TEST_ARGS, RCE_TEST_EXPECTED_OUTPUT, NULL
};

static const char  *ngx_rce_input_file_fields[] = {
    RCE_FILE_NAME, RCE_FILE_CONTENT, RCE_FILE_ENCODING, NULL
};

/* a new limit in RCE_LIMITS is accepted here, and named in the 400 */
static const char  *ngx_rce_input_limit_names[] = {
#define NGX_RCE_INPUT_LIMIT_NAME(field, key)  key,
    RCE_LIMITS(NGX_RCE_INPUT_LIMIT_NAME)
#undef NGX_RCE_INPUT_LIMIT_NAME
    NULL
};


ngx_int_t
ngx_rce_input_parse(const u_char *body, size_t len, json_t **req,
    ngx_str_t *language, ngx_str_t *version, ngx_rce_input_error_t *err)
{
    ngx_str_null(language);
    ngx_str_null(version);

    if (ngx_rce_input_load(body, len, req, err) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_rce_input_request(*req, language, version, err);
}


ngx_int_t
ngx_rce_input_load(const u_char *body, size_t len, json_t **req,
    ngx_rce_input_error_t *err)
{
    json_error_t  jerr;

    *req = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES, &jerr);

    if (*req == NULL && json_error_code(&jerr) == json_error_null_character) {
        /* no NUL can hide in a name; bytes that hold one travel in base64 */
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "",
                                  "invalid JSON at line %d column %d: \\u0000 "
                                  "is not allowed in a string; send a file "
                                  "that holds NUL with \"encoding\": \""
                                  RCE_ENCODING_BASE64 "\"",
                                  jerr.line, jerr.column);
    }

    if (*req == NULL) {
        /* jansson says where, and "unable to decode" for bad UTF-8 */
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "",
                                  "invalid JSON at line %d column %d: %s",
                                  jerr.line, jerr.column, jerr.text);
    }

    if (!json_is_object(*req)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "",
                                  "the body must be a JSON object");
    }

    return NGX_OK;
}


ngx_int_t
ngx_rce_input_request(json_t *req, ngx_str_t *language, ngx_str_t *version,
    ngx_rce_input_error_t *err)
{
    json_t      *value;
    const char  *key;

    ngx_str_null(language);
    ngx_str_null(version);

    if (!json_is_object(req)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "",
                                  "a run request must be a JSON object");
    }

    key = ngx_rce_input_unknown(req, ngx_rce_input_request_fields);
    if (key != NULL) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, key,
                                  "unknown field");
    }

    value = json_object_get(req, "language");
    if (!json_is_string(value) || json_string_length(value) == 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "language",
                                  "must be a non-empty string");
    }

    language->data = (u_char *) json_string_value(value);
    language->len = json_string_length(value);

    value = json_object_get(req, "version");
    if (value != NULL) {
        if (!json_is_string(value)) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "version",
                                      "must be a string");
        }

        version->data = (u_char *) json_string_value(value);
        version->len = json_string_length(value);
    }

    return NGX_OK;
}


json_t *
ngx_rce_input_job(json_t *req, ngx_rce_input_bounds_t *bounds,
    ngx_rce_input_error_t *err)
{
    json_t     *input, *files, *code;
    ngx_int_t   rc;

    input = json_object();
    if (input == NULL) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
        return NULL;
    }

    files = json_object_get(req, "files");
    code = json_object_get(req, "code");

    if (files != NULL && code != NULL) {
        rc = ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "code",
                                "give \"code\" or \"files\", not both");

    } else if (code != NULL) {
        rc = ngx_rce_input_code(code, input, bounds->max_size, err);

    } else {
        rc = ngx_rce_input_files(files, input, bounds, err);
    }

    if (rc == NGX_OK) {
        rc = ngx_rce_input_stdin(json_object_get(req, "stdin"), input,
                                 bounds->max_size, err);
    }

    if (rc == NGX_OK) {
        rc = ngx_rce_input_args(json_object_get(req, "args"), input, err);
    }

    if (rc == NGX_OK) {
        rc = ngx_rce_input_limits(json_object_get(req, "limits"), input, err);
    }

    if (rc == NGX_OK) {
        rc = ngx_rce_input_judge(req, input, bounds, err);
    }

    if (rc == NGX_OK) {
        rc = ngx_rce_input_priority(json_object_get(req, RCE_JOB_PRIORITY),
                                    input, err);
    }

    if (rc == NGX_OK) {
        rc = ngx_rce_input_callback(
                 json_object_get(req, NGX_RCE_INPUT_CALLBACK_URL), input, err);
    }

    if (rc != NGX_OK) {
        json_decref(input);
        return NULL;
    }

    return input;
}


/*
 * "callback_url": an http or https URL of printable ASCII, copied into the
 * input; whether its host may be called back is the route's to check
 */
static ngx_int_t
ngx_rce_input_callback(json_t *value, json_t *input,
    ngx_rce_input_error_t *err)
{
    const u_char  *url;
    size_t         len, i;

    if (value == NULL) {
        return NGX_OK;
    }

    url = (const u_char *) json_string_value(value);
    len = json_string_length(value);

    if (url == NULL || len > RCE_CALLBACK_URL_MAX
        || (ngx_strncasecmp((u_char *) url, (u_char *) "http://", 7) != 0
            && ngx_strncasecmp((u_char *) url, (u_char *) "https://", 8)
               != 0))
    {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD,
                                  NGX_RCE_INPUT_CALLBACK_URL,
                                  "must be an http:// or https:// URL of at "
                                  "most %d bytes", RCE_CALLBACK_URL_MAX);
    }

    for (i = 0; i < len; i++) {
        if (url[i] <= ' ' || url[i] >= 0x7f) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD,
                                      NGX_RCE_INPUT_CALLBACK_URL,
                                      "must be a URL of printable ASCII "
                                      "(percent-encode the rest)");
        }
    }

    if (json_object_set(input, NGX_RCE_INPUT_CALLBACK_URL, value) != 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
    }

    return NGX_OK;
}


/* "priority": one of the classes, copied into the input; absent: the route's */
static ngx_int_t
ngx_rce_input_priority(json_t *value, json_t *input,
    ngx_rce_input_error_t *err)
{
    const char  *name;

    if (value == NULL) {
        return NGX_OK;
    }

    name = json_string_value(value);

    if (name == NULL
        || (ngx_strcmp(name, RCE_PRIORITY_INTERACTIVE) != 0
            && ngx_strcmp(name, RCE_PRIORITY_NORMAL) != 0
            && ngx_strcmp(name, RCE_PRIORITY_BATCH) != 0))
    {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_PRIORITY,
                                  "must be \"" RCE_PRIORITY_INTERACTIVE
                                  "\", \"" RCE_PRIORITY_NORMAL "\" or \""
                                  RCE_PRIORITY_BATCH "\"");
    }

    if (json_object_set(input, RCE_JOB_PRIORITY, value) != 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
    }

    return NGX_OK;
}


ngx_int_t
ngx_rce_input_output_encoding(json_t *req, ngx_uint_t *base64,
    ngx_rce_input_error_t *err)
{
    json_t  *value;

    *base64 = 0;

    value = json_object_get(req, "output_encoding");

    if (value != NULL && ngx_rce_input_encoding(value, base64) != NGX_OK) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "output_encoding",
                                  "must be \"" RCE_ENCODING_UTF8 "\" or \""
                                  RCE_ENCODING_BASE64 "\"");
    }

    return NGX_OK;
}


ngx_int_t
ngx_rce_input_fail(ngx_rce_input_error_t *err, ngx_uint_t status,
    const char *field, const char *fmt, ...)
{
    va_list  args;

    err->status = status;
    err->field = field;

    /*
     * libc's formatting (printf formats, not nginx's), as everywhere in
     * this file: it runs without nginx, in the fuzz target too
     */
    va_start(args, fmt);
    (void) vsnprintf((char *) err->text, sizeof(err->text), fmt, args);
    va_end(args);

    return NGX_ERROR;
}


/* the first key of object that is not in the NULL-terminated known list */
static const char *
ngx_rce_input_unknown(json_t *object, const char **known)
{
    const char   *key, **k;
    json_t       *value;

    json_object_foreach(object, key, value) {
        for (k = known; *k != NULL; k++) {
            if (ngx_strcmp(key, *k) == 0) {
                break;
            }
        }

        if (*k == NULL) {
            return key;
        }
    }

    return NULL;
}


/* "code": the shorthand for one file, the language's main file */
static ngx_int_t
ngx_rce_input_code(json_t *code, json_t *input, size_t max_size,
    ngx_rce_input_error_t *err)
{
    if (!json_is_string(code) || json_string_length(code) == 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "code",
                                  "must be a non-empty string");
    }

    if (json_string_length(code) > max_size) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_TOO_LARGE, "code",
                                  "is larger than %zu bytes", max_size);
    }

    json_object_set(input, RCE_JOB_CODE, code);

    return NGX_OK;
}


static ngx_int_t
ngx_rce_input_files(json_t *files, json_t *input,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err)
{
    json_t  *out, *f;
    size_t   i, n, total;

    if (!json_is_array(files) || json_array_size(files) == 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "must be a non-empty array (or give "
                                  "\"code\")");
    }

    n = json_array_size(files);

    if (n > bounds->max_files) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "at most %zu files", bounds->max_files);
    }

    out = json_array();
    if (out == NULL) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
    }

    total = 0;

    for (i = 0; i < n; i++) {
        f = ngx_rce_input_file(files, i, &total, bounds->max_size, err);

        if (f == NULL) {
            json_decref(out);
            return NGX_ERROR;
        }

        if (json_array_append_new(out, f) != 0) {
            json_decref(out);
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                      "out of memory");
        }
    }

    json_object_set_new(input, RCE_JOB_FILES, out);

    return NGX_OK;
}


/* files[i] as the job carries it; total adds its decoded size */
static json_t *
ngx_rce_input_file(json_t *files, size_t i, size_t *total, size_t max_size,
    ngx_rce_input_error_t *err)
{
    json_t      *file, *name, *content, *encoding, *f;
    const char  *key;
    ngx_uint_t   base64;

    file = json_array_get(files, i);

    if (!json_is_object(file)) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files[%zu] must be an object", i);
        return NULL;
    }

    key = ngx_rce_input_unknown(file, ngx_rce_input_file_fields);
    if (key != NULL) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files[%zu]: unknown field \"%s\"", i, key);
        return NULL;
    }

    name = json_object_get(file, RCE_FILE_NAME);
    content = json_object_get(file, RCE_FILE_CONTENT);
    encoding = json_object_get(file, RCE_FILE_ENCODING);

    if (ngx_rce_input_file_name(files, i, name, err) != NGX_OK) {
        return NULL;
    }

    if (!json_is_string(content)) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files[%zu].content must be a string", i);
        return NULL;
    }

    if (encoding != NULL
        && ngx_rce_input_encoding(encoding, &base64) != NGX_OK)
    {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files[%zu].encoding must be \""
                                  RCE_ENCODING_UTF8 "\" or \""
                                  RCE_ENCODING_BASE64 "\"", i);
        return NULL;
    }

    if (ngx_rce_input_file_size(content, encoding, i, total, err) != NGX_OK) {
        return NULL;
    }

    if (*total > max_size) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_TOO_LARGE, "files",
                                  "the files are larger than %zu bytes "
                                  "in all", max_size);
        return NULL;
    }

    f = json_pack("{s:O*, s:O, s:s}", RCE_FILE_NAME, name,
                  RCE_FILE_CONTENT, content, RCE_FILE_ENCODING,
                  encoding ? json_string_value(encoding) : RCE_ENCODING_UTF8);

    if (f == NULL) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
    }

    return f;
}


/* only the first file may go without a name; names are plain and distinct */
static ngx_int_t
ngx_rce_input_file_name(json_t *files, size_t i, json_t *name,
    ngx_rce_input_error_t *err)
{
    size_t  j;

    if (name == NULL) {
        if (i == 0) {
            return NGX_OK;
        }

        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files[%zu].name is required (only the "
                                  "first file may go without)", i);
    }

    if (!json_is_string(name)
        || ngx_rce_input_plain_name(json_string_value(name),
                                    json_string_length(name))
           != NGX_OK)
    {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files[%zu].name must be a plain file "
                                  "name: no \"/\", not \".\" or \"..\", "
                                  "at most %d bytes", i,
                                  NGX_RCE_INPUT_MAX_NAME);
    }

    for (j = 0; j < i; j++) {
        if (json_equal(json_object_get(json_array_get(files, j),
                                       RCE_FILE_NAME),
                       name))
        {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                      "files[%zu].name repeats "
                                      "files[%zu].name", i, j);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rce_input_plain_name(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_RCE_INPUT_MAX_NAME
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


/* adds the file's size as it will be on disk: base64 is decoded to tell */
static ngx_int_t
ngx_rce_input_file_size(json_t *content, json_t *encoding, size_t i,
    size_t *total, ngx_rce_input_error_t *err)
{
    ngx_str_t   src, dst;
    ngx_int_t   rc;

    src.data = (u_char *) json_string_value(content);
    src.len = json_string_length(content);

    if (encoding == NULL
        || ngx_strcmp(json_string_value(encoding), RCE_ENCODING_BASE64) != 0)
    {
        *total += src.len;
        return NGX_OK;
    }

    /* malloc, not ngx_alloc: no nginx log is needed to run these checks */
    dst.data = malloc(ngx_base64_decoded_length(src.len) + 1);
    if (dst.data == NULL) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
    }

    rc = ngx_decode_base64(&dst, &src);
    free(dst.data);

    if (rc != NGX_OK) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files[%zu].content is not valid base64",
                                  i);
    }

    *total += dst.len;

    return NGX_OK;
}


static ngx_int_t
ngx_rce_input_stdin(json_t *value, json_t *input, size_t max_size,
    ngx_rce_input_error_t *err)
{
    if (value == NULL) {
        return NGX_OK;
    }

    if (!json_is_string(value)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "stdin",
                                  "must be a string");
    }

    if (json_string_length(value) > max_size) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_TOO_LARGE, "stdin",
                                  "is larger than %zu bytes", max_size);
    }

    json_object_set(input, RCE_JOB_STDIN, value);

    return NGX_OK;
}


/* argv strings: a NUL would end one early in the container */
static ngx_int_t
ngx_rce_input_args(json_t *value, json_t *input, ngx_rce_input_error_t *err)
{
    size_t  total;

    if (value == NULL) {
        return NGX_OK;
    }

    total = 0;

    if (ngx_rce_input_check_args(value, "args", "", &total, err) != NGX_OK) {
        return NGX_ERROR;
    }

    json_object_set(input, RCE_JOB_ARGS, value);

    return NGX_OK;
}


/*
 * an "args" array (of the request, or of a test: where says which, as in
 * "tests[2]."); total adds the arguments' bytes
 */
static ngx_int_t
ngx_rce_input_check_args(json_t *value, const char *field, const char *where,
    size_t *total, ngx_rce_input_error_t *err)
{
    json_t  *arg;
    size_t   i;

    if (!json_is_array(value)
        || json_array_size(value) > NGX_RCE_INPUT_MAX_ARGS)
    {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, field,
                                  "%sargs must be an array of at most %d "
                                  "strings", where, NGX_RCE_INPUT_MAX_ARGS);
    }

    json_array_foreach(value, i, arg) {
        if (!json_is_string(arg)
            || json_string_length(arg) > NGX_RCE_INPUT_MAX_ARG
            || ngx_strlen(json_string_value(arg)) != json_string_length(arg))
        {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, field,
                                      "%sargs[%zu] must be a string of at "
                                      "most %d bytes without NUL", where, i,
                                      NGX_RCE_INPUT_MAX_ARG);
        }

        *total += json_string_length(arg) + 1;
    }

    return NGX_OK;
}


/*
 * judge mode: "tests" (then "stdin" and "args" belong to each test), and
 * "compare" and "stop_on_failure", which only go with them
 */
static ngx_int_t
ngx_rce_input_judge(json_t *req, json_t *input,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err)
{
    json_t      *tests, *stop;
    const char  *alone;

    tests = json_object_get(req, RCE_JOB_TESTS);
    stop = json_object_get(req, RCE_JOB_STOP_ON_FAILURE);

    if (tests == NULL) {
        alone = json_object_get(req, RCE_JOB_COMPARE) ? RCE_JOB_COMPARE
                : stop ? RCE_JOB_STOP_ON_FAILURE : NULL;

        if (alone != NULL) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, alone,
                                      "goes with \"" RCE_JOB_TESTS "\" "
                                      "(judge mode) only");
        }

        return NGX_OK;
    }

    if (bounds->max_tests == 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_TESTS,
                                  "judge mode is off here (rce_max_tests 0)");
    }

    alone = json_object_get(req, "stdin") ? "stdin"
            : json_object_get(req, "args") ? "args" : NULL;

    if (alone != NULL) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, alone,
                                  "goes in each test when \"" RCE_JOB_TESTS
                                  "\" are given");
    }

    if (stop != NULL && !json_is_boolean(stop)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD,
                                  RCE_JOB_STOP_ON_FAILURE,
                                  "must be true or false");
    }

    if (ngx_rce_input_tests(tests, input, bounds, err) != NGX_OK
        || ngx_rce_input_compare(json_object_get(req, RCE_JOB_COMPARE),
                                 input, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (stop != NULL) {
        json_object_set(input, RCE_JOB_STOP_ON_FAILURE, stop);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rce_input_tests(json_t *tests, json_t *input,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err)
{
    size_t  i, n, total;

    n = json_array_size(tests);

    if (!json_is_array(tests) || n == 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_TESTS,
                                  "must be a non-empty array of test "
                                  "objects");
    }

    if (n > bounds->max_tests) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_TESTS,
                                  "at most %zu tests", bounds->max_tests);
    }

    total = 0;

    for (i = 0; i < n; i++) {
        if (ngx_rce_input_test(json_array_get(tests, i), i, &total,
                               bounds->max_size, err)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (total > RCE_TESTS_INPUT_MAX_BYTES) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_TOO_LARGE, RCE_JOB_TESTS,
                                  "the tests' stdin and args are larger "
                                  "than %d bytes in all",
                                  RCE_TESTS_INPUT_MAX_BYTES);
    }

    json_object_set(input, RCE_JOB_TESTS, tests);

    return NGX_OK;
}


/* tests[i]: its stdin and args (added to total) and its expected output */
static ngx_int_t
ngx_rce_input_test(json_t *test, size_t i, size_t *total, size_t max_size,
    ngx_rce_input_error_t *err)
{
    json_t      *value;
    const char  *key;
    char         where[32];

    if (!json_is_object(test)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_TESTS,
                                  "tests[%zu] must be an object", i);
    }

    key = ngx_rce_input_unknown(test, ngx_rce_input_test_fields);
    if (key != NULL) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_TESTS,
                                  "tests[%zu]: unknown field \"%s\" (a test "
                                  "has " RCE_TEST_STDIN ", " RCE_TEST_ARGS
                                  ", " RCE_TEST_EXPECTED_OUTPUT ")", i, key);
    }

    value = json_object_get(test, RCE_TEST_STDIN);

    if (value != NULL && !json_is_string(value)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_TESTS,
                                  "tests[%zu].stdin must be a string", i);
    }

    if (json_string_length(value) > max_size) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_TOO_LARGE, RCE_JOB_TESTS,
                                  "tests[%zu].stdin is larger than %zu "
                                  "bytes", i, max_size);
    }

    *total += json_string_length(value);

    value = json_object_get(test, RCE_TEST_EXPECTED_OUTPUT);

    if (value != NULL && !json_is_string(value)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_TESTS,
                                  "tests[%zu].expected_output must be a "
                                  "string", i);
    }

    value = json_object_get(test, RCE_TEST_ARGS);

    if (value == NULL) {
        return NGX_OK;
    }

    (void) snprintf(where, sizeof(where), "tests[%zu].", i);

    return ngx_rce_input_check_args(value, RCE_JOB_TESTS, where, total, err);
}


/* "exact", "lines", "tokens", or {"float": tolerance}; absent: lines */
static ngx_int_t
ngx_rce_input_compare(json_t *value, json_t *input,
    ngx_rce_input_error_t *err)
{
    json_t      *tolerance;
    const char  *name;

    if (value == NULL) {
        return NGX_OK;
    }

    name = json_string_value(value);

    if (name != NULL
        && (ngx_strcmp(name, RCE_COMPARE_EXACT) == 0
            || ngx_strcmp(name, RCE_COMPARE_LINES) == 0
            || ngx_strcmp(name, RCE_COMPARE_TOKENS) == 0))
    {
        json_object_set(input, RCE_JOB_COMPARE, value);
        return NGX_OK;
    }

    tolerance = json_object_get(value, RCE_COMPARE_FLOAT);

    if (json_is_object(value) && json_object_size(value) == 1
        && json_is_number(tolerance) && json_number_value(tolerance) >= 0)
    {
        json_object_set(input, RCE_JOB_COMPARE, value);
        return NGX_OK;
    }

    return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, RCE_JOB_COMPARE,
                              "must be \"" RCE_COMPARE_EXACT "\", \""
                              RCE_COMPARE_LINES "\", \"" RCE_COMPARE_TOKENS
                              "\" or {\"" RCE_COMPARE_FLOAT "\": tolerance}, "
                              "a tolerance of 0 or more");
}


/* every limit asked for is one of RCE_LIMITS, with a positive integer */
static ngx_int_t
ngx_rce_input_limits(json_t *limits, json_t *input,
    ngx_rce_input_error_t *err)
{
    const char   *key, **name;
    json_t       *value;
    u_char        list[128], *p, *last;

    if (limits == NULL) {
        return NGX_OK;
    }

    if (!json_is_object(limits)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "limits",
                                  "must be an object");
    }

    key = ngx_rce_input_unknown(limits, ngx_rce_input_limit_names);

    if (key != NULL) {
        p = list;
        last = list + sizeof(list) - 1;

        for (name = ngx_rce_input_limit_names; *name != NULL; name++) {
            p += snprintf((char *) p, last - p, "%s%s",
                          name == ngx_rce_input_limit_names ? "" : ", ",
                          *name);

            if (p >= last) {
                p = last;
                break;
            }
        }

        *p = '\0';

        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "limits",
                                  "unknown limit \"%s\": the limits are %s",
                                  key, list);
    }

    json_object_foreach(limits, key, value) {
        if (!json_is_integer(value) || json_integer_value(value) <= 0) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "limits",
                                      "limits.%s must be a positive integer",
                                      key);
        }
    }

    json_object_set(input, RCE_JOB_LIMITS, limits);

    return NGX_OK;
}


/* the name of an encoding: *base64 says which */
static ngx_int_t
ngx_rce_input_encoding(json_t *value, ngx_uint_t *base64)
{
    const char  *name;

    /* no NUL can hide in a name: requests are parsed without JSON_ALLOW_NUL */
    name = json_string_value(value);

    if (name == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_strcmp(name, RCE_ENCODING_UTF8) == 0) {
        *base64 = 0;
        return NGX_OK;
    }

    if (ngx_strcmp(name, RCE_ENCODING_BASE64) == 0) {
        *base64 = 1;
        return NGX_OK;
    }

    return NGX_DECLINED;
}
