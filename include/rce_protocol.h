/*
 * rce wire protocol: the one place that names Redis keys and JSON fields.
 * Shared by ngx_rce_module (the gateway) and workerd; documented in
 * docs/protocol.md (t/02-protocol-doc.t holds the two together).  Plain C, no
 * dependencies.
 */

#ifndef RCE_PROTOCOL_H
#define RCE_PROTOCOL_H


#include <stddef.h>


#define RCE_PROTOCOL_VERSION        1

/* Redis keys.  <node> is a worker node name, <id> a job id. */
#define RCE_KEY_PREFIX              "rce:"
#define RCE_KEY_NODES               "rce:nodes"          /* SET of node names */
#define RCE_KEY_NODE                "rce:node:"          /* + <node>: STRING, node JSON, PX ttl */
#define RCE_KEY_QUEUE               "rce:queue:"         /* + <node>: LIST of job JSON, LPUSH in */
#define RCE_KEY_RUNNING             "rce:running:"       /* + <node>: LIST, BLMOVE RIGHT LEFT target */
#define RCE_KEY_BATCH               "rce:batch:"         /* + <node>: LIST of job JSON of the batch class,
                                                            LPUSH in: taken only when rce:queue:<node>
                                                            is empty */
#define RCE_KEY_RESULT              "rce:result:"        /* + <id>: STRING, result JSON, EX ttl */
#define RCE_CHANNEL_REPLY           "rce:reply:"         /* + <gateway worker>: PUBLISH result JSON */
#define RCE_KEY_RESCUED             "rce:rescued:"       /* + <id>: a dead node's job was re-run once */
#define RCE_KEY_EPOCH               "rce:epoch:"         /* + <node>: INTEGER, the node's epoch: INCR when
                                                            it registers and when it is declared dead */
#define RCE_KEY_DEAD                "rce:dead"           /* HASH <node> -> "<epoch> <unix ms>": declared
                                                            dead then, not back since */
#define RCE_KEY_JOB                 "rce:job:"           /* + <id>: HASH, an asynchronous job's state
                                                            (RCE_JOBSTATE_*): the gateway's push makes
                                                            it, the node that runs it and the answer
                                                            move it on; EX, see RCE_JOB_RESULT_TTL_S */
#define RCE_KEY_CANCEL              "rce:cancel:"        /* + <id>: STRING, an asynchronous job asked
                                                            to stop (DELETE /api/v1/jobs/<id>) after
                                                            it left its queue; EX the job's result TTL */
#define RCE_KEY_CALLBACKS           "rce:callbacks"      /* ZSET <id> -> when its callback is due, unix
                                                            ms: written with the result (finish.lua,
                                                            cancel.lua), taken by any node's sender */
#define RCE_CHANNEL_DONE            "rce:done"           /* asynchronous jobs' reply_to: every gateway
                                                            worker subscribes, for its long polls */
#define RCE_KEY_RECENT              "rce:recent"         /* HASH <language> -> unix ms of the last job
                                                            of it with its default limits a node took
                                                            (written at most RCE_RECENT_REPORT_MS late,
                                                            one field per language); a starting node
                                                            warms the languages run within its idle
                                                            period and removes fields older than
                                                            RCE_RECENT_KEEP_MS */

#define RCE_NODE_TTL_MS             3000     /* heartbeat key lifetime: 3 missed beats */
#define RCE_NODE_HEARTBEAT_MS       1000     /* heartbeat period */
#define RCE_RESULT_TTL_S            60       /* lifetime of rce:result:<id> */
#define RCE_RESULT_MAX_BYTES        16777216 /* a result JSON, at most: a node sends IE instead,
                                                a gateway answers a larger one IE */
#define RCE_RESCUED_TTL_S           3600     /* lifetime of rce:rescued:<id> */
#define RCE_NODE_DEAD_AFTER_MS      3000     /* a beat that has not moved this long, while
                                                Redis answered every check, is a death */
#define RCE_LIVENESS_SLOW_MS        500      /* a check answered slower than this is no evidence */
#define RCE_LIVENESS_GAP_MS         2500     /* nor a check this long after the previous one */
#define RCE_DEAD_REAP_GRACE_S       600      /* a peer removes a dead node's containers only
                                                after this long with its epoch unchanged */
#define RCE_RECENT_REPORT_MS        30000    /* a node writes a language's field of rce:recent
                                                at most this often while its jobs come */
