/* rce-load: a load generator for the rce gateway.  Options, the workload
 * (a mix file or one program), the loopback rule, then drive and report.
 * Exit status: 0 every request ok, 1 some were not (or dropped), 2 usage or set-up. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rce-load.h"

#define MAX_FILE     (1 << 20)           /* a program or an expected output */
#define MAX_PROGRAMS 64

volatile sig_atomic_t interrupted;

static void usage(FILE *out)
{
    fputs("usage: rce-load [options] (-n N | -d SECONDS)\n"
          "  -u, --url URL           the gateway (default http://127.0.0.1:8080); requests go to\n"
          "                          URL/lang/<language>; only loopback unless --allow-remote\n"
          "  -c, --concurrency N     closed loop: keep N requests in flight (default 1)\n"
          "  -r, --rate R            open loop: R requests/s, latency from each scheduled send time\n"
          "      --max-outstanding N open loop: at most N in flight, the others wait (default 1000)\n"
          "  -n, --requests N        send N requests\n"
          "  -d, --duration S        send for S seconds, then wait for the answers\n"
          "      --max-time S        hard bound of the whole run, answers included (default 600)\n"
          "      --timeout S         per request (default 90)\n"
          "  -m, --mix FILE          lines \"weight language program-file expected-output-file\"\n"
          "                          (paths relative to FILE; '-' as expected: not checked);\n"
          "                          default: mix/default.mix beside the binary\n"
          "      --lang L --code FILE [--expect FILE]   one program instead of a mix\n"
          "      --json              one JSON object on stdout (the table goes to stderr)\n"
          "      --plot FILE.png     latency over time and its distribution (needs gnuplot)\n"
          "  -q, --quiet             no progress line, no first-failure sample, no table with --json\n"
          "      --allow-remote      allow a URL that is not on this machine\n"
          "An answer is ok when it is 200 with X-RCE-Status: OK and the expected output;\n"
          "200 otherwise is a wrong output; any other status, or none, is an error.\n", out);
}

/* The whole file, NUL-terminated (the NUL not counted in *len); NULL with a message. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f)
        goto fail;
    buf = malloc(MAX_FILE + 1);
    if (!buf)
        goto fail;
    *len = fread(buf, 1, MAX_FILE + 1, f);
    if (ferror(f))
        goto fail;
    if (*len > MAX_FILE) {
        fprintf(stderr, "rce-load: %s: larger than %d bytes\n", path, MAX_FILE);
        goto fail_quiet;
    }
    buf[*len] = '\0';
    fclose(f);
    return buf;
fail:
    fprintf(stderr, "rce-load: %s: %s\n", path, strerror(errno));
fail_quiet:
    if (f)
        fclose(f);
    free(buf);
    return NULL;
}

/* dir/rel, or rel when it is absolute; malloc'd. */
static char *relative_to(const char *dir, const char *rel)
{
    char *out;
    if (rel[0] == '/' || !dir)
        return strdup(rel);
    return asprintf(&out, "%s/%s", dir, rel) < 0 ? NULL : out;
}

static int add_program(struct run *r, const char *lang, const char *code_path,
                       const char *expect_path, unsigned weight)
{
    if (r->nprogs == MAX_PROGRAMS) {
        fprintf(stderr, "rce-load: more than %d programs\n", MAX_PROGRAMS);
        return -1;
    }
    if (!*lang || strspn(lang, "abcdefghijklmnopqrstuvwxyz0123456789+_-") != strlen(lang)) {
        fprintf(stderr, "rce-load: '%s' is not a language name\n", lang);
        return -1;
    }
    struct program *p = &r->progs[r->nprogs];
    char *copy = strdup(code_path);
    p->name = copy ? strdup(basename(copy)) : NULL;
    free(copy);
    p->language = strdup(lang);
    p->weight = weight;
    p->code = slurp(code_path, &p->code_len);
    p->st.latency = calloc(1, sizeof(struct hist));
    if (!p->name || !p->language || !p->code || !p->st.latency)
        return -1;
    if (expect_path && !(p->expect = slurp(expect_path, &p->expect_len)))
        return -1;
    if (asprintf(&p->url, "%s/lang/%s", r->opt.url, lang) < 0)
        return -1;
    r->nprogs++;
    return 0;
}

/* Reads a mix file: "weight language program-file expected-output-file" a line, '#' comments. */
static int load_mix(struct run *r, const char *path)
{
    char line[4096], lang[64], code[1024], expect[1024];
    char *copy = strdup(path), *dir = copy ? dirname(copy) : NULL;
    char *code_path = NULL, *expect_path = NULL;
    unsigned weight, lineno = 0;
    int rc = -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "rce-load: %s: %s\n", path, strerror(errno));
        goto fail;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        char extra[2];
        if (sscanf(line, "%u %63s %1023s %1023s %1s", &weight, lang, code, expect, extra) != 4
            || weight == 0 || weight > 1000) {
            fprintf(stderr, "rce-load: %s:%u: want \"weight(1-1000) language program-file"
                    " expected-output-file\"\n", path, lineno);
            goto fail;
        }
        code_path = relative_to(dir, code);
        expect_path = strcmp(expect, "-") ? relative_to(dir, expect) : NULL;
        if (!code_path || (strcmp(expect, "-") && !expect_path)
            || add_program(r, lang, code_path, expect_path, weight) < 0)
            goto fail;
        free(code_path), free(expect_path);
        code_path = expect_path = NULL;
    }
    if (r->nprogs == 0) {
        fprintf(stderr, "rce-load: %s: no program in the mix\n", path);
        goto fail;
    }
    rc = 0;
