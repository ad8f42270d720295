#include "docker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define DOCKER_API_PREFIX "http://localhost/v1.41"   /* Docker 20.10; the host is ignored */
#define DOCKER_MAX_BODY (64 * 1024 * 1024)           /* an image or container list, not more */
#define DOCKER_CONNECT_TIMEOUT_MS 5000L
#define DOCKER_CALL_TIMEOUT_MS 30000L   /* create, start, remove: slow only on a loaded engine */
#define DOCKER_QUICK_TIMEOUT_MS 10000L  /* kill */
#define HIJACK_HEAD_MAX 4096            /* Docker's answer to the upgrade, headers and all */
#define HIJACK_READS_PER_STEP 64        /* then the caller gets to look at its clock */

struct body_buffer {
    char *data;
    size_t len;
};

/* libcurl write callback: collects a response body; refusing bytes makes curl fail the call. */
static size_t collect_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body_buffer *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > DOCKER_MAX_BODY)
        return 0;
    char *p = realloc(b->data, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->data = p;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

int docker_open(struct docker *d, const char *socket_path, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    if ((size_t)snprintf(d->socket_path, sizeof d->socket_path, "%s", socket_path) >= sizeof d->socket_path) {
        snprintf(err, errlen, "docker socket path %s is longer than a unix socket path may be", socket_path);
        return -1;
    }
    if (!(d->easy = curl_easy_init())) {
        snprintf(err, errlen, "docker: curl_easy_init failed (libcurl could not set up a handle)");
        return -1;
    }
    /* "Expect:" stops curl from waiting for 100-continue before sending a large body. */
    d->headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h = d->headers ? curl_slist_append(d->headers, "Expect:") : NULL;
    if (!h) {
        snprintf(err, errlen, "docker: out of memory for the request headers");
        docker_close(d);
        return -1;
    }
    d->headers = h;
    return 0;
}

void docker_close(struct docker *d)
{
    if (d->easy)
        curl_easy_cleanup(d->easy);
    curl_slist_free_all(d->headers);
    d->easy = NULL;
    d->headers = NULL;
}

int docker_call(struct docker *d, const char *method, const char *path, const char *json_body,
                long timeout_ms, struct docker_response *resp, char *err, size_t errlen)
{
    char url[1024];
    struct body_buffer body = { 0 };
    CURL *e = d->easy;

    memset(resp, 0, sizeof *resp);
    if ((size_t)snprintf(url, sizeof url, "%s%s", DOCKER_API_PREFIX, path) >= sizeof url) {
        snprintf(err, errlen, "%s %s: path too long", method, path);
        return DOCKER_FAILED;
    }
    /* Every option is set on every call: the handle is reused with whatever the last call left. */
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, json_body ? json_body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(json_body ? strlen(json_body) : 0));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 ? NULL : method);
    }
    d->errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, path, d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
        free(body.data);
        return rc == CURLE_OPERATION_TIMEDOUT ? DOCKER_TIMEOUT : DOCKER_FAILED;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = body.data ? body.data : calloc(1, 1);
    resp->len = body.len;
    if (!resp->body) {
        snprintf(err, errlen, "out of memory");
        return DOCKER_FAILED;
    }
    return DOCKER_OK;
}

