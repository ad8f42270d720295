/* The container spec: every sandbox setting, the code loader command and the size cap. */
#include <jansson.h>
#include <stdlib.h>

#include "rce_protocol.h"
#include "docker.h"
#include "sandbox.h"
#include "embedded.h"
#include "rce_base64.h"
#include "test.h"

static char *const run_argv[] = { "python3", "-u", "main.py", NULL };
static char *const compile_argv[] = { "gcc", "-O2", "it's.c", NULL };
static struct sandbox_file one_file;

static struct sandbox_job example(const char *code, size_t len)
{
    one_file = (struct sandbox_file){ "main.py", code, len };
    return (struct sandbox_job){
        .job_id = "job-7", .node = "n1", .image = "rce/python:latest",
        .files = &one_file, .n_files = 1, .marker = "\036rce-compiled-ab12",
        .run_argv = run_argv, .run_argc = 3,
        .memory_mb = 128, .pids = 50, .cpu_ms = 1500, .runtime = NULL,
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

    /* perl -e WRAPPER -- NR NR NR NR NR MARKER END COMPILE_CPU_S RUN_CPU_S NTESTS TEST_WALL_MS
     * TEST_CAP TESTS_CAP INTERACTIVE NCOMPILE COMPILE... NRUN RUN... NFILES (NAME B64)... STDIN_B64
     * ARGS... */
    json_t *cmd = json_object_get(spec, "Cmd");
    assert(json_array_size(cmd) == 27 && STREQ(str_at(cmd, 17), "0"));
    assert(STREQ(str_at(cmd, 0), "perl") && STREQ(str_at(cmd, 1), "-e") && STREQ(str_at(cmd, 3), "--"));
    assert(STREQ(str_at(cmd, 2), embed_wrapper_pl.data));
    assert(strstr(str_at(cmd, 2), "delete $ENV{HOSTNAME}") && strstr(str_at(cmd, 2), "kill(9, -1)"));
    /* getrusage, clock_gettime, prctl, setrlimit, wait4 */
    for (size_t i = 4; i <= 8; i++)
        assert(atoi(str_at(cmd, i)) > 0);
    assert(STREQ(str_at(cmd, 9), "\036rce-compiled-ab12"));
    assert(STREQ(str_at(cmd, 10), ""));                 /* a cold container gets no end token */
    assert(STREQ(str_at(cmd, 11), "0"));                /* no compile step: no compile cpu limit */
    assert(STREQ(str_at(cmd, 12), "2"));                /* the run's 1500 ms: 2 s */
    for (size_t i = 13; i <= 16; i++)
        assert(STREQ(str_at(cmd, i), "0"));             /* no tests: not judge mode */
    assert(STREQ(str_at(cmd, 17), "0"));                /* not interactive */
    assert(STREQ(str_at(cmd, 18), "0"));                /* interpreted: no compile command */
    assert(STREQ(str_at(cmd, 19), "3") && STREQ(str_at(cmd, 20), "python3") && STREQ(str_at(cmd, 22), "main.py"));
    assert(STREQ(str_at(cmd, 23), "1"));
    assert(STREQ(str_at(cmd, 24), "main.py"));
    assert(STREQ(str_at(cmd, 25), "cHJpbnQoMSkK"));    /* base64 of "print(1)\n" */
    assert(STREQ(str_at(cmd, 26), ""));                /* empty stdin */

    json_t *hc = json_object_get(spec, "HostConfig");
    assert(STREQ(json_string_value(json_object_get(hc, "NetworkMode")), "none"));
    assert(json_integer_value(json_object_get(hc, "Memory")) == 128LL * 1024 * 1024);
    assert(json_integer_value(json_object_get(hc, "MemorySwap")) == 128LL * 1024 * 1024);
    assert(json_integer_value(json_object_get(hc, "PidsLimit")) == 50);
    assert(json_integer_value(json_object_get(hc, "NanoCpus")) == 1000000000);
    assert(json_is_true(json_object_get(hc, "ReadonlyRootfs")));
    assert(json_is_false(json_object_get(hc, "Init")));          /* the wrapper is PID 1 */
    assert(json_is_false(json_object_get(hc, "Privileged")));
    assert(STREQ(json_string_value(json_object_get(hc, "IpcMode")), "private"));
    assert(json_array_size(json_object_get(hc, "Devices")) == 0);
    assert(json_integer_value(json_object_get(hc, "ShmSize")) == SANDBOX_SHM_MB * 1024 * 1024);
    assert(json_integer_value(json_object_get(hc, "OomScoreAdj")) == 1000);
    assert(!json_object_get(hc, "Runtime"));                      /* the engine's default */
    assert(json_is_false(json_object_get(hc, "AutoRemove")));
    json_t *tmpfs = json_object_get(hc, "Tmpfs");
    assert(strstr(json_string_value(json_object_get(tmpfs, "/work")), "uid=65534"));
    assert(strstr(json_string_value(json_object_get(tmpfs, "/tmp")), "mode=1777"));
    assert(STREQ(str_at(json_object_get(hc, "CapDrop"), 0), "ALL"));
    assert(STREQ(str_at(json_object_get(hc, "SecurityOpt"), 0), "no-new-privileges"));
    json_t *ulimits = json_object_get(hc, "Ulimits");
    assert(json_array_size(ulimits) == 4);
    assert(STREQ(json_string_value(json_object_get(json_array_get(ulimits, 0), "Name")), "nofile"));
    assert(json_integer_value(json_object_get(json_array_get(ulimits, 1), "Hard")) == SANDBOX_FSIZE_MB * 1024 * 1024);
    assert(json_integer_value(json_object_get(json_array_get(ulimits, 2), "Soft")) == 0);
    json_t *cpu = json_array_get(ulimits, 3);                      /* 1500 ms: 2 s, kill at 3 s */
    assert(STREQ(json_string_value(json_object_get(cpu, "Name")), "cpu"));
    assert(json_integer_value(json_object_get(cpu, "Soft")) == 2 && json_integer_value(json_object_get(cpu, "Hard")) == 3);
    assert(STREQ(json_string_value(json_object_get(json_object_get(hc, "LogConfig"), "Type")), "none"));
    json_decref(spec);
}

static void test_compile_stdin_args(void)
{
    char err[128];
    char *const args[] = { "a b", "-x", NULL };
    struct sandbox_job job = example("int main(){}", 12);
    job.compile_argv = compile_argv;
    job.compile_argc = 3;
    job.compile_cpu_ms = 20000;
    job.stdin_data = "hi";
    job.stdin_len = 2;
    job.args = args;
    job.n_args = 2;
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    json_t *cmd = json_object_get(spec, "Cmd");
    assert(json_array_size(cmd) == 32);
    assert(STREQ(str_at(cmd, 11), "20") && STREQ(str_at(cmd, 12), "2"));    /* each step's cpu limit */
    assert(STREQ(str_at(cmd, 18), "3") && STREQ(str_at(cmd, 21), "it's.c"));   /* words, no shell */
    assert(STREQ(str_at(cmd, 22), "3") && STREQ(str_at(cmd, 23), "python3"));
    assert(STREQ(str_at(cmd, 29), "aGk="));            /* base64 of the stdin */
    assert(STREQ(str_at(cmd, 30), "a b") && STREQ(str_at(cmd, 31), "-x"));
    /* the container's RLIMIT_CPU is the larger step's */
    json_t *cpu = json_array_get(json_object_get(json_object_get(spec, "HostConfig"), "Ulimits"), 3);
    assert(json_integer_value(json_object_get(cpu, "Soft")) == 20 && json_integer_value(json_object_get(cpu, "Hard")) == 21);
    json_decref(spec);
}

static void test_runtime(void)
{
    char err[128];
    struct sandbox_job job = example("1", 1);
    job.runtime = "runsc";
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    assert(STREQ(json_string_value(json_object_get(json_object_get(spec, "HostConfig"), "Runtime")), "runsc"));
    assert(json_integer_value(json_object_get(json_object_get(spec, "HostConfig"), "PidsLimit"))
           == 50 * SANDBOX_GVISOR_PIDS_PER_TASK + SANDBOX_GVISOR_PIDS_BASE);
    json_decref(spec);
    job.runtime = "";
    spec = sandbox_container_spec(&job, err, sizeof err);
    assert(!json_object_get(json_object_get(spec, "HostConfig"), "Runtime"));
    json_decref(spec);
}

/* The CPU quota: one unless the job's language declares more. */
static void test_cpus(void)
{
    char err[128];
    struct sandbox_job job = example("1", 1);
    job.cpus = 2;
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    assert(json_integer_value(json_object_get(json_object_get(spec, "HostConfig"), "NanoCpus")) == 2000000000);
    json_decref(spec);
}

/* A warm container's spec: the prelude waits on stdin, the job comes as its payload. */
static void test_warm_spec_and_payload(void)
{
    char err[128];
    struct sandbox_job job = example("print(1)", 8);
    job.pool_token = "abc";
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    json_t *cmd = json_object_get(spec, "Cmd");
    assert(json_array_size(cmd) == 3 && STREQ(json_string_value(json_array_get(cmd, 0)), "perl"));
    assert(strstr(str_at(cmd, 2), "sysread(STDIN") && strstr(str_at(cmd, 2), "kill(9, -1)"));
    assert(strncmp(str_at(cmd, 2), embed_prelude_pl.data, embed_prelude_pl.len) == 0
           && STREQ(str_at(cmd, 2) + embed_prelude_pl.len, embed_wrapper_pl.data));
    assert(json_is_true(json_object_get(spec, "OpenStdin")) && json_is_true(json_object_get(spec, "StdinOnce")));
    assert(STREQ(json_string_value(json_object_get(json_object_get(spec, "Labels"), RCE_LABEL_POOL)), "abc"));
    assert(!json_object_get(json_object_get(spec, "Labels"), RCE_LABEL_JOB));
    json_decref(spec);

    /* The payload: the lengths of the cold Cmd's wrapper arguments, then those arguments;
     * the end token, which a cold command line must not carry, only here. */
    job.pool_token = NULL;
    spec = sandbox_container_spec(&job, err, sizeof err);
    cmd = json_object_get(spec, "Cmd");
    assert(!json_is_true(json_object_get(spec, "OpenStdin")));
    size_t len;
    char *payload = sandbox_payload(&job, &len, err, sizeof err);
    assert(payload);
    char *nl = memchr(payload, '\n', len), *p = nl + 1, *lens = payload;
    assert(nl);
    size_t words = 0;
    for (size_t i = 4; i < json_array_size(cmd); i++, words++) {     /* after perl -e WRAPPER -- */
        const char *w = json_string_value(json_array_get(cmd, i));
        char *end;
        size_t n = strtoul(lens, &end, 10);
        assert(n == strlen(w) && (*end == ' ' || end == nl));
        assert(memcmp(p, w, n) == 0);
        p += n;
        lens = end + 1;
    }
    assert(words > 5 && p == payload + len);
    free(payload);
    json_decref(spec);
}

/* An interactive job's cold container: stdin attached and open, the wrapper told so. */
static void test_interactive_spec(void)
{
    char err[128];
    struct sandbox_job job = example("print(1)\n", 9);
    job.interactive = true;
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    assert(json_is_true(json_object_get(spec, "AttachStdin")) && json_is_true(json_object_get(spec, "OpenStdin"))
           && json_is_true(json_object_get(spec, "StdinOnce")));
    assert(STREQ(str_at(json_object_get(spec, "Cmd"), 17), "1"));
    json_decref(spec);
}

static void test_stats_figures(void)
{
    long long cpu, mem;
    json_t *running = json_loads("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":73212166}},"
                                 "\"memory_stats\":{\"usage\":1000,\"max_usage\":108539904}}", 0, NULL);
    assert(docker_stats_figures(running, &cpu, &mem) == 0 && cpu == 73212166 && mem == 108539904);
    json_t *v2 = json_loads("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":5}},"
                            "\"memory_stats\":{\"usage\":4096}}", 0, NULL);
    assert(docker_stats_figures(v2, &cpu, &mem) == 0 && cpu == 5 && mem == 4096);
    /* A stopped container (cgroup v1, Docker 20.10): zeros and empty objects. */
    json_t *stopped = json_loads("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":0}},\"memory_stats\":{}}",
                                 0, NULL);
    assert(docker_stats_figures(stopped, &cpu, &mem) == -1 && cpu == -1 && mem == -1);
    assert(docker_stats_figures(NULL, &cpu, &mem) == -1);
    json_decref(running);
    json_decref(v2);
    json_decref(stopped);
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
    assert(sandbox_fits_command(&job));
    job = example(code, fits + 1);
    assert(!sandbox_fits_command(&job));
    assert(sandbox_container_spec(&job, err, sizeof err) == NULL);
    assert(STREQ(err, "files or stdin too large for a command line: the job must be fed on stdin"));
    /* fed: the warm container's command, stdin open, labelled as the job's; the whole job in
     * its payload */
    job.fed = true;
    spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    json_t *cmd = json_object_get(spec, "Cmd");
    assert(json_array_size(cmd) == 3 && strncmp(str_at(cmd, 2), embed_prelude_pl.data, embed_prelude_pl.len) == 0);
    assert(json_is_true(json_object_get(spec, "OpenStdin")) && json_is_true(json_object_get(spec, "StdinOnce")));
    assert(STREQ(json_string_value(json_object_get(json_object_get(spec, "Labels"), RCE_LABEL_JOB)), job.job_id));
    assert(!json_object_get(json_object_get(spec, "Labels"), RCE_LABEL_POOL));
    json_decref(spec);
    size_t len;
    char *payload = sandbox_payload(&job, &len, err, sizeof err);
    assert(payload && len > rce_base64_encoded_len(fits + 1));
    free(payload);
    /* stdin counts too, and so do all of them together */
    job = example("print(1)", 8);
    job.stdin_data = code;
    job.stdin_len = fits + 1;
    assert(!sandbox_fits_command(&job));
    job.stdin_len = fits;
    assert(sandbox_fits_command(&job));
    free(code);
}

