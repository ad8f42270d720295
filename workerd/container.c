#include "container.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"
#include "sandbox.h"
#include "wrapper.h"

#define QUICK_TIMEOUT_MS 10000L     /* kill, inspect, list */
#define ATTACH_TIMEOUT_MS 10000L    /* until the attach answers */
#define STATS_TIMEOUT_MS 2000L      /* figures of a container we are about to kill */

void container_kill(struct docker *d, const char *id)
{
    char err[400];
    if (docker_kill(d, id, err, sizeof err) != 0)
        log_warn("container %.12s: %s", id, err);
}
/* A failure is only logged because the reaper retries within a minute. */
void container_remove(struct docker *d, const char *id)
{
    char err[400];
    if (!id[0])
        return;
    if (docker_remove(d, id, err, sizeof err) != 0)
        log_warn("container %.12s: %s", id, err);
}
/* The compile and run commands name the main file as rce.main does; a job whose first file
 * has another name runs that one: the words equal to the main file name are replaced, and
 * RCE_RUN_COMPILE_MARKER by the job's marker. The copy shares the strings; free only the array. */
static char **with_main(char *const *argv, size_t argc, const char *main_file, const char *first,
                        const char *marker)
{
    char **copy = calloc(argc + 1, sizeof *copy);
    for (size_t i = 0; copy && i < argc; i++)
        copy[i] = strcmp(argv[i], main_file) == 0 ? (char *)first
                  : strcmp(argv[i], RCE_RUN_COMPILE_MARKER) == 0 ? (char *)(marker ? marker : "")
                  : argv[i];
    return copy;
}
long container_run_memory_mb(const struct config *cfg, const struct limits *limits, const struct lang *lang)
{
    long mb = limits->memory_mb, needs = lang->limits.memory_mb;
    if (needs > mb)
        mb = needs > cfg->maxima.memory_mb ? cfg->maxima.memory_mb : needs;
    return mb;
}
/* The container holds the compile step and the run: the larger of their memory limits. */
static long container_memory_mb(const struct config *cfg, const struct limits *limits, const struct lang *lang)
{
    long mb = container_run_memory_mb(cfg, limits, lang);
    if (lang_compiled(lang) && limits->compile_memory_mb > mb)
        mb = limits->compile_memory_mb;
    return mb;
}
/* The run command's cpu limit, ms: the run's, and the compile step's too when the run command
 * compiles (one process does both: workerd holds each step to its own). */
static long run_command_cpu_ms(const struct limits *limits, const struct lang *lang)
{
    return lang->compiles_in_run ? limits->compile_cpu_ms + limits->cpu_ms : limits->cpu_ms;
}
/* The compile command's cpu limit, ms; 0 without a compile command. */
static long compile_command_cpu_ms(const struct limits *limits, const struct lang *lang)
{
    return lang->compile_argv ? limits->compile_cpu_ms : 0;
}
void container_shape(const struct config *cfg, const struct limits *limits, const struct lang *lang,
                     struct container_shape *shape)
{
    shape->memory_mb = container_memory_mb(cfg, limits, lang);
    shape->pids = limits->pids;
    shape->cpu_s = sandbox_cpu_limit_s(compile_command_cpu_ms(limits, lang), run_command_cpu_ms(limits, lang));
}
/* One CPU, unless the language declares more (a JVM compiles and collects on other threads
 * while it starts); never more than the node allows. The cpu_ms limit still bounds the total. */
long container_cpus(const struct config *cfg, const struct lang *lang)
{
    long cpus = lang->cpus > 0 ? lang->cpus : 1;
    if (cpus > cfg->max_cpus)
        cpus = cfg->max_cpus;
    return cpus > 0 ? cpus : 1;
}
/* The sandbox description of job (or, with job NULL, of a warm container for lang with the
 * node's default limits). files and the two argv copies are the caller's to free. */
