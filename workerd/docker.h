/* A minimal Docker Engine API client over the unix socket, built on libcurl. */
#ifndef WORKERD_DOCKER_H
#define WORKERD_DOCKER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>

#include "output.h"

/* One caller's connection for ordinary request/response calls. The easy handle persists so
 * that libcurl keeps the unix-socket connection alive between calls. Not thread-safe: one per
 * thread. */
struct docker {
    CURL *easy;
    struct curl_slist *headers;
    char socket_path[108];
    char errbuf[CURL_ERROR_SIZE];
};

struct docker_response {
    long status;            /* HTTP status */
    char *body;             /* NUL-terminated when docker_call filled it */
    size_t len;
};

/* Sets up d for calls on the engine at socket_path. Returns 0, or -1 with what failed in err. */
int docker_open(struct docker *d, const char *socket_path, char *err, size_t errlen);
void docker_close(struct docker *d);

enum { DOCKER_OK = 0, DOCKER_FAILED = -1, DOCKER_TIMEOUT = -2 };

/* Sends METHOD /v1.41<path> with an optional JSON body and waits at most timeout_ms.
 * Returns DOCKER_OK when a whole HTTP answer arrived, whatever its status; DOCKER_TIMEOUT or
 * DOCKER_FAILED otherwise, described in err. resp must be freed with docker_response_free. */
int docker_call(struct docker *d, const char *method, const char *path, const char *json_body,
                long timeout_ms, struct docker_response *resp, char *err, size_t errlen);
void docker_response_free(struct docker_response *r);

/* Docker's own words for a failed call: "HTTP 404 No such image: rce/x:latest". */
void docker_describe(const struct docker_response *r, char *buf, size_t len);

/* The response body as JSON, or NULL if it is not JSON. */
json_t *docker_response_json(const struct docker_response *r);

/* Figures of a running container from GET /containers/{id}/stats?stream=false&one-shot=true:
 * cpu_stats.cpu_usage.total_usage (ns, all its processes so far) and the memory peak (cgroup
 * v1 memory_stats.max_usage; under cgroup v2, which keeps no peak, the current usage), bytes.
 * A stopped container answers zeros: then, or when the fields are missing, -1 each.
 * Returns 0 if at least one figure is known. */
int docker_stats_figures(json_t *stats, long long *cpu_ns, long long *memory_bytes);

/* URL-encoded filters={"label":[label]} value for list endpoints; malloc'd, NULL if no memory. */
char *docker_label_filter(const char *label);

/* Room for a container id: 64 hex digits and the NUL. */
#define DOCKER_ID_SIZE 65

/* Container calls on d. Each returns 0, or -1 with "<step> failed: <why>" in err. */
int docker_create(struct docker *d, json_t *spec, char id[DOCKER_ID_SIZE], char *err, size_t errlen);
int docker_start(struct docker *d, const char *id, char *err, size_t errlen);
/* Kills at once; a container that already stopped is no failure. */
int docker_kill(struct docker *d, const char *id, char *err, size_t errlen);
/* Force-removes; one already gone, or being removed, is no failure. */
int docker_remove(struct docker *d, const char *id, char *err, size_t errlen);

/* A streaming attach, demultiplexed into two capped captures as it arrives. Either an
 * ordinary hijacked response read through a curl multi handle (docker_stream_open: output
 * only), or a connection upgraded to raw TCP (docker_stream_hijack: our writes are the
 * container's stdin too). */
struct docker_stream {
    CURLM *multi;           /* NULL for an upgraded connection */
    CURL *easy;
    curl_socket_t fd;       /* the upgraded connection's socket */
    struct demux demux;
    struct capture *out, *err;
    struct capture error_body;      /* body of a non-200 answer, which is not a stream */
    bool headers_done;              /* the attach answered: the container may be started */
    long status;
    enum demux_status demux_status; /* DEMUX_FULL: a cap was hit; what follows is dropped */
    bool finished;                  /* the transfer is over (stream ended, or aborted) */
    CURLcode result;                /* how it finished */
    char errbuf[CURL_ERROR_SIZE];
};

/* Starts POST /v1.41<path> (no request body) on its own connection. */
int docker_stream_open(struct docker_stream *s, const char *socket_path, const char *path,
                       struct capture *out, struct capture *err, char *errmsg, size_t errlen);

/* Attaches stdin, stdout and stderr of a running container over one connection upgraded to
 * raw TCP, waiting at most timeout_ms for Docker's "101 UPGRADED". The captures are given
 * later (docker_stream_bind): until then the container must write nothing. */
int docker_stream_hijack(struct docker_stream *s, const char *socket_path, const char *id,
                         long timeout_ms, char *errmsg, size_t errlen);

/* Sends all of buf to the container's stdin within timeout_ms; -1 if it could not. */
int docker_stream_send(struct docker_stream *s, const char *buf, size_t len, long timeout_ms);

/* Sends what of buf the connection takes now, without waiting, into *sent; -1 if it broke
 * (or is not an upgraded one). */
int docker_stream_send_some(struct docker_stream *s, const char *buf, size_t len, size_t *sent);

/* True while an upgraded connection has nothing to read and is not closed: the container
 * still waits for its stdin. */
bool docker_stream_idle(struct docker_stream *s);

void docker_stream_bind(struct docker_stream *s, struct capture *out, struct capture *err);

/* Moves the transfer along: reads what has come, waits at most timeout_ms for more and reads
 * that too, so that the captures hold all that arrived by the return; -1 on a curl multi
 * failure. Check headers_done, finished and demux_status afterwards. */
int docker_stream_step(struct docker_stream *s, long timeout_ms);

/* docker_stream_step that also wakes up for another fd (extra_fd >= 0) that becomes readable:
 * *extra_ready says whether it did (or was readable, or hung up, by the return). */
int docker_stream_step_with(struct docker_stream *s, long timeout_ms, int extra_fd, bool *extra_ready);

void docker_stream_close(struct docker_stream *s);

#endif