/* Judge mode: the tests' limits after the cpu limits, each test's stdin and arguments in place
 * of the job's. */
static void test_tests(void)
{
    char err[128];
    char *const args[] = { "-v", NULL };
    const struct sandbox_test tests[] = { { "1 2\n", 4, NULL, 0 }, { NULL, 0, args, 1 } };
    struct sandbox_job job = example("print(1)\n", 9);
    job.tests = tests;
    job.n_tests = 2;
    job.test_wall_ms = 1000;
    job.test_output_bytes = 4096;
    job.tests_output_max = 8192;
    json_t *spec = sandbox_container_spec(&job, err, sizeof err);
    assert(spec);
    json_t *cmd = json_object_get(spec, "Cmd");
    assert(json_array_size(cmd) == 31);
    assert(STREQ(str_at(cmd, 13), "2") && STREQ(str_at(cmd, 14), "1000") && STREQ(str_at(cmd, 15), "4096")
           && STREQ(str_at(cmd, 16), "8192") && STREQ(str_at(cmd, 17), "0"));
    assert(STREQ(str_at(cmd, 25), "cHJpbnQoMSkK"));
    assert(STREQ(str_at(cmd, 26), "MSAyCg==") && STREQ(str_at(cmd, 27), "0"));    /* "1 2\n", no args */
    assert(STREQ(str_at(cmd, 28), "") && STREQ(str_at(cmd, 29), "1") && STREQ(str_at(cmd, 30), "-v"));
    json_decref(spec);
}

int main(void)
{
    RUN(test_tests);
    RUN(test_interactive_spec);
    RUN(test_spec_settings);
    RUN(test_compile_stdin_args);
    RUN(test_code_size_cap);
    RUN(test_runtime);
    RUN(test_cpus);
    RUN(test_warm_spec_and_payload);
    RUN(test_stats_figures);
    return REPORT("test_sandbox");
}
