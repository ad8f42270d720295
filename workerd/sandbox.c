#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rce_protocol.h"

/* Writes the code from argv (not from an attach body, which can lose bytes on Docker 20.10),
 * then becomes the run command. $1 = base64 code, $2 = main file, the rest = the run argv. */
static const char code_loader[] =
    "printf %s \"$1\" | base64 -d > \"$2\" && shift 2 && exec \"$@\"";

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void base64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* The container's command: sh runs the loader with the code, file name and run argv. */
static json_t *build_cmd(const struct sandbox_job *job, char *err, size_t errlen)
{
    size_t b64_len = base64_encoded_len(job->code_len);
    if (b64_len > SANDBOX_MAX_CODE_BASE64) {
        snprintf(err, errlen, "code too large for this node");
        return NULL;
    }
    char *b64 = malloc(b64_len + 1);
    json_t *cmd = json_pack("[ssss]", "/bin/sh", "-c", code_loader, "rce");
    if (!b64 || !cmd)
        goto fail;
    base64_encode((const unsigned char *)job->code, job->code_len, b64);
    if (json_array_append_new(cmd, json_string(b64)) != 0
        || json_array_append_new(cmd, json_string(job->main_file)) != 0)
        goto fail;
    for (size_t i = 0; i < job->run_argc; i++)
        if (json_array_append_new(cmd, json_string(job->run_argv[i])) != 0)
            goto fail;
    free(b64);
    return cmd;
fail:
    snprintf(err, errlen, "out of memory building the container command");
    free(b64);
    json_decref(cmd);
    return NULL;
}

/* Resource limits and isolation: the part of the spec that keeps the host safe. */
static json_t *build_host_config(const struct sandbox_job *job)
{
    const json_int_t memory = (json_int_t)job->memory_mb * 1024 * 1024;
    const json_int_t file_size = 64 * 1024 * 1024;
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:b, s:b,"
        " s:{s:s, s:s},"
        " s:[s], s:[s],"
        " s:[{s:s, s:i, s:i}, {s:s, s:I, s:I}, {s:s, s:i, s:i}],"
        " s:{s:s, s:{}}, s:b}",
        "NetworkMode", "none",
        "Memory", memory,
        "MemorySwap", memory,              /* equal to Memory: no swap on top */
        "PidsLimit", (json_int_t)job->pids,
        "NanoCpus", (json_int_t)1000000000, /* one CPU */
        "ReadonlyRootfs", 1,
        /* docker-init as PID 1: the kernel shields PID 1 from signals it sends itself, so
         * without it `kill -9 $$` or abort() would not end the program as they do anywhere else. */
        "Init", 1,
        "Tmpfs",
            "/work", "rw,exec,nosuid,size=64m,uid=65534,gid=65534,mode=0700",
            "/tmp", "rw,nosuid,nodev,size=64m,mode=1777",
        "CapDrop", "ALL",
        "SecurityOpt", "no-new-privileges",
        "Ulimits",
            "Name", "nofile", "Soft", 256, "Hard", 256,
            "Name", "fsize", "Soft", file_size, "Hard", file_size,
            "Name", "core", "Soft", 0, "Hard", 0,
        "LogConfig", "Type", "none", "Config",  /* output only through our attach */
        "AutoRemove", 0);                   /* we remove it, after reading its state */
}

json_t *sandbox_container_spec(const struct sandbox_job *job, char *err, size_t errlen)
{
    json_t *cmd = build_cmd(job, err, errlen);
    if (!cmd)
        return NULL;
    json_t *host_config = build_host_config(job);
    if (!host_config) {
        json_decref(cmd);
        snprintf(err, errlen, "out of memory building the container spec");
        return NULL;
    }
    /* "o" hands cmd and host_config to the new object, even when json_pack fails. */
    json_t *spec = json_pack(
        "{s:s, s:{s:s, s:s}, s:s, s:s, s:s,"
        " s:[sss],"
        " s:b, s:b, s:b, s:b, s:b, s:b,"
        " s:[], s:o, s:o}",
        "Image", job->image,
        "Labels", RCE_LABEL_JOB, job->job_id, RCE_LABEL_NODE, job->node,
        "User", "65534:65534",             /* nobody:nogroup */
        "WorkingDir", "/work",
        "Hostname", "sandbox",
        "Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp",
               "LANG=C.UTF-8",
        "NetworkDisabled", 1,
        "AttachStdin", 0,
        "AttachStdout", 1,
        "AttachStderr", 1,
        "OpenStdin", 0,
        "Tty", 0,                          /* non-TTY: stdout and stderr arrive multiplexed */
        "Entrypoint",                      /* empty, not absent: an image ENTRYPOINT must not wrap us */
        "Cmd", cmd,
        "HostConfig", host_config);
    if (!spec)
        snprintf(err, errlen, "out of memory building the container spec");
    return spec;
}
