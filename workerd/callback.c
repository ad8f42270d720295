#include "callback.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "delivery.h"
#include "log.h"
#include "queue.h"
#include "rce_protocol.h"
#include "rce_render.h"
#include "script.h"

#define CALLBACK_POLL_MS 200            /* a sender with nothing due looks again after this */
#define CALLBACK_BACKOFF_MAX_MS 600000
#define CALLBACK_ID_MAX 64             /* a job id (32 hex digits) with room */

/* What a sender took: the job, its callback and its result. */
struct due {
    char id[CALLBACK_ID_MAX + 1];
    char token[32];                     /* callback_take.lua's: the entry is ours while it holds */
    char *url;
    bool base64;
    int attempts;                       /* before this one */
    char *result;                       /* NULL: expired */
    size_t result_len;
};

int callbacks_open(struct callbacks *c, struct node *node, char *err, size_t errlen)
{
    char why[256];
    const struct config *cfg = &node->cfg;
    memset(c, 0, sizeof *c);
    c->node = node;
    if (rce_allow_parse(&c->allow, cfg->callback_allow, why, sizeof why) != 0) {
        snprintf(err, errlen, "--callback-allow: %s", why);
        return -1;
    }
    if (rce_allow_empty(&c->allow))
        return 0;
    if (!cfg->callback_secret_file[0]) {
        snprintf(err, errlen, "--callback-allow needs --callback-secret-file: callbacks are signed");
        return -1;
    }
    FILE *f = fopen(cfg->callback_secret_file, "r");
    if (!f) {
        snprintf(err, errlen, "--callback-secret-file %s: %s", cfg->callback_secret_file, strerror(errno));
        return -1;
    }
    c->secret_len = fread(c->secret, 1, sizeof c->secret, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        snprintf(err, errlen, "--callback-secret-file %s: the secret must be at most %d bytes",
                 cfg->callback_secret_file, CALLBACK_SECRET_MAX);
        return -1;
    }
    while (c->secret_len > 0 && (c->secret[c->secret_len - 1] == '\n' || c->secret[c->secret_len - 1] == '\r'))
        c->secret_len--;                /* a file written by echo */
    if (c->secret_len < 16) {
        snprintf(err, errlen, "--callback-secret-file %s: the secret must be at least 16 bytes",
                 cfg->callback_secret_file);
        return -1;
    }
    return 0;
}

bool callbacks_enabled(const struct callbacks *c)
{
    return !rce_allow_empty(&c->allow);
}

static void due_free(struct due *d)
{
    free(d->url);
    free(d->result);
    memset(d, 0, sizeof *d);
}

/* lua/callback_take.lua, then the job's callback and result: 1 with d filled, 0 when nothing
 * is due, -1 on Redis failure (backed off). */
static int take(struct queue *q, struct due *d)
{
    char lease[24];
    snprintf(lease, sizeof lease, "%d", RCE_CALLBACK_LEASE_MS);
    const char *keys[] = { RCE_KEY_CALLBACKS };
    const char *args[] = { lease };
    redisReply *r = script_run(q, SCRIPT_CALLBACK_TAKE, REDIS_REPLY_ARRAY, 1, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_NIL || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[1]->type != REDIS_REPLY_STRING || r->element[0]->len > CALLBACK_ID_MAX
        || r->element[1]->len >= sizeof d->token) {
        freeReplyObject(r);
        return 0;
    }
    memset(d, 0, sizeof *d);
    memcpy(d->id, r->element[0]->str, r->element[0]->len);
    memcpy(d->token, r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
    r = queue_command(q, "reading a callback", REDIS_REPLY_ARRAY, 0, "HMGET %s%s %s %s %s", RCE_KEY_JOB, d->id,
                      RCE_JOBSTATE_CALLBACK_URL, RCE_JOBSTATE_ENCODING, RCE_JOBSTATE_CALLBACK_ATTEMPTS);
    if (!r)
        return -1;
    if (r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING) {
        d->url = strdup(r->element[0]->str);
        d->base64 = r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, RCE_ENCODING_BASE64) == 0;
        d->attempts = r->element[2]->type == REDIS_REPLY_STRING ? atoi(r->element[2]->str) : 0;
    }
    freeReplyObject(r);
    if (!(r = queue_command(q, "reading a result", REDIS_REPLY_STRING, 1, "GET %s%s", RCE_KEY_RESULT, d->id))) {
        due_free(d);
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING && (d->result = malloc(r->len + 1))) {
        memcpy(d->result, r->str, r->len + 1);
        d->result_len = r->len;
    }
    freeReplyObject(r);
    return 1;
}

/* lua/callback_done.lua: records state (RCE_CALLBACK_*) after attempts, due again pause_ms
 * from now when retrying. -1 on Redis failure; a record refused because another sender took
 * the entry after this one's lease ran out is logged. */