#define RCE_RECENT_KEEP_MS          86400000 /* a field of rce:recent older than this (a day)
                                                is removed by the next node that starts */

/* Job JSON: gateway -> workerd, one element of rce:queue:<node>.  (workerd's
 * lua/steal.lua reads "language" too; workerd passes it the name.) */
#define RCE_JOB_ID                  "id"             /* string, unique */
#define RCE_JOB_LANGUAGE            "language"       /* string, canonical name */
#define RCE_JOB_CODE                "code"           /* string, UTF-8 source */
#define RCE_JOB_REPLY_TO            "reply_to"       /* string, channel to PUBLISH on */
#define RCE_JOB_ENQUEUED_MS         "enqueued_ms"    /* integer, unix ms */
#define RCE_JOB_DEADLINE_MS         "deadline_ms"    /* integer, unix ms; later = nobody waits */
#define RCE_JOB_LIMITS              "limits"         /* object, see RCE_LIMIT_* */
#define RCE_JOB_FILES               "files"          /* array of file objects, instead of code */
#define RCE_JOB_STDIN               "stdin"          /* string: the program's standard input */
#define RCE_JOB_ARGS                "args"           /* array of strings: argv after the program */
#define RCE_JOB_TESTS               "tests"          /* array of test objects (judge mode): compile
                                                        once, then run each; no "stdin" or "args" */
#define RCE_JOB_COMPARE             "compare"        /* RCE_COMPARE_* name, or {"float": tolerance} */
#define RCE_JOB_STOP_ON_FAILURE     "stop_on_failure"  /* bool: tests after the first that is not
                                                          OK are SKIPPED */
#define RCE_JOB_PRIORITY            "priority"       /* RCE_PRIORITY_*; absent: normal */
#define RCE_JOB_ASYNC               "async"          /* bool: nobody waits; its state is kept in
                                                        rce:job:<id> and its reply_to is
                                                        RCE_CHANNEL_DONE */
#define RCE_JOB_RESULT_TTL_S        "result_ttl_s"   /* integer, s: rce:result:<id>'s lifetime for an
                                                        asynchronous job (RCE_RESULT_TTL_S without) */

#define RCE_JOB_STREAM              "stream"         /* bool: the node publishes the job's events
                                                        (RCE_EVENT_*) on reply_to as it runs, and
                                                        watches rce:input:<id> for a kill */
#define RCE_JOB_INTERACTIVE         "interactive"    /* bool (with stream): the program's stdin is
                                                        live: "stdin" first, then what comes on
                                                        rce:input:<id> until its eof */

/* Streaming: events of a running job, PUBLISHed on its reply_to before its result by the
 * node that runs it (one connection: in order). An event has RCE_EVENT_KIND; a result never
 * has it. */
#define RCE_EVENT_KIND              "event"          /* string: RCE_EVENT_STAGE or RCE_EVENT_OUTPUT */
#define RCE_EVENT_SEQ               "seq"            /* integer: 0, 1, ... per job: a gap is a loss */
#define RCE_EVENT_ATTEMPT           "attempt"        /* integer: 1, or 2 for a re-run after its node
                                                        died (its seq starts at 0 again) */
#define RCE_EVENT_STAGE             "stage"          /* a stage began; its name in RCE_EVENT_STAGE */
#define RCE_EVENT_OUTPUT            "output"         /* bytes the program (or compiler) wrote */
#define RCE_EVENT_STREAM            "stream"         /* "stdout" or "stderr" */
#define RCE_EVENT_DATA              "data"           /* string, in RCE_EVENT_ENCODING */
#define RCE_EVENT_ENCODING          "encoding"       /* RCE_ENCODING_UTF8 or RCE_ENCODING_BASE64 */
#define RCE_STAGE_COMPILE           "compile"
#define RCE_STAGE_RUN               "run"
#define RCE_STREAM_CHUNK_BYTES      16384    /* bytes of output in one event, at most */

/* Input of a streamed job: a LIST the gateway RPUSHes and the running node BLPOPs. */
#define RCE_KEY_INPUT               "rce:input:"         /* + <id>: LIST of input JSON, EX the job's
                                                            deadline; the node deletes it at the end */
