/* rce-load: the load generator's shared types.  main.c reads the options and
 * the workload, driver.c sends the requests (libcurl multi), report.c prints
 * what happened (table, JSON, progress line, gnuplot). */
#ifndef RCE_LOAD_H
#define RCE_LOAD_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "hist.h"

#define MAX_VERDICTS 16              /* distinct X-RCE-Status values counted by name */
#define MAX_STATUS   600             /* HTTP status codes counted, 0..599 */

/* Counters of one set of requests: the whole run, or one program of the mix. */
struct stats {
    uint64_t sent, ok, wrong, errors, answered;
    uint64_t status[MAX_STATUS];             /* HTTP responses by status (600+ in [0]) */
    uint64_t transport[CURL_LAST];           /* failures without a response, by CURLcode */
    uint64_t cancelled;                      /* still in flight when --max-time ended the run */
    struct { char name[16]; uint64_t n; } verdicts[MAX_VERDICTS];
    uint64_t other_verdicts;
    struct hist *latency;                    /* answered requests, microseconds */
};

/* One program of the mix and what it must print. */
struct program {
    char *name;                  /* the program file's base name */
    char *language;
    char *url;                   /* <base>/lang/<language> */
    char *code;
    size_t code_len;
    char *expect;                /* NULL: the output is not checked */
    size_t expect_len;
    unsigned weight;
    int current;                 /* smooth weighted round-robin state */
    struct stats st;
};

struct options {
    char *url;                   /* base URL, without a trailing slash */
    unsigned concurrency;        /* closed loop */
    double rate;                 /* > 0: open loop, requests per second */
    unsigned max_outstanding;    /* open loop cap */
    uint64_t requests;           /* -n, 0: none */
    double duration;             /* -d seconds, 0: none */
    double max_time;             /* hard bound of the whole run */
    double timeout;              /* per request */
    int json, quiet, progress, allow_remote;
    const char *plot;
};

struct run {
    struct options opt;
    struct program *progs;
    size_t nprogs;
    struct stats st;
    uint64_t scheduled, late, dropped;   /* open loop accounting */
    int64_t max_lag_ns;                  /* largest send delay after the scheduled time */
    int64_t start_ns, end_ns;
    unsigned inflight;
    char plot_dir[64];                   /* --plot: temp folder of the data files */
    FILE *series;                        /* per-second data for --plot, or NULL */
    struct hist *second;                 /* latencies completed in the current second */
    int64_t second_no;
    int64_t last_progress_ns;
};

/* ^C or SIGTERM: 1 stops sending (then drains), 2 stops at once. */
extern volatile sig_atomic_t interrupted;

int64_t now_ns(void);

/* driver.c: sends the whole workload; 0, or -1 when libcurl could not start. */
int drive(struct run *r);

/* report.c */
void stats_count_verdict(struct stats *st, const char *verdict);
void report_table(const struct run *r, FILE *out);
int report_json(const struct run *r, FILE *out);
/* The progress line on stderr, at most once a second; final clears it. */
void report_progress(struct run *r, int64_t t, int final);
/* Before a latency completed at t goes into r->second: writes the finished
 * second's line to r->series when t is in a later second (or flush). */
void report_second(struct run *r, int64_t t, int flush);
int plot_available(void);
/* Draws r->plot_dir/series.dat and the percentile curve into png with gnuplot. */
int report_plot(const struct run *r, const char *png);

#endif