static int describe(const struct config *cfg, const struct job *job, const struct lang *lang,
                    const char *marker, const char *pool_token, struct sandbox_job *sj,
                    struct sandbox_file **files, struct sandbox_test **tests, char ***compile_argv,
                    char ***run_argv)
{
    struct limits warm_limits = cfg->defaults;
    const struct limits *limits = &warm_limits;
    if (job)
        limits = &job->limits;
    else
        lang_limits(lang, cfg, 0, &warm_limits);
    size_t n = job && job->n_files ? job->n_files : 1;
    *compile_argv = *run_argv = NULL;
    *tests = NULL;
    if (!(*files = calloc(n, sizeof **files)))
        return -1;
    if (job && job->n_tests && !(*tests = calloc(job->n_tests, sizeof **tests)))
        return -1;
    for (size_t i = 0; job && i < job->n_tests; i++)
        (*tests)[i] = (struct sandbox_test){ job->tests[i].stdin_data, job->tests[i].stdin_len, job->tests[i].args,
                                             job->tests[i].n_args };
    /* "code" is the main file; in "files" a file without a name is too */
    if (!job || job->n_files == 0)
        (*files)[0] = (struct sandbox_file){ lang->main_file, job ? job->code : "", job ? job->code_len : 0 };
    for (size_t i = 0; job && i < job->n_files; i++)
        (*files)[i] = (struct sandbox_file){ job->files[i].name ? job->files[i].name : lang->main_file,
                                             job->files[i].data, job->files[i].len };
    /* judge mode runs an image's own commands for it, if it has them */
    bool own = job && job->n_tests && lang->tests_run_argv;
    char *const *compile = own ? lang->tests_compile_argv : lang->compile_argv;
    size_t compile_argc = own ? lang->tests_compile_argc : lang->compile_argc;
    char *const *run = own ? lang->tests_run_argv : lang->run_argv;
    size_t run_argc = own ? lang->tests_run_argc : lang->run_argc;
    if (compile && !(*compile_argv = with_main(compile, compile_argc, lang->main_file, (*files)[0].name, marker)))
        return -1;
    if (!(*run_argv = with_main(run, run_argc, lang->main_file, (*files)[0].name, marker)))
        return -1;
    *sj = (struct sandbox_job){
        .job_id = job ? job->id : NULL, .node = cfg->node,
        .image = lang->image_id ? lang->image_id : lang->image,
        .files = *files, .n_files = n,
        .stdin_data = job ? job->stdin_data : NULL, .stdin_len = job ? job->stdin_len : 0,
        .args = job ? job->args : NULL, .n_args = job ? job->n_args : 0,
        .compile_argv = *compile_argv, .compile_argc = compile_argc,
        .run_argv = *run_argv, .run_argc = run_argc, .marker = marker ? marker : "",
        .memory_mb = container_memory_mb(cfg, limits, lang), .pids = limits->pids,
        .cpu_ms = own ? limits->cpu_ms : run_command_cpu_ms(limits, lang),
        .compile_cpu_ms = own && compile ? limits->compile_cpu_ms : compile_command_cpu_ms(limits, lang),
        .cpus = container_cpus(cfg, lang),
        .runtime = cfg->runtime, .pool_token = pool_token,
        .tests = *tests, .n_tests = job ? job->n_tests : 0, .test_wall_ms = limits->wall_ms,
        .test_output_bytes = limits->output_bytes, .tests_output_max = RCE_TESTS_OUTPUT_MAX_BYTES,
        .interactive = job && job->interactive,
    };
    return 0;
}
/* Builds the job's container spec (job NULL: a warm container's) and creates it; fills id. */
static int create_container(struct docker *d, const struct config *cfg, const struct job *job,
                            const struct lang *lang, const char *marker, const char *pool_token,
                            bool *fed, char *id, char *err, size_t errlen)
{
    struct sandbox_job sj;
    struct sandbox_file *files = NULL;
    struct sandbox_test *tests = NULL;
    char **compile_argv = NULL, **run_argv = NULL;
    json_t *spec = NULL;
    int rc = -1;
    if (describe(cfg, job, lang, marker, pool_token, &sj, &files, &tests, &compile_argv, &run_argv) != 0) {
        snprintf(err, errlen, "create failed: out of memory");
        goto fail;
    }
    sj.fed = fed && !pool_token && !sandbox_fits_command(&sj);
    if (fed)
        *fed = sj.fed;
    if (!(spec = sandbox_container_spec(&sj, err, errlen)))
        goto fail;
    rc = docker_create(d, spec, id, err, errlen);
fail:
    free(files);
    free(tests);
    free(compile_argv);
    free(run_argv);
    json_decref(spec);
    return rc;
}
/* The job as the prelude of a warm container reads it; NULL with err on failure. */
static char *job_payload(const struct config *cfg, const struct job *job, const struct lang *lang,
                         const char *marker, const char *end, size_t *len, char *err, size_t errlen)
{
    struct sandbox_job sj;
    struct sandbox_file *files = NULL;
    struct sandbox_test *tests = NULL;
    char **compile_argv = NULL, **run_argv = NULL;
    char *payload = NULL;
    if (describe(cfg, job, lang, marker, NULL, &sj, &files, &tests, &compile_argv, &run_argv) != 0) {
        snprintf(err, errlen, "out of memory building the job's payload");
    } else {
        sj.end = end;
        payload = sandbox_payload(&sj, len, err, errlen);
    }
    free(files);
    free(tests);
    free(compile_argv);
    free(run_argv);
    return payload;
}
int container_warm_start(struct docker *d, const struct config *cfg, const struct lang *lang,
                         const char *pool_token, struct container_warm *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->stream.fd = CURL_SOCKET_BAD;
    if (create_container(d, cfg, NULL, lang, NULL, pool_token, NULL, w->id, err, errlen) != 0)
        return -1;
    if (docker_start(d, w->id, err, errlen) != 0
        || docker_stream_hijack(&w->stream, d->socket_path, w->id, ATTACH_TIMEOUT_MS, err, errlen) != 0)
        return -1;
    w->attached = true;
    return 0;
}
void container_warm_discard(struct docker *d, struct container_warm *w)
{
    if (w->attached)
        docker_stream_close(&w->stream);
    w->attached = false;
    if (w->id[0])
        container_remove(d, w->id);
    w->id[0] = '\0';
}
/* Drives the attach until its headers arrived: only then can no output be missed. */
static int await_attach(struct docker_stream *s, struct job_result *r)
{
    int64_t give_up = clock_mono_ms() + ATTACH_TIMEOUT_MS;
    while (!s->headers_done && !s->finished) {
        int64_t left = give_up - clock_mono_ms();
        if (left <= 0) {
            job_result_fail(r, "attach failed: no answer within %ld ms", ATTACH_TIMEOUT_MS);
            return -1;
        }
        if (docker_stream_step(s, left) != 0) {
            job_result_fail(r, "attach failed: curl multi error");
            return -1;
        }
    }
    if (!s->headers_done) {
        job_result_fail(r, "attach failed: %s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
        return -1;
    }
    if (s->status != 200) {
        /* Collect the error body for Docker's message. */
        while (!s->finished && clock_mono_ms() < give_up)
            docker_stream_step(s, give_up - clock_mono_ms());
        struct docker_response resp = { .status = s->status, .body = s->error_body.data,
                                        .len = s->error_body.len };
        char why[300];
        docker_describe(&resp, why, sizeof why);
        job_result_fail(r, "attach failed: %s", why);
        return -1;
    }
    return 0;
}
/* Reads the container's cpu total and memory peak through the stats API into r (a figure
 * the engine does not give stays unknown). Returns the cpu total in ms, or -1. */
long long container_stats(struct docker *d, const char *id, struct job_result *r)
{
    struct docker_response resp = { 0 };
    char path[256], err[300];
    long long cpu_ns = -1, mem = -1;
    snprintf(path, sizeof path, "/containers/%s/stats?stream=false&one-shot=true", id);
    if (docker_call(d, "GET", path, NULL, STATS_TIMEOUT_MS, &resp, err, sizeof err) != DOCKER_OK) {
        log_warn("container %.12s: stats failed: %s", id, err);
    } else if (resp.status != 200) {
        docker_describe(&resp, err, sizeof err);
        log_warn("container %.12s: stats failed: %s", id, err);
    } else {
        json_t *stats = docker_response_json(&resp);
        if (docker_stats_figures(stats, &cpu_ns, &mem) != 0)
            log_warn("container %.12s: stats gave no figures (it has stopped)", id);
        json_decref(stats);
    }
    docker_response_free(&resp);
    if (cpu_ns >= 0)
        r->cpu_ms = cpu_ns / 1000000;
    if (mem >= 0)
        r->memory_kb = mem / 1024;
    return cpu_ns >= 0 ? cpu_ns / 1000000 : -1;
}
/* The whole container died of SIGKILL (no figures line: the wrapper died too) and Docker's
 * state has no OOM flag. Under gVisor the kernel's OOM kill takes the whole sandbox, and
 * Docker may handle the exit before the OOM event, leaving OOMKilled false; the event is
 * still logged. Looks for it among the engine's events of this container (the last minute,
 * up to a second from now). */
bool container_oom_seen(struct docker *d, const char *id)
{
    struct docker_response resp = { 0 };
    char path[512], err[300], filter[200];
    snprintf(filter, sizeof filter, "{\"container\":[\"%s\"],\"event\":[\"oom\"]}", id);
    char *escaped = curl_easy_escape(NULL, filter, 0);
    if (!escaped)
        return false;
    long long now = clock_unix_ms() / 1000;
    snprintf(path, sizeof path, "/events?since=%lld&until=%lld&filters=%s", now - 60, now + 1, escaped);
    curl_free(escaped);
    bool seen = false;
    if (docker_call(d, "GET", path, NULL, QUICK_TIMEOUT_MS, &resp, err, sizeof err) == DOCKER_OK
        && resp.status == 200)
        seen = strstr(resp.body, "\"oom\"") != NULL;
    docker_response_free(&resp);
    return seen;
}
int container_wait_exit(struct docker *d, const char *id, long timeout_ms, int *exit_code, bool *oom_killed,
                        char *err, size_t errlen)
{
    struct docker_response resp = { 0 };
    char path[256];
    json_t *info = NULL;
    char why[300];
    snprintf(path, sizeof path, "/containers/%s/wait?condition=not-running", id);
    int rc = docker_call(d, "POST", path, NULL, timeout_ms, &resp, why, sizeof why);
    docker_response_free(&resp);
    if (rc == DOCKER_FAILED)
        snprintf(err, errlen, "wait failed: %s", why);
    if (rc != DOCKER_OK)
        return rc;
    rc = DOCKER_FAILED;
    snprintf(path, sizeof path, "/containers/%s/json", id);
    if (docker_call(d, "GET", path, NULL, QUICK_TIMEOUT_MS, &resp, why, sizeof why) != DOCKER_OK)
        goto done;
    if (resp.status != 200) {
        docker_describe(&resp, why, sizeof why);
        goto done;
    }
    info = docker_response_json(&resp);
    json_t *state = json_object_get(info, "State");
    json_t *code = json_object_get(state, "ExitCode");
    if (!json_is_integer(code)) {
        snprintf(why, sizeof why, "no State.ExitCode");
        goto done;
    }
    *exit_code = (int)json_integer_value(code);
    *oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
    rc = DOCKER_OK;
done:
    if (rc != DOCKER_OK)
        snprintf(err, errlen, "inspect failed: %s", why);
    json_decref(info);
    docker_response_free(&resp);
    return rc;
}

/* Attaches to a cold container before it starts (its output into r's captures): an
 * interactive or fed job's with its stdin too, over an upgraded connection (docker_stream_hijack),
 * any other's output only, through curl (await_attach then waits for the answer). -1 after
 * failing r. */
static int attach_cold(struct docker *d, const struct job *job, bool fed, const char *id,
                       struct docker_stream *stream, struct job_result *r)
{
    char path[256], err[400];
    if (job->interactive || fed) {
        if (docker_stream_hijack(stream, d->socket_path, id, ATTACH_TIMEOUT_MS, err, sizeof err) != 0) {
            job_result_fail(r, "%s", err);
            return -1;
        }
        docker_stream_bind(stream, &r->out, &r->err);
        return 0;
    }
    snprintf(path, sizeof path, "/containers/%s/attach?stream=1&stdout=1&stderr=1", id);
    if (docker_stream_open(stream, d->socket_path, path, &r->out, &r->err, err, sizeof err) != 0) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    return 0;
}

/* Sends the job to a container that reads it on stdin (prelude.pl), with an end token, which
 * such a container can keep secret. Fills *t_start, when it was sent. Returns 0 if sent, 1 if
 * the container took none, -1 after failing r. */
static int feed(const struct config *cfg, const struct job *job, const struct lang *lang, const char *marker,
                struct docker_stream *stream, int64_t *t_start, struct job_result *r)
{
    char err[400], end[WRAPPER_TOKEN_SIZE];
    size_t len = 0;
    wrapper_token(job->id, WRAPPER_END_PREFIX, end);
    char *payload = job_payload(cfg, job, lang, marker, end, &len, err, sizeof err);
    if (!payload) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    job_result_set_end(r, end);
    *t_start = clock_mono_ms();
    int rc = docker_stream_send(stream, payload, len, ATTACH_TIMEOUT_MS);
    free(payload);
    return rc != 0 ? 1 : 0;
}

/* Cold start: creates the job's container, attaches to it and starts it (and feeds it, if
 * fed). Fills id (kept on failure too, for removal) and *t_start, the moment of the start
 * call or of the feed. */
int container_start_cold(struct docker *d, const struct config *cfg, const struct job *job,
                         const struct lang *lang, const char *marker, struct docker_stream *stream,
                         bool *stream_open, bool *fed, char *id, int64_t *t_start, struct job_result *r)
{
    char err[400];
    if (create_container(d, cfg, job, lang, marker, NULL, fed, id, err, sizeof err) != 0) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    if (attach_cold(d, job, *fed, id, stream, r) != 0)
        return -1;
    *stream_open = true;
    if (!job->interactive && !*fed && await_attach(stream, r) != 0)
        return -1;
    *t_start = clock_mono_ms();
    if (docker_start(d, id, err, sizeof err) != 0) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    int rc = *fed ? feed(cfg, job, lang, marker, stream, t_start, r) : 0;
    if (rc == 1)
        job_result_fail(r, "its container %.12s took no job on its stdin", id);
    return rc != 0 ? -1 : 0;
}
/* Warm start: hands the job to a container that waits for it (feed). Returns 1 if the
 * container was no longer waiting or took no job (discarded: start cold instead), 0 when the
 * job is on its way (*t_start: when), -1 after failing r. */
int container_start_warm(struct docker *d, const struct config *cfg, const struct job *job,
                         const struct lang *lang, const char *marker, struct container_warm *warm,
                         int64_t *t_start, struct job_result *r)
{
    if (!docker_stream_idle(&warm->stream)) {
        log_warn("job %s: warm container %.12s stopped waiting; starting a cold one", job->id, warm->id);
        container_warm_discard(d, warm);
        return 1;
    }
    docker_stream_bind(&warm->stream, &r->out, &r->err);
    int rc = feed(cfg, job, lang, marker, &warm->stream, t_start, r);
    if (rc == 1) {
        log_warn("job %s: warm container %.12s took no job; starting a cold one", job->id, warm->id);
        container_warm_discard(d, warm);
    }
    return rc;
}
int container_reap(struct docker *d, const char *node, container_in_use *in_use, void *arg)
{
    struct docker_response resp = { 0 };
    char label[160], err[300], *path = NULL;
    json_t *list = NULL;
    int reaped = -1;

    snprintf(label, sizeof label, "%s=%s", RCE_LABEL_NODE, node);
    char *filter = docker_label_filter(label);
    if (!filter || asprintf(&path, "/containers/json?all=1&filters=%s", filter) < 0) {
        path = NULL;
        log_warn("reaper: out of memory");
        goto done;
    }
    if (docker_call(d, "GET", path, NULL, QUICK_TIMEOUT_MS, &resp, err, sizeof err) != DOCKER_OK) {
        log_warn("reaper: listing containers failed: %s", err);
        goto done;
    }
    if (resp.status == 200)
        list = docker_response_json(&resp);     /* not inside json_is_array: a macro */
    if (!json_is_array(list)) {
        docker_describe(&resp, err, sizeof err);
        log_warn("reaper: listing containers failed: %s", err);
        goto done;
    }
    reaped = 0;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        json_t *labels = json_object_get(c, "Labels");
        const char *job = json_string_value(json_object_get(labels, RCE_LABEL_JOB));
        const char *pool = json_string_value(json_object_get(labels, RCE_LABEL_POOL));
        if (!id || strlen(id) >= DOCKER_ID_SIZE || (in_use && in_use(arg, job, pool)))
            continue;
        log_info("reaper: removing container %.12s of %s %s, which this process is not running",
                 id, job ? "job" : "warm pool", job ? job : pool ? pool : "(none)");
        container_remove(d, id);
        reaped++;
    }
done:
    json_decref(list);
    docker_response_free(&resp);
    free(filter);
    free(path);
    return reaped;
}
