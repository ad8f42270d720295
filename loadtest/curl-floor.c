/* curl-floor: the memory floor of any process that talks to Docker through Debian's libcurl,
 * as workerd does.  Initialises libcurl, asks the engine GET /_ping over its unix socket on
 * one easy handle, then prints its own VmRSS, RssAnon and RssFile in KiB ("rss 9624 anon
 * 1340 file 8284").  bench.sh sets it beside workerd's idle RSS.
 * usage: curl-floor [DOCKER_SOCKET]    exit status 1 if the engine did not answer. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

/* The value in KiB of the /proc/self/status line starting with key, or -1. */
static long status_kib(const char *key)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0 && sscanf(line + strlen(key), ": %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    const char *socket = argc > 1 ? argv[1] : "/var/run/docker.sock";
    CURL *easy = NULL;
    CURLcode rc = CURLE_FAILED_INIT;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto fail;
    if (!(easy = curl_easy_init()))
        goto fail;
    curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, socket);
    curl_easy_setopt(easy, CURLOPT_URL, "http://docker/_ping");
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_FAILONERROR, 1L);
    rc = curl_easy_perform(easy);
    if (rc == CURLE_OK)
        printf("rss %ld anon %ld file %ld\n", status_kib("VmRSS"), status_kib("RssAnon"),
               status_kib("RssFile"));
fail:
    if (rc != CURLE_OK)
        fprintf(stderr, "curl-floor: GET /_ping on %s: %s\n", socket, curl_easy_strerror(rc));
    curl_easy_cleanup(easy);
    curl_global_cleanup();
    return rc == CURLE_OK ? 0 : 1;
}
