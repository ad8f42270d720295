/* The HTTP driver: one libcurl multi handle, a pool of reusable requests.
 *
 * Closed loop: keep -c requests in flight.  Open loop: request i is due at
 * start + i/rate and its latency counts from that moment, not from when it was
 * actually sent (so a stall is not hidden: coordinated omission); at most
 * --max-outstanding are in flight, the rest wait their turn ("late"), and one
 * not sent within --timeout of its time, or when ^C or --max-time stops the
 * run, is "dropped". */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "rce-load.h"

#define LATE_NS   1000000            /* sent over 1 ms after its time: late */
#define BODY_MIN  512                /* bytes of every answer kept, for the samples */

struct req {
    CURL *easy;
    struct program *prog;
    int64_t sched_ns;
    char *body;                      /* the answer's first bytes */
    size_t len, cap;
    int overflow;                    /* it was longer than cap */
    char verdict[16];                /* X-RCE-Status */
    int active;                      /* added to the multi handle */
    struct req *next_free;           /* the pool of idle requests */
    struct req *next_all;            /* every request made, idle or not */
};

struct driver {
    struct run *r;
    CURLM *multi;
    struct curl_slist *headers;
    struct req *free_list, *all;
    size_t body_cap;
    int failure_shown;
};

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct req *q = arg;
    size_t len = size * n, room = q->cap - q->len;
    memcpy(q->body + q->len, data, len < room ? len : room);
    q->len += len < room ? len : room;
    q->overflow |= len > room;
    return len;
}

/* Keeps the X-RCE-Status value; a new status line (100 Continue) clears it. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct req *q = arg;
    size_t len = size * n;
    static const char name[] = "x-rce-status:";
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
        q->verdict[0] = '\0';
    if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1, *end = data + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        size_t vl = (size_t)(end - v) < sizeof q->verdict - 1 ? (size_t)(end - v)
                                                              : sizeof q->verdict - 1;
        memcpy(q->verdict, v, vl);
        q->verdict[vl] = '\0';
    }
    return len;
}

/* The next program by smooth weighted round-robin: exact proportions, no randomness. */
static struct program *next_program(struct run *r)
{
    unsigned total = 0;
    struct program *best = NULL;
    for (size_t i = 0; i < r->nprogs; i++) {
        struct program *p = &r->progs[i];
        p->current += (int)p->weight;
        total += p->weight;
        if (!best || p->current > best->current)
            best = p;
    }
    best->current -= (int)total;
    return best;
}

static struct req *req_get(struct driver *d)
{
    struct req *q = d->free_list;
    if (q) {
        d->free_list = q->next_free;
        return q;
    }
    q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->body = malloc(d->body_cap);
    q->cap = d->body_cap;
    q->easy = curl_easy_init();
    if (!q->body || !q->easy)
        goto fail;
    q->next_all = d->all;
    d->all = q;
    CURL *e = q->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");              /* never through a proxy */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(d->r->opt.timeout * 1000));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "rce-load/1");
    return q;
fail:
    if (q->easy)
        curl_easy_cleanup(q->easy);
    free(q->body);
    free(q);
    return NULL;
}

static void req_put(struct driver *d, struct req *q)
{
    q->active = 0;
    q->next_free = d->free_list;
    d->free_list = q;
}

static void req_free_all(struct driver *d)
{
    for (struct req *q = d->all, *next; q; q = next) {
        next = q->next_all;
        curl_easy_cleanup(q->easy);
        free(q->body);
        free(q);
    }
    d->all = d->free_list = NULL;
}

/* Starts one request due at sched; 0, or -1 when out of memory or refused by libcurl. */
static int start(struct driver *d, int64_t sched)
{
    struct run *r = d->r;
    struct req *q = req_get(d);
    if (!q)
        return -1;
    q->prog = next_program(r);
    q->sched_ns = sched;
    q->len = 0;
    q->overflow = 0;
    q->verdict[0] = '\0';
    curl_easy_setopt(q->easy, CURLOPT_URL, q->prog->url);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->prog->code);
    curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->prog->code_len);
    if (curl_multi_add_handle(d->multi, q->easy) != CURLM_OK) {
        req_put(d, q);
        return -1;
    }
    q->active = 1;
    r->inflight++;
    r->st.sent++;
    q->prog->st.sent++;
    return 0;
}

