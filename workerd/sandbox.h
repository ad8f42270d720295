/* The sandbox: the one place that decides every setting of a job's container. */
#ifndef WORKERD_SANDBOX_H
#define WORKERD_SANDBOX_H

#include <jansson.h>
#include <stddef.h>

/* The code travels base64-encoded as one argv string, and Linux caps one argument at
 * MAX_ARG_STRLEN (128 KiB); this leaves room for the rest. */
#define SANDBOX_MAX_CODE_BASE64 (120 * 1024)

struct sandbox_job {
    const char *job_id;
    const char *node;
    const char *image;           /* <prefix><language>:latest */
    const char *main_file;       /* where the code is written, in the work dir */
    char *const *run_argv;       /* how the image runs it */
    size_t run_argc;
    const char *code;
    size_t code_len;
    long memory_mb;
    long pids;
};

/* Builds the body of POST /containers/create. Returns NULL with the reason in err when the
 * code is too large ("code too large for this node") or memory runs out. */
json_t *sandbox_container_spec(const struct sandbox_job *job, char *err, size_t errlen);

/* Standard base64 (RFC 4648, padded) of n bytes into out, which must hold
 * base64_encoded_len(n) + 1 bytes; NUL-terminates. */
size_t base64_encoded_len(size_t n);
void base64_encode(const unsigned char *in, size_t n, char *out);

#endif
