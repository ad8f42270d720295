#include "run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "input.h"
#include "judge.h"
#include "log.h"
#include "rce_protocol.h"
#include "stream.h"
#include "wrapper.h"

#define EXIT_GRACE_MS 200           /* the stream ended: time for Docker to record the exit */
#define CPU_POLL_MS 200             /* how often the cpu total is read when it can run out first */
#define OLE_DRAIN_MS 300            /* past the output cap: time for a program that already ended */
#define CANCEL_CHECK_MS 100         /* a cancellable job's flag is looked at this often */
/* A compiler that RLIMIT_CPU stopped may show less cpu time than its limit: the kernel checks
 * the limit on its precise runtime, getrusage splits an estimate of it (846 ms seen for a
 * compiler killed at 1 s, beside another job). A failed compile within this share of its
 * limit is taken to have reached it. */
#define COMPILE_CPU_SLACK 80        /* percent */

_Static_assert(WRAPPER_ERR_RESERVE <= DEMUX_TAIL, "the wrapper's last lines must fit in the demux tail");

/* How a job's container ended, as far as reading its output tells. */
enum run_end {
    END_FAILED,             /* a step failed: r is IE already */
    END_EXITED,             /* it ended by itself */
    END_DEADLINE,           /* the wall deadline passed: kill, TLE */
    END_CPU,                /* its cpu total reached the limit: kill, TLE */
    END_OUTPUT_CAP,         /* the output cap was hit while it ran: kill, OLE */
    END_CAP_EXITED,         /* the output cap was hit, but it ended by itself: OLE, no kill */
    END_STOPPED,            /* judge mode, stop_on_failure: a test was not OK, kill */
    END_CANCELLED,          /* its cancel flag was raised: kill, CANCELLED */
};

/* One job's run: what run_job's steps share. */
struct run {
    struct docker *d;
    const struct config *cfg;
    const struct job *job;
    const struct lang *lang;
    struct job_result *r;
    struct docker_stream *stream;
    const char *id;
    const char *marker;     /* the compile line's */
    bool warm;              /* the job went to a warm container */
    bool fed;               /* it was sent on the container's stdin (a warm one, or a cold one
                             * too large for a command line): its end line can be trusted */
    bool compiling;         /* the compile step has not ended yet: its limits hold */
    int64_t t_start;        /* the container started (or, fed, its job was sent) */
    int64_t t_run;          /* the run started: the compile line came (t_start without one) */
    int64_t deadline, t_cpu;    /* of the current step */
    long cpu_limit_ms;      /* of the current step */
    long long cpu_base_ms;  /* the container's cpu total when the run started */
    enum run_end end;       /* how it ended (follow) */
    bool judging;           /* judge mode: the job has tests */
    struct judge judge;
};

static void step_deadlines(struct run *run, int64_t from, long wall_ms, long cpu_ms);
static void tests_deadlines(struct run *run, int64_t from);

/* A cpu total that counts the compile step too, less what the compile step used. Under gVisor
 * a compile line written by the program (Java's launcher) counts cpu by gVisor's clock, the
 * container's total by the host's: a short run may come out below the base. It used about
 * nothing then. */
static long long less_compile_cpu(const struct run *run, long long total)
{
    return total > run->cpu_base_ms ? total - run->cpu_base_ms : 0;
}

/* The container's figures through the stats API into r, the cpu total less what the compile
 * step used: the current step's. Returns that cpu time in ms, or -1. */
static long long step_stats(struct run *run)
{
    long long total = container_stats(run->d, run->id, run->r);
    if (total < 0)
        return -1;
    run->r->cpu_ms = less_compile_cpu(run, total);
    return run->r->cpu_ms;
}

/* While the compile step runs: once its line has come, the run's limits and clock start (a
 * failed compile keeps the compile step's: nothing runs after it). Returns whether it came. */
static bool compile_ended(struct run *run)
{
    struct wrapper_compiled c;
    if (!job_result_compile_seen(run->r, run->marker, &c))
        return false;
    run->compiling = false;
    if (c.exit_code == 0) {
        const struct limits *l = &run->job->limits;
        run->t_run = clock_mono_ms();
        run->cpu_base_ms = c.cpu_us >= 0 ? c.cpu_us / 1000 : 0;
        if (run->judging)
            tests_deadlines(run, run->t_run);
        else
            step_deadlines(run, run->t_run, l->wall_ms, l->cpu_ms);
        if (run->judging)
            judge_start(run->r, c.next);
    }
    return true;
}