static void count(struct stats *st, const struct req *q, CURLcode rc, long status,
                  int64_t latency_ns, int ok)
{
    if (rc != CURLE_OK) {
        st->transport[rc]++;
        st->errors++;
        return;
    }
    st->answered++;
    st->status[status > 0 && status < MAX_STATUS ? status : 0]++;
    stats_count_verdict(st, q->verdict[0] ? q->verdict : "-");
    hist_add(st->latency, latency_ns > 0 ? (uint64_t)latency_ns / 1000 : 0);
    if (status != 200)
        st->errors++;
    else if (ok)
        st->ok++;
    else
        st->wrong++;
}

/* The first failure on stderr, as a sample of what went wrong: its start, escaped. */
static void show_failure(const struct req *q, CURLcode rc, long status)
{
    fprintf(stderr, "rce-load: first failure: %s %s: %s, status %ld, verdict %s, output \"",
            q->prog->language, q->prog->name, rc != CURLE_OK ? curl_easy_strerror(rc) : "answered",
            status, q->verdict[0] ? q->verdict : "-");
    for (size_t i = 0; i < q->len && i < 200; i++) {
        unsigned char ch = (unsigned char)q->body[i];
        if (ch == '\n')
            fputs("\\n", stderr);
        else if (ch < 0x20)
            fprintf(stderr, "\\x%02x", ch);
        else
            fputc(ch, stderr);
    }
    fprintf(stderr, "\"%s\n", q->len > 200 || q->overflow ? "..." : "");
}

/* Counts one finished request and returns it to the pool. */
static void finish(struct driver *d, struct req *q, CURLcode rc, int64_t t)
{
    struct run *r = d->r;
    long status = 0;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    struct program *p = q->prog;
    int ok = status == 200 && strcmp(q->verdict, "OK") == 0
             && (!p->expect || (!q->overflow && q->len == p->expect_len
                                && memcmp(q->body, p->expect, q->len) == 0));
    int64_t latency = t - q->sched_ns;
    count(&r->st, q, rc, status, latency, ok);
    count(&p->st, q, rc, status, latency, ok);
    if (rc == CURLE_OK && r->series)
        report_second(r, t, 0), hist_add(r->second, (uint64_t)latency / 1000);
    if (!ok && !r->opt.quiet && !d->failure_shown++)
        show_failure(q, rc, status);
    curl_multi_remove_handle(d->multi, q->easy);
    r->inflight--;
    req_put(d, q);
}

