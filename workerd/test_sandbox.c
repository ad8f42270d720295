/* The container spec: every sandbox setting, the code loader command, base64 and the size cap. */
#include <jansson.h>
#include <stdlib.h>

#include "rce_protocol.h"
#include "sandbox.h"
#include "test.h"

static void test_base64_rfc4648_vectors(void)
{
    static const char *vectors[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    char out[16];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = strlen(vectors[i][0]);
        assert(base64_encoded_len(n) == strlen(vectors[i][1]));
        base64_encode((const unsigned char *)vectors[i][0], n, out);
        assert(STREQ(out, vectors[i][1]));
    }
    const unsigned char high[] = { 0xff, 0xfe, 0x00 };
    base64_encode(high, 3, out);
    assert(STREQ(out, "//4A"));
}

static char *const run_argv[] = { "python3", "-u", "main.py", NULL };

static struct sandbox_job example(const char *code, size_t len)
{
    return (struct sandbox_job){
        .job_id = "job-7", .node = "n1", .image = "rce/python:latest", .main_file = "main.py",
        .run_argv = run_argv, .run_argc = 3, .code = code, .code_len = len,
        .memory_mb = 128, .pids = 50,
    };
}

static const char *str_at(json_t *array, size_t i)
{
    return json_string_value(json_array_get(array, i));
}

static void test_spec_settings(void)
{
    char err[128];
    struct sandbox_job job = example("print(1)\n", 9);
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);

    assert(STREQ(json_string_value(json_object_get(spec, "Image")), "rce/python:latest"));
    json_t *labels = json_object_get(spec, "Labels");
    assert(STREQ(json_string_value(json_object_get(labels, RCE_LABEL_JOB)), "job-7"));
    assert(STREQ(json_string_value(json_object_get(labels, RCE_LABEL_NODE)), "n1"));
    assert(STREQ(json_string_value(json_object_get(spec, "User")), "65534:65534"));
    assert(STREQ(json_string_value(json_object_get(spec, "WorkingDir")), "/work"));
    assert(STREQ(json_string_value(json_object_get(spec, "Hostname")), "sandbox"));
    assert(json_is_true(json_object_get(spec, "NetworkDisabled")));
    assert(json_is_true(json_object_get(spec, "AttachStdout")) && json_is_true(json_object_get(spec, "AttachStderr")));
    assert(json_is_false(json_object_get(spec, "OpenStdin")) && json_is_false(json_object_get(spec, "Tty")));
    json_t *env = json_object_get(spec, "Env");
    assert(json_array_size(env) == 3 && STREQ(str_at(env, 1), "HOME=/tmp") && STREQ(str_at(env, 2), "LANG=C.UTF-8"));
    assert(strncmp(str_at(env, 0), "PATH=", 5) == 0);
    json_t *entrypoint = json_object_get(spec, "Entrypoint");
    assert(json_is_array(entrypoint) && json_array_size(entrypoint) == 0);

    json_t *cmd = json_object_get(spec, "Cmd");
    assert(json_array_size(cmd) == 9);
    assert(STREQ(str_at(cmd, 0), "/bin/sh") && STREQ(str_at(cmd, 1), "-c"));
    assert(strstr(str_at(cmd, 2), "base64 -d") && STREQ(str_at(cmd, 3), "rce"));
    assert(STREQ(str_at(cmd, 4), "cHJpbnQoMSkK"));    /* base64 of "print(1)\n" */
    assert(STREQ(str_at(cmd, 5), "main.py"));
    assert(STREQ(str_at(cmd, 6), "python3") && STREQ(str_at(cmd, 7), "-u") && STREQ(str_at(cmd, 8), "main.py"));

    json_t *hc = json_object_get(spec, "HostConfig");
    assert(STREQ(json_string_value(json_object_get(hc, "NetworkMode")), "none"));
    assert(json_integer_value(json_object_get(hc, "Memory")) == 128LL * 1024 * 1024);
    assert(json_integer_value(json_object_get(hc, "MemorySwap")) == 128LL * 1024 * 1024);
    assert(json_integer_value(json_object_get(hc, "PidsLimit")) == 50);
    assert(json_integer_value(json_object_get(hc, "NanoCpus")) == 1000000000);
    assert(json_is_true(json_object_get(hc, "ReadonlyRootfs")));
    assert(json_is_true(json_object_get(hc, "Init")));
    assert(json_is_false(json_object_get(hc, "AutoRemove")));
    json_t *tmpfs = json_object_get(hc, "Tmpfs");
    assert(strstr(json_string_value(json_object_get(tmpfs, "/work")), "uid=65534"));
    assert(strstr(json_string_value(json_object_get(tmpfs, "/tmp")), "mode=1777"));
    assert(STREQ(str_at(json_object_get(hc, "CapDrop"), 0), "ALL"));
    assert(STREQ(str_at(json_object_get(hc, "SecurityOpt"), 0), "no-new-privileges"));
    json_t *ulimits = json_object_get(hc, "Ulimits");
    assert(json_array_size(ulimits) == 3);
    assert(STREQ(json_string_value(json_object_get(json_array_get(ulimits, 0), "Name")), "nofile"));
    assert(json_integer_value(json_object_get(json_array_get(ulimits, 1), "Hard")) == 64 * 1024 * 1024);
    assert(json_integer_value(json_object_get(json_array_get(ulimits, 2), "Soft")) == 0);
    assert(STREQ(json_string_value(json_object_get(json_object_get(hc, "LogConfig"), "Type")), "none"));
    json_decref(spec);
}

static void test_code_size_cap(void)
{
    char err[128] = "";
    /* The largest code whose base64 fits, and one byte more. */
    size_t fits = SANDBOX_MAX_CODE_BASE64 / 4 * 3;
    char *code = malloc(fits + 1);
    memset(code, 'x', fits + 1);
    struct sandbox_job job = example(code, fits);
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    json_decref(spec);
    job = example(code, fits + 1);
    assert(sandbox_container_spec(&job, err, sizeof err) == NULL);
    assert(STREQ(err, "code too large for this node"));
    free(code);
}

int main(void)
{
    RUN(test_base64_rfc4648_vectors);
    RUN(test_spec_settings);
    RUN(test_code_size_cap);
    return REPORT("test_sandbox");
}
