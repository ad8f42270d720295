
/*
 * Piston v2's execute document (ngx_rce_piston_input.h): checked in the
 * order and with the messages of Piston's get_job() (api/src/api/v2.js),
 * then rewritten as the /api/v1/run document it means, which
 * ngx_rce_input.c checks further and makes a job's input: one set of file,
 * stdin and argument checks for both dialects.  And node-semver's ranges,
 * as far as Piston's clients use them.
 */


#include "ngx_rce_piston_input.h"

#include <rce_base64.h>


typedef struct {
    uint64_t                    part[NGX_RCE_PISTON_VERSION_PARTS];
} ngx_rce_semver_t;


static ngx_int_t ngx_rce_piston_constraints(json_t *req,
    ngx_rce_piston_limits_t *limits, json_t *out,
    ngx_rce_input_error_t *err);
static ngx_int_t ngx_rce_piston_files(json_t *files, json_t *doc,
    ngx_rce_input_error_t *err);
static json_t *ngx_rce_piston_hex(json_t *content);
static json_t *ngx_rce_piston_base64(json_t *content);
static ngx_int_t ngx_rce_piston_nibble(u_char c);
static ngx_int_t ngx_rce_piston_stdin(json_t *stdin_, json_t *doc,
    ngx_rce_input_error_t *err);
static ngx_uint_t ngx_rce_piston_is_utf8(json_t *encoding);
static ngx_uint_t ngx_rce_piston_falsy(json_t *value);
static ngx_int_t ngx_rce_semver_alternative(const u_char **pos,
    const u_char *end, ngx_rce_semver_t *x);
static ngx_int_t ngx_rce_semver_partial(const u_char **pos,
    const u_char *end, ngx_rce_semver_t *v, ngx_uint_t *given);
static ngx_uint_t ngx_rce_semver_test(u_char op, ngx_rce_semver_t *v,
    ngx_uint_t given, ngx_rce_semver_t *x);
static ngx_int_t ngx_rce_semver_cmp(ngx_rce_semver_t *a,
    ngx_rce_semver_t *b);
static ngx_int_t ngx_rce_semver_version(const u_char *p, size_t len,
    ngx_rce_semver_t *v);


/* Piston's constraint names, in the order it checks them */
static const char  *ngx_rce_piston_constraint[] = {
    "memory_limit", "timeout", "cpu_time"
};

static const char  *ngx_rce_piston_stage[] = { "compile", "run" };

/* the job's limit for each, by constraint then stage */
static const char  *ngx_rce_piston_limit_key[3][2] = {
    { RCE_LIMIT_COMPILE_MEMORY_MB, RCE_LIMIT_MEMORY_MB },
    { RCE_LIMIT_COMPILE_WALL_MS, RCE_LIMIT_WALL_MS },
    { RCE_LIMIT_COMPILE_CPU_MS, RCE_LIMIT_CPU_MS }
};


ngx_int_t
ngx_rce_piston_load(const u_char *body, size_t len, json_t **req,
    ngx_rce_input_error_t *err)
{
    json_error_t  jerr;

    if (len == 0) {
        *req = json_object();

        if (*req == NULL) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                      "out of memory");
        }

        return NGX_OK;
    }

    *req = json_loadb((const char *) body, len, 0, &jerr);

    if (*req == NULL) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD,
                                  NGX_RCE_PISTON_STACK,
                                  "SyntaxError: %s at line %d column %d "
                                  "(position %d)", jerr.text, jerr.line,
                                  jerr.column, jerr.position);
    }

    /* body-parser's strict mode: an object or an array, nothing else */
    if (!json_is_object(*req) && !json_is_array(*req)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD,
                                  NGX_RCE_PISTON_STACK,
                                  "SyntaxError: the body must be a JSON "
                                  "object");
    }

    return NGX_OK;
}