void docker_response_free(struct docker_response *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

json_t *docker_response_json(const struct docker_response *r)
{
    return r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}

void docker_describe(const struct docker_response *r, char *buf, size_t len)
{
    json_t *j = docker_response_json(r);
    const char *message = json_string_value(json_object_get(j, "message"));
    if (message)
        snprintf(buf, len, "HTTP %ld %s", r->status, message);
    else
        snprintf(buf, len, "HTTP %ld %.*s", r->status, (int)(r->len < 200 ? r->len : 200),
                 r->body ? r->body : "");     /* the body need not be NUL-terminated */
    json_decref(j);
}

int docker_stats_figures(json_t *stats, long long *cpu_ns, long long *memory_bytes)
{
    json_t *cpu = json_object_get(json_object_get(json_object_get(stats, "cpu_stats"), "cpu_usage"),
                                  "total_usage");
    json_t *mem = json_object_get(stats, "memory_stats");
    json_t *peak = json_object_get(mem, "max_usage");
    if (!json_is_integer(peak) || json_integer_value(peak) <= 0)
        peak = json_object_get(mem, "usage");
    *cpu_ns = json_is_integer(cpu) && json_integer_value(cpu) > 0 ? json_integer_value(cpu) : -1;
    *memory_bytes = json_is_integer(peak) && json_integer_value(peak) > 0 ? json_integer_value(peak) : -1;
    return *cpu_ns >= 0 || *memory_bytes >= 0 ? 0 : -1;
}

char *docker_label_filter(const char *label)
{
    char *escaped = NULL, *text = NULL;
    json_t *f = json_pack("{s:[s]}", "label", label);
    if (f)
        text = json_dumps(f, JSON_COMPACT);
    if (text)
        escaped = curl_easy_escape(NULL, text, 0);
    /* curl's memory must go back through curl_free: hand the caller a plain malloc'd copy. */
    char *copy = escaped ? strdup(escaped) : NULL;
    curl_free(escaped);
    free(text);
    json_decref(f);
    return copy;
}

/* One container call whose answer must be one of the statuses ok (three; repeat one to
 * have fewer); fills err otherwise. */
static int container_call(struct docker *d, const char *step, const char *method, const char *path,
                          const char *body, long timeout_ms, const long ok[3],
                          struct docker_response *resp, char *err, size_t errlen)
{
    char why[300];
    if (docker_call(d, method, path, body, timeout_ms, resp, why, sizeof why) != DOCKER_OK) {
        snprintf(err, errlen, "%s failed: %s", step, why);
        return -1;
    }
    if (resp->status != ok[0] && resp->status != ok[1] && resp->status != ok[2]) {
        docker_describe(resp, why, sizeof why);
        snprintf(err, errlen, "%s failed: %s", step, why);
        return -1;
    }
    return 0;
}

int docker_create(struct docker *d, json_t *spec, char id[DOCKER_ID_SIZE], char *err, size_t errlen)
{
    static const long created_ok[3] = { 201, 201, 201 };
    struct docker_response resp = { 0 };
    json_t *created = NULL;
    int rc = -1;
    char *body = json_dumps(spec, JSON_COMPACT);
    if (!body) {
        snprintf(err, errlen, "create failed: out of memory");
        return -1;
    }
    if (container_call(d, "create", "POST", "/containers/create", body, DOCKER_CALL_TIMEOUT_MS,
                       created_ok, &resp, err, errlen) != 0)
        goto fail;
    created = docker_response_json(&resp);
    const char *cid = json_string_value(json_object_get(created, "Id"));
    if (!cid || strlen(cid) >= DOCKER_ID_SIZE) {
        snprintf(err, errlen, "create failed: no container id in the answer");
        goto fail;
    }
    strcpy(id, cid);
    rc = 0;
fail:
    json_decref(created);
    docker_response_free(&resp);
    free(body);
    return rc;
}

/* METHOD /containers/<id><suffix>, answered with one of ok. */
static int container_op(struct docker *d, const char *id, const char *step, const char *method,
                        const char *suffix, long timeout_ms, const long ok[3], char *err, size_t errlen)
{
    struct docker_response resp = { 0 };
    char path[160];
    snprintf(path, sizeof path, "/containers/%s%s", id, suffix);
    int rc = container_call(d, step, method, path, NULL, timeout_ms, ok, &resp, err, errlen);
    docker_response_free(&resp);
    return rc;
}

int docker_start(struct docker *d, const char *id, char *err, size_t errlen)
{
    static const long ok[3] = { 204, 304, 304 };       /* 304: already started */
    return container_op(d, id, "start", "POST", "/start", DOCKER_CALL_TIMEOUT_MS, ok, err, errlen);
}

int docker_kill(struct docker *d, const char *id, char *err, size_t errlen)
{
    static const long ok[3] = { 204, 409, 409 };       /* 409: it is not running */
    return container_op(d, id, "kill", "POST", "/kill", DOCKER_QUICK_TIMEOUT_MS, ok, err, errlen);
}

int docker_remove(struct docker *d, const char *id, char *err, size_t errlen)
{
    /* 404: already gone; 409: a removal is already under way (the reaper met a slot) */
    static const long ok[3] = { 204, 404, 409 };
    return container_op(d, id, "remove", "DELETE", "?force=1", DOCKER_CALL_TIMEOUT_MS, ok, err, errlen);
}

/* Header callback: the blank line ends the attach answer's headers; from then on Docker has
 * hijacked the connection and what follows is the container's stream. */
static size_t stream_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct docker_stream *s = userdata;
    size_t n = size * nmemb;
    if (n <= 2 && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n')) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
        s->headers_done = true;
    }
    return n;
}

/* Write callback: stream bytes into the demultiplexer. Past the output cap the bytes are
 * still consumed (and dropped) so the caller may drain the stream to read the wrapper's last
 * line; returning short, which stops the transfer, is only for bad framing or no memory. */
static size_t stream_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct docker_stream *s = userdata;
    size_t n = size * nmemb;
    if (s->status != 200 && s->status != 101)
        return capture_append(&s->error_body, ptr, n) == 0 ? n : 0;
    s->demux_status = demux_feed(&s->demux, ptr, n, s->out, s->err);
    return s->demux_status == DEMUX_OK || s->demux_status == DEMUX_FULL ? n : 0;
}

