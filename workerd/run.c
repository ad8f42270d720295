#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"
#include "sandbox.h"

#define CALL_TIMEOUT_MS 30000L      /* create, start, remove: slow only on a loaded engine */
#define QUICK_TIMEOUT_MS 10000L     /* kill, inspect */
#define ATTACH_TIMEOUT_MS 10000L    /* until the attach answers */
#define EXIT_GRACE_MS 200           /* the stream ended: time for Docker to record the exit */
#define CONTAINER_ID_SIZE 65        /* 64 hex digits and the NUL */

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
static int create_container(struct docker *d, const struct config *cfg, const struct job *job,
                            const struct lang *lang, struct job_result *r, char *id, size_t idlen)
{
    struct docker_response resp = { 0 };
    char err[256];
    char *body = NULL;
    json_t *created = NULL;
    int rc = -1;
    struct sandbox_job sj = {
        .job_id = job->id, .node = cfg->node, .image = lang->image, .main_file = lang->main_file,
        .run_argv = lang->run_argv, .run_argc = lang->run_argc,
        .code = job->code, .code_len = job->code_len,
        .memory_mb = job->limits.memory_mb, .pids = job->limits.pids,
    };
    json_t *spec = sandbox_container_spec(&sj, err, sizeof err);
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

/* Reads the output until the stream ends, the deadline passes or a cap is hit. Returns how
 * we must kill the container (KILL_NONE if it ended by itself), or -1 after failing r. */
static int read_output(struct docker_stream *s, int64_t deadline, struct job_result *r)
{
    while (!s->finished && s->demux_status == DEMUX_OK) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return KILL_DEADLINE;
        if (docker_stream_step(s, left < 1000 ? left : 1000) != 0) {
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

/* The stream has ended: waits for the container to exit (it may close its output and keep
 * running) until the deadline, noting when in *t_exit, then reads its state. Returns KILL_NONE
 * with the verdict decided, KILL_DEADLINE if it still runs at the deadline, or -1 after
 * failing r. */
static int collect_exit(struct docker *d, const char *id, int64_t deadline, int64_t *t_exit,
                        struct job_result *r)
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
    job_result_decide(r, KILL_NONE, json_is_true(json_object_get(state, "OOMKilled")),
                      (int)json_integer_value(exit_code));
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
             const struct lang *lang, struct job_result *r)
{
    struct docker_response resp = { 0 };
    struct docker_stream stream;
    char id[CONTAINER_ID_SIZE] = "", path[256], err[300];
    bool stream_open = false;

    if (create_container(d, cfg, job, lang, r, id, sizeof id) != 0)
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
    int64_t wall = job->limits.wall_ms;
    if (job->deadline_ms > 0 && job->deadline_ms - clock_unix_ms() < wall)
        wall = job->deadline_ms - clock_unix_ms();
    int64_t deadline = t_start + (wall > 0 ? wall : 1);

    snprintf(path, sizeof path, "/containers/%s/start", id);
    if (step(d, r, "start", "POST", path, NULL, CALL_TIMEOUT_MS, 204, 304, &resp) != 0)
        goto done;

    int killed = read_output(&stream, deadline, r);
    int64_t t_end = clock_mono_ms();
    if (killed == KILL_NONE)
        killed = collect_exit(d, id, deadline, &t_end, r);
    r->wall_ms = (long)(t_end - t_start);
    if (killed == KILL_DEADLINE || killed == KILL_OUTPUT_CAP) {
        kill_container(d, id);
        job_result_decide(r, (enum kill_cause)killed, false, 0);
    }
done:
    if (stream_open)
        docker_stream_close(&stream);
    if (id[0])
        remove_container(d, id);
    docker_response_free(&resp);
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
