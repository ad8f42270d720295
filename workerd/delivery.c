#include "delivery.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <curl/curl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define CONNECT_TIMEOUT_MS 5000
#define HOST_MAX 256

#define TARGET_ADDRESSES 4

/* Where the URL leads, once checked: its host and port, the addresses curl may connect to
 * (the literal, or those of the name that the rules allow) and, for a name, the
 * "host:port:address,..." that pins them (CURLOPT_RESOLVE). */
struct target {
    char host[HOST_MAX];
    long port;
    size_t n;
    struct { int family; unsigned char addr[16]; } to[TARGET_ADDRESSES];
    char resolve[HOST_MAX + 32 + TARGET_ADDRESSES * (INET6_ADDRSTRLEN + 3)];
    bool strayed;           /* curl tried to connect anywhere else (and was stopped) */
};

/* A host as a URL names it once curl has decoded it: an address literal or a DNS name of
 * ASCII letters, digits, hyphens and dots. Anything else (an IDN, percent-encoded bytes)
 * could be looked up by curl under another form than the one checked here. */
static bool plain_host(const char *host)
{
    for (const char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != ':')
            return false;
    return host[0] != '\0';
}

/* Scheme, host and port of url, parsed once: *u is the handle curl then sends (CURLOPT_CURLU),
 * so what was checked is what is used. -1 with why in what. */
static int parse_url(const char *url, CURLU **out, struct target *t, char *what, size_t whatlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(what, whatlen, "not a URL");
        goto fail;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(what, whatlen, "only http and https URLs are called back");
        goto fail;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(what, whatlen, "the URL has no host");
        goto fail;
    }
    size_t n = strlen(host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {    /* an IPv6 literal */
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (strlen(host) >= sizeof t->host || !plain_host(host)) {
        snprintf(what, whatlen, "the URL's host must be an address or a DNS name of ASCII letters, digits, "
                 "hyphens and dots (punycode for an international name)");
        goto fail;
    }
    snprintf(t->host, sizeof t->host, "%s", host);
    t->port = strtol(port, NULL, 10);
    rc = 0;
fail:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    if (rc == 0)
        *out = u;
    else
        curl_url_cleanup(u);
    return rc;
}

/* Adds an address curl may connect to. */
static void target_add(struct target *t, int family, const unsigned char *addr)
{
    if (t->n == TARGET_ADDRESSES)
        return;
    t->to[t->n].family = family;
    memcpy(t->to[t->n].addr, addr, family == AF_INET ? 4 : 16);
    t->n++;
}

/* CURLOPT_OPENSOCKETFUNCTION: the last word on where curl connects. An address that is not
 * one checked here (were curl ever to parse or look up the host otherwise) gets no socket. */
static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct target *t = arg;
    const unsigned char *addr = a->family == AF_INET
        ? (const unsigned char *)&((struct sockaddr_in *)&a->addr)->sin_addr
        : (const unsigned char *)&((struct sockaddr_in6 *)&a->addr)->sin6_addr;
    (void)purpose;
    for (size_t i = 0; i < t->n; i++)
        if (t->to[i].family == a->family && memcmp(t->to[i].addr, addr, a->family == AF_INET ? 4 : 16) == 0)
            return socket(a->family, a->socktype, a->protocol);
    t->strayed = true;
    return CURL_SOCKET_BAD;
}

/* Resolves a listed name once and keeps the addresses the rules allow (up to
 * TARGET_ADDRESSES), pinned in t->resolve. DELIVERY_DONE when one is allowed, else the
 * outcome with why in what. */
