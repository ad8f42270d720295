
/*
 * Unit test of ngx_rce_piston_input.c, without nginx (make check): the
 * semver selectors Piston's clients send, against versions of the shapes
 * our nodes advertise, and the execute document's checks and its job.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "../ngx_rce_piston_input.h"


static int  failed;


static void
ok(int cond, const char *what)
{
    printf("%s - %s\n", cond ? "ok" : "not ok", what);
    failed += !cond;
}


static int
match(const char *sel, const char *version)
{
    return (int) ngx_rce_piston_semver_match((u_char *) sel, strlen(sel),
                                             (u_char *) version,
                                             strlen(version));
}


static const char *
pick(const char *sel)
{
    static char   picked[32];
    json_t       *versions, *v;

    versions = json_pack("[s, s, s, s]", "3.9.4", "3.11.2", "3.10.12",
                         "2.7.18");
    v = ngx_rce_piston_semver_pick(versions, (u_char *) sel, strlen(sel));

    (void) snprintf(picked, sizeof(picked), "%s",
                    v ? json_string_value(v) : "none");
    json_decref(versions);

    return picked;
}


/* the job of a document, or the refusal's text */
static json_t *
job(const char *doc, ngx_rce_input_error_t *err)
{
    json_t                   *req, *input;
    ngx_str_t                 language, version;
    ngx_rce_input_bounds_t    bounds = { 4, 65536, 0 };
    ngx_rce_piston_limits_t   limits = {
        { 20000, 10000 }, { 20000, 10000 }, { 268435456, 268435456 }
    };

    req = NULL;
    err->text[0] = '\0';

    if (ngx_rce_piston_load((u_char *) doc, strlen(doc), &req, err) != NGX_OK
        || ngx_rce_piston_request(req, &language, &version, err) != NGX_OK)
    {
        json_decref(req);
        return NULL;
    }

    input = ngx_rce_piston_job(req, &limits, &bounds, err);
    json_decref(req);

    return input;
}


static int
refused(const char *doc, const char *text)
{
    ngx_rce_input_error_t   err;
    json_t                 *input;

    input = job(doc, &err);
    json_decref(input);

    if (input == NULL && strcmp((char *) err.text, text) != 0) {
        printf("# got \"%s\"\n", err.text);
    }

    return input == NULL && strcmp((char *) err.text, text) == 0;
}


