#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"
#include "sandbox.h"

#define CALL_TIMEOUT_MS 30000L      /* create, start, remove: slow only on a loaded engine */
#define QUICK_TIMEOUT_MS 10000L     /* kill, inspect */
#define ATTACH_TIMEOUT_MS 10000L    /* until the attach answers */
#define EXIT_GRACE_MS 200           /* the stream ended: time for Docker to record the exit */
#define STATS_TIMEOUT_MS 2000L      /* figures of a container we are about to kill */
#define CPU_POLL_MS 200             /* how often the cpu total is read when it can run out first */
#define OLE_DRAIN_MS 300            /* past the output cap: time for a program that already ended */
#define CONTAINER_ID_SIZE RUN_CONTAINER_ID_SIZE   /* 64 hex digits and the NUL */
#define KILL_OUTPUT_CAP_ENDED 100   /* over the cap, but it ended by itself: nothing to kill */

_Static_assert(SANDBOX_STATS_MAX <= DEMUX_TAIL, "the figures line must fit in the demux tail");

/* One Docker call whose answer must have status want (or also_ok, e.g. 304 for an already
 * started container). Fails r as IE "<step> failed: ..." otherwise. The response is left in
 * resp (the caller frees it). */
static int step(struct docker *d, struct job_result *r, const char *name, const char *method,
                const char *path, const char *body, long timeout_ms, long want, long also_ok,
                struct docker_response *resp)
{
    char err[400];
    if (docker_call(d, method, path, body, timeout_ms, resp, err, sizeof err) != DOCKER_OK) {
        job_result_fail(r, "%s failed: %s", name, err);
        return -1;
    }
    if (resp->status != want && resp->status != also_ok) {
        docker_describe(resp, err, sizeof err);
        job_result_fail(r, "%s failed: %s", name, err);
        return -1;
    }
    return 0;
}

/* Creates the container; fills id (64 hex digits) on success. */
/* The compile and run commands name the main file as rce.main does; a job whose first file
 * has another name runs that one: the words equal to the main file name are replaced.
 * The copy shares the strings; free only the array. */
static char **with_main(char *const *argv, size_t argc, const char *main_file, const char *first)
{
    char **copy = calloc(argc + 1, sizeof *copy);
    for (size_t i = 0; copy && i < argc; i++)
        copy[i] = strcmp(argv[i], main_file) == 0 ? (char *)first : argv[i];
    return copy;
}

/* The container holds the compile step and the run: the larger of their memory limits. */
static long container_memory_mb(const struct config *cfg, const struct job *job, const struct lang *lang)
{
    long mb = job->limits.memory_mb;
    if (lang->needs.memory_mb > mb)     /* what the language's runtime needs at least */
        mb = lang->needs.memory_mb > cfg->maxima.memory_mb ? cfg->maxima.memory_mb : lang->needs.memory_mb;
    if (lang->compile_argv) {
        long c = lang->compile.memory_mb ? lang->compile.memory_mb : job->limits.memory_mb;
        if (c > mb)
            mb = c > cfg->maxima.memory_mb ? cfg->maxima.memory_mb : c;
    }
    return mb;
}

