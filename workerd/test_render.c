/* The v1 document of a result (../common/rce_render.c): its fields in order, text and base64
 * streams both ways, U+FFFD and lossy, compile errors, judge mode, what is malformed. The JSON
 * here is written with ' for " (q() turns it back). */
#include <jansson.h>
#include <stdlib.h>

#include "rce_render.h"
#include "test.h"

#define FFFD "\xef\xbf\xbd"     /* U+FFFD in UTF-8, as jansson writes it */

/* s with each ' made ", in a static buffer. */
static const char *q(const char *s)
{
    static char buf[2048];
    size_t i;
    for (i = 0; s[i] && i < sizeof buf - 1; i++)
        buf[i] = s[i] == '\'' ? '"' : s[i];
    assert(s[i] == '\0');
    buf[i] = '\0';
    return buf;
}

/* The compact v1 document of the result (malloc'd), or NULL with *malformed set. The result
 * must come out of it as it went in. */
static char *render(const char *result_text, int base64, int *malformed)
{
    json_t *result = json_loads(q(result_text), JSON_ALLOW_NUL, NULL);
    assert(result);
    char *before = json_dumps(result, JSON_COMPACT);
    *malformed = -1;
    json_t *doc = rce_render_v1(result, base64, malformed);
    assert(doc ? *malformed == 0 : *malformed == 1);
    char *after = json_dumps(result, JSON_COMPACT);
    assert(before && after && STREQ(before, after));
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    assert(!doc || out);
    free(before);
    free(after);
    json_decref(doc);
    json_decref(result);
    return out;
}

/* Asserts that the result renders as want. */
static void expect(const char *result_text, int base64, const char *want)
{
    int malformed;
    char *out = render(result_text, base64, &malformed);
    want = q(want);
    if (!out || !STREQ(out, want))
        fprintf(stderr, "rendered %s\n  but not %s\n", out ? out : "NULL", want);
    assert(out && STREQ(out, want));
    free(out);
}

static void expect_malformed(const char *result_text)
{
    for (int base64 = 0; base64 <= 1; base64++) {
        int malformed;
        char *out = render(result_text, base64, &malformed);
        assert(out == NULL && malformed == 1);
    }
}

/* A run that exited 0, its streams given; and its document's parts around the run. */
#define OK_RESULT(streams)                                                                     \
    "{'id':'j1','status':'OK','language':'python','version':'3.11','node':'n1','exit_code':0," \
    "'signal':null,'wall_ms':12,'cpu_ms':8,'memory_kb':900,'truncated':false,'compile':null,"  \
    streams "}"
#define OK_DOC(streams, encoding, lossy)                                                       \
    "{'id':'j1','language':'python','version':'3.11','status':'OK','compile':null,"            \
    "'run':{" streams ",'exit_code':0,'signal':null,'wall_ms':12,'cpu_ms':8,'memory_kb':900,"  \
    "'truncated':false,'encoding':'" encoding "','lossy':" lossy "},'node':'n1','reason':null}"

static void test_render_text(void)
{
    /* The document's own order, whatever the result's; a NUL travels as \u0000. */
    expect(OK_RESULT("'stdout':'hi\\u0000\\n','stderr':'warn'"), 0,
           OK_DOC("'stdout':'hi\\u0000\\n','stderr':'warn'", "utf8", "[]"));
    /* A stream the node left out is empty; "utf8" said outright is the default. */
    expect(OK_RESULT("'stdout':'x','stdout_encoding':'utf8'"), 0,
           OK_DOC("'stdout':'x','stderr':''", "utf8", "[]"));
    /* limits and clamped only when the result has them. */
    expect("{'id':'j2','status':'TLE','stdout':'','stderr':'','wall_ms':3000,"
           "'limits':{'wall_ms':3000},'clamped':['wall_ms'],'reason':'too slow'}", 0,
           "{'id':'j2','language':null,'version':null,'status':'TLE','compile':null,"
           "'run':{'stdout':'','stderr':'','exit_code':null,'signal':null,'wall_ms':3000,"
           "'cpu_ms':null,'memory_kb':null,'truncated':null,'encoding':'utf8','lossy':[]},"
           "'node':null,'reason':'too slow','limits':{'wall_ms':3000},'clamped':['wall_ms']}");
}

static void test_render_not_utf8(void)
{
    /* ff fe (base64 "//4=") is no UTF-8: two U+FFFD, and stdout is lossy; stderr "hi" came
     * in base64 but is valid, so it is text exactly. */
    expect(OK_RESULT("'stdout':'//4=','stdout_encoding':'base64',"
                     "'stderr':'aGk=','stderr_encoding':'base64'"), 0,
           OK_DOC("'stdout':'" FFFD FFFD "','stderr':'hi'", "utf8", "['stdout']"));
    /* A sequence cut short, then text: one U+FFFD per byte that is no part of one. */
    expect(OK_RESULT("'stdout':'','stderr':'4oJhYg==','stderr_encoding':'base64'"), 0,
           OK_DOC("'stdout':'','stderr':'" FFFD FFFD "ab'", "utf8", "['stderr']"));
}

static void test_render_base64(void)
{
    /* Text from the node, base64 to the client; and base64 from the node as it came. */
    expect(OK_RESULT("'stdout':'hi','stderr':''"), 1,
           OK_DOC("'stdout':'aGk=','stderr':''", "base64", "[]"));
    expect(OK_RESULT("'stdout':'//4=','stdout_encoding':'base64','stderr':'\\u0000'"), 1,
           OK_DOC("'stdout':'//4=','stderr':'AA=='", "base64", "[]"));
}