static int record(struct queue *q, const struct due *d, const char *state, int attempts, const char *error,
                  long long pause_ms)
{
    char job_key[CALLBACK_ID_MAX + 32], count[16], pause[24];
    snprintf(job_key, sizeof job_key, "%s%s", RCE_KEY_JOB, d->id);
    snprintf(count, sizeof count, "%d", attempts);
    snprintf(pause, sizeof pause, "%lld", pause_ms);
    const char *keys[] = { RCE_KEY_CALLBACKS, job_key };
    const char *args[] = { d->id, state, count, error, pause, RCE_JOBSTATE_CALLBACK_STATE,
                           RCE_JOBSTATE_CALLBACK_ATTEMPTS, RCE_JOBSTATE_CALLBACK_ERROR, d->token };
    redisReply *r = script_run(q, SCRIPT_CALLBACK_DONE, REDIS_REPLY_INTEGER, 0, SCRIPT_COUNT_OF(keys), keys,
                               SCRIPT_COUNT_OF(args), args, NULL);
    if (!r)
        return -1;
    if (r->integer == 0)
        log_warn("job %s: callback outcome (%s) not recorded: its lease ran out and another sender has it",
                 d->id, state);
    freeReplyObject(r);
    return 0;
}

/* The body: the job's result as GET /api/v1/jobs/<id> answers it (malloc'd), or NULL. */
static char *body_of(const struct due *d)
{
    int malformed = 0;
    json_t *result = json_loadb(d->result, d->result_len, JSON_ALLOW_NUL, NULL);
    json_t *doc = result ? rce_render_v1(result, d->base64, &malformed) : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    json_decref(result);
    return text;
}

/* The pause after the attempts-th failed attempt. */
static long long backoff_ms(const struct config *cfg, int attempts)
{
    long long ms = cfg->callback_backoff_ms;
    for (int i = 1; i < attempts && ms < CALLBACK_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < CALLBACK_BACKOFF_MAX_MS ? ms : CALLBACK_BACKOFF_MAX_MS;
}

/* One attempt at what d holds, logged with the job id, and its outcome recorded. */
static int attempt(struct callbacks *c, struct queue *q, const struct due *d)
{
    const struct config *cfg = &c->node->cfg;
    struct delivery how = { &c->allow, c->secret, c->secret_len, cfg->callback_timeout_ms };
    char what[512];
    int n = d->attempts + 1;
    if (!d->url || !d->result) {
        log_warn("job %s: callback dropped: the job's %s has expired", d->id, d->url ? "result" : "state");
        return record(q, d, RCE_CALLBACK_FAILED, d->attempts, "the result expired before it was delivered", 0);
    }
    char *body = body_of(d);
    if (!body) {
        log_error("job %s: callback: its result could not be rendered; not sent", d->id);
        return record(q, d, RCE_CALLBACK_FAILED, d->attempts, "the result could not be rendered", 0);
    }
    enum delivery_outcome out = delivery_post(&how, d->url, d->id, n, body, strlen(body), what, sizeof what);
    free(body);
    if (out == DELIVERY_DONE) {
        log_info("job %s: callback delivered to %s (attempt %d, %s)", d->id, d->url, n, what);
        return record(q, d, RCE_CALLBACK_DELIVERED, n, "", 0);
    }
    if (out == DELIVERY_RETRY && n < cfg->callback_attempts) {
        long long pause = backoff_ms(cfg, n);
        log_warn("job %s: callback to %s failed (attempt %d of %d): %s; again in %lld ms", d->id, d->url, n,
                 cfg->callback_attempts, what, pause);
        return record(q, d, RCE_CALLBACK_RETRYING, n, what, pause);
    }
    log_error("job %s: callback to %s failed for good (attempt %d): %s; the result stays fetchable", d->id,
              d->url, n, what);
    return record(q, d, RCE_CALLBACK_FAILED, n, what, 0);
}

static void *sender_main(void *arg)
{
    struct callbacks *c = arg;
    struct queue q;
    struct due d;
    queue_init(&q, &c->node->cfg);
    while (!atomic_load(&c->stop)) {
        int rc = take(&q, &d);
        if (rc == 1) {
            attempt(c, &q, &d);     /* a failed record leaves it to the lease */
            due_free(&d);
        } else if (rc == 0) {
            clock_sleep_ms(CALLBACK_POLL_MS);
        }
    }
    queue_close(&q);
    return NULL;
}

int callbacks_start(struct callbacks *c)
{
    if (!callbacks_enabled(c))
        return 0;
    for (; c->started < CALLBACK_SENDERS; c->started++)
        if (pthread_create(&c->threads[c->started], NULL, sender_main, c) != 0)
            return -1;
    return 0;
}

void callbacks_stop(struct callbacks *c)
{
    atomic_store(&c->stop, true);
    for (int i = 0; i < c->started; i++)
        pthread_join(c->threads[i], NULL);
    c->started = 0;
}