/* Creates the container; fills id (64 hex digits) on success. */
static int create_container(struct docker *d, const struct config *cfg, const struct job *job,
                            const struct lang *lang, const char *marker, struct job_result *r,
                            char *id, size_t idlen)
{
    struct docker_response resp = { 0 };
    char err[256];
    char *body = NULL;
    json_t *created = NULL;
    int rc = -1;
    struct sandbox_file *files = calloc(job->n_files ? job->n_files : 1, sizeof *files);
    json_t *spec = NULL;
    if (!files) {
        job_result_fail(r, "create failed: out of memory");
        goto fail;
    }
    /* "code" is the main file; in "files" a file without a name is too */
    if (job->n_files == 0)
        files[0] = (struct sandbox_file){ lang->main_file, job->code, job->code_len };
    for (size_t i = 0; i < job->n_files; i++)
        files[i] = (struct sandbox_file){ job->files[i].name ? job->files[i].name : lang->main_file,
                                          job->files[i].data, job->files[i].len };
    char **compile_argv = lang->compile_argv
                          ? with_main(lang->compile_argv, lang->compile_argc, lang->main_file, files[0].name)
                          : NULL;
    char **run_argv = with_main(lang->run_argv, lang->run_argc, lang->main_file, files[0].name);
    if (!run_argv || (lang->compile_argv && !compile_argv)) {
        free(compile_argv);
        free(run_argv);
        job_result_fail(r, "create failed: out of memory");
        goto fail;
    }
    struct sandbox_job sj = {
        .job_id = job->id, .node = cfg->node, .image = lang->image,
        .files = files, .n_files = job->n_files ? job->n_files : 1,
        .stdin_data = job->stdin_data, .stdin_len = job->stdin_len,
        .args = job->args, .n_args = job->n_args,
        .compile_argv = compile_argv, .compile_argc = lang->compile_argc,
        .run_argv = run_argv, .run_argc = lang->run_argc, .marker = marker,
        .memory_mb = container_memory_mb(cfg, job, lang), .pids = job->limits.pids,
        .cpu_ms = job->limits.cpu_ms, .runtime = cfg->runtime,
    };
    spec = sandbox_container_spec(&sj, err, sizeof err);
    free(compile_argv);
    free(run_argv);
    if (!spec) {
        job_result_fail(r, "%s", err);
        goto fail;
    }
    if (!(body = json_dumps(spec, JSON_COMPACT))) {
        job_result_fail(r, "create failed: out of memory");
        goto fail;
    }
    if (step(d, r, "create", "POST", "/containers/create", body, CALL_TIMEOUT_MS, 201, 201, &resp) != 0)
        goto fail;
    created = docker_response_json(&resp);
    const char *cid = json_string_value(json_object_get(created, "Id"));
    if (!cid || strlen(cid) >= idlen) {
        job_result_fail(r, "create failed: no container id in the answer");
        goto fail;
    }
    strcpy(id, cid);
    rc = 0;
fail:
    free(files);
    json_decref(created);
    json_decref(spec);
    free(body);
    docker_response_free(&resp);
    return rc;
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
static long long read_stats(struct docker *d, const char *id, struct job_result *r)
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

/* Reads the output until the stream ends, the deadline passes, a cap is hit or (when the
 * cpu limit can run out before the wall one) the container's cpu total reaches cpu_ms: from
 * t_cpu on, when it could first have used that much on its one CPU, the total is read every
 * CPU_POLL_MS. RLIMIT_CPU already stops each process at the limit; this catches a job whose
 * processes add up to it, and runtimes without RLIMIT_CPU (gVisor). Returns how we must kill
 * the container (KILL_NONE if it ended by itself), or -1 after failing r. */
static int read_output(struct docker *d, const char *id, struct docker_stream *s, int64_t deadline,
                       int64_t t_cpu, long cpu_ms, struct job_result *r)
{
    int64_t next_cpu_check = t_cpu;
    while (!s->finished && s->demux_status == DEMUX_OK) {
        int64_t now = clock_mono_ms();
        int64_t left = deadline - now;
        if (left <= 0)
            return KILL_DEADLINE;
        if (now >= next_cpu_check && next_cpu_check < deadline) {
            long long used = read_stats(d, id, r);
            if (used >= cpu_ms)
                return KILL_CPU;
            next_cpu_check = clock_mono_ms() + CPU_POLL_MS;
            continue;
        }
        int64_t wait = left < 1000 ? left : 1000;
        if (next_cpu_check < deadline && next_cpu_check - now < wait)
            wait = next_cpu_check - now;
        if (docker_stream_step(s, wait > 0 ? wait : 0) != 0) {
            job_result_fail(r, "reading output failed: curl multi error");
            return -1;
        }
    }
    switch (s->demux_status) {
    case DEMUX_OK:
        break;
    case DEMUX_FULL:
        return KILL_OUTPUT_CAP;
    case DEMUX_BAD:
        job_result_fail(r, "reading output failed: not Docker stream framing");
        return -1;
    case DEMUX_NOMEM:
        job_result_fail(r, "reading output failed: out of memory");
        return -1;
    }
    if (s->result != CURLE_OK) {
        job_result_fail(r, "reading output failed: %s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
        return -1;
    }
    return KILL_NONE;
}

/* Past the output cap Docker may already hold the whole output of a program that has ended
 * (it reads the container's pipes into memory ahead of us). Reads on, dropping it, for at
 * most OLE_DRAIN_MS: if the stream ends, the program ended by itself and its figures are at
 * the end of stderr. Returns true then (the container needs no kill). */
static bool drain_after_cap(struct docker_stream *s, int64_t deadline, long ms, struct job_result *r)
{
    int64_t until = clock_mono_ms() + ms;
    if (until > deadline)
        until = deadline;
    while (!s->finished && s->demux_status == DEMUX_FULL) {
        int64_t left = until - clock_mono_ms();
        if (left <= 0 || docker_stream_step(s, left) != 0)
            return false;
    }
    if (!s->finished || s->result != CURLE_OK || s->demux_status != DEMUX_FULL)
        return false;
    size_t len = s->demux.tail_len;
    struct sandbox_stats st;
    if (sandbox_take_stats(s->demux.tail, &len, &st)) {
        r->cpu_ms = st.cpu_us >= 0 ? st.cpu_us / 1000 : -1;
        r->memory_kb = st.maxrss_kb;
    }
    return true;
}

/* The whole container died of SIGKILL (no figures line: the wrapper died too) and Docker's
 * state has no OOM flag. Under gVisor the kernel's OOM kill takes the whole sandbox, and
 * Docker may handle the exit before the OOM event, leaving OOMKilled false; the event is
 * still logged. Looks for it among the engine's events of this container (the last minute,
 * up to a second from now). */
static bool oom_event_seen(struct docker *d, const char *id)
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

/* The stream has ended: waits for the container to exit (it may close its output and keep
 * running) until the deadline, noting when in *t_exit, then reads its state. Returns KILL_NONE
 * with the verdict decided, KILL_DEADLINE if it still runs at the deadline, or -1 after
 * failing r. */
static int collect_exit(struct docker *d, const char *id, int64_t deadline, int64_t *t_exit,
                        const struct job *job, bool over_cap, struct job_result *r)
{
    struct docker_response resp = { 0 };
    char path[256], err[300];
    int rc = -1;
    json_t *info = NULL;

    int64_t left = deadline - clock_mono_ms();
    snprintf(path, sizeof path, "/containers/%s/wait?condition=not-running", id);
    int w = docker_call(d, "POST", path, NULL, left > EXIT_GRACE_MS ? left : EXIT_GRACE_MS, &resp, err, sizeof err);
    *t_exit = clock_mono_ms();
    docker_response_free(&resp);
    if (w == DOCKER_TIMEOUT)
        return KILL_DEADLINE;
    if (w != DOCKER_OK) {
        job_result_fail(r, "wait failed: %s", err);
        return -1;
    }
    snprintf(path, sizeof path, "/containers/%s/json", id);
    if (step(d, r, "inspect", "GET", path, NULL, QUICK_TIMEOUT_MS, 200, 200, &resp) != 0)
        goto done;
    info = docker_response_json(&resp);
    json_t *state = json_object_get(info, "State");
    json_t *exit_code = json_object_get(state, "ExitCode");
    if (!json_is_integer(exit_code)) {
        job_result_fail(r, "inspect failed: no State.ExitCode");
        goto done;
    }
    /* MLE from the kernel's OOM kill as Docker saw it, never guessed from exit code 137. */
    bool oom = json_is_true(json_object_get(state, "OOMKilled"));
    if (!oom && json_integer_value(exit_code) == 137 && r->cpu_ms < 0)
        oom = oom_event_seen(d, id);
    if (oom && r->memory_kb < 0)
        r->memory_kb = (long long)job->limits.memory_mb * 1024;   /* it reached the limit */
    job_result_decide(r, over_cap ? KILL_OUTPUT_CAP : KILL_NONE, oom, (int)json_integer_value(exit_code),
                      job->limits.cpu_ms);
    rc = KILL_NONE;
done:
    json_decref(info);
    docker_response_free(&resp);
    return rc;
}

/* Kills at once; a container that already stopped answers 409, which is fine. */
static void kill_container(struct docker *d, const char *id)
{
    struct docker_response resp = { 0 };
    char path[256], err[300];
    snprintf(path, sizeof path, "/containers/%s/kill", id);
    if (docker_call(d, "POST", path, NULL, QUICK_TIMEOUT_MS, &resp, err, sizeof err) != DOCKER_OK)
        log_warn("container %.12s: kill failed: %s", id, err);
    else if (resp.status != 204 && resp.status != 409) {
        docker_describe(&resp, err, sizeof err);
        log_warn("container %.12s: kill failed: %s", id, err);
    }
    docker_response_free(&resp);
}

/* Force-removes; a failure is only logged because the reaper retries within a minute. */
static void remove_container(struct docker *d, const char *id)
{
    struct docker_response resp = { 0 };
    char path[256], err[300];
    snprintf(path, sizeof path, "/containers/%s?force=1", id);
    if (docker_call(d, "DELETE", path, NULL, CALL_TIMEOUT_MS, &resp, err, sizeof err) != DOCKER_OK)
        log_warn("container %.12s: remove failed: %s", id, err);
    else if (resp.status != 204 && resp.status != 404 && resp.status != 409) {
        /* 404: already gone; 409: a removal is already under way (the reaper met a slot). */
        docker_describe(&resp, err, sizeof err);
        log_warn("container %.12s: remove failed: %s", id, err);
    }
    docker_response_free(&resp);
}

void run_job(struct docker *d, const struct config *cfg, const struct job *job,
             const struct lang *lang, struct job_result *r, char *left, size_t left_len)
{
    struct docker_response resp = { 0 };
    struct docker_stream stream;
    char id[CONTAINER_ID_SIZE] = "", path[256], err[300];
    bool stream_open = false;

    /* After the compile step the wrapper prints this marker: random, so that the compiler's
     * output cannot end early by printing it. */
    char marker[48];
    unsigned char rnd[12] = { 0 };
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memcpy(rnd, job->id, strlen(job->id) < sizeof rnd ? strlen(job->id) : sizeof rnd);
    snprintf(marker, sizeof marker, "\036rce-compiled-");
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(marker + strlen(marker), 3, "%02x", rnd[i]);
    r->version = lang->version;
    r->limits = job->limits;
    r->clamped = job->clamped;

    if (create_container(d, cfg, job, lang, marker, r, id, sizeof id) != 0)
        goto done;
    snprintf(path, sizeof path, "/containers/%s/attach?stream=1&stdout=1&stderr=1", id);
    if (docker_stream_open(&stream, d->socket_path, path, &r->out, &r->err, err, sizeof err) != 0) {
        job_result_fail(r, "%s", err);
        goto done;
    }
    stream_open = true;
    if (await_attach(&stream, r) != 0)
        goto done;

    /* The wall limit runs from the start call; a deadline (nobody waits after it) can cut it. */
    int64_t t_start = clock_mono_ms();
    /* a compile step has its own time, before the run's */
    int64_t wall = job->limits.wall_ms
                   + (lang->compile_argv ? (lang->compile.wall_ms ? lang->compile.wall_ms : job->limits.wall_ms) : 0);
    if (job->deadline_ms > 0 && job->deadline_ms - clock_unix_ms() < wall)
        wall = job->deadline_ms - clock_unix_ms();
    int64_t deadline = t_start + (wall > 0 ? wall : 1);

    snprintf(path, sizeof path, "/containers/%s/start", id);
    if (step(d, r, "start", "POST", path, NULL, CALL_TIMEOUT_MS, 204, 304, &resp) != 0)
        goto done;

    /* With one CPU the job cannot use cpu_ms sooner than cpu_ms after its start. */
    int64_t t_cpu = job->limits.cpu_ms < wall ? t_start + job->limits.cpu_ms : deadline;
    int killed = read_output(d, id, &stream, deadline, t_cpu, job->limits.cpu_ms, r);
    int64_t t_end = clock_mono_ms();
    if (killed == KILL_NONE) {
        /* The wrapper's figures end stderr; an output over the cap by less than their room
         * was read whole but is still OLE. */
        bool over_cap = job_result_finish_output(r);
        killed = collect_exit(d, id, deadline, &t_end, job, over_cap, r);
    }
    r->wall_ms = (long)(t_end - t_start);
    if (killed == KILL_OUTPUT_CAP && drain_after_cap(&stream, deadline, OLE_DRAIN_MS, r))
        killed = KILL_OUTPUT_CAP_ENDED;
    if (killed == KILL_DEADLINE || killed == KILL_OUTPUT_CAP || killed == KILL_CPU
        || killed == KILL_OUTPUT_CAP_ENDED) {
        if (killed == KILL_DEADLINE || killed == KILL_OUTPUT_CAP)
            read_stats(d, id, r);      /* the figures so far, while it still runs */
        /* It stopped meanwhile: its figures are on their way at the end of the stream. */
        if (killed == KILL_OUTPUT_CAP && r->cpu_ms < 0
            && drain_after_cap(&stream, deadline + 1000, 1000, r))
            killed = KILL_OUTPUT_CAP_ENDED;
        if (killed != KILL_OUTPUT_CAP_ENDED) {
            /* Hang up first: Docker would not finish the kill while its copy of the output
             * waits for us to read more. */
            docker_stream_close(&stream);
            stream_open = false;
            kill_container(d, id);
        } else {
            killed = KILL_OUTPUT_CAP;
        }
        job_result_clip_output(r);
        job_result_decide(r, (enum kill_cause)killed, false, 0, job->limits.cpu_ms);
    }
    if (lang->compile_argv && strcmp(r->status, RCE_STATUS_IE) != 0) {
        int compiled = job_result_split_compile(r, marker);
        if (compiled != 0) {
            /* the run never started: what there is, is the compiler's */
            r->status = RCE_STATUS_CE;
            r->has_exit_code = r->has_signal = false;
            r->out.len = r->err.len = 0;
            if (compiled < 0)
                snprintf(r->reason, sizeof r->reason, "the compiler did not finish within its limits");
        }
    }
done:
    if (stream_open)
        docker_stream_close(&stream);
    if (id[0] && left && left_len > strlen(id))
        strcpy(left, id);       /* the caller removes it once the answer is out */
    else if (id[0])
        remove_container(d, id);
    docker_response_free(&resp);
}

void run_remove(struct docker *d, const char *id)
{
    if (id[0])
        remove_container(d, id);
}

int run_reap(struct docker *d, const char *node, bool (*in_use)(const char *job_id))
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
        const char *job = json_string_value(json_object_get(json_object_get(c, "Labels"), RCE_LABEL_JOB));
        if (!id || strlen(id) >= CONTAINER_ID_SIZE || (job && in_use(job)))
            continue;
        log_info("reaper: removing container %.12s of job %s, which this process is not running",
                 id, job ? job : "(none)");
        remove_container(d, id);
        reaped++;
    }
done:
    json_decref(list);
    docker_response_free(&resp);
    free(filter);
    free(path);
    return reaped;
}
