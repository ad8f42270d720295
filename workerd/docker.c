#include "docker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCKER_API_PREFIX "http://localhost/v1.41"   /* Docker 20.10; the host is ignored */
#define DOCKER_MAX_BODY (64 * 1024 * 1024)           /* an image or container list, not more */
#define DOCKER_CONNECT_TIMEOUT_MS 5000L

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

int docker_open(struct docker *d, const char *socket_path)
{
    memset(d, 0, sizeof *d);
    snprintf(d->socket_path, sizeof d->socket_path, "%s", socket_path);
    d->easy = curl_easy_init();
    /* "Expect:" stops curl from waiting for 100-continue before sending a large body. */
    d->headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h = d->headers ? curl_slist_append(d->headers, "Expect:") : NULL;
    if (!d->easy || !h) {
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
    if (s->status != 200)
        return capture_append(&s->error_body, ptr, n) == 0 ? n : 0;
    s->demux_status = demux_feed(&s->demux, ptr, n, s->out, s->err);
    return s->demux_status == DEMUX_OK || s->demux_status == DEMUX_FULL ? n : 0;
}

int docker_stream_open(struct docker_stream *s, const char *socket_path, const char *path,
                       struct capture *out, struct capture *err, char *errmsg, size_t errlen)
{
    char url[1024];
    memset(s, 0, sizeof *s);
    demux_init(&s->demux);
    capture_init(&s->error_body, 4096);
    s->out = out;
    s->err = err;
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

int docker_stream_step(struct docker_stream *s, long timeout_ms)
{
    int running = 0, queued;
    if (s->finished)
        return 0;
    if (curl_multi_perform(s->multi, &running) != CURLM_OK)
        return -1;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(s->multi, &queued)) != NULL)
        if (msg->msg == CURLMSG_DONE) {
            s->finished = true;
            s->result = msg->data.result;
        }
    if (s->finished || s->demux_status == DEMUX_BAD || s->demux_status == DEMUX_NOMEM)
        return 0;
    if (curl_multi_poll(s->multi, NULL, 0, (int)(timeout_ms > 0 ? timeout_ms : 0), NULL) != CURLM_OK)
        return -1;
    return 0;
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
}