/* Reads what libcurl finished; returns how many requests ended. */
static int collect(struct driver *d)
{
    int n = 0, left;
    CURLMsg *m;
    int64_t t = now_ns();
    while ((m = curl_multi_info_read(d->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct req *q;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&q);
        finish(d, q, rc, t);
        n++;
    }
    return n;
}

/* --max-time ended the run (or a second ^C): whatever is in flight is cancelled. */
static void cancel_all(struct driver *d)
{
    struct run *r = d->r;
    for (struct req *q = d->all; q; q = q->next_all) {
        if (!q->active)
            continue;
        r->st.cancelled++, r->st.errors++;
        q->prog->st.cancelled++, q->prog->st.errors++;
        curl_multi_remove_handle(d->multi, q->easy);
        r->inflight--;
        req_put(d, q);
    }
}

/* Open loop: when request i is due. */
static int64_t due(const struct run *r, uint64_t i)
{
    return r->start_ns + (int64_t)((double)i * 1e9 / r->opt.rate);
}

/* Starts every request that may start at t (none when stop).  Returns 1 while
 * more will be sent later, 0 once the send phase is over, -1 if a request
 * could not start.  Open loop: a request due before the end of -d is sent even
 * if late; it is dropped only when stop, or when it is older than --timeout. */
static int launch(struct driver *d, int64_t t, int64_t send_end, int stop)
{
    struct run *r = d->r;
    const struct options *o = &r->opt;

    if (o->rate <= 0) {                                  /* closed loop */
        stop = stop || t >= send_end;
        for (; !stop && r->inflight < o->concurrency; r->scheduled++) {
            if (o->requests && r->scheduled >= o->requests)
                return 0;
            if (start(d, t) < 0)
                return -1;
        }
        return !stop && (!o->requests || r->scheduled < o->requests);
    }
    for (;;) {                                           /* open loop */
        if (o->requests && r->scheduled >= o->requests)
            return 0;
        int64_t when = due(r, r->scheduled), lag = t - when;
        if (when >= send_end)
            return 0;
        if (when > t)
            return !stop;
        if (stop || lag > (int64_t)(o->timeout * 1e9)) {
            r->dropped++;                    /* due, never sent */
            r->scheduled++;
            continue;
        }
        if (r->inflight >= o->max_outstanding)
            return 1;                        /* it waits for a free place: it will be late */
        if (start(d, when) < 0)
            return -1;
        r->scheduled++;
        if (lag > LATE_NS)
            r->late++;
        if (lag > r->max_lag_ns)
            r->max_lag_ns = lag;
    }
}

int drive(struct run *r)
{
    const struct options *o = &r->opt;
    struct driver d = { .r = r, .body_cap = BODY_MIN };
    int rc = -1;

    for (size_t i = 0; i < r->nprogs; i++)
        if (r->progs[i].expect && r->progs[i].expect_len + 1 > d.body_cap)
            d.body_cap = r->progs[i].expect_len + 1;
    d.headers = curl_slist_append(NULL, "Expect:");     /* no 100-continue round trip */
    d.multi = curl_multi_init();
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!d.headers || !d.multi || tfd < 0) {
        fprintf(stderr, "rce-load: libcurl could not start\n");
        goto fail;
    }

    int64_t t = now_ns();
    int64_t send_end = o->duration > 0 ? t + (int64_t)(o->duration * 1e9) : INT64_MAX;
    int64_t hard_end = t + (int64_t)(o->max_time * 1e9);
    r->start_ns = r->last_progress_ns = t;
    for (;;) {
        t = now_ns();
        if (t >= hard_end || interrupted > 1) {
            launch(&d, t, send_end, 1);                  /* count what is due as dropped */
            cancel_all(&d);
            break;
        }
        int more = launch(&d, t, send_end, interrupted);
        if (more < 0) {
            fprintf(stderr, "rce-load: could not start a request (out of memory?)\n");
            cancel_all(&d);
            goto fail;
        }
        if (!more && r->inflight == 0)
            break;
        int running;
        curl_multi_perform(d.multi, &running);
        report_progress(r, t, 0);
        if (collect(&d) > 0)
            continue;                                    /* refill the free places first */

        /* Sleep until the next due request (to the microsecond: a timerfd, since
         * curl_multi_poll counts in milliseconds), an answer, or 100 ms (^C, progress). */
        int64_t wake = t + 100000000;
        if (more && o->rate > 0 && r->inflight < o->max_outstanding
            && due(r, r->scheduled) < wake)
            wake = due(r, r->scheduled);
        if (hard_end < wake)
            wake = hard_end;
        struct itimerspec its = { .it_value = { .tv_sec = wake / 1000000000,
                                                .tv_nsec = wake % 1000000000 } };
        struct curl_waitfd wfd = { .fd = tfd, .events = CURL_WAIT_POLLIN };
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        curl_multi_poll(d.multi, &wfd, 1, 200, NULL);
        uint64_t ticks;
        if (wfd.revents && read(tfd, &ticks, sizeof ticks) < 0)
            ticks = 0;                                   /* nothing to read: fine */
    }
    r->end_ns = now_ns();
    rc = 0;
fail:
    report_progress(r, now_ns(), 1);
    if (d.multi)
        curl_multi_cleanup(d.multi);
    req_free_all(&d);
    curl_slist_free_all(d.headers);
    if (tfd >= 0)
        close(tfd);
    return rc;
}