ngx_int_t
ngx_rce_piston_request(json_t *req, ngx_str_t *language, ngx_str_t *version,
    ngx_rce_input_error_t *err)
{
    json_t  *value, *files, *file;
    size_t   i;

    ngx_str_null(language);
    ngx_str_null(version);

    /* an array has no fields: its language is missing like any other */
    value = json_object_get(req, "language");

    if (!json_is_string(value) || json_string_length(value) == 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "language",
                                  "language is required as a string");
    }

    language->data = (u_char *) json_string_value(value);
    language->len = json_string_length(value);

    value = json_object_get(req, "version");

    if (!json_is_string(value) || json_string_length(value) == 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "version",
                                  "version is required as a string");
    }

    version->data = (u_char *) json_string_value(value);
    version->len = json_string_length(value);

    files = json_object_get(req, "files");

    if (!json_is_array(files)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files is required as an array");
    }

    json_array_foreach(files, i, file) {
        if (!json_is_string(json_object_get(file, "content"))) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                      "files[%zu].content is required as a "
                                      "string", i);
        }
    }

    return NGX_OK;
}


json_t *
ngx_rce_piston_job(json_t *req, ngx_rce_piston_limits_t *limits,
    ngx_rce_input_bounds_t *bounds, ngx_rce_input_error_t *err)
{
    json_t     *doc, *files, *file, *value, *input;
    size_t      i;
    ngx_uint_t  utf8;

    files = json_object_get(req, "files");
    utf8 = 0;

    json_array_foreach(files, i, file) {
        utf8 |= ngx_rce_piston_is_utf8(json_object_get(file, "encoding"));
    }

    if (!utf8) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "files",
                                  "files must include at least one utf8 "
                                  "encoded file");
        return NULL;
    }

    doc = json_pack("{s:{}}", "limits");
    if (doc == NULL) {
        (void) ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
        return NULL;
    }

    if (ngx_rce_piston_constraints(req, limits,
                                   json_object_get(doc, "limits"), err)
        != NGX_OK
        || ngx_rce_piston_files(files, doc, err) != NGX_OK
        || ngx_rce_piston_stdin(json_object_get(req, "stdin"), doc, err)
           != NGX_OK)
    {
        json_decref(doc);
        return NULL;
    }

    /* args ?? []: null is none */
    value = json_object_get(req, "args");

    if (value != NULL && !json_is_null(value)) {
        json_object_set(doc, "args", value);
    }

    if (json_object_size(json_object_get(doc, "limits")) == 0) {
        json_object_del(doc, "limits");
    }

    input = ngx_rce_input_job(doc, bounds, err);

    json_decref(doc);

    return input;
}


/*
 * compile_memory_limit, run_memory_limit, compile_timeout, ...: absent or
 * falsy (0, null, false, "") is the default, as is a memory limit of -1;
 * else a number no larger than the configured limit, and not negative,
 * into out in the job's units (ms, MiB: rounded up)
 */
static ngx_int_t
ngx_rce_piston_constraints(json_t *req, ngx_rce_piston_limits_t *limits,
    json_t *out, ngx_rce_input_error_t *err)
{
    ngx_uint_t   c, s;
    double       value, max, *configured;
    json_t      *v;
    json_int_t   n;
    char         name[32];

    for (c = 0; c < 3; c++) {
        configured = (c == 0) ? limits->memory_limit
                     : (c == 1) ? limits->timeout : limits->cpu_time;

        for (s = 0; s < 2; s++) {
            (void) snprintf(name, sizeof(name), "%s_%s",
                            ngx_rce_piston_stage[s],
                            ngx_rce_piston_constraint[c]);

            v = json_object_get(req, name);

            if (ngx_rce_piston_falsy(v)) {
                continue;
            }

            if (!json_is_number(v)) {
                return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "",
                                          "If specified, %s must be a "
                                          "number", name);
            }

            value = json_number_value(v);
            max = configured[s];

            if (c == 0 && value == -1) {
                continue;       /* Piston's "no limit": ours is the default */
            }

            if (max > 0 && value > max) {
                return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "",
                                          "%s cannot exceed the configured "
                                          "limit of %.0f", name, max);
            }

            if (value < 0) {
                return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "",
                                          "%s must be non-negative", name);
            }

            /* bytes to MiB, up; a fraction of a ms is a whole one */
            if (c == 0) {
                value /= 1048576.0;
            }

            /* no configured limit (0) lets any value through: bounded */
            n = (value < 1e15) ? (json_int_t) value : (json_int_t) 1e15;
            n += (n < value);

            if (json_object_set_new(out, ngx_rce_piston_limit_key[c][s],
                                    json_integer(n ? n : 1))
                != 0)
            {
                return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                          "out of memory");
            }
        }
    }

    return NGX_OK;
}