static void stream_init(struct docker_stream *s, struct capture *out, struct capture *err)
{
    memset(s, 0, sizeof *s);
    s->fd = CURL_SOCKET_BAD;
    demux_init(&s->demux);
    capture_init(&s->error_body, 4096);
    s->out = out;
    s->err = err;
}

void docker_stream_bind(struct docker_stream *s, struct capture *out, struct capture *err)
{
    s->out = out;
    s->err = err;
}

int docker_stream_open(struct docker_stream *s, const char *socket_path, const char *path,
                       struct capture *out, struct capture *err, char *errmsg, size_t errlen)
{
    char url[1024];
    stream_init(s, out, err);
    snprintf(url, sizeof url, "%s%s", DOCKER_API_PREFIX, path);
    s->multi = curl_multi_init();
    s->easy = curl_easy_init();
    if (!s->multi || !s->easy)
        goto fail;
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, socket_path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, stream_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stream_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        goto fail;
    return 0;
fail:
    snprintf(errmsg, errlen, "attach: cannot set up a curl transfer");
    docker_stream_close(s);
    return -1;
}

/* Waits up to timeout_ms for events on the upgraded connection, or for extra_fd (if >= 0) to
 * be readable (*extra_ready then); returns the connection's revents, 0 on timeout (or a
 * signal), -1 on failure. */
static int hijack_wait_with(struct docker_stream *s, short events, long timeout_ms, int extra_fd,
                            bool *extra_ready)
{
    struct pollfd p[2] = { { .fd = s->fd, .events = events }, { .fd = extra_fd, .events = POLLIN } };
    int n = poll(p, extra_fd >= 0 ? 2 : 1, (int)(timeout_ms > 0 ? timeout_ms : 0));
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    if (extra_ready)
        *extra_ready = extra_fd >= 0 && p[1].revents != 0;
    return n ? p[0].revents : 0;
}

static int hijack_wait(struct docker_stream *s, short events, long timeout_ms)
{
    return hijack_wait_with(s, events, timeout_ms, -1, NULL);
}

/* Sends all of buf on the upgraded connection before the deadline (monotonic ms). */
static int hijack_send(struct docker_stream *s, const char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(s->easy, buf, len, &sent);
        if (rc == CURLE_OK) {
            buf += sent;
            len -= sent;
            continue;
        }
        int64_t left = deadline - clock_mono_ms();
        if (rc != CURLE_AGAIN || left <= 0 || hijack_wait(s, POLLOUT, left) < 0)
            return -1;
    }
    return 0;
}

/* Docker's attach with stdin hijacks the HTTP connection: after "101 UPGRADED" our writes go
 * to the container's stdin and its output comes back framed. libcurl (7.88) cannot upgrade a
 * connection to raw TCP, so libcurl only opens the connection (CURLOPT_CONNECT_ONLY) and
 * moves the bytes; the request and the answer's status line are handled here. A request body
 * on an ordinary attach would not do: Docker 20.10 reads ahead and loses it. */