#define RCE_INPUT_STDIN             "stdin"          /* string: bytes for the program's stdin */
#define RCE_INPUT_ENCODING          "encoding"       /* of RCE_INPUT_STDIN; absent: utf8 */
#define RCE_INPUT_EOF               "eof"            /* true: close the program's stdin */
#define RCE_INPUT_SIGNAL            "signal"         /* integer 1..31: send it to every process of
                                                        the job but the container's PID 1 */
#define RCE_INPUT_KILL              "kill"           /* true: nobody listens any more: stop the job
                                                        (CANCELLED) */
#define RCE_INPUT_MAX_BYTES         1048576  /* stdin bytes one job may receive live, at most */
#define RCE_INPUT_ENTRY_MIN_BYTES   64       /* what each input entry counts, at least, against
                                                RCE_INPUT_MAX_BYTES at the gateway */
#define RCE_INPUT_KILL_TTL_MS       10000    /* a kill is pushed for a job a node has taken: it
                                                is read within moments or the job has ended,
                                                so its key expires this soon (or at the
                                                deadline, if sooner), not at the deadline */


/* The fields of rce:job:<id>, an asynchronous job's HASH. */
#define RCE_JOBSTATE_STATE          "state"          /* RCE_STATE_* */
#define RCE_JOBSTATE_NODE           "node"           /* the node whose queue it is on, or that runs it */
#define RCE_JOBSTATE_QUEUE          "queue"          /* rce:queue:<node> it was pushed onto */
#define RCE_JOBSTATE_JOB            "job"            /* the job JSON as pushed (to take it back out of
                                                        its queue); removed once it ran */
#define RCE_JOBSTATE_LANGUAGE       "language"
#define RCE_JOBSTATE_ENCODING       "output_encoding"  /* how the answer's streams are rendered */
#define RCE_JOBSTATE_ENQUEUED_MS    "enqueued_ms"
#define RCE_JOBSTATE_STARTED_MS     "started_ms"     /* when a node took it */
#define RCE_JOBSTATE_CALLBACK_URL   "callback_url"   /* where its result is POSTed when it ends */
#define RCE_JOBSTATE_CALLBACK_STATE "callback_state"  /* RCE_CALLBACK_* */
#define RCE_JOBSTATE_CALLBACK_ATTEMPTS "callback_attempts"  /* deliveries tried so far */
#define RCE_JOBSTATE_CALLBACK_ERROR "callback_error" /* why the last attempt failed; "" if it did not */
#define RCE_JOBSTATE_OWNER          "owner"          /* the name of the API key that submitted it
                                                        (absent with keys off): only that key may
                                                        read or cancel it */

/* Where a job's callback stands (RCE_JOBSTATE_CALLBACK_STATE). */
#define RCE_CALLBACK_WAITING        "waiting"        /* the job has not ended */
#define RCE_CALLBACK_PENDING        "pending"        /* due: the job ended, no attempt yet */
#define RCE_CALLBACK_RETRYING       "retrying"       /* an attempt failed; due again later */
#define RCE_CALLBACK_DELIVERED      "delivered"      /* the receiver answered 2xx */
#define RCE_CALLBACK_FAILED         "failed"         /* refused (not allowed, a redirect, a 4xx) or
                                                        out of attempts; the result stays fetchable */
#define RCE_CALLBACK_URL_MAX        2048     /* bytes of a callback_url */
#define RCE_CALLBACK_LEASE_MS       60000    /* a sender that took a callback has it this long */

#define RCE_STATE_QUEUED            "queued"
#define RCE_STATE_RUNNING           "running"
#define RCE_STATE_DONE              "done"           /* its result is at rce:result:<id> */

/* Priority classes: a node takes interactive, then normal, then batch jobs. */
#define RCE_PRIORITY_INTERACTIVE    "interactive"    /* RPUSHed: the consumer end of the queue */
#define RCE_PRIORITY_NORMAL         "normal"         /* LPUSHed onto the queue */
#define RCE_PRIORITY_BATCH          "batch"          /* LPUSHed onto rce:batch:<node> */
#define RCE_QUEUE_WAKE              "wake"           /* pushed onto an empty queue with a batch job: a
                                                        slot waiting on the queue wakes, drops it and
                                                        takes the batch job (not JSON: no job is it) */
#define RCE_INTERACTIVE_HEADROOM    2        /* interactive jobs are refused at this many times
                                                a node's queue_max, normal ones at queue_max */

#define RCE_JOB_ID_BYTES            16       /* random bytes of a job id (getrandom), sent as
                                                32 lowercase hex digits: ids cannot be guessed */
