/* What happened: the table, the JSON object, the progress line, the plot. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rce-load.h"

static const double PCTS[] = { 50, 90, 99, 99.9 };
static const char *const PCT_NAMES[] = { "p50", "p90", "p99", "p99.9" };
#define NPCTS (sizeof PCTS / sizeof PCTS[0])

void stats_count_verdict(struct stats *st, const char *verdict)
{
    for (int i = 0; i < MAX_VERDICTS; i++) {
        if (st->verdicts[i].name[0] == '\0')
            snprintf(st->verdicts[i].name, sizeof st->verdicts[i].name, "%s", verdict);
        if (strcmp(st->verdicts[i].name, verdict) == 0) {
            st->verdicts[i].n++;
            return;
        }
    }
    st->other_verdicts++;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static double elapsed_s(const struct run *r)
{
    return (double)(r->end_ns - r->start_ns) / 1e9;
}

static void latency_row(FILE *out, int width, const char *name, const struct stats *st)
{
    const struct hist *h = st->latency;
    fprintf(out, "%-*s %7llu %7llu %6llu %6llu", width, name, (unsigned long long)st->sent,
            (unsigned long long)st->ok, (unsigned long long)st->wrong,
            (unsigned long long)st->errors);
    if (h->count == 0) {
        fprintf(out, "  (no answer)\n");
        return;
    }
    fprintf(out, " %9.1f", ms(h->min));
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(out, " %9.1f", ms(hist_percentile(h, PCTS[i])));
    fprintf(out, " %9.1f\n", ms(h->max));
}

/* "200: 38, 503: 2" and the like; nothing when every count is 0. */
static void counts_line(FILE *out, const char *title, const struct stats *st, int which)
{
    int any = 0;
    if (which == 0) {
        for (int s = 0; s < MAX_STATUS; s++)
            if (st->status[s])
                fprintf(out, "%s%s%d: %llu", any++ ? ", " : title, s ? "" : "other ", s,
                        (unsigned long long)st->status[s]);
    } else if (which == 1) {
        for (int i = 0; i < MAX_VERDICTS && st->verdicts[i].name[0]; i++)
            fprintf(out, "%s%s: %llu", any++ ? ", " : title, st->verdicts[i].name,
                    (unsigned long long)st->verdicts[i].n);
        if (st->other_verdicts)
            fprintf(out, "%sother: %llu", any++ ? ", " : title,
                    (unsigned long long)st->other_verdicts);
    } else {
        for (int c = 1; c < CURL_LAST; c++)
            if (st->transport[c])
                fprintf(out, "%s%s: %llu", any++ ? ", " : title,
                        curl_easy_strerror((CURLcode)c), (unsigned long long)st->transport[c]);
        if (st->cancelled)
            fprintf(out, "%scancelled at --max-time: %llu", any++ ? ", " : title,
                    (unsigned long long)st->cancelled);
    }
    if (any)
        fputc('\n', out);
}

