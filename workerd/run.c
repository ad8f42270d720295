#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"
#include "sandbox.h"

#define QUICK_TIMEOUT_MS 10000L     /* kill, inspect */
#define ATTACH_TIMEOUT_MS 10000L    /* until the attach answers */
#define EXIT_GRACE_MS 200           /* the stream ended: time for Docker to record the exit */
#define STATS_TIMEOUT_MS 2000L      /* figures of a container we are about to kill */
#define CPU_POLL_MS 200             /* how often the cpu total is read when it can run out first */
#define OLE_DRAIN_MS 300            /* past the output cap: time for a program that already ended */
#define KILL_OUTPUT_CAP_ENDED 100   /* over the cap, but it ended by itself: nothing to kill */

_Static_assert(SANDBOX_ERR_RESERVE <= DEMUX_TAIL, "the wrapper's last lines must fit in the demux tail");

static void kill_container(struct docker *d, const char *id)
{
    char err[400];
    if (docker_kill(d, id, err, sizeof err) != 0)
        log_warn("container %.12s: %s", id, err);
}

/* A failure is only logged because the reaper retries within a minute. */
static void remove_container(struct docker *d, const char *id)
{
    char err[400];
    if (docker_remove(d, id, err, sizeof err) != 0)
        log_warn("container %.12s: %s", id, err);
}

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
static long container_memory_mb(const struct config *cfg, const struct limits *limits, const struct lang *lang)
{
    long mb = limits->memory_mb;
    if (lang->needs.memory_mb > mb)     /* what the language's runtime needs at least */
        mb = lang->needs.memory_mb > cfg->maxima.memory_mb ? cfg->maxima.memory_mb : lang->needs.memory_mb;
    if (lang->compile_argv) {
        long c = lang->compile.memory_mb ? lang->compile.memory_mb : limits->memory_mb;
        if (c > mb)
            mb = c > cfg->maxima.memory_mb ? cfg->maxima.memory_mb : c;
    }
    return mb;
}

void run_shape(const struct config *cfg, const struct limits *limits, const struct lang *lang,
               struct run_shape *shape)
{
    shape->memory_mb = container_memory_mb(cfg, limits, lang);
    shape->pids = limits->pids;
    shape->cpu_s = (limits->cpu_ms + 999) / 1000;       /* RLIMIT_CPU counts whole seconds */
}

/* One CPU, unless the language declares more (a JVM compiles and collects on other threads
 * while it starts); never more than the node allows. The cpu_ms limit still bounds the total. */
static long container_cpus(const struct config *cfg, const struct lang *lang)
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
                    struct sandbox_file **files, char ***compile_argv, char ***run_argv)
{
    const struct limits *limits = job ? &job->limits : &cfg->defaults;
    size_t n = job && job->n_files ? job->n_files : 1;
    *compile_argv = *run_argv = NULL;
    if (!(*files = calloc(n, sizeof **files)))
        return -1;
    /* "code" is the main file; in "files" a file without a name is too */
    if (!job || job->n_files == 0)
        (*files)[0] = (struct sandbox_file){ lang->main_file, job ? job->code : "", job ? job->code_len : 0 };
    for (size_t i = 0; job && i < job->n_files; i++)
        (*files)[i] = (struct sandbox_file){ job->files[i].name ? job->files[i].name : lang->main_file,
                                             job->files[i].data, job->files[i].len };
    if (lang->compile_argv
        && !(*compile_argv = with_main(lang->compile_argv, lang->compile_argc, lang->main_file, (*files)[0].name)))
        return -1;
    if (!(*run_argv = with_main(lang->run_argv, lang->run_argc, lang->main_file, (*files)[0].name)))
        return -1;
    *sj = (struct sandbox_job){
        .job_id = job ? job->id : NULL, .node = cfg->node,
        .image = lang->image_id ? lang->image_id : lang->image,
        .files = *files, .n_files = n,
        .stdin_data = job ? job->stdin_data : NULL, .stdin_len = job ? job->stdin_len : 0,
        .args = job ? job->args : NULL, .n_args = job ? job->n_args : 0,
        .compile_argv = *compile_argv, .compile_argc = lang->compile_argc,
        .run_argv = *run_argv, .run_argc = lang->run_argc, .marker = marker ? marker : "",
        .memory_mb = container_memory_mb(cfg, limits, lang), .pids = limits->pids,
        .cpu_ms = limits->cpu_ms, .cpus = container_cpus(cfg, lang),
        .runtime = cfg->runtime, .pool_token = pool_token,
    };
    return 0;
}

