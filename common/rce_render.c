/*
 * A node's result as a client reads it (rce_render.h): the v1 document, and the streams as
 * text or base64 or as their exact bytes.  jansson and libc only: the gateway and workerd
 * both build it.
 */

#include "rce_render.h"

#include <stdlib.h>
#include <string.h>

#include "rce_protocol.h"
#include "rce_base64.h"

#define RCE_RENDER_ENCODING     "encoding"
#define RCE_RENDER_LOSSY        "lossy"

/* indexed by RCE_RENDER_STDOUT, RCE_RENDER_STDERR */
static const struct {
    const char  *name;
    const char  *encoding;
} rce_render_stream_names[] = {
    { RCE_RES_STDOUT, RCE_RES_STDOUT_ENCODING },
    { RCE_RES_STDERR, RCE_RES_STDERR_ENCODING }
};

static int rce_render_stage(json_t *stage, int base64, json_t **out);
static json_t *rce_render_text(const rce_render_bytes_t *bytes, int stream,
    json_t *lossy);
static json_t *rce_render_base64(const rce_render_bytes_t *bytes);
static int rce_render_v1_ran(json_t *result, const char *verdict);
static int rce_render_v1_tests(json_t *result, json_t *doc, int base64);

json_t *
rce_render_v1(json_t *result, int base64, int *malformed)
{
    json_t      *status, *compile, *run, *doc;
    const char  *verdict;
    int          judged, rc;

    compile = NULL;
    run = NULL;
    doc = NULL;

    status = json_object_get(result, RCE_RES_STATUS);
    verdict = json_is_string(status) ? json_string_value(status) : RCE_STATUS_IE;

    /* judge mode answers its tests in place of the run */
    judged = json_is_array(json_object_get(result, RCE_RES_TESTS));

    rc = rce_render_stage(json_object_get(result, RCE_RES_COMPILE), base64, &compile);
    if (rc != RCE_RENDER_OK) {
        goto fail;
    }

    if (!judged && rce_render_v1_ran(result, verdict)) {
        /* the streams are placeholders here: rce_render_streams() sets them */
        run = json_pack("{s:n, s:n, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
                        "stdout", "stderr",
                        "exit_code", json_object_get(result, RCE_RES_EXIT_CODE),
                        "signal", json_object_get(result, RCE_RES_SIGNAL),
                        "wall_ms", json_object_get(result, RCE_RES_WALL_MS),
                        "cpu_ms", json_object_get(result, RCE_RES_CPU_MS),
                        "memory_kb", json_object_get(result, RCE_RES_MEMORY_KB),
                        "truncated", json_object_get(result, RCE_RES_TRUNCATED));
        if (run == NULL) {
            rc = RCE_RENDER_NOMEM;
            goto fail;
        }

        rc = rce_render_streams(run, result, base64);
        if (rc != RCE_RENDER_OK) {
            goto fail;
        }
    }

    doc = json_pack("{s:O?, s:O?, s:O?, s:s, s:O?, s:O?, s:O?, s:O?, s:O*, s:O*, s:O*}",
                    "id", json_object_get(result, RCE_RES_ID),
                    "language", json_object_get(result, RCE_RES_LANGUAGE),
                    "version", json_object_get(result, RCE_RES_VERSION),
                    "status", verdict,
                    "compile", compile,
                    "run", run,
                    "node", json_object_get(result, RCE_RES_NODE),
                    "reason", json_object_get(result, RCE_RES_REASON),
                    "limits", json_object_get(result, RCE_RES_LIMITS),
                    "clamped", json_object_get(result, RCE_RES_CLAMPED),
                    /* an asynchronous job's, put there by the gateway's GET */
                    "callback", json_object_get(result, "callback"));
    if (doc == NULL) {
        rc = RCE_RENDER_NOMEM;
        goto fail;
    }

    if (judged) {
        json_object_del(doc, "run");

        rc = rce_render_v1_tests(result, doc, base64);
        if (rc != RCE_RENDER_OK) {
            goto fail;
        }
    }

    json_decref(compile);
    json_decref(run);
    *malformed = 0;
    return doc;

fail:
    json_decref(doc);
    json_decref(compile);
    json_decref(run);
    *malformed = (rc == RCE_RENDER_MALFORMED);
    return NULL;
}