/* Judge mode, while the tests run: reads the records that came. Returns END_FAILED (r is IE)
 * for garbled records, END_STOPPED when a test was not OK and the job stops on failure, else
 * END_EXITED: go on. */
static enum run_end tests_seen(struct run *run)
{
    if (judge_scan(run->r, &run->judge) != 0) {
        job_result_fail(run->r, "the wrapper's test records are garbled");
        return END_FAILED;
    }
    return run->job->stop_on_failure && run->r->tests_failed ? END_STOPPED : END_EXITED;
}

/* True once the job's cancel flag is raised (a job that cannot be cancelled has none). */
static bool cancelled(const struct run *run)
{
    return run->job->cancel && atomic_load(run->job->cancel);
}

/* One step of the stream (docker_stream_step), waking up for a stream job's input too; then
 * the job's events for what came, and its input on to the container. */
static int step(struct run *run, long wait)
{
    struct job_input *in = run->job->input;
    bool input_ready = false;
    if (docker_stream_step_with(run->stream, wait, in ? job_input_fd(in) : -1, &input_ready) != 0)
        return -1;
    if (run->job->events) {
        run->job->events->deadline = run->deadline;    /* a stalled Redis does not stretch it */
        stream_events_live(run->job->events, &run->r->out, &run->r->err, run->r->output_limit);
    }
    if (input_ready)
        job_input_read(in);
    if (in)
        job_input_flush(in, run->stream);
    return 0;
}

/* Reads the output until the stream ends, the deadline passes, a cap is hit, the job is
 * cancelled (its flag is looked at every CANCEL_CHECK_MS) or (when the cpu limit can run out
 * before the wall one) the container's cpu total reaches cpu_ms, or, for a warm container,
 * both streams end with the wrapper's end line (the container is then exiting; Docker ends
 * the stream tens of ms later). From t_cpu on, when it could first have used that much on its
 * CPUs, the total is read every CPU_POLL_MS. RLIMIT_CPU already stops each process at the
 * limit; this catches a job whose processes add up to it, and runtimes without RLIMIT_CPU
 * (gVisor). */