/*
 * The files as /api/v1/run takes them: the first is the main one (left
 * without its name when it has none: the language's main file name), the
 * others named "file<i>.code" when they have none, as Piston names them;
 * "base64" stays, "hex" becomes base64, anything else is utf8
 */
static ngx_int_t
ngx_rce_piston_files(json_t *files, json_t *doc, ngx_rce_input_error_t *err)
{
    json_t      *out, *file, *f, *name, *encoding, *content;
    size_t       i;
    const char  *enc;
    char         fallback[32];

    out = json_array();
    if (out == NULL || json_object_set_new(doc, "files", out) != 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
    }

    json_array_foreach(files, i, file) {
        name = json_object_get(file, "name");
        encoding = json_object_get(file, "encoding");
        enc = json_string_value(encoding);

        if (enc != NULL && ngx_strcmp(enc, "hex") == 0) {
            content = ngx_rce_piston_hex(json_object_get(file, "content"));
            enc = RCE_ENCODING_BASE64;

        } else if (enc != NULL && ngx_strcmp(enc, RCE_ENCODING_BASE64) == 0) {
            content = ngx_rce_piston_base64(json_object_get(file, "content"));

        } else {
            content = json_incref(json_object_get(file, "content"));
            enc = RCE_ENCODING_UTF8;
        }

        if (content == NULL) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                      "out of memory");
        }

        f = json_pack("{s:o, s:s}", RCE_FILE_CONTENT, content,
                      RCE_FILE_ENCODING, enc);

        if (f == NULL || json_array_append_new(out, f) != 0) {
            return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                      "out of memory");
        }

        /* file.name || `file${i}.code` */
        if (json_is_string(name) && json_string_length(name) > 0) {
            json_object_set(f, RCE_FILE_NAME, name);

        } else if (i > 0) {
            (void) snprintf(fallback, sizeof(fallback), "file%zu.code", i);
            json_object_set_new(f, RCE_FILE_NAME, json_string(fallback));
        }
    }

    return NGX_OK;
}


/*
 * hex as Node's Buffer.from(s, "hex") reads it (pairs of hex digits up to
 * the first that is not one), as base64; NULL when out of memory
 */
static json_t *
ngx_rce_piston_hex(json_t *content)
{
    const u_char  *s;
    u_char        *bytes;
    char          *text;
    size_t         len, n;
    ngx_int_t      hi, lo;
    json_t        *out;

    s = (const u_char *) json_string_value(content);
    len = json_string_length(content);

    bytes = malloc(len / 2 + 1);
    text = malloc(rce_base64_encoded_len(len / 2) + 1);

    if (bytes == NULL || text == NULL) {
        free(bytes);
        free(text);
        return NULL;
    }

    for (n = 0; 2 * n + 1 < len; n++) {
        hi = ngx_rce_piston_nibble(s[2 * n]);
        lo = ngx_rce_piston_nibble(s[2 * n + 1]);

        if (hi < 0 || lo < 0) {
            break;
        }

        bytes[n] = (u_char) (hi << 4 | lo);
    }

    rce_base64_encode(bytes, n, text);
    out = json_string(text);

    free(bytes);
    free(text);

    return out;
}