/* Builds the job's container spec (job NULL: a warm container's) and creates it; fills id. */
static int create_container(struct docker *d, const struct config *cfg, const struct job *job,
                            const struct lang *lang, const char *marker, const char *pool_token,
                            char *id, char *err, size_t errlen)
{
    struct sandbox_job sj;
    struct sandbox_file *files = NULL;
    char **compile_argv = NULL, **run_argv = NULL;
    json_t *spec = NULL;
    int rc = -1;
    if (describe(cfg, job, lang, marker, pool_token, &sj, &files, &compile_argv, &run_argv) != 0) {
        snprintf(err, errlen, "create failed: out of memory");
        goto fail;
    }
    if (!(spec = sandbox_container_spec(&sj, err, errlen)))
        goto fail;
    rc = docker_create(d, spec, id, err, errlen);
fail:
    free(files);
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
    char **compile_argv = NULL, **run_argv = NULL;
    char *payload = NULL;
    if (describe(cfg, job, lang, marker, NULL, &sj, &files, &compile_argv, &run_argv) != 0) {
        snprintf(err, errlen, "out of memory building the job's payload");
    } else {
        sj.end = end;
        payload = sandbox_payload(&sj, len, err, errlen);
    }
    free(files);
    free(compile_argv);
    free(run_argv);
    return payload;
}

int run_warm_start(struct docker *d, const struct config *cfg, const struct lang *lang,
                   const char *pool_token, struct run_warm *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->stream.fd = CURL_SOCKET_BAD;
    if (create_container(d, cfg, NULL, lang, NULL, pool_token, w->id, err, errlen) != 0)
        return -1;
    if (docker_start(d, w->id, err, errlen) != 0
        || docker_stream_hijack(&w->stream, d->socket_path, w->id, ATTACH_TIMEOUT_MS, err, errlen) != 0)
        return -1;
    w->attached = true;
    return 0;
}

void run_warm_discard(struct docker *d, struct run_warm *w)
{
    if (w->attached)
        docker_stream_close(&w->stream);
    w->attached = false;
    if (w->id[0])
        remove_container(d, w->id);
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
 * cpu limit can run out before the wall one) the container's cpu total reaches cpu_ms, or,
 * with trust_end, both streams end with the wrapper's end line (the container is then
 * exiting; Docker ends the stream tens of ms later). From
 * t_cpu on, when it could first have used that much on its CPUs, the total is read every
 * CPU_POLL_MS. RLIMIT_CPU already stops each process at the limit; this catches a job whose
 * processes add up to it, and runtimes without RLIMIT_CPU (gVisor). Returns how we must kill
 * the container (KILL_NONE if it ended by itself), or -1 after failing r. */