#define RCE_ASYNC_RESULT_TTL_MAX_S  604800   /* an asynchronous job's result TTL, at most */

/* One element of "tests": its own input and, optionally, the output it must give. */
#define RCE_TEST_STDIN              "stdin"          /* string */
#define RCE_TEST_ARGS               "args"           /* array of strings */
#define RCE_TEST_EXPECTED_OUTPUT    "expected_output"  /* string; absent: the test just runs */

/* How a test's stdout is held against its expected output. */
#define RCE_COMPARE_EXACT           "exact"          /* byte for byte */
#define RCE_COMPARE_LINES           "lines"          /* the default: each line's trailing whitespace
                                                        and the trailing empty lines ignored */
#define RCE_COMPARE_TOKENS          "tokens"         /* the whitespace-separated tokens */
#define RCE_COMPARE_FLOAT           "float"          /* tokens; numbers within the tolerance,
                                                        absolute or relative */

#define RCE_TESTS_MAX               1000     /* tests in one job, at most (a gateway's own
                                                bound, rce_max_tests, is lower) */
#define RCE_TESTS_INPUT_MAX_BYTES   1048576  /* all tests' stdin and args together */
#define RCE_TESTS_OUTPUT_MAX_BYTES  8388608  /* all tests' stdout and stderr together: the
                                                test that passes it is OLE, the rest SKIPPED */
#define RCE_TEST_OVERHEAD_MS        250      /* a job's tests may take the sum of their wall
                                                limits and this much each */

/* One element of "files"; a missing name means the language's main file. */
#define RCE_FILE_NAME               "name"
#define RCE_FILE_CONTENT            "content"
#define RCE_FILE_ENCODING           "encoding"       /* RCE_ENCODING_UTF8 or _BASE64 */

/* How bytes travel in a JSON string: a file's content, a result's stream. */
#define RCE_ENCODING_UTF8           "utf8"           /* the string is the text itself */
#define RCE_ENCODING_BASE64         "base64"         /* the string is the bytes' base64 */

/* The keys of "limits" (in the job and in the result). */
#define RCE_LIMIT_WALL_MS           "wall_ms"
#define RCE_LIMIT_MEMORY_MB         "memory_mb"
#define RCE_LIMIT_PIDS              "pids"
#define RCE_LIMIT_OUTPUT_BYTES      "output_bytes"
#define RCE_LIMIT_CPU_MS            "cpu_ms"         /* cpu time of the run, ms */
/* The compile step's own (a language without one ignores them): the run's
 * limits bound the run alone, from its start. */
#define RCE_LIMIT_COMPILE_WALL_MS   "compile_wall_ms"
#define RCE_LIMIT_COMPILE_CPU_MS    "compile_cpu_ms"
#define RCE_LIMIT_COMPILE_MEMORY_MB "compile_memory_mb"

/*
 * Every limit, once: X(field, key).  The order is the order of the bits of a
 * result's "clamped" set and of the fields of workerd's struct limits; the
 * gateway validates a request's limits against this list, so a new limit is
 * one line here (and its handling in workerd).
 */
#define RCE_LIMITS(X)                                                         \
    X(wall_ms,      RCE_LIMIT_WALL_MS)                                        \
    X(memory_mb,    RCE_LIMIT_MEMORY_MB)                                      \
    X(pids,         RCE_LIMIT_PIDS)                                           \
    X(output_bytes, RCE_LIMIT_OUTPUT_BYTES)                                   \
    X(cpu_ms,       RCE_LIMIT_CPU_MS)                                         \
    X(compile_wall_ms,   RCE_LIMIT_COMPILE_WALL_MS)                           \
    X(compile_cpu_ms,    RCE_LIMIT_COMPILE_CPU_MS)                            \
    X(compile_memory_mb, RCE_LIMIT_COMPILE_MEMORY_MB)

enum rce_limit_index {
#define RCE_LIMIT_INDEX(field, key)  RCE_LIMIT_INDEX_##field,
    RCE_LIMITS(RCE_LIMIT_INDEX)
#undef RCE_LIMIT_INDEX
    RCE_LIMIT_COUNT
};