/*
 * base64 as Node's Buffer.from(s, "base64") reads it: what is not in the
 * alphabet (line breaks, spaces) is skipped, "-" and "_" are "+" and "/",
 * the first "=" ends it, a last lone character is dropped and the bits a
 * last group does not need are ignored; as standard base64 without padding,
 * or NULL when out of memory
 */
static json_t *
ngx_rce_piston_base64(json_t *content)
{
    static const char  alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz0123456789+/";
    const char  *s, *at;
    char        *text;
    size_t       len, i, n;
    u_char       c, unused;
    json_t      *out;

    s = json_string_value(content);
    len = json_string_length(content);

    text = malloc(len + 1);
    if (text == NULL) {
        return NULL;
    }

    for (i = 0, n = 0; i < len && s[i] != '='; i++) {
        c = (u_char) s[i];
        c = (c == '-') ? '+' : (c == '_') ? '/' : c;

        if (c != '\0' && ngx_strchr(alphabet, c) != NULL) {
            text[n++] = (char) c;
        }
    }

    if (n % 4 == 1) {
        n--;
    }

    if (n % 4 != 0) {
        /* the bits past the last whole byte: 4 of a pair, 2 of a triple */
        unused = (n % 4 == 2) ? 0x0f : 0x03;
        at = ngx_strchr(alphabet, (u_char) text[n - 1]);
        text[n - 1] = alphabet[(at - alphabet) & ~unused];
    }

    text[n] = '\0';
    out = json_string(text);
    free(text);

    return out;
}


/* a hex digit's value, or -1 */
static ngx_int_t
ngx_rce_piston_nibble(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


/* stdin ?? "", with a newline at its end if it has none (Piston's job.js) */
static ngx_int_t
ngx_rce_piston_stdin(json_t *stdin_, json_t *doc, ngx_rce_input_error_t *err)
{
    const char  *s;
    size_t       len;
    json_t      *value;

    if (stdin_ != NULL && !json_is_null(stdin_) && !json_is_string(stdin_)) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_BAD, "stdin",
                                  "stdin must be a string");
    }

    s = json_string_value(stdin_);
    len = json_string_length(stdin_);

    if (s == NULL) {
        s = "";
        len = 0;
    }

    value = (len > 0 && s[len - 1] == '\n')
            ? json_incref(stdin_)
            : json_sprintf("%s\n", s);

    if (value == NULL || json_object_set_new(doc, "stdin", value) != 0) {
        return ngx_rce_input_fail(err, NGX_RCE_INPUT_NO_MEMORY, "",
                                  "out of memory");
    }

    return NGX_OK;
}


/* !file.encoding || file.encoding === "utf8" */
static ngx_uint_t
ngx_rce_piston_is_utf8(json_t *encoding)
{
    return ngx_rce_piston_falsy(encoding)
           || (json_is_string(encoding)
               && ngx_strcmp(json_string_value(encoding), RCE_ENCODING_UTF8)
                  == 0);
}


/* JavaScript's !value for a JSON value: absent, null, false, 0, "" */
static ngx_uint_t
ngx_rce_piston_falsy(json_t *value)
{
    return value == NULL || json_is_null(value) || json_is_false(value)
           || (json_is_number(value) && json_number_value(value) == 0)
           || (json_is_string(value) && json_string_length(value) == 0);
}


ngx_uint_t
ngx_rce_piston_semver_match(const u_char *sel, size_t sel_len,
    const u_char *version, size_t version_len)
{
    const u_char      *p, *end;
    ngx_rce_semver_t   x;
    ngx_int_t          rc;

    /* a version that is no semver ("17.0.6_10") is matched by itself */
    if (sel_len == version_len && ngx_strncmp(sel, version, sel_len) == 0) {
        return 1;
    }

    if (ngx_rce_semver_version(version, version_len, &x) != NGX_OK) {
        return 0;
    }

    p = sel;
    end = sel + sel_len;

    for ( ;; ) {
        rc = ngx_rce_semver_alternative(&p, end, &x);

        if (rc == NGX_ERROR) {
            return 0;
        }

        if (rc == NGX_OK) {
            return 1;
        }

        if (p == end) {
            return 0;
        }

        p += 2;     /* "||" */
    }
}