fail:
    if (f)
        fclose(f);
    free(code_path), free(expect_path), free(copy);
    return rc;
}

/* 1 if url names this machine: localhost, 127.0.0.0/8 or ::1.  Puts curl's
 * normalised form, without a trailing '/', in *norm. */
static int url_is_local(const char *url, char **norm, int *local)
{
    CURLU *u = curl_url();
    char *host = NULL, *scheme = NULL, *full = NULL;
    int rc = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_DEFAULT_SCHEME) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        fprintf(stderr, "rce-load: '%s' is not a URL\n", url);
        goto fail;
    }
    if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
        fprintf(stderr, "rce-load: '%s': only http and https\n", url);
        goto fail;
    }
    unsigned char a[16];
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']')
        memmove(host, host + 1, hl - 2), host[hl - 2] = '\0';
    *local = strcasecmp(host, "localhost") == 0
             || (inet_pton(AF_INET, host, a) == 1 && a[0] == 127)
             || (inet_pton(AF_INET6, host, a) == 1
                 && (IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a)
                     || (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a) && a[12] == 127)));
    size_t fl = strlen(full);
    while (fl > 0 && full[fl - 1] == '/')
        full[--fl] = '\0';
    if (!(*norm = strdup(full)))
        goto fail;
    rc = 0;
fail:
    curl_free(host), curl_free(scheme), curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

static int number(const char *arg, const char *name, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "rce-load: %s wants a number from %g to %g, not '%s'\n", name, lo, hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    if (interrupted < 2)
        interrupted++;
}

/* More file descriptors for many connections: the soft limit up to the hard one. */
static void raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want + 64)
        fprintf(stderr, "rce-load: warning: %llu file descriptors at most (ulimit -n) for %u"
                " connections\n", (unsigned long long)rl.rlim_cur, want);
}