static enum run_end read_output(struct run *run)
{
    struct docker_stream *s = run->stream;
    struct job_result *r = run->r;
    int64_t next_cpu_check = run->t_cpu;
    while (!s->finished && s->demux_status == DEMUX_OK && !(run->fed && job_result_ended(r))) {
        int64_t now = clock_mono_ms();
        int64_t left = run->deadline - now;
        if (left <= 0)
            return END_DEADLINE;
        if (cancelled(run))
            return END_CANCELLED;
        if (now >= next_cpu_check && next_cpu_check < run->deadline) {
            if (step_stats(run) >= run->cpu_limit_ms)
                return END_CPU;
            next_cpu_check = clock_mono_ms() + CPU_POLL_MS;
            continue;
        }
        int64_t wait = left < 1000 ? left : 1000;
        if (run->job->cancel && wait > CANCEL_CHECK_MS)
            wait = CANCEL_CHECK_MS;
        if (next_cpu_check < run->deadline && next_cpu_check - now < wait)
            wait = next_cpu_check - now;
        if (step(run, wait > 0 ? wait : 0) != 0) {
            job_result_fail(r, "reading output failed: curl multi error");
            return END_FAILED;
        }
        if (run->compiling && compile_ended(run))
            next_cpu_check = run->t_cpu;
        enum run_end tests = run->judging && !run->compiling ? tests_seen(run) : END_EXITED;
        if (tests != END_EXITED)
            return tests;
    }
    switch (s->demux_status) {
    case DEMUX_OK:
        break;
    case DEMUX_FULL:
        return END_OUTPUT_CAP;
    case DEMUX_BAD:
        job_result_fail(r, "reading output failed: not Docker stream framing");
        return END_FAILED;
    case DEMUX_NOMEM:
        job_result_fail(r, "reading output failed: out of memory");
        return END_FAILED;
    }
    if (s->result != CURLE_OK) {
        job_result_fail(r, "reading output failed: %s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
        return END_FAILED;
    }
    return END_EXITED;
}

/* Past the output cap Docker may already hold the whole output of a program that has ended
 * (it reads the container's pipes into memory ahead of us). Reads on, dropping it, for at
 * most ms: if the stream ends, the program ended by itself and its figures are at the end of
 * stderr. Returns true then (the container needs no kill). */
static bool drain_after_cap(struct run *run, int64_t deadline, long ms)
{
    struct docker_stream *s = run->stream;
    int64_t until = clock_mono_ms() + ms;
    if (until > deadline)
        until = deadline;
    while (!s->finished && s->demux_status == DEMUX_FULL) {
        int64_t left = until - clock_mono_ms();
        if (left <= 0 || docker_stream_step(s, left) != 0)
            return false;
    }
    if (!s->finished || s->result != CURLE_OK || s->demux_status != DEMUX_FULL)
        return false;
    size_t len = s->demux.tail_len;
    job_result_take_figures(run->r, s->demux.tail, &len);
    return true;
}

/* A container made larger for its compile step holds the run to the run's memory by its peak:
 * a run whose largest process grew past memory_mb is MLE, as the kernel would have made it. */
static void held_to_run_memory(struct run *run)
{
    struct job_result *r = run->r;
    long run_mb = container_run_memory_mb(run->cfg, &run->job->limits, run->lang);
    if (!lang_compiled(run->lang) || run->job->limits.compile_memory_mb <= run_mb || r->memory_kb < 0
        || r->memory_kb <= (long long)run_mb * 1024 || strcmp(r->status, RCE_STATUS_OLE) == 0)
        return;
    r->status = RCE_STATUS_MLE;
    snprintf(r->reason, sizeof r->reason, "the run's peak memory, %lld KiB, is over its %s of %ld MiB",
             r->memory_kb, RCE_LIMIT_MEMORY_MB, run_mb);
}

/* The stream has ended: waits for the container to exit (it may close its output and keep
 * running) until the deadline, noting when in *t_exit, then decides the verdict from its
 * state, or from the wrapper's trusted figures without asking Docker. Returns END_EXITED,
 * END_DEADLINE if it still runs at the deadline, or END_FAILED after failing r. */
static enum run_end collect_exit(struct run *run, bool over_cap, int64_t *t_exit)
{
    struct job_result *r = run->r;
    const struct job *job = run->job;
    char err[300];
    int exit_code = r->exit_status;
    bool oom = r->oom_kills > 0;