int docker_stream_hijack(struct docker_stream *s, const char *socket_path, const char *id,
                         long timeout_ms, char *errmsg, size_t errlen)
{
    char request[512], head[HIJACK_HEAD_MAX + 1];
    size_t have = 0;
    char *end = NULL;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    long status = 0;

    stream_init(s, NULL, NULL);
    if (!(s->easy = curl_easy_init())) {
        snprintf(errmsg, errlen, "attach failed: cannot set up a curl handle");
        goto fail;
    }
    curl_easy_setopt(s->easy, CURLOPT_UNIX_SOCKET_PATH, socket_path);
    curl_easy_setopt(s->easy, CURLOPT_URL, "http://localhost/");
    curl_easy_setopt(s->easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
    CURLcode rc = curl_easy_perform(s->easy);
    if (rc != CURLE_OK || curl_easy_getinfo(s->easy, CURLINFO_ACTIVESOCKET, &s->fd) != CURLE_OK
        || s->fd == CURL_SOCKET_BAD) {
        snprintf(errmsg, errlen, "attach failed: %s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
        goto fail;
    }
    int n = snprintf(request, sizeof request,
                     "POST /v1.41/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
                     "Host: localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", id);
    if (n < 0 || (size_t)n >= sizeof request || hijack_send(s, request, (size_t)n, deadline) != 0) {
        snprintf(errmsg, errlen, "attach failed: cannot send the request");
        goto fail;
    }
    while (!end) {
        size_t got = 0;
        int64_t left = deadline - clock_mono_ms();
        if (have == HIJACK_HEAD_MAX || left <= 0) {
            snprintf(errmsg, errlen, "attach failed: no complete answer within %ld ms", timeout_ms);
            goto fail;
        }
        rc = curl_easy_recv(s->easy, head + have, HIJACK_HEAD_MAX - have, &got);
        if (rc == CURLE_AGAIN) {
            if (hijack_wait(s, POLLIN, left) < 0)
                goto fail_io;
            continue;
        }
        if (rc != CURLE_OK || got == 0)
            goto fail_io;
        have += got;
        head[have] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (sscanf(head, "HTTP/1.%*d %ld", &status) != 1 || status != 101) {
        /* an error: a JSON message follows the headers (in part, perhaps) */
        struct docker_response resp = { .status = status, .body = end + 4,
                                        .len = have - (size_t)(end + 4 - head) };
        char why[300];
        docker_describe(&resp, why, sizeof why);
        snprintf(errmsg, errlen, "attach failed: %s", why);
        goto fail;
    }
    if (end + 4 != head + have) {
        snprintf(errmsg, errlen, "attach failed: the container wrote before it was given a job");
        goto fail;
    }
    s->status = 101;
    s->headers_done = true;
    return 0;
fail_io:
    snprintf(errmsg, errlen, "attach failed: the connection broke before Docker answered");
fail:
    docker_stream_close(s);
    return -1;
}

int docker_stream_send(struct docker_stream *s, const char *buf, size_t len, long timeout_ms)
{
    if (s->multi || s->fd == CURL_SOCKET_BAD)
        return -1;
    return hijack_send(s, buf, len, clock_mono_ms() + timeout_ms);
}

int docker_stream_send_some(struct docker_stream *s, const char *buf, size_t len, size_t *sent)
{
    *sent = 0;
    if (s->multi || s->fd == CURL_SOCKET_BAD)
        return -1;
    while (*sent < len) {
        size_t n = 0;
        CURLcode rc = curl_easy_send(s->easy, buf + *sent, len - *sent, &n);
        if (rc == CURLE_AGAIN)
            return 0;
        if (rc != CURLE_OK)
            return -1;
        *sent += n;
    }
    return 0;
}

bool docker_stream_idle(struct docker_stream *s)
{
    return !s->multi && s->fd != CURL_SOCKET_BAD && !s->finished && hijack_wait(s, POLLIN, 0) == 0;
}

/* docker_stream_step for an upgraded connection: reads what is there into the demultiplexer. */
static int hijack_step(struct docker_stream *s, long timeout_ms, int extra_fd, bool *extra_ready)
{
    char buf[16384];
    int ev = hijack_wait_with(s, POLLIN, timeout_ms, extra_fd, extra_ready);
    if (ev < 0)
        return -1;
    for (int i = 0; ev && i < HIJACK_READS_PER_STEP; i++) {
        size_t got = 0;
        CURLcode rc = curl_easy_recv(s->easy, buf, sizeof buf, &got);
        if (rc == CURLE_AGAIN)
            break;
        if (rc != CURLE_OK || got == 0) {
            s->finished = true;     /* the container's end, or the connection's */
            s->result = rc;
            break;
        }
        if (stream_body(buf, 1, got, s) != got)
            break;                  /* bad framing or no memory: demux_status says which */
    }
    return 0;
}

/* Runs the transfer as far as it goes without waiting; notes its end. */
static int multi_read(struct docker_stream *s)
{
    int running = 0, queued;
    if (curl_multi_perform(s->multi, &running) != CURLM_OK)
        return -1;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(s->multi, &queued)) != NULL)
        if (msg->msg == CURLMSG_DONE) {
            s->finished = true;
            s->result = msg->data.result;
        }
    return 0;
}

int docker_stream_step(struct docker_stream *s, long timeout_ms)
{
    return docker_stream_step_with(s, timeout_ms, -1, NULL);
}

int docker_stream_step_with(struct docker_stream *s, long timeout_ms, int extra_fd, bool *extra_ready)
{
    struct curl_waitfd extra = { .fd = extra_fd, .events = CURL_WAIT_POLLIN };
    if (extra_ready)
        *extra_ready = false;
    if (s->finished)
        return 0;
    if (!s->multi)
        return hijack_step(s, timeout_ms, extra_fd, extra_ready);
    if (multi_read(s) != 0)
        return -1;
    if (s->finished || s->demux_status == DEMUX_BAD || s->demux_status == DEMUX_NOMEM)
        return 0;
    if (curl_multi_poll(s->multi, extra_fd >= 0 ? &extra : NULL, extra_fd >= 0 ? 1 : 0,
                        (int)(timeout_ms > 0 ? timeout_ms : 0), NULL) != CURLM_OK)
        return -1;
    if (extra_ready)
        *extra_ready = extra_fd >= 0 && extra.revents != 0;
    /* what woke the wait is read now, so that the caller sees it on return */
    return multi_read(s);
}

void docker_stream_close(struct docker_stream *s)
{
    if (s->multi && s->easy)
        curl_multi_remove_handle(s->multi, s->easy);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    capture_free(&s->error_body);
    s->easy = NULL;
    s->multi = NULL;
    s->fd = CURL_SOCKET_BAD;
}