json_t *
ngx_rce_piston_semver_pick(json_t *versions, const u_char *sel,
    size_t sel_len)
{
    json_t            *v, *best;
    size_t             i;
    ngx_rce_semver_t   a, b;
    ngx_uint_t         numeric;

    best = NULL;
    numeric = 0;
    ngx_memzero(&b, sizeof(ngx_rce_semver_t));

    json_array_foreach(versions, i, v) {
        if (!json_is_string(v)
            || !ngx_rce_piston_semver_match(sel, sel_len,
                    (u_char *) json_string_value(v), json_string_length(v)))
        {
            continue;
        }

        if (ngx_rce_semver_version((u_char *) json_string_value(v),
                                   json_string_length(v), &a)
            != NGX_OK)
        {
            /* matched by its name: a semver one that matches wins */
            best = (best == NULL) ? v : best;
            continue;
        }

        if (best == NULL || !numeric || ngx_rce_semver_cmp(&a, &b) > 0) {
            best = v;
            b = a;
            numeric = 1;
        }
    }

    return best;
}


/*
 * One alternative of the selector, up to "||" or its end (*pos left there):
 * NGX_OK if x satisfies each of its comparators, NGX_DECLINED if not,
 * NGX_ERROR if it cannot be read.  An empty one is "*".
 */
static ngx_int_t
ngx_rce_semver_alternative(const u_char **pos, const u_char *end,
    ngx_rce_semver_t *x)
{
    const u_char      *p, *q;
    u_char             op;
    ngx_uint_t         all, given, given_to;
    ngx_rce_semver_t   v, to;

    p = *pos;
    all = 1;

    for ( ;; ) {
        while (p < end && *p == ' ') {
            p++;
        }

        if (p == end || *p == '|') {
            break;
        }

        /* ">=" is 'g', "<=" is 'l', none is '=' */
        op = '=';

        if (*p == '>' || *p == '<') {
            op = *p++;

            if (p < end && *p == '=') {
                op = (op == '>') ? 'g' : 'l';
                p++;
            }

        } else if (*p == '=' || *p == '~' || *p == '^') {
            op = *p++;
        }

        while (p < end && *p == ' ') {
            p++;
        }

        if (ngx_rce_semver_partial(&p, end, &v, &given) != NGX_OK) {
            return NGX_ERROR;
        }

        /* "1.2 - 1.4": a hyphen range, both ends included */
        q = p;

        while (q < end && *q == ' ') {
            q++;
        }

        if (op == '=' && q + 1 < end && q[0] == '-' && q[1] == ' ') {
            q += 2;

            while (q < end && *q == ' ') {
                q++;
            }

            if (ngx_rce_semver_partial(&q, end, &to, &given_to) != NGX_OK) {
                return NGX_ERROR;
            }

            p = q;
            all &= ngx_rce_semver_test('g', &v, given, x)
                   & ngx_rce_semver_test('l', &to, given_to, x);
            continue;
        }

        all &= ngx_rce_semver_test(op, &v, given, x);
    }

    if (p < end && (p + 1 == end || p[1] != '|')) {
        return NGX_ERROR;
    }

    *pos = p;

    return all ? NGX_OK : NGX_DECLINED;
}


/*
 * A version as a comparator names it: "v"? then up to four parts, numbers
 * or wildcards ("x", "X", "*"); *given is how many numbers come before the
 * first wildcard, the rest are 0.  A prerelease or build ("-rc1", "+b2")
 * is read and ignored.  *pos is left after it.
 */