    if (!(r->figures_trusted && r->exit_status >= 0 && r->oom_kills >= 0)) {
        int64_t left = run->deadline - clock_mono_ms();
        int w = container_wait_exit(run->d, run->id, left > EXIT_GRACE_MS ? left : EXIT_GRACE_MS,
                                    &exit_code, &oom, err, sizeof err);
        *t_exit = clock_mono_ms();
        if (w == DOCKER_TIMEOUT)
            return END_DEADLINE;
        if (w != DOCKER_OK) {
            job_result_fail(r, "%s", err);
            return END_FAILED;
        }
        /* MLE from the kernel's OOM kill as Docker saw it, never guessed from exit code 137. */
        if (!oom && exit_code == 137 && r->cpu_ms < 0)
            oom = container_oom_seen(run->d, run->id);
    } else {
        *t_exit = clock_mono_ms();  /* the wrapper said it all, after every process was gone */
    }
    if (oom && r->memory_kb < 0)
        r->memory_kb = (long long)job->limits.memory_mb * 1024;   /* it reached the limit */
    if (run->lang->compiles_in_run && r->cpu_ms >= 0)
        r->cpu_ms = less_compile_cpu(run, r->cpu_ms);  /* one process did both steps */
    job_result_decide(r, over_cap ? KILL_OUTPUT_CAP : KILL_NONE, oom, exit_code, job->limits.cpu_ms);
    held_to_run_memory(run);
    return END_EXITED;
}

/* A step's limits from `from` on: its wall limit, which a deadline (nobody waits after it) can
 * cut, and its cpu limit. With n CPUs a step cannot use cpu_ms sooner than cpu_ms / n after it
 * starts: the cpu total is watched from then. */
static void step_deadlines(struct run *run, int64_t from, long wall_ms, long cpu_ms)
{
    const struct job *job = run->job;
    int64_t end = from + (wall_ms > 0 ? wall_ms : 1);
    if (job->deadline_ms > 0) {
        int64_t nobody_waits = clock_mono_ms() + (job->deadline_ms - clock_unix_ms());
        if (nobody_waits < end)
            end = nobody_waits;
    }
    run->deadline = end;
    run->cpu_limit_ms = cpu_ms;
    int64_t cpu_soonest = from + cpu_ms / container_cpus(run->cfg, run->lang);
    run->t_cpu = cpu_soonest < end ? cpu_soonest : end;
}

/* Judge mode's tests from `from` on: each has its wall limit and RCE_TEST_OVERHEAD_MS, which a
 * deadline can cut. The wrapper holds each test to its own limits: the container's cpu total
 * is not watched. */
static void tests_deadlines(struct run *run, int64_t from)
{
    const struct job *job = run->job;
    long long each = (long long)job->limits.wall_ms + RCE_TEST_OVERHEAD_MS;
    long long all = each * (long long)job->n_tests;
    step_deadlines(run, from, all < LONG_MAX ? (long)all : LONG_MAX, 0);
    run->t_cpu = run->deadline;
    run->cpu_limit_ms = LONG_MAX;
}

/* The first step's limits: the compile step's, if the language has one, else the run's (or
 * judge mode's tests'). */
static void set_deadlines(struct run *run)
{
    const struct limits *l = &run->job->limits;
    run->compiling = lang_compiled(run->lang);
    run->t_run = run->t_start;
    if (run->compiling)
        step_deadlines(run, run->t_start, l->compile_wall_ms, l->compile_cpu_ms);
    else if (run->judging)
        tests_deadlines(run, run->t_start);
    else
        step_deadlines(run, run->t_start, l->wall_ms, l->cpu_ms);
    if (!run->compiling && run->judging)
        judge_start(run->r, 0);
}

/* Why we kill a container that ended so. */
static enum kill_cause kill_cause(enum run_end end)
{
    return end == END_DEADLINE ? KILL_DEADLINE : end == END_CPU ? KILL_CPU
           : end == END_CANCELLED ? KILL_CANCEL : KILL_OUTPUT_CAP;
}

/* A container we must stop (or that stopped past the cap): figures, kill, verdict. Returns
 * whether the stream is still open. */
static bool finish_killed(struct run *run, enum run_end end)
{
    struct job_result *r = run->r;
    bool open = true;
    if (end == END_DEADLINE || end == END_OUTPUT_CAP || end == END_CANCELLED)
        step_stats(run);                        /* the figures so far, while it still runs */
    /* It stopped meanwhile: its figures are on their way at the end of the stream. */
    if (end == END_OUTPUT_CAP && r->cpu_ms < 0 && drain_after_cap(run, run->deadline + 1000, 1000))
        end = END_CAP_EXITED;
    if (end != END_CAP_EXITED) {
        /* Hang up first: Docker would not finish the kill while its copy of the output
         * waits for us to read more. */
        docker_stream_close(run->stream);
        open = false;
        container_kill(run->d, run->id);
    }
    job_result_clip_output(r);
    job_result_decide(r, kill_cause(end), false, 0, run->job->limits.cpu_ms);
    return open;
}

/* Why a compile step that did not succeed ended, into reason (left empty when the compiler
 * itself says why: its output is in compile). */
static void compile_reason(const struct run *run, enum wrapper_compile how, char *reason, size_t len)
{
    const struct job_result *r = run->r;
    const struct limits *l = &run->job->limits;
    bool killed_compiling = run->compiling && run->end != END_EXITED && run->end != END_FAILED;
    if (killed_compiling && run->end == END_DEADLINE)
        snprintf(reason, len, "the compile step ran past its %s of %ld ms", RCE_LIMIT_COMPILE_WALL_MS,
                 l->compile_wall_ms);
    else if (killed_compiling && run->end == END_CPU)
        snprintf(reason, len, "the compile step used its %s of %ld ms", RCE_LIMIT_COMPILE_CPU_MS,
                 l->compile_cpu_ms);
    else if (killed_compiling)
        snprintf(reason, len, "the compiler's output went over the cap of %ld bytes", l->output_bytes);
    else if (r->compile_oom_kills > 0)
        snprintf(reason, len, "the compiler ran out of memory (%s %ld)", RCE_LIMIT_COMPILE_MEMORY_MB,
                 l->compile_memory_mb);
    else if (r->compile_cpu_ms >= l->compile_cpu_ms * COMPILE_CPU_SLACK / 100)
        snprintf(reason, len, "the compile step used its %s of %ld ms", RCE_LIMIT_COMPILE_CPU_MS,
                 l->compile_cpu_ms);
    else if (how != COMPILE_FAILED)
        snprintf(reason, len, "the compiler did not finish within its limits");
}

/* After a compile step: what there is before the compile line is the compiler's; without a
 * successful one, the run never started (CE, or CANCELLED with its reason when the job was
 * cancelled by then). A step killed while compiling has the compile step's figures. */
static void split_compile(struct run *run)
{
    struct job_result *r = run->r;
    enum wrapper_compile how = job_result_split_compile(r, run->marker);
    if (run->compiling) {
        r->compile_wall_ms = r->wall_ms;
        r->compile_cpu_ms = r->cpu_ms;
        r->compile_memory_kb = r->memory_kb;
    }
    if (how == COMPILE_SUCCEEDED)
        return;
    r->has_exit_code = r->has_signal = false;
    r->out.len = r->err.len = 0;
    r->wall_ms = 0;
    r->cpu_ms = r->memory_kb = -1;
    if (run->end == END_CANCELLED)
        return;
    r->status = RCE_STATUS_CE;
    r->reason[0] = '\0';
    compile_reason(run, how, r->reason, sizeof r->reason);
}

/* From the start to the verdict; returns whether the stream is still open. */
static bool follow(struct run *run)
{
    struct job_result *r = run->r;
    set_deadlines(run);
    if (run->job->events) {
        run->job->events->deadline = run->deadline;
        stream_events_begin(run->job->events, lang_compiled(run->lang) ? run->marker : NULL, !run->judging);
    }
    enum run_end end = read_output(run);
    int64_t t_end = clock_mono_ms();
    if (end == END_EXITED) {
        /* The wrapper's figures end stderr; an output over the cap by less than their room
         * was read whole but is still OLE. */
        bool over_cap = job_result_finish_output(r);
        end = collect_exit(run, over_cap, &t_end);
    }
    r->wall_ms = (long)(t_end - run->t_run);
    if (run->fed && end == END_EXITED && r->exit_status < 0 && r->has_exit_code && r->exit_code == 125
        && r->out.len == 0 && r->err.len == 0)
        job_result_fail(r, "the %s container %.12s exited 125 without running the job "
                        "(its PID 1 could not read it)", run->warm ? "warm" : "job's", run->id);
    if (end == END_OUTPUT_CAP && drain_after_cap(run, run->deadline, OLE_DRAIN_MS))
        end = END_CAP_EXITED;
    run->end = end;
    if (end == END_STOPPED) {
        docker_stream_close(run->stream);
        container_kill(run->d, run->id);
        return false;
    }
    bool open = end == END_FAILED || end == END_EXITED ? true : finish_killed(run, end);
    if (run->judging && strcmp(r->status, RCE_STATUS_IE) != 0 && tests_seen(run) == END_FAILED)
        run->end = END_FAILED;      /* the last records, before the compile output is cut */
    return open;
}

/* Judge mode, once the container is stopped: the tests without a record, by how it ended. */
static void finish_tests(struct run *run)
{
    struct job_result *r = run->r;
    bool all = r->tests_seen == r->n_tests || r->tests_cut;
    switch (all ? END_EXITED : run->end) {
    case END_DEADLINE:
        judge_finish(r, RCE_STATUS_TLE, "the job's deadline (its tests' wall limits together, or when nobody "
                     "waits any more) passed during this test", "the job's deadline passed before it");
        break;
    case END_OUTPUT_CAP:
    case END_CAP_EXITED:
        judge_finish(r, RCE_STATUS_OLE, "the job's output passed its bound during this test",
                     "the job's output passed its bound before it");
        break;
    case END_STOPPED:
        r->status = RCE_STATUS_OK;      /* we killed it: the tests decide */
        judge_finish(r, NULL, NULL, "stop_on_failure: an earlier test is not OK");
        break;
    case END_EXITED:
        if (!all && strcmp(r->status, RCE_STATUS_MLE) == 0) {
            judge_finish(r, RCE_STATUS_MLE, "the container ran out of memory during this test",
                         "the container ran out of memory before it");
            break;
        }
        if (!all && strcmp(r->status, RCE_STATUS_CE) != 0)
            job_result_fail(r, "the container ended after %zu of %zu tests (exit status %d)", r->tests_seen,
                            r->n_tests, r->exit_status);
        judge_finish(r, NULL, NULL, "the tests stopped before it");
        break;
    case END_CANCELLED:
        /* cancelled while compiling: no test began */
        judge_finish(r, run->compiling ? NULL : RCE_STATUS_CANCELLED, "the job was cancelled during this test",
                     "the job was cancelled before it");
        break;
    case END_FAILED:
    case END_CPU:
        judge_finish(r, NULL, NULL, "the tests stopped before it");
        break;
    }
    if (run->end == END_CANCELLED && strcmp(r->status, RCE_STATUS_IE) != 0)
        job_result_decide(r, KILL_CANCEL, false, 0, 0);     /* whatever the tests that ran say */
}

void run_job(struct docker *d, const struct config *cfg, const struct job *job,
             const struct lang *lang, struct container_warm *warm, struct job_result *r,
             char *left, size_t left_len)
{
    struct docker_stream cold_stream;
    char cold_id[DOCKER_ID_SIZE] = "", *id = cold_id;
    char marker[WRAPPER_TOKEN_SIZE];
    bool stream_open = false;
    struct run run = { .d = d, .cfg = cfg, .job = job, .lang = lang, .r = r, .stream = &cold_stream,
                       .marker = marker };

    wrapper_token(job->id, WRAPPER_COMPILED_PREFIX, marker);
    r->version = lang->version;
    r->limits = job->limits;
    r->clamped = job->clamped;
    if ((run.judging = job->n_tests > 0) && !lang_judges(lang)) {
        job_result_fail(r, "judge mode needs %s's image to have the %s label: rebuild it "
                        "(docker/build-images.sh %s)", lang->name, RCE_LABEL_TESTS_RUN, lang->name);
        goto done;
    }
    if (run.judging) {
        long run_mb = container_run_memory_mb(cfg, &job->limits, lang);
        run.judge = (struct judge){ .job = job, .run_memory_mb = run_mb,
                                    .memory_held = lang_compiled(lang) && job->limits.compile_memory_mb > run_mb };
        if (judge_init(r, job) != 0) {
            job_result_fail(r, "out of memory for the job's tests");
            goto done;
        }
    }

    int warm_rc = warm ? container_start_warm(d, cfg, job, lang, marker, warm, &run.t_start, r) : 1;
    if (warm_rc < 0)
        goto done;
    if (warm_rc == 0) {
        run.stream = &warm->stream;
        id = warm->id;
        run.warm = run.fed = true;
    } else if (container_start_cold(d, cfg, job, lang, marker, &cold_stream, &stream_open, &run.fed, id,
                                    &run.t_start, r) != 0) {
        goto done;
    }
    run.id = id;
    if (!follow(&run)) {
        stream_open = false;
        if (run.warm)
            warm->attached = false;
    }
    if (lang_compiled(lang) && strcmp(r->status, RCE_STATUS_IE) != 0)
        split_compile(&run);
done:
    if (run.judging)
        finish_tests(&run);
    if (stream_open)
        docker_stream_close(&cold_stream);
    if (warm && warm->attached) {
        docker_stream_close(&warm->stream);
        warm->attached = false;
    }
    if (warm && warm->id[0] && id != warm->id)
        container_warm_discard(d, warm);    /* it failed before the job reached it */
    if (id[0] && left && left_len > strlen(id))
        strcpy(left, id);       /* the caller removes it once the answer is out */
    else if (id[0])
        container_remove(d, id);
}