/* whether the run has a part in the document: null when it never ran */
static int
rce_render_v1_ran(json_t *result, const char *verdict)
{
    /* a compile error never ran; an IE without an exit code failed before it did; a job
     * cancelled while it ran has its figures, one cancelled before (or while compiling)
     * has no run time */
    return !(strcmp(verdict, RCE_STATUS_CE) == 0
             || (strcmp(verdict, RCE_STATUS_IE) == 0
                 && !json_is_integer(json_object_get(result, RCE_RES_EXIT_CODE)))
             || (strcmp(verdict, RCE_STATUS_CANCELLED) == 0
                 && json_integer_value(json_object_get(result, RCE_RES_WALL_MS)) <= 0));
}

/* judge mode: "tests", each with its streams as the run's, and the counts */
static int
rce_render_v1_tests(json_t *result, json_t *doc, int base64)
{
    json_t  *tests, *test, *passed, *total, *rendered, *copy;
    size_t   i;
    int      rc;

    tests = json_object_get(result, RCE_RES_TESTS);
    passed = json_object_get(result, RCE_RES_PASSED);
    total = json_object_get(result, RCE_RES_TOTAL);

    if (!json_is_integer(passed) || !json_is_integer(total)) {
        return RCE_RENDER_MALFORMED;
    }

    rendered = json_array();
    if (rendered == NULL) {
        return RCE_RENDER_NOMEM;
    }

    json_array_foreach(tests, i, test) {
        if (!json_is_object(test)) {
            rc = RCE_RENDER_MALFORMED;
            goto fail;
        }

        rc = rce_render_stage(test, base64, &copy);
        if (rc != RCE_RENDER_OK) {
            goto fail;
        }

        if (json_array_append_new(rendered, copy) != 0) {
            rc = RCE_RENDER_NOMEM;
            goto fail;
        }
    }

    /* set_new takes rendered, even when it fails */
    if (json_object_set_new(doc, RCE_RES_TESTS, rendered) != 0
        || json_object_set(doc, RCE_RES_PASSED, passed) != 0
        || json_object_set(doc, RCE_RES_TOTAL, total) != 0)
    {
        return RCE_RENDER_NOMEM;
    }

    return RCE_RENDER_OK;

fail:
    json_decref(rendered);
    return rc;
}

/*
 * A stage of the result (its compile object, a test) with its streams as a client reads
 * them, in *out, a new reference: a copy of stage, which stays as it was; stage itself
 * when it is not an object (null, or absent: *out NULL).
 */
static int
rce_render_stage(json_t *stage, int base64, json_t **out)
{
    int  rc;

    if (!json_is_object(stage)) {
        *out = json_incref(stage);
        return RCE_RENDER_OK;
    }

    /* a shallow copy: the rewrite replaces its members, never changes them */
    *out = json_copy(stage);
    if (*out == NULL) {
        return RCE_RENDER_NOMEM;
    }

    rc = rce_render_streams(*out, *out, base64);
    if (rc != RCE_RENDER_OK) {
        json_decref(*out);
        *out = NULL;
    }

    return rc;
}