static ngx_int_t
ngx_rce_semver_partial(const u_char **pos, const u_char *end,
    ngx_rce_semver_t *v, ngx_uint_t *given)
{
    const u_char  *p;
    ngx_uint_t     i, digits, wild;

    p = *pos;
    ngx_memzero(v, sizeof(ngx_rce_semver_t));
    *given = 0;
    wild = 0;

    if (p < end && (*p == 'v' || *p == 'V')) {
        p++;
    }

    for (i = 0; i < NGX_RCE_PISTON_VERSION_PARTS; i++) {

        if (p < end && (*p == 'x' || *p == 'X' || *p == '*')) {
            wild = 1;
            p++;

        } else {
            digits = 0;

            while (p < end && *p >= '0' && *p <= '9') {
                if (++digits > 15) {
                    return NGX_ERROR;
                }

                if (!wild) {
                    v->part[i] = v->part[i] * 10 + (*p - '0');
                }

                p++;
            }

            if (digits == 0) {
                return NGX_ERROR;
            }

            if (wild) {
                v->part[i] = 0;

            } else {
                (*given)++;
            }
        }

        if (p == end || *p != '.') {
            break;
        }

        p++;
    }

    if (p < end && (*p == '-' || *p == '+') && p + 1 < end && p[1] != ' ') {
        while (p < end && *p != ' ' && *p != '|') {
            p++;
        }
    }

    if (p < end && *p != ' ' && *p != '|') {
        return NGX_ERROR;
    }

    *pos = p;

    return NGX_OK;
}


/* whether x satisfies one comparator: op, and v of which given parts count */
static ngx_uint_t
ngx_rce_semver_test(u_char op, ngx_rce_semver_t *v, ngx_uint_t given,
    ngx_rce_semver_t *x)
{
    ngx_rce_semver_t  hi;
    ngx_uint_t        i, bump;

    if (given == 0) {
        /* "*": everything, but nothing is above or below it */
        return op != '>' && op != '<';
    }

    /* the first version past the range v names: 1.2 -> 1.3, 1.2.3 -> 1.2.4 */
    bump = given - 1;

    if (op == '~') {
        bump = (given >= 2) ? 1 : 0;

    } else if (op == '^') {
        for (bump = 0; bump + 1 < given && bump < 2; bump++) {
            if (v->part[bump] != 0) {
                break;
            }
        }
    }

    ngx_memzero(&hi, sizeof(ngx_rce_semver_t));

    for (i = 0; i <= bump; i++) {
        hi.part[i] = v->part[i];
    }

    hi.part[bump]++;

    switch (op) {

    case '>':
        return ngx_rce_semver_cmp(x, &hi) >= 0;

    case 'g':
        return ngx_rce_semver_cmp(x, v) >= 0;

    case '<':
        return ngx_rce_semver_cmp(x, v) < 0;

    case 'l':
        return ngx_rce_semver_cmp(x, &hi) < 0;

    default:    /* '=', '~', '^' */
        return ngx_rce_semver_cmp(x, v) >= 0
               && ngx_rce_semver_cmp(x, &hi) < 0;
    }
}


static ngx_int_t
ngx_rce_semver_cmp(ngx_rce_semver_t *a, ngx_rce_semver_t *b)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_RCE_PISTON_VERSION_PARTS; i++) {
        if (a->part[i] != b->part[i]) {
            return (a->part[i] < b->part[i]) ? -1 : 1;
        }
    }

    return 0;
}


/* a version a node advertises: numbers only, the whole of it */
static ngx_int_t
ngx_rce_semver_version(const u_char *p, size_t len, ngx_rce_semver_t *v)
{
    const u_char  *end, *q;
    ngx_uint_t     given;

    end = p + len;

    if (memchr(p, '*', len) || memchr(p, 'x', len) || memchr(p, 'X', len)) {
        return NGX_ERROR;
    }

    q = p;

    if (ngx_rce_semver_partial(&q, end, v, &given) != NGX_OK || q != end
        || given == 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