static enum delivery_outcome resolve(const rce_allow_t *allow, struct target *t, char *what, size_t whatlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    char text[INET6_ADDRSTRLEN], first[INET6_ADDRSTRLEN + 32] = "";
    int rc = getaddrinfo(t->host, NULL, &hints, &res);
    size_t len = (size_t)snprintf(t->resolve, sizeof t->resolve, "%s:%ld:", t->host, t->port);
    if (rc != 0) {
        snprintf(what, whatlen, "cannot resolve %s: %s", t->host, gai_strerror(rc));
        return DELIVERY_RETRY;
    }
    for (ai = res; ai && t->n < TARGET_ADDRESSES; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        const unsigned char *addr = ai->ai_family == AF_INET
            ? (const unsigned char *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
            : (const unsigned char *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        const char *why = "";
        inet_ntop(ai->ai_family, addr, text, sizeof text);
        if (rce_allow_address(allow, ai->ai_family, addr, &why)) {
            len += (size_t)snprintf(t->resolve + len, sizeof t->resolve - len,
                                    ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s", t->n ? "," : "", text);
            target_add(t, ai->ai_family, addr);
        } else if (!first[0]) {
            snprintf(first, sizeof first, "%s, %s", text, why);
        }
    }
    freeaddrinfo(res);
    if (t->n > 0)
        return DELIVERY_DONE;
    snprintf(what, whatlen, "%s resolves only to addresses callbacks may not reach (%s) unless their "
             "range is listed", t->host, first[0] ? first : "none");
    return DELIVERY_REFUSED;
}

int delivery_sign(const unsigned char *secret, size_t secret_len, long long t, const char *body, size_t len,
                  char *out, size_t outlen)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "%lld.", t);
    unsigned char *signed_text = malloc((size_t)plen + len);
    if (!signed_text)
        return -1;
    memcpy(signed_text, prefix, (size_t)plen);
    memcpy(signed_text + plen, body, len);
    unsigned char *ok = HMAC(EVP_sha256(), secret, (int)secret_len, signed_text, (size_t)plen + len, digest,
                             &dlen);
    free(signed_text);
    if (!ok || outlen < 32 + 8 + 2 * (size_t)dlen + 1)
        return -1;
    size_t n = (size_t)snprintf(out, outlen, "t=%lld,sha256=", t);
    for (unsigned int i = 0; i < dlen && n + 2 < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%02x", digest[i]);
    return 0;
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

/* The outcome of an HTTP status the receiver answered. */
static enum delivery_outcome judge_status(long status, char *what, size_t whatlen)
{
    if (status >= 200 && status < 300) {
        snprintf(what, whatlen, "HTTP %ld", status);
        return DELIVERY_DONE;
    }
    if (status >= 300 && status < 400) {
        snprintf(what, whatlen, "HTTP %ld: a redirect, never followed", status);
        return DELIVERY_REFUSED;
    }
    snprintf(what, whatlen, "HTTP %ld", status);
    return status == 408 || status == 429 || status >= 500 ? DELIVERY_RETRY : DELIVERY_REFUSED;
}

/* The POST itself, to the checked target. */
static enum delivery_outcome post(const struct delivery *d, struct target *t, CURLU *url,
                                  struct curl_slist *headers, const char *body, size_t len, char *what,
                                  size_t whatlen)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *resolve = NULL;
    enum delivery_outcome out = DELIVERY_RETRY;
    long status = 0;
    CURL *h = curl_easy_init();
    if (!h || (t->resolve[0] && !(resolve = curl_slist_append(NULL, t->resolve)))) {
        snprintf(what, whatlen, "out of memory");
        goto done;
    }
    curl_easy_setopt(h, CURLOPT_CURLU, url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_checked);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");                 /* no proxy from the environment */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, d->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, d->timeout_ms < CONNECT_TIMEOUT_MS ? d->timeout_ms
                                                                                      : CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "rce-callback/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(what, whatlen, "%s", t->strayed ? "curl was about to connect to an address that was not "
                 "checked; stopped" : errbuf[0] ? errbuf : curl_easy_strerror(rc));
        /* what no attempt can mend */
        if (t->strayed || rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
            out = DELIVERY_REFUSED;
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    out = judge_status(status, what, whatlen);
done:
    curl_slist_free_all(resolve);
    curl_easy_cleanup(h);
    return out;
}

enum delivery_outcome delivery_post(const struct delivery *d, const char *url, const char *job_id,
                                    int attempt, const char *body, size_t len, char *what, size_t whatlen)
{
    struct target t = { .n = 0 };
    struct curl_slist *headers = NULL, *more;
    char signature[160], line[256];
    enum delivery_outcome out;
    unsigned char literal[16];
    CURLU *u = NULL;
    if (parse_url(url, &u, &t, what, whatlen) != 0)
        return DELIVERY_REFUSED;
    switch (rce_allow_host(d->allow, t.host)) {
    case 0:
        /* another node's list may have it (a list being changed node by node): retried */
        snprintf(what, whatlen, "%s is not among the hosts this node's callbacks may go to (--callback-allow)",
                 t.host);
        out = DELIVERY_RETRY;
        goto done;
    case 1:                 /* a listed address literal: connect to it, nothing to resolve */
        if (inet_pton(AF_INET, t.host, literal) == 1)
            target_add(&t, AF_INET, literal);
        else if (inet_pton(AF_INET6, t.host, literal) == 1)
            target_add(&t, AF_INET6, literal);
        break;
    default:
        if ((out = resolve(d->allow, &t, what, whatlen)) != DELIVERY_DONE)
            goto done;
        break;
    }
    if (delivery_sign(d->secret, d->secret_len, (long long)time(NULL), body, len, signature,
                      sizeof signature) != 0) {
        snprintf(what, whatlen, "cannot sign the body");
        out = DELIVERY_RETRY;
        goto done;
    }
    const char *lines[] = { "Content-Type: application/json", "Expect:", NULL, NULL, NULL };
    char job_line[128], attempt_line[64];
    snprintf(line, sizeof line, "%s: %s", DELIVERY_SIGNATURE_HEADER, signature);
    snprintf(job_line, sizeof job_line, "%s: %s", DELIVERY_JOB_HEADER, job_id);
    snprintf(attempt_line, sizeof attempt_line, "%s: %d", DELIVERY_ATTEMPT_HEADER, attempt);
    lines[2] = line;
    lines[3] = job_line;
    lines[4] = attempt_line;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!(more = curl_slist_append(headers, lines[i]))) {
            snprintf(what, whatlen, "out of memory");
            out = DELIVERY_RETRY;
            goto done;
        }
        headers = more;
    }
    out = post(d, &t, u, headers, body, len, what, whatlen);
done:
    curl_slist_free_all(headers);
    curl_url_cleanup(u);
    return out;
}