int
main(void)
{
    ngx_rce_input_error_t   err;
    json_t                 *in, *f;

    /* selectors */
    ok(match("*", "3.11.2"), "* matches anything");
    ok(match("x", "3.11.2") && match("X", "1.0.0"), "x and X too");
    ok(match("3.x", "3.11.2") && !match("3.x", "4.0.0"), "3.x");
    ok(match("3", "3.0.1") && !match("3", "2.9.9"), "3 is 3.x");
    ok(match("3.11.x", "3.11.2") && !match("3.11.x", "3.12.0"), "3.11.x");
    ok(match("3.11.*", "3.11.0") && match("3.*.*", "3.1.2"), "* parts");
    ok(match("3.11", "3.11.9") && !match("3.11", "3.1.1"), "3.11");
    ok(match("3.11.2", "3.11.2") && !match("3.11.2", "3.11.3"), "exact");
    ok(match("v3.11.2", "3.11.2") && match("=3.11.2", "3.11.2"), "v and =");
    ok(match("6.8.0", "6.8.0.105") && match("6.8.0.105", "6.8.0.105")
       && !match("6.8.0.104", "6.8.0.105"), "a fourth part");
    ok(match(">=3.8", "3.11.2") && !match(">=3.12", "3.11.2"), ">=");
    ok(match(">3.10", "3.11.0") && !match(">3.11", "3.11.9"), "> partial");
    ok(match("<3.12", "3.11.9") && !match("<3.11", "3.11.0"), "<");
    ok(match("<=3.11", "3.11.9") && !match("<=3.10", "3.11.0"), "<=");
    ok(match(">=3.8 <4", "3.11.2") && !match(">=3.8 <3.11", "3.11.2"),
       "a set");
    ok(match(">= 3.8", "3.11.2"), "a space after the operator");
    ok(match("^3.10", "3.11.2") && !match("^3.10", "4.0.0")
       && !match("^0.2.3", "0.3.0") && match("^0.2.3", "0.2.9")
       && !match("^0.0.3", "0.0.4"), "^");
    ok(match("~3.11.1", "3.11.2") && !match("~3.10.1", "3.11.2")
       && match("~3", "3.9.0"), "~");
    ok(match("3.8 - 3.11", "3.11.2") && !match("3.8 - 3.10", "3.11.2")
       && match("3.8.0 - 3.11.2", "3.8.0"), "a hyphen range");
    ok(match("2.x || 3.x", "3.11.2") && match("1 || 3.11", "3.11.2")
       && !match("1.x || 2.x", "3.11.2"), "||");
    ok(match("3.11.2-rc1", "3.11.2") && match("3.11.2+b1", "3.11.2"),
       "a prerelease or build is read");
    ok(!match("latest", "3.11.2") && !match("3.x.", "3.11.2")
       && !match("3..1", "3.11.2") && !match("3 |", "3.11.2")
       && !match("abc", "3.11.2"), "what cannot be read matches nothing");
    ok(match("17.0.6_10", "17.0.6_10") && !match("*", "17.0.6_10"),
       "a version that is no semver: by its name only");
    ok(!match("99999999999999999", "3.11.2"), "an over-long number");

    ok(strcmp(pick("*"), "3.11.2") == 0, "* picks the highest");
    ok(strcmp(pick("3.10.x"), "3.10.12") == 0, "3.10.x picks 3.10.12");
    ok(strcmp(pick("<3.10"), "3.9.4") == 0, "<3.10 picks 3.9.4");
    ok(strcmp(pick("2"), "2.7.18") == 0, "2 picks 2.7.18");
    ok(strcmp(pick("4.x"), "none") == 0, "4.x picks none");

    /* the document */
    ok(refused("{\"language\":1}", "language is required as a string"),
       "language");
    ok(refused("[]", "language is required as a string"), "an array");
    ok(refused("", "language is required as a string"), "an empty body");
    ok(refused("{\"language\":\"py\"}", "version is required as a string"),
       "version");
    ok(refused("{\"language\":\"py\",\"version\":\"*\",\"files\":{}}",
               "files is required as an array"), "files");
    ok(refused("{\"language\":\"py\",\"version\":\"*\","
               "\"files\":[{\"content\":\"\"},{\"name\":\"a\"}]}",
               "files[1].content is required as a string"), "content");
    ok(refused("{\"language\":\"py\",\"version\":\"*\",\"files\":[]}",
               "files must include at least one utf8 encoded file"),
       "no files");
    ok(refused("{\"language\":\"py\",\"version\":\"*\","
               "\"files\":[{\"content\":\"AA==\",\"encoding\":\"base64\"}]}",
               "files must include at least one utf8 encoded file"),
       "no utf8 file");
    ok(refused("{\"language\":\"py\",\"version\":\"*\","
               "\"files\":[{\"content\":\"x\"}],\"run_timeout\":10001}",
               "run_timeout cannot exceed the configured limit of 10000"),
       "over the maximum");
    ok(refused("{\"language\":\"py\",\"version\":\"*\","
               "\"files\":[{\"content\":\"x\"}],\"compile_cpu_time\":-5}",
               "compile_cpu_time must be non-negative"), "negative");
    ok(refused("{\"language\":\"py\",\"version\":\"*\","
               "\"files\":[{\"content\":\"x\"}],\"run_memory_limit\":\"1\"}",
               "If specified, run_memory_limit must be a number"),
       "not a number");
    ok(refused("{\"language\":\"py\",\"version\":\"*\","
               "\"files\":[{\"content\":\"x\"}],\"run_memory_limit\":-2}",
               "run_memory_limit must be non-negative"), "-2 bytes");
    in = job("{\"language\":\"py\",", &err);
    ok(in == NULL && strcmp(err.field, NGX_RCE_PISTON_STACK) == 0
       && strncmp((char *) err.text, "SyntaxError: ", 13) == 0,
       "malformed JSON: a stack");
    in = job("\"py\"", &err);
    ok(in == NULL && strcmp(err.field, NGX_RCE_PISTON_STACK) == 0,
       "JSON that is no object: a stack");

    in = job("{\"language\":\"py\",\"version\":\"*\",\"files\":["
             "{\"content\":\"main\"},{\"content\":\"00ff41zz\","
             "\"encoding\":\"hex\"},{\"name\":\"b\",\"content\":\"AAE=\","
             "\"encoding\":\"base64\"},{\"name\":\"c\",\"content\":\"t\","
             "\"encoding\":\"latin1\"}],\"stdin\":\"hi\",\"args\":[\"1\"],"
             "\"run_timeout\":1500.5,\"run_memory_limit\":-1,"
             "\"compile_memory_limit\":1048577,\"run_cpu_time\":0}", &err);

    ok(in != NULL, "a full document is a job");

    f = json_object_get(in, "files");
    ok(json_object_get(json_array_get(f, 0), "name") == NULL,
       "the first file without a name is the main file");
    ok(strcmp(json_string_value(json_object_get(json_array_get(f, 1),
                                                "name")), "file1.code") == 0,
       "another without a name is file<i>.code");
    ok(strcmp(json_string_value(json_object_get(json_array_get(f, 1),
                                                "content")), "AP9B") == 0
       && strcmp(json_string_value(json_object_get(json_array_get(f, 1),
                                                   "encoding")), "base64")
          == 0, "hex becomes base64, up to its first non-hex digit");
    ok(strcmp(json_string_value(json_object_get(json_array_get(f, 3),
                                                "encoding")), "utf8") == 0,
       "an unknown encoding is utf8");
    ok(strcmp(json_string_value(json_object_get(in, "stdin")), "hi\n") == 0,
       "stdin gets its trailing newline");
    ok(json_integer_value(json_object_get(json_object_get(in, "limits"),
                                          "wall_ms")) == 1501,
       "run_timeout is wall_ms, rounded up");
    ok(json_integer_value(json_object_get(json_object_get(in, "limits"),
                                          "compile_memory_mb")) == 2,
       "bytes are MiB, rounded up");
    ok(json_object_get(json_object_get(in, "limits"), "memory_mb") == NULL
       && json_object_get(json_object_get(in, "limits"), "cpu_ms") == NULL,
       "-1 and 0 are the defaults");
    json_decref(in);

    in = job("{\"language\":\"py\",\"version\":\"*\","
             "\"files\":[{\"content\":\"x\"}],\"stdin\":\"a\\n\"}", &err);
    ok(in != NULL && json_object_get(in, "limits") == NULL
       && strcmp(json_string_value(json_object_get(in, "stdin")), "a\n")
          == 0, "no limits asked; stdin ending in a newline as it is");
    json_decref(in);

    in = job("{\"language\":\"py\",\"version\":\"*\","
             "\"files\":[{\"content\":\"x\"}]}", &err);
    ok(in != NULL
       && strcmp(json_string_value(json_object_get(in, "stdin")), "\n") == 0,
       "no stdin is a newline, as in Piston");
    json_decref(in);

    printf("1..%s\n", failed ? "failed" : "ok");

    return failed ? 1 : 0;
}