static int read_output(struct docker *d, const char *id, struct docker_stream *s, int64_t deadline,
                       int64_t t_cpu, long cpu_ms, bool trust_end, struct job_result *r)
{
    int64_t next_cpu_check = t_cpu;
    while (!s->finished && s->demux_status == DEMUX_OK && !(trust_end && job_result_ended(r))) {
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
    job_result_take_figures(r, s->demux.tail, &len);
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

    if (r->figures_trusted && r->exit_status >= 0 && r->oom_kills >= 0) {
        /* The wrapper said it all, after every process of the job was gone. */
        *t_exit = clock_mono_ms();
        bool oom = r->oom_kills > 0;
        if (oom && r->memory_kb < 0)
            r->memory_kb = (long long)job->limits.memory_mb * 1024;
        job_result_decide(r, over_cap ? KILL_OUTPUT_CAP : KILL_NONE, oom, r->exit_status, job->limits.cpu_ms);
        return KILL_NONE;
    }
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
    if (docker_call(d, "GET", path, NULL, QUICK_TIMEOUT_MS, &resp, err, sizeof err) != DOCKER_OK) {
        job_result_fail(r, "inspect failed: %s", err);
        goto done;
    }
    if (resp.status != 200) {
        docker_describe(&resp, err, sizeof err);
        job_result_fail(r, "inspect failed: %s", err);
        goto done;
    }
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

/* A random token: prefix and 24 hex digits. The compile marker is one, so that the
 * compiler's output cannot end early by printing it; the end token another (see
 * struct sandbox_job). */
static void make_token(const char *job_id, const char *prefix, char *token, size_t len)
{
    unsigned char rnd[12] = { 0 };
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memcpy(rnd, job_id, strlen(job_id) < sizeof rnd ? strlen(job_id) : sizeof rnd);
    snprintf(token, len, "%s", prefix);
    for (size_t i = 0; i < sizeof rnd && strlen(token) + 3 <= len; i++)
        snprintf(token + strlen(token), 3, "%02x", rnd[i]);
}

/* Cold start: creates the job's container, attaches to it and starts it. Fills id (kept on
 * failure too, for removal) and *t_start, the moment of the start call. */
static int start_cold(struct docker *d, const struct config *cfg, const struct job *job,
                      const struct lang *lang, const char *marker, struct docker_stream *stream,
                      bool *stream_open, char *id, int64_t *t_start, struct job_result *r)
{
    char path[256], err[400];
    if (create_container(d, cfg, job, lang, marker, NULL, id, err, sizeof err) != 0) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    snprintf(path, sizeof path, "/containers/%s/attach?stream=1&stdout=1&stderr=1", id);
    if (docker_stream_open(stream, d->socket_path, path, &r->out, &r->err, err, sizeof err) != 0) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    *stream_open = true;
    if (await_attach(stream, r) != 0)
        return -1;
    *t_start = clock_mono_ms();
    if (docker_start(d, id, err, sizeof err) != 0) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    return 0;
}

/* Warm start: hands the job to a container that waits for it, with an end token, which
 * a container fed on stdin can keep secret. Returns 1 if the container was no longer waiting
 * or took no job (discarded: start cold instead), 0 when the job is on its way (*t_start:
 * when), -1 after failing r. */
static int start_warm(struct docker *d, const struct config *cfg, const struct job *job,
                      const struct lang *lang, const char *marker, struct run_warm *warm,
                      int64_t *t_start, struct job_result *r)
{
    char err[400], end[48];
    size_t len = 0;
    if (!docker_stream_idle(&warm->stream)) {
        log_warn("job %s: warm container %.12s stopped waiting; starting a cold one", job->id, warm->id);
        run_warm_discard(d, warm);
        return 1;
    }
    make_token(job->id, "\036rce-end-", end, sizeof end);
    char *payload = job_payload(cfg, job, lang, marker, end, &len, err, sizeof err);
    if (!payload) {
        job_result_fail(r, "%s", err);
        return -1;
    }
    job_result_set_end(r, end);
    docker_stream_bind(&warm->stream, &r->out, &r->err);
    *t_start = clock_mono_ms();
    int rc = docker_stream_send(&warm->stream, payload, len, ATTACH_TIMEOUT_MS);
    free(payload);
    if (rc != 0) {
        log_warn("job %s: warm container %.12s took no job; starting a cold one", job->id, warm->id);
        run_warm_discard(d, warm);
        return 1;
    }
    return 0;
}

void run_job(struct docker *d, const struct config *cfg, const struct job *job,
             const struct lang *lang, struct run_warm *warm, struct job_result *r,
             char *left, size_t left_len)
{
    struct docker_stream cold_stream, *stream = &cold_stream;
    char cold_id[DOCKER_ID_SIZE] = "", *id = cold_id;
    char marker[48];
    bool stream_open = false;
    int64_t t_start = 0;

    make_token(job->id, "\036rce-compiled-", marker, sizeof marker);
    r->version = lang->version;
    r->limits = job->limits;
    r->clamped = job->clamped;

    int warm_rc = warm ? start_warm(d, cfg, job, lang, marker, warm, &t_start, r) : 1;
    if (warm_rc < 0)
        goto done;
    if (warm_rc == 0) {
        stream = &warm->stream;
        id = warm->id;
    } else if (start_cold(d, cfg, job, lang, marker, stream, &stream_open, id, &t_start, r) != 0) {
        goto done;
    }

    /* The wall limit runs from the start; a deadline (nobody waits after it) can cut it. */
    /* a compile step has its own time, before the run's */
    int64_t wall = job->limits.wall_ms
                   + (lang->compile_argv ? (lang->compile.wall_ms ? lang->compile.wall_ms : job->limits.wall_ms) : 0);
    if (job->deadline_ms > 0 && job->deadline_ms - clock_unix_ms() < wall)
        wall = job->deadline_ms - clock_unix_ms();
    int64_t deadline = t_start + (wall > 0 ? wall : 1);

    /* With n CPUs the job cannot use cpu_ms sooner than cpu_ms / n after its start. */
    int64_t cpu_soonest = job->limits.cpu_ms / container_cpus(cfg, lang);
    int64_t t_cpu = cpu_soonest < wall ? t_start + cpu_soonest : deadline;
    int killed = read_output(d, id, stream, deadline, t_cpu, job->limits.cpu_ms, warm_rc == 0, r);
    int64_t t_end = clock_mono_ms();
    if (killed == KILL_NONE) {
        /* The wrapper's figures end stderr; an output over the cap by less than their room
         * was read whole but is still OLE. */
        bool over_cap = job_result_finish_output(r);
        killed = collect_exit(d, id, deadline, &t_end, job, over_cap, r);
    }
    r->wall_ms = (long)(t_end - t_start);
    if (warm_rc == 0 && killed == KILL_NONE && r->exit_status < 0 && r->has_exit_code
        && r->exit_code == 125 && r->out.len == 0 && r->err.len == 0)
        job_result_fail(r, "the warm container %.12s exited 125 without running the job "
                        "(its PID 1 could not read it)", id);
    if (killed == KILL_OUTPUT_CAP && drain_after_cap(stream, deadline, OLE_DRAIN_MS, r))
        killed = KILL_OUTPUT_CAP_ENDED;
    if (killed == KILL_DEADLINE || killed == KILL_OUTPUT_CAP || killed == KILL_CPU
        || killed == KILL_OUTPUT_CAP_ENDED) {
        if (killed == KILL_DEADLINE || killed == KILL_OUTPUT_CAP)
            read_stats(d, id, r);      /* the figures so far, while it still runs */
        /* It stopped meanwhile: its figures are on their way at the end of the stream. */
        if (killed == KILL_OUTPUT_CAP && r->cpu_ms < 0
            && drain_after_cap(stream, deadline + 1000, 1000, r))
            killed = KILL_OUTPUT_CAP_ENDED;
        if (killed != KILL_OUTPUT_CAP_ENDED) {
            /* Hang up first: Docker would not finish the kill while its copy of the output
             * waits for us to read more. */
            docker_stream_close(stream);
            if (warm_rc == 0)
                warm->attached = false;
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
        docker_stream_close(&cold_stream);
    if (warm && warm->attached) {
        docker_stream_close(&warm->stream);
        warm->attached = false;
    }
    if (warm && warm->id[0] && id != warm->id)
        run_warm_discard(d, warm);      /* it failed before the job reached it */
    if (id[0] && left && left_len > strlen(id))
        strcpy(left, id);       /* the caller removes it once the answer is out */
    else if (id[0])
        remove_container(d, id);
}

void run_remove(struct docker *d, const char *id)
{
    if (id[0])
        remove_container(d, id);
}

int run_reap(struct docker *d, const char *node, bool (*in_use)(const char *id, const char *job_id,
                                                                const char *pool_token))
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
        if (!id || strlen(id) >= DOCKER_ID_SIZE || in_use(id, job, pool))
            continue;
        log_info("reaper: removing container %.12s of %s %s, which this process is not running",
                 id, job ? "job" : "warm pool", job ? job : pool ? pool : "(none)");
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
