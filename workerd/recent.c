#include "recent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rce_protocol.h"

#define RECENT_BATCH 16             /* languages handed out by one pool_asked call */

/* One field of the record: seeds the pool with it, or removes it when too old or unreadable.
 * Appends the language to warmed (the log line) if it warmed it. 0, or -1 if Redis failed. */
static int one_field(struct node *n, struct queue *q, const redisReply *field, const redisReply *value,
                     int64_t now_ms, char *warmed, size_t size)
{
    char *end = NULL;
    long long at = value->type == REDIS_REPLY_STRING ? strtoll(value->str, &end, 10) : 0;
    bool readable = field->type == REDIS_REPLY_STRING && end && end != value->str && *end == '\0';
    if (!readable || now_ms - at > RCE_RECENT_KEEP_MS) {
        if (field->type != REDIS_REPLY_STRING)
            return 0;
        redisReply *r = queue_command_within(q, RECENT_TIMEOUT_MS, "removing an old field of " RCE_KEY_RECENT,
                                             REDIS_REPLY_INTEGER, "HDEL %s %b", RCE_KEY_RECENT, field->str,
                                             field->len);
        if (!r)
            return -1;
        freeReplyObject(r);
        return 0;
    }
    if (pool_seed(n->pool, field->str, now_ms - at)) {
        size_t used = strlen(warmed);
        snprintf(warmed + used, size - used, "%s%s", used ? ", " : "", field->str);
    }
    return 0;
}

void recent_load(struct node *n, struct queue *q)
{
    char warmed[1024] = "";
    if (!n->pool)
        return;
    redisReply *r = queue_command_within(q, RECENT_TIMEOUT_MS, "reading " RCE_KEY_RECENT, REDIS_REPLY_ARRAY,
                                         "HGETALL %s", RCE_KEY_RECENT);
    if (!r) {
        log_warn("pool: %s not read: warming no language the cluster ran lately", RCE_KEY_RECENT);
        return;
    }
    int64_t now_ms = clock_unix_ms();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (one_field(n, q, r->element[i], r->element[i + 1], now_ms, warmed, sizeof warmed) != 0)
            break;
    freeReplyObject(r);
    if (warmed[0])
        log_info("pool: the cluster ran these within %d s (%s): one warm container each: %s",
                 n->cfg.pool_idle_s, RCE_KEY_RECENT, warmed);
}

void recent_store(struct node *n, struct queue *q)
{
    struct pool_asked asked[RECENT_BATCH];
    size_t count;
    if (!n->pool || !q->ctx)
        return;
    while ((count = pool_asked(n->pool, asked, RECENT_BATCH)) > 0) {
        int64_t now_ms = clock_unix_ms();
        for (size_t i = 0; i < count; i++) {
            redisReply *r = queue_command_within(q, RECENT_TIMEOUT_MS, "writing " RCE_KEY_RECENT,
                                                 REDIS_REPLY_INTEGER, "HSET %s %s %lld", RCE_KEY_RECENT,
                                                 asked[i].language, (long long)(now_ms - asked[i].age_ms));
            if (!r)
                return;     /* dropped: the language's next job writes it again */
            freeReplyObject(r);
        }
    }
}