int
rce_render_streams(json_t *stage, json_t *from, int base64)
{
    json_t              *lossy, *value;
    rce_render_bytes_t   bytes;
    int                  i, rc;

    if (!json_is_object(from)) {
        return RCE_RENDER_OK;
    }

    lossy = json_array();
    if (lossy == NULL) {
        return RCE_RENDER_NOMEM;
    }

    for (i = RCE_RENDER_STDOUT; i <= RCE_RENDER_STDERR; i++) {
        rc = rce_render_stream_bytes(from, i, &bytes);
        if (rc != RCE_RENDER_OK) {
            goto fail;
        }

        value = base64 ? rce_render_base64(&bytes) : rce_render_text(&bytes, i, lossy);

        /* bytes may point into from's old value: set_new frees it after */
        rc = json_object_set_new(stage, rce_render_stream_names[i].name, value) == 0
             ? RCE_RENDER_OK : RCE_RENDER_NOMEM;
        free(bytes.decoded);

        if (rc != RCE_RENDER_OK) {
            goto fail;
        }

        json_object_del(stage, rce_render_stream_names[i].encoding);
    }

    if (json_object_set_new(stage, RCE_RENDER_ENCODING,
                            json_string(base64 ? RCE_ENCODING_BASE64 : RCE_ENCODING_UTF8))
        != 0)
    {
        rc = RCE_RENDER_NOMEM;
        goto fail;
    }

    /* set_new takes lossy, even when it fails */
    return json_object_set_new(stage, RCE_RENDER_LOSSY, lossy) == 0
           ? RCE_RENDER_OK : RCE_RENDER_NOMEM;

fail:
    json_decref(lossy);
    return rc;
}

int
rce_render_stream_bytes(json_t *stage, int stream, rce_render_bytes_t *bytes)
{
    json_t      *value;
    const char  *encoding;
    char        *decoded;
    size_t       len;
    int          rc;

    value = json_object_get(stage, rce_render_stream_names[stream].name);
    encoding = json_string_value(json_object_get(stage,
                                     rce_render_stream_names[stream].encoding));

    bytes->data = (const unsigned char *) json_string_value(value);
    bytes->len = json_string_length(value);
    bytes->valid = 1;
    bytes->decoded = NULL;

    if (bytes->data == NULL) {
        bytes->data = (const unsigned char *) "";
        return RCE_RENDER_OK;
    }

    if (encoding == NULL || strcmp(encoding, RCE_ENCODING_UTF8) == 0) {
        return RCE_RENDER_OK;       /* jansson let only valid UTF-8 into a string */
    }

    if (strcmp(encoding, RCE_ENCODING_BASE64) != 0) {
        return RCE_RENDER_MALFORMED;
    }

    rc = rce_base64_decode((const char *) bytes->data, bytes->len, &decoded, &len);
    if (rc != 0) {
        return (rc == -2) ? RCE_RENDER_NOMEM : RCE_RENDER_MALFORMED;
    }

    bytes->decoded = (unsigned char *) decoded;
    bytes->data = bytes->decoded;
    bytes->len = len;
    bytes->valid = rce_utf8_valid(bytes->data, len);

    return RCE_RENDER_OK;
}

/* bytes as a JSON string: bytes that are not UTF-8 become U+FFFD, the stream named in lossy */
static json_t *
rce_render_text(const rce_render_bytes_t *bytes, int stream, json_t *lossy)
{
    if (bytes->valid) {
        return json_stringn_nocheck((const char *) bytes->data, bytes->len);
    }

    if (json_array_append_new(lossy, json_string(rce_render_stream_names[stream].name))
        != 0)
    {
        return NULL;
    }

    return rce_render_lossy(bytes->data, bytes->len);
}

json_t *
rce_render_lossy(const unsigned char *data, size_t n)
{
    unsigned char  *repaired;
    json_t         *text;
    size_t          len;

    if (n > ((size_t) -1 - 1) / 3) {
        return NULL;
    }

    repaired = malloc(n * 3 + 1);
    if (repaired == NULL) {
        return NULL;
    }

    len = rce_utf8_repair(data, n, repaired);
    text = json_stringn_nocheck((const char *) repaired, len);

    free(repaired);
    return text;
}

/* bytes as a JSON string of their base64 */
static json_t *
rce_render_base64(const rce_render_bytes_t *bytes)
{
    char    *encoded;
    json_t  *text;

    encoded = malloc(rce_base64_encoded_len(bytes->len) + 1);
    if (encoded == NULL) {
        return NULL;
    }

    rce_base64_encode(bytes->data, bytes->len, encoded);
    text = json_stringn_nocheck(encoded, rce_base64_encoded_len(bytes->len));

    free(encoded);
    return text;
}