void report_table(const struct run *r, FILE *out)
{
    const struct options *o = &r->opt;
    const struct stats *st = &r->st;
    double secs = elapsed_s(r);

    if (o->rate > 0)
        fprintf(out, "open loop: %g requests/s (at most %u outstanding)", o->rate,
                o->max_outstanding);
    else
        fprintf(out, "closed loop: concurrency %u", o->concurrency);
    if (o->requests)
        fprintf(out, ", %llu requests", (unsigned long long)o->requests);
    if (o->duration > 0)
        fprintf(out, ", %g s", o->duration);
    fprintf(out, " -> %s/lang/...\n", o->url);
    fprintf(out, "requests     %llu sent, %llu answered: %llu ok, %llu wrong output, %llu errors\n",
            (unsigned long long)st->sent, (unsigned long long)st->answered,
            (unsigned long long)st->ok, (unsigned long long)st->wrong,
            (unsigned long long)st->errors);
    if (o->rate > 0)
        fprintf(out, "schedule     %llu due, %llu sent late (>1 ms, max %.1f ms), %llu dropped;"
                " latency counts from the scheduled time\n",
                (unsigned long long)r->scheduled, (unsigned long long)r->late,
                (double)r->max_lag_ns / 1e6, (unsigned long long)r->dropped);
    fprintf(out, "elapsed      %.2f s, throughput %.2f requests/s (ok %.2f/s)\n", secs,
            secs > 0 ? (double)(st->answered) / secs : 0.0,
            secs > 0 ? (double)st->ok / secs : 0.0);
    counts_line(out, "HTTP status  ", st, 0);
    counts_line(out, "verdicts     ", st, 1);
    counts_line(out, "no answer    ", st, 2);

    int width = 3;
    char name[128];
    for (size_t i = 0; i < r->nprogs; i++) {
        int n = snprintf(name, sizeof name, "%s %s", r->progs[i].language, r->progs[i].name);
        if (n > width)
            width = n < 40 ? n : 40;
    }
    fprintf(out, "\n%-*s %7s %7s %6s %6s %9s", width, "latency ms", "sent", "ok", "wrong",
            "errors", "min");
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(out, " %9s", PCT_NAMES[i]);
    fprintf(out, " %9s\n", "max");
    latency_row(out, width, "all", st);
    for (size_t i = 0; r->nprogs > 1 && i < r->nprogs; i++) {
        snprintf(name, sizeof name, "%s %s", r->progs[i].language, r->progs[i].name);
        latency_row(out, width, name, &r->progs[i].st);
    }
}

static json_t *latency_json(const struct hist *h)
{
    json_t *o = json_object();
    int any = h->count > 0;                          /* no answer: null, not 0 */
    json_object_set_new(o, "count", json_integer((json_int_t)h->count));
    json_object_set_new(o, "min", any ? json_real(ms(h->min)) : json_null());
    for (size_t i = 0; i < NPCTS; i++)
        json_object_set_new(o, PCT_NAMES[i],
                            any ? json_real(ms(hist_percentile(h, PCTS[i]))) : json_null());
    json_object_set_new(o, "max", any ? json_real(ms(h->max)) : json_null());
    json_object_set_new(o, "mean", any ? json_real(hist_mean(h) / 1000.0) : json_null());
    return o;
}

/* The counters of st as members of o. */
static void stats_json(json_t *o, const struct stats *st)
{
    char key[32];
    json_t *status = json_object(), *verdicts = json_object(), *transport = json_object();
    json_object_set_new(o, "requests", json_integer((json_int_t)st->sent));
    json_object_set_new(o, "answered", json_integer((json_int_t)st->answered));
    json_object_set_new(o, "ok", json_integer((json_int_t)st->ok));
    json_object_set_new(o, "wrong", json_integer((json_int_t)st->wrong));
    json_object_set_new(o, "errors", json_integer((json_int_t)st->errors));
    for (int s = 0; s < MAX_STATUS; s++)
        if (st->status[s]) {
            snprintf(key, sizeof key, "%d", s);
            json_object_set_new(status, key, json_integer((json_int_t)st->status[s]));
        }
    for (int i = 0; i < MAX_VERDICTS && st->verdicts[i].name[0]; i++)
        json_object_set_new(verdicts, st->verdicts[i].name,
                            json_integer((json_int_t)st->verdicts[i].n));
    if (st->other_verdicts)
        json_object_set_new(verdicts, "other", json_integer((json_int_t)st->other_verdicts));
    for (int c = 1; c < CURL_LAST; c++)
        if (st->transport[c])
            json_object_set_new(transport, curl_easy_strerror((CURLcode)c),
                                json_integer((json_int_t)st->transport[c]));
    if (st->cancelled)
        json_object_set_new(transport, "cancelled", json_integer((json_int_t)st->cancelled));
    json_object_set_new(o, "status", status);
    json_object_set_new(o, "verdicts", verdicts);
    json_object_set_new(o, "transport", transport);
    json_object_set_new(o, "latency_ms", latency_json(st->latency));
}