enum { O_MAXOUT = 256, O_MAXTIME, O_TIMEOUT, O_LANG, O_CODE, O_EXPECT, O_JSON, O_PLOT, O_REMOTE };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "url", 1, 0, 'u' },          { "concurrency", 1, 0, 'c' }, { "rate", 1, 0, 'r' },
        { "max-outstanding", 1, 0, O_MAXOUT }, { "requests", 1, 0, 'n' },
        { "duration", 1, 0, 'd' },     { "max-time", 1, 0, O_MAXTIME },
        { "timeout", 1, 0, O_TIMEOUT }, { "mix", 1, 0, 'm' },     { "lang", 1, 0, O_LANG },
        { "code", 1, 0, O_CODE },      { "expect", 1, 0, O_EXPECT }, { "json", 0, 0, O_JSON },
        { "plot", 1, 0, O_PLOT },      { "quiet", 0, 0, 'q' },   { "allow-remote", 0, 0, O_REMOTE },
        { "help", 0, 0, 'h' },         { 0, 0, 0, 0 },
    };
    static struct program progs[MAX_PROGRAMS];
    struct run r = { .progs = progs };
    struct options *o = &r.opt;
    const char *url = "http://127.0.0.1:8080", *mix = NULL, *lang = NULL, *code = NULL,
               *expect = NULL;
    char *default_mix = NULL;
    double v, conc = 0, maxout = 1000;
    int c, local = 0, exit_code = 2, curl_started = 0, keep_plot_dir = 0;

    o->max_time = 600;
    o->timeout = 90;
    while ((c = getopt_long(argc, argv, "u:c:r:n:d:m:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'c': if (number(optarg, "-c", 1, 100000, &conc)) goto out; break;
        case 'r': if (number(optarg, "--rate", 0.001, 1e6, &o->rate)) goto out; break;
        case O_MAXOUT: if (number(optarg, "--max-outstanding", 1, 100000, &maxout)) goto out; break;
        case 'n': if (number(optarg, "-n", 1, 1e12, &v)) goto out; o->requests = (uint64_t)v; break;
        case 'd': if (number(optarg, "-d", 0.001, 1e6, &o->duration)) goto out; break;
        case O_MAXTIME: if (number(optarg, "--max-time", 0.001, 1e6, &o->max_time)) goto out; break;
        case O_TIMEOUT: if (number(optarg, "--timeout", 0.001, 1e6, &o->timeout)) goto out; break;
        case 'm': mix = optarg; break;
        case O_LANG: lang = optarg; break;
        case O_CODE: code = optarg; break;
        case O_EXPECT: expect = optarg; break;
        case O_JSON: o->json = 1; break;
        case O_PLOT: o->plot = optarg; break;
        case 'q': o->quiet = 1; break;
        case O_REMOTE: o->allow_remote = 1; break;
        case 'h': usage(stdout); exit_code = 0; goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rce-load: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (!o->requests && o->duration <= 0) {
        fprintf(stderr, "rce-load: a run must be bounded: give -n REQUESTS or -d SECONDS\n");
        goto out;
    }
    if (o->duration > o->max_time) {
        fprintf(stderr, "rce-load: -d %g is longer than --max-time %g\n", o->duration, o->max_time);
        goto out;
    }
    if (o->rate > 0 && conc > 0) {
        fprintf(stderr, "rce-load: -c is the closed loop; with --rate the cap is --max-outstanding\n");
        goto out;
    }
    if (mix && (lang || code || expect)) {
        fprintf(stderr, "rce-load: --mix or --lang/--code/--expect, not both\n");
        goto out;
    }
    if (!mix && (lang || code || expect) && !(lang && code)) {
        fprintf(stderr, "rce-load: --lang and --code go together (--expect is optional)\n");
        goto out;
    }
    if (o->plot && !plot_available()) {
        fprintf(stderr, "rce-load: --plot needs gnuplot, which is not installed:"
                " apt-get install gnuplot-nox (or run without --plot)\n");
        goto out;
    }
    FILE *png = o->plot ? fopen(o->plot, "w") : NULL;    /* writable? better know now */
    if (o->plot && (!png || fclose(png) != 0)) {
        fprintf(stderr, "rce-load: --plot %s: %s\n", o->plot, strerror(errno));
        goto out;
    }
    o->concurrency = conc > 0 ? (unsigned)conc : 1;
    o->max_outstanding = (unsigned)maxout;
    if (o->timeout > o->max_time)
        o->timeout = o->max_time;
    o->progress = !o->quiet && isatty(STDERR_FILENO);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "rce-load: libcurl could not start\n");
        goto out;
    }
    curl_started = 1;
    if (url_is_local(url, &o->url, &local) < 0)
        goto out;
    if (!local && !o->allow_remote) {
        fprintf(stderr, "rce-load: refusing %s: load goes only to this machine (localhost,"
                " 127.0.0.0/8, ::1); --allow-remote if you really mean it\n", o->url);
        goto out;
    }
    if (!mix && !lang) {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) {
            fprintf(stderr, "rce-load: no workload: give --mix FILE or --lang L --code FILE\n");
            goto out;
        }
        exe[n] = '\0';
        if (asprintf(&default_mix, "%s/mix/default.mix", dirname(exe)) < 0)
            goto out;
        mix = default_mix;
    }
    if (mix ? load_mix(&r, mix) < 0 : add_program(&r, lang, code, expect, 1) < 0)
        goto out;
    if (!(r.st.latency = calloc(1, sizeof(struct hist))))
        goto out;
    if (o->plot) {
        snprintf(r.plot_dir, sizeof r.plot_dir, "/tmp/rce-load-XXXXXX");
        char series[128];
        if (!mkdtemp(r.plot_dir) || !(r.second = calloc(1, sizeof(struct hist)))) {
            perror("rce-load: --plot");
            r.plot_dir[0] = '\0';
            goto out;
        }
        snprintf(series, sizeof series, "%s/series.dat", r.plot_dir);
        if (!(r.series = fopen(series, "w"))) {
            perror("rce-load: --plot");
            goto out;
        }
    }
    raise_nofile(o->rate > 0 ? o->max_outstanding : o->concurrency);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (drive(&r) < 0)
        goto out;
    if (r.series) {
        report_second(&r, r.end_ns, 1);
        fclose(r.series);
        r.series = NULL;
    }
    if (o->json) {
        if (!o->quiet)
            report_table(&r, stderr);
        if (report_json(&r, stdout) < 0) {
            fprintf(stderr, "rce-load: could not write the JSON report\n");
            goto out;
        }
    } else {
        report_table(&r, stdout);
    }
    fflush(stdout);
    if (o->plot) {
        if (report_plot(&r, o->plot) < 0) {
            keep_plot_dir = 1;                       /* to look at the script */
            goto out;
        }
        fprintf(stderr, "rce-load: plot written to %s\n", o->plot);
    }
    exit_code = r.st.ok == r.st.sent && r.dropped == 0 && r.st.sent > 0 ? 0 : 1;
out:
    if (r.series)
        fclose(r.series);
    if (r.plot_dir[0] && !keep_plot_dir) {
        char path[160];
        const char *files[] = { "series.dat", "percentiles.dat", "plot.gp" };
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", r.plot_dir, files[i]);
            unlink(path);
        }
        rmdir(r.plot_dir);
    }
    for (size_t i = 0; i < MAX_PROGRAMS; i++) {     /* a half-made one too */
        struct program *p = &progs[i];
        free(p->name), free(p->language), free(p->url), free(p->code), free(p->expect);
        free(p->st.latency);
    }
    free(r.st.latency);
    free(r.second);
    free(o->url);
    free(default_mix);
    if (curl_started)
        curl_global_cleanup();
    return exit_code;
}
