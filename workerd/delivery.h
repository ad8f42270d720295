/* One attempt to deliver a job's callback: an HTTP POST of its result under the SSRF rules
 * (rce_allow.h): the URL's host must be listed, a listed name is resolved once and the
 * connection goes to the address that was checked, no proxy, no redirect followed. The body
 * is signed with the operator's secret (docs/api.md, "Callbacks", says how to check it). */
#ifndef WORKERD_DELIVERY_H
#define WORKERD_DELIVERY_H

#include <stddef.h>

#include "rce_allow.h"

#define DELIVERY_SIGNATURE_HEADER "X-Rce-Signature"   /* t=<unix s>,sha256=<hex HMAC of "<t>.<body>"> */
#define DELIVERY_JOB_HEADER       "X-Rce-Job-Id"
#define DELIVERY_ATTEMPT_HEADER   "X-Rce-Attempt"

enum delivery_outcome {
    DELIVERY_DONE,          /* the receiver answered 2xx */
    DELIVERY_RETRY,         /* worth another attempt: no connection, a timeout, 408, 429, 5xx */
    DELIVERY_REFUSED        /* never worth another: not allowed, a redirect, another 4xx */
};

struct delivery {
    const rce_allow_t *allow;
    const unsigned char *secret;
    size_t secret_len;
    long timeout_ms;        /* the whole attempt, connecting included */
};

/* POSTs body (JSON) to url for job_id's attempt-th try. Returns the outcome, with what
 * happened in what (the HTTP status, or why it failed or was refused). */
enum delivery_outcome delivery_post(const struct delivery *d, const char *url, const char *job_id,
                                    int attempt, const char *body, size_t len, char *what, size_t whatlen);

/* The signature header's value for body sent at unix time t into out (at least 128 bytes);
 * -1 if the digest could not be made. */
int delivery_sign(const unsigned char *secret, size_t secret_len, long long t, const char *body, size_t len,
                  char *out, size_t outlen);

#endif