int report_json(const struct run *r, FILE *out)
{
    const struct options *o = &r->opt;
    double secs = elapsed_s(r);
    json_t *root = json_object(), *progs = json_array();
    if (!root || !progs)
        goto fail;
    json_object_set_new(root, "url", json_string(o->url));
    json_object_set_new(root, "mode", json_string(o->rate > 0 ? "open" : "closed"));
    json_object_set_new(root, "concurrency",
                        o->rate > 0 ? json_null() : json_integer(o->concurrency));
    json_object_set_new(root, "rate", o->rate > 0 ? json_real(o->rate) : json_null());
    json_object_set_new(root, "max_outstanding",
                        o->rate > 0 ? json_integer(o->max_outstanding) : json_null());
    json_object_set_new(root, "limit_requests",
                        o->requests ? json_integer((json_int_t)o->requests) : json_null());
    json_object_set_new(root, "limit_duration_s",
                        o->duration > 0 ? json_real(o->duration) : json_null());
    json_object_set_new(root, "elapsed_s", json_real(secs));
    stats_json(root, &r->st);
    json_object_set_new(root, "throughput_rps",
                        json_real(secs > 0 ? (double)r->st.answered / secs : 0));
    json_object_set_new(root, "ok_rps", json_real(secs > 0 ? (double)r->st.ok / secs : 0));
    json_object_set_new(root, "scheduled", json_integer((json_int_t)r->scheduled));
    json_object_set_new(root, "late", json_integer((json_int_t)r->late));
    json_object_set_new(root, "dropped", json_integer((json_int_t)r->dropped));
    json_object_set_new(root, "max_lag_ms", json_real((double)r->max_lag_ns / 1e6));
    json_object_set_new(root, "cancelled", json_integer((json_int_t)r->st.cancelled));
    for (size_t i = 0; i < r->nprogs; i++) {
        const struct program *p = &r->progs[i];
        json_t *jp = json_object();
        json_object_set_new(jp, "name", json_string(p->name));
        json_object_set_new(jp, "language", json_string(p->language));
        json_object_set_new(jp, "weight", json_integer(p->weight));
        json_object_set_new(jp, "checked", json_boolean(p->expect != NULL));
        stats_json(jp, &p->st);
        json_array_append_new(progs, jp);
    }
    json_object_set_new(root, "programs", progs);
    progs = NULL;
    if (json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) < 0)
        goto fail;
    fputc('\n', out);
    json_decref(root);
    return 0;
fail:
    json_decref(progs);
    json_decref(root);
    return -1;
}

void report_progress(struct run *r, int64_t t, int final)
{
    if (!r->opt.progress)
        return;
    if (final) {
        fputs("\r\033[K", stderr);
        return;
    }
    if (t - r->last_progress_ns < 1000000000)
        return;
    r->last_progress_ns = t;
    const struct stats *st = &r->st;
    double secs = (double)(t - r->start_ns) / 1e9;
    fprintf(stderr, "\r%6.1f s  sent %llu  ok %llu  wrong %llu  errors %llu  in flight %u"
            "  %.1f/s  p50 %.1f ms  p99 %.1f ms\033[K", secs,
            (unsigned long long)st->sent, (unsigned long long)st->ok,
            (unsigned long long)st->wrong, (unsigned long long)st->errors, r->inflight,
            secs > 0 ? (double)st->answered / secs : 0.0,
            ms(hist_percentile(st->latency, 50)), ms(hist_percentile(st->latency, 99)));
    if (r->opt.rate > 0 && r->dropped)
        fprintf(stderr, "  dropped %llu", (unsigned long long)r->dropped);
    fflush(stderr);
}

void report_second(struct run *r, int64_t t, int flush)
{
    int64_t sec = (t - r->start_ns) / 1000000000;
    if (!r->series || (sec == r->second_no && !flush))
        return;
    const struct hist *h = r->second;
    if (h->count)
        fprintf(r->series, "%lld %llu %.3f %.3f %.3f\n", (long long)r->second_no + 1,
                (unsigned long long)h->count, ms(hist_percentile(h, 50)),
                ms(hist_percentile(h, 99)), ms(h->max));
    hist_reset(r->second);
    r->second_no = sec;
}