/* Result JSON: workerd -> gateway, PUBLISHed on reply_to and SET at rce:result:<id>. */
#define RCE_RES_ID                  "id"
#define RCE_RES_LANGUAGE            "language"
#define RCE_RES_STATUS              "status"         /* one of RCE_STATUS_* */
#define RCE_RES_EXIT_CODE           "exit_code"      /* integer or null */
#define RCE_RES_SIGNAL              "signal"         /* integer or null */
#define RCE_RES_STDOUT              "stdout"         /* string: the bytes, as encoded */
#define RCE_RES_STDERR              "stderr"
#define RCE_RES_STDOUT_ENCODING     "stdout_encoding"  /* RCE_ENCODING_BASE64 when stdout is
                                                          not valid UTF-8; absent: text */
#define RCE_RES_STDERR_ENCODING     "stderr_encoding"  /* the same for stderr */
#define RCE_RES_TRUNCATED           "truncated"      /* bool: output cap reached */
#define RCE_RES_WALL_MS             "wall_ms"        /* integer: the run's start (after the
                                                        compile step) to its exit */
#define RCE_RES_CPU_MS              "cpu_ms"         /* integer or null: cpu time used, user + system */
#define RCE_RES_MEMORY_KB           "memory_kb"      /* integer or null: peak memory */
#define RCE_RES_NODE                "node"           /* string: node that ran it */
#define RCE_RES_REASON              "reason"         /* string: why, for IE (null otherwise) */
#define RCE_RES_VERSION             "version"        /* string: the language's version */
#define RCE_RES_COMPILE             "compile"        /* object {stdout, stderr (and their
                                                        _encoding), exit_code, wall_ms,
                                                        cpu_ms, memory_kb} or null: the
                                                        compile step */
#define RCE_RES_LIMITS              "limits"         /* object: the limits the run had */
#define RCE_RES_CLAMPED             "clamped"        /* array: limits cut to the node's maxima */
#define RCE_RES_TESTS               "tests"          /* judge mode: array, one object per test in
                                                        order: status, stdout, stderr (and their
                                                        _encoding), exit_code, signal, wall_ms,
                                                        cpu_ms, memory_kb, truncated, reason */
#define RCE_RES_PASSED              "passed"         /* judge mode: integer, tests that are OK */
#define RCE_RES_TOTAL               "total"          /* judge mode: integer, tests */

/*
 * Language names.  A canonical name becomes part of an image name, so it uses
 * Docker's lowercase repository alphabet; an alias is any visible ASCII but
 * '/' (it is the last segment of /lang/<alias>, percent-decoded: "c++", "c#").
 * The gateway's route, its API and workerd's registry use these same rules.
 */
#define RCE_NAME_MAX                32       /* bytes in a name or an alias */
#define RCE_LIBRARIES_MAX           64       /* libraries an image's rce.libraries may name: the
                                                      * node JSON stays small */

static inline int
rce_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '.' || c == '_' || c == '-';
}

static inline int
rce_alias_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '/';
}

/*
 * UTF-8, as both sides judge it: a stream is sent as text when every byte
 * is part of a valid sequence (NUL is; overlong forms, surrogates, code
 * points above U+10FFFF and cut sequences are not), and a client that reads
 * text gets each other byte as U+FFFD.
 */

/* the length (1-4) of the valid sequence at s, or 0 if s[0] starts none */
static inline size_t
rce_utf8_len(const unsigned char *s, size_t n)
{
    size_t    len, i;
    unsigned  cp;

    if (s[0] < 0x80) {
        return 1;
    }

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;

    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;

    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;

    } else {
        return 0;   /* a continuation byte, or a lead byte of no valid form */
    }

    if (len > n) {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = cp << 6 | (s[i] & 0x3f);
    }

    if ((len == 3 && cp < 0x800)
        || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }

    return len;
}

/* true when every byte of s is part of a valid sequence */
static inline int
rce_utf8_valid(const unsigned char *s, size_t n)
{
    size_t  i, len;

    for (i = 0; i < n; i += len) {
        len = rce_utf8_len(s + i, n - i);

        if (len == 0) {
            return 0;
        }
    }

    return 1;
}

/*
 * Copies n bytes of s to out (room for 3 * n bytes), each byte outside a
 * valid sequence as U+FFFD; returns the length written, n exactly when
 * nothing was replaced (a replacement is 3 bytes for 1).
 */