static void test_render_compile_error(void)
{
    /* CE: the compile step with its streams as a run's would be; no run. */
    const char *ce = "{'id':'j3','status':'CE','language':'c','version':'12','node':'n1',"
                     "'compile':{'stdout':'','stderr':'/4E=','stderr_encoding':'base64',"
                     "'exit_code':1,'wall_ms':40},'stdout':'','stderr':''}";
    expect(ce, 0,
           "{'id':'j3','language':'c','version':'12','status':'CE',"
           "'compile':{'stdout':'','stderr':'" FFFD FFFD "','exit_code':1,'wall_ms':40,"
           "'encoding':'utf8','lossy':['stderr']},'run':null,'node':'n1','reason':null}");
    expect(ce, 1,
           "{'id':'j3','language':'c','version':'12','status':'CE',"
           "'compile':{'stdout':'','stderr':'/4E=','exit_code':1,'wall_ms':40,"
           "'encoding':'base64','lossy':[]},'run':null,'node':'n1','reason':null}");
    /* An IE that never ran, a job cancelled before it ran: no run either. */
    expect("{'id':'j4','status':'IE','reason':'no node'}", 0,
           "{'id':'j4','language':null,'version':null,'status':'IE','compile':null,"
           "'run':null,'node':null,'reason':'no node'}");
    expect("{'id':'j5','status':'CANCELLED','wall_ms':0,'stdout':'x'}", 0,
           "{'id':'j5','language':null,'version':null,'status':'CANCELLED','compile':null,"
           "'run':null,'node':null,'reason':null}");
}

static void test_render_judge(void)
{
    /* The tests in place of the run, each rendered as a run is, then the counts. */
    const char *judged =
        "{'id':'j6','status':'WA','language':'python','version':'3.11','node':'n1',"
        "'compile':null,'passed':1,'total':2,'tests':["
        "{'status':'OK','stdout':'3\\n','stderr':'','exit_code':0},"
        "{'status':'WA','stdout':'/w==','stdout_encoding':'base64','stderr':'','exit_code':0}]}";
    expect(judged, 0,
           "{'id':'j6','language':'python','version':'3.11','status':'WA','compile':null,"
           "'node':'n1','reason':null,'tests':["
           "{'status':'OK','stdout':'3\\n','stderr':'','exit_code':0,'encoding':'utf8','lossy':[]},"
           "{'status':'WA','stdout':'" FFFD "','stderr':'','exit_code':0,'encoding':'utf8',"
           "'lossy':['stdout']}],'passed':1,'total':2}");
    expect(judged, 1,
           "{'id':'j6','language':'python','version':'3.11','status':'WA','compile':null,"
           "'node':'n1','reason':null,'tests':["
           "{'status':'OK','stdout':'Mwo=','stderr':'','exit_code':0,'encoding':'base64',"
           "'lossy':[]},"
           "{'status':'WA','stdout':'/w==','stderr':'','exit_code':0,'encoding':'base64',"
           "'lossy':[]}],'passed':1,'total':2}");
}

static void test_render_malformed(void)
{
    expect_malformed(OK_RESULT("'stdout':'x','stdout_encoding':'rot13'"));
    expect_malformed(OK_RESULT("'stdout':'not base64!','stdout_encoding':'base64'"));
    expect_malformed("{'status':'CE','compile':{'stderr':'Z','stderr_encoding':'base64'}}");
    expect_malformed("{'status':'OK','tests':[],'passed':'1','total':1}");
    expect_malformed("{'status':'OK','tests':[1],'passed':1,'total':1}");
    expect_malformed("{'status':'OK','tests':[{'stdout':'x','stdout_encoding':'hex'}],"
                     "'passed':1,'total':1}");
}

static void test_render_stream_bytes(void)
{
    json_t *stage = json_loads(q("{'stdout':'//4A','stdout_encoding':'base64','stderr':'ok'}"), 0,
                               NULL);
    assert(stage);
    rce_render_bytes_t b;
    assert(rce_render_stream_bytes(stage, RCE_RENDER_STDOUT, &b) == RCE_RENDER_OK);
    assert(b.len == 3 && memcmp(b.data, "\xff\xfe\0", 3) == 0 && !b.valid && b.decoded);
    free(b.decoded);
    assert(rce_render_stream_bytes(stage, RCE_RENDER_STDERR, &b) == RCE_RENDER_OK);
    assert(b.len == 2 && memcmp(b.data, "ok", 2) == 0 && b.valid && !b.decoded);
    json_object_del(stage, "stderr");
    assert(rce_render_stream_bytes(stage, RCE_RENDER_STDERR, &b) == RCE_RENDER_OK);
    assert(b.len == 0 && b.valid && !b.decoded);
    /* Rewritten in place, as the raw route's JSON answer is. */
    assert(rce_render_streams(stage, stage, 0) == RCE_RENDER_OK);
    char *out = json_dumps(stage, JSON_COMPACT);
    assert(out && STREQ(out, q("{'stdout':'" FFFD FFFD "\\u0000','stderr':'','encoding':'utf8',"
                               "'lossy':['stdout']}")));
    free(out);
    json_decref(stage);
}

int main(void)
{
    RUN(test_render_text);
    RUN(test_render_not_utf8);
    RUN(test_render_base64);
    RUN(test_render_compile_error);
    RUN(test_render_judge);
    RUN(test_render_malformed);
    RUN(test_render_stream_bytes);
    return REPORT("test_render");
}