int plot_available(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)n, n ? path : ".");
        if (access(buf, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* The percentile curve: "x=1/(1-p) ms" lines up to x = xmax, one block (index) per histogram. */
static void percentile_block(FILE *f, const struct hist *h, const char *title, double xmax)
{
    fprintf(f, "# %s\n", title);
    for (int i = 0; i <= 20 * log10(xmax); i++) {   /* 0 % to 1 - 1/xmax */
        double p = 100.0 * (1.0 - pow(10.0, -i / 20.0));
        fprintf(f, "%.6g %.3f\n", 1.0 / (1.0 - p / 100.0), ms(hist_percentile(h, p)));
    }
    fputs("\n\n", f);
}

int report_plot(const struct run *r, const char *png)
{
    char pct[128], gp[128];
    int rc = -1, status;
    FILE *f = NULL;
    const struct options *o = &r->opt;

    snprintf(pct, sizeof pct, "%s/percentiles.dat", r->plot_dir);
    snprintf(gp, sizeof gp, "%s/plot.gp", r->plot_dir);
    double xmax = 100;                   /* 99 %, or further with more samples */
    while (xmax < 100000 && xmax < (double)r->st.latency->count)
        xmax *= 10;
    if (!(f = fopen(pct, "w")))
        goto fail;
    percentile_block(f, r->st.latency, "all", xmax);
    for (size_t i = 0; r->nprogs > 1 && i < r->nprogs; i++)
        percentile_block(f, r->progs[i].st.latency, r->progs[i].name, xmax);
    int closed = fclose(f);
    f = NULL;
    if (closed != 0 || !(f = fopen(gp, "w")))
        goto fail;

    fprintf(f, "set terminal pngcairo size 1100,900 font ',10'\nset output '%s'\n", png);
    fprintf(f, "set multiplot layout 2,1 title '%s loop%s: %llu sent, %llu ok, %llu wrong,"
            " %llu errors'\n", o->rate > 0 ? "open" : "closed",
            o->rate > 0 ? " (latency from the scheduled send time)" : "",
            (unsigned long long)r->st.sent, (unsigned long long)r->st.ok,
            (unsigned long long)r->st.wrong, (unsigned long long)r->st.errors);
    fprintf(f, "set grid\nset boxwidth 0.9 relative\nset key below horizontal\nset xlabel 'seconds since start'\n"
            "set ylabel 'latency (ms)'\nset yrange [0:*]\nset y2label 'answers per second'\n"
            "set y2range [0:*]\nset y2tics\nset ytics nomirror\n"
            "set title 'latency over time (per second of completion)'\n"
            "plot '%s/series.dat' using 1:2 axes x1y2 with boxes fs solid 0.25 noborder lc rgb '#999999'"
            " title 'answers/s (right axis)',"
            " '' using 1:3 with linespoints pt 7 ps 0.6 title 'p50',"
            " '' using 1:4 with linespoints pt 7 ps 0.6 title 'p99',"
            " '' using 1:5 with points pt 6 ps 0.8 title 'max'\n", r->plot_dir);
    /* tic labels are formats to gnuplot: '%%%%' prints one '%' */
    fprintf(f, "unset y2tics\nunset y2label\nset ytics mirror\nset logscale x\nset xrange [1:%g]\n"
            "set xlabel 'percentile'\nset xtics ('0%%%%' 1, '50%%%%' 2, '90%%%%' 10, '99%%%%' 100,"
            " '99.9%%%%' 1000, '99.99%%%%' 10000, '99.999%%%%' 100000)\n"
            "set title 'latency distribution (HDR histogram: values at most 0.8%% high)'\nset key inside bottom right vertical\n"
            "plot '%s' index 0 using 1:2 with lines lw 2 title 'all'", xmax, pct);
    for (size_t i = 0; r->nprogs > 1 && i < r->nprogs; i++)
        fprintf(f, ", '' index %zu using 1:2 with lines title '%s %s'", i + 1,
                r->progs[i].language, r->progs[i].name);
    fprintf(f, "\nunset multiplot\n");
    closed = fclose(f);
    f = NULL;
    if (closed != 0)
        goto fail;

    pid_t pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", gp, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "rce-load: gnuplot failed (script %s)\n", gp);
        return -1;
    }
    rc = 0;
fail:
    if (f)
        fclose(f);
    if (rc < 0)
        perror("rce-load: --plot");
    return rc;
}