static inline size_t
rce_utf8_repair(const unsigned char *s, size_t n, unsigned char *out)
{
    size_t  i, o, len;

    i = 0;
    o = 0;

    while (i < n) {
        len = rce_utf8_len(s + i, n - i);

        if (len == 0) {
            out[o++] = 0xef;
            out[o++] = 0xbf;
            out[o++] = 0xbd;
            i++;
            continue;
        }

        while (len--) {
            out[o++] = s[i++];
        }
    }

    return o;
}

/*
 * Liveness, judged by an observer (a node's rescue check, a gateway's node
 * cache) from what Redis answers: a peer is dead when its (epoch, beat) has
 * not moved for RCE_NODE_DEAD_AFTER_MS of the observer's monotonic time during
 * which every one of its checks counted.  A check that was slow, failed or came
 * late (Redis stalled, or the observer itself was not scheduled) restarts every
 * peer's window: heartbeat keys that expired by Redis's clock during a stall
 * are no evidence.  One peer's record:
 */
typedef struct {
    long long  epoch;
    long long  beat;
    long long  since_ms;       /* when it last moved, or the window restarted */
} rce_liveness_t;

/*
 * A check sent at sent_ms and answered at answered_ms counts as evidence if it
 * was prompt and the previous check (answered at previous_ms; 0: it failed, or
 * there was none) was answered shortly before: the first check after a failure
 * only restarts the windows.
 */
static inline int
rce_liveness_counts(long long previous_ms, long long sent_ms,
    long long answered_ms)
{
    return previous_ms != 0
           && answered_ms - sent_ms <= RCE_LIVENESS_SLOW_MS
           && answered_ms - previous_ms <= RCE_LIVENESS_GAP_MS;
}

/* What a counted check saw of a peer (present: its heartbeat key exists). */
static inline void
rce_liveness_seen(rce_liveness_t *p, int present, long long epoch,
    long long beat, long long now_ms)
{
    if (present && (epoch != p->epoch || beat != p->beat)) {
        p->epoch = epoch;
        p->beat = beat;
        p->since_ms = now_ms;
    }
}

static inline int
rce_liveness_dead(const rce_liveness_t *p, long long now_ms)
{
    return now_ms - p->since_ms >= RCE_NODE_DEAD_AFTER_MS;
}

/* Verdicts. */
#define RCE_STATUS_OK               "OK"
#define RCE_STATUS_CE               "CE"
#define RCE_STATUS_RE               "RE"
#define RCE_STATUS_TLE              "TLE"
#define RCE_STATUS_MLE              "MLE"
#define RCE_STATUS_OLE              "OLE"
#define RCE_STATUS_IE               "IE"
#define RCE_STATUS_WA               "WA"             /* a test ran, exit 0, its output differs */
#define RCE_STATUS_SKIPPED          "SKIPPED"        /* a test that did not run */
#define RCE_STATUS_CANCELLED        "CANCELLED"      /* an asynchronous job stopped by DELETE
                                                        before it ended */

/* Node JSON: the value of rce:node:<node>, refreshed every heartbeat. */
#define RCE_NODE_NAME               "name"
#define RCE_NODE_LANGUAGES          "languages"      /* array of canonical names */
#define RCE_NODE_ALIASES            "aliases"        /* object: alias -> canonical name */
#define RCE_NODE_SLOTS              "slots"          /* integer: concurrent jobs */
#define RCE_NODE_BUSY               "busy"           /* integer: jobs running now */
#define RCE_NODE_QUEUED             "queued"         /* integer: LLEN of its queue */
#define RCE_NODE_QUEUE_MAX          "queue_max"      /* integer: the gateway queues no more */
#define RCE_NODE_BATCH_QUEUED       "batch_queued"   /* integer: LLEN of its batch list */
#define RCE_NODE_BATCH_MAX          "batch_max"      /* integer: the gateway queues no more batch
                                                        jobs */
#define RCE_NODE_CALLBACK_ALLOW     "callback_allow" /* string: where its callbacks may go
                                                        (--callback-allow, rce_allow.h's list);
                                                        absent: callbacks are off */
#define RCE_NODE_DRAINING           "draining"       /* bool: SIGTERM received */
#define RCE_NODE_BEAT               "beat"           /* integer: counts heartbeats */
#define RCE_NODE_EPOCH              "epoch"          /* integer: the node's epoch (rce:epoch:<node>) */
#define RCE_NODE_VERSIONS           "versions"       /* object: language -> version */
#define RCE_NODE_COMPILED           "compiled"       /* array: languages with a compile step */
#define RCE_NODE_LIBRARIES          "libraries"      /* object: language -> {library: version}, those
                                                      * that declare libraries */
#define RCE_NODE_BENCH              "bench"          /* true: --bench-no-container, jobs are not run */
#define RCE_NODE_POOL               "pool"           /* object: the warm containers, see RCE_POOL_* */
#define RCE_NODE_JOBS               "jobs"           /* object: language -> status -> jobs this node
                                                        finished since it started (only non-zero) */
#define RCE_NODE_DURATIONS          "durations"      /* object: language -> phase -> histogram of
                                                        those jobs' durations, see RCE_HIST_* */
#define RCE_POOL_READY              "ready"          /* object: language -> array of short container ids */
#define RCE_POOL_TARGET             "target"         /* object: language -> warm containers the node
                                                        aims to keep ready (only non-zero; the
                                                        memory budget may hold it below) */
#define RCE_POOL_WARM               "warm"           /* integer: jobs run in a warm container */
#define RCE_POOL_COLD               "cold"           /* integer: jobs with a language's default limits
                                                      * that found no warm container */
#define RCE_POOL_CUSTOM             "custom"         /* integer: jobs run cold for their own limits */
#define RCE_POOL_STARTING           "starting"       /* object: language -> warm containers being started
                                                        (only non-zero) */
#define RCE_POOL_LENT               "lent"           /* object: language -> warm containers handed to a
                                                        job and not yet removed (only non-zero) */

/* A phase of a finished job, each a histogram in the node JSON's "durations". */
#define RCE_PHASE_QUEUE             "queue"          /* enqueued_ms to when a slot took it */
#define RCE_PHASE_COMPILE           "compile"        /* its compile step's wall time (compiled
                                                        languages) */
#define RCE_PHASE_RUN               "run"            /* its run's wall time */
#define RCE_HIST_COUNT              "count"          /* integer: observations */
#define RCE_HIST_SUM_MS             "sum_ms"         /* integer: their sum, ms */
#define RCE_HIST_BUCKETS            "buckets"        /* object: an upper bound of
                                                        RCE_DURATION_BUCKETS_MS, in ms, as a string ->
                                                        observations above the bound below it and at
                                                        most this one (only non-zero; those over the
                                                        last bound are count minus their sum) */
#define RCE_DURATION_BUCKETS        13       /* upper bounds of a duration histogram */
#define RCE_DURATION_BUCKETS_MS     { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, \
                                      30000, 60000 }

/* Docker labels on job containers and on language images. */
#define RCE_LABEL_JOB               "rce.job"        /* container: job id */
#define RCE_LABEL_NODE              "rce.node"       /* container: node name */
#define RCE_LABEL_POOL              "rce.pool"       /* container: warm, of this workerd run (a token) */
#define RCE_LABEL_LANGUAGE          "rce.language"   /* image: canonical name */
#define RCE_LABEL_ALIASES           "rce.aliases"    /* image: space-separated aliases */
#define RCE_LABEL_MAIN              "rce.main"       /* image: main file name */
#define RCE_LABEL_RUN               "rce.run"        /* image: JSON array, the run command */
#define RCE_LABEL_COMPILE           "rce.compile"    /* image: JSON array, the compile command */
#define RCE_LABEL_TESTS_COMPILE     "rce.tests_compile"  /* image: JSON array, judge mode's compile
                                                          command, where the usual one will not do */
#define RCE_LABEL_TESTS_RUN         "rce.tests_run"  /* image: JSON array, judge mode's run command
                                                      (with rce.tests_compile: Java's, whose rce.run
                                                      compiles too) */
#define RCE_LABEL_VERSION           "rce.version"    /* image: the toolchain's version */
#define RCE_LABEL_LIMITS            "rce.limits"     /* image: JSON object, limits the language needs */
#define RCE_LABEL_LIBRARIES         "rce.libraries"  /* image: JSON object, library -> version, what
                                                      * the image adds for programs (absent: none) */
/* A word of rce.run replaced by the job's compile marker: that run command
 * compiles the program itself, in the same process (Java's launcher), and
 * writes the compile line when its compile step ends. */
#define RCE_RUN_COMPILE_MARKER      "{compile-marker}"
#define RCE_LABEL_CPUS              "rce.cpus"       /* image: CPUs a job's container may use at once
                                                      * (absent: one) */


#endif /* RCE_PROTOCOL_H */
