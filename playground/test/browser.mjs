// The playground in a real browser: Debian's chromium, headless, driven by
// playwright-core against a running gateway (t/36-playground.t starts the
// stack and reads what this prints).
//
//   node browser.mjs BASE_URL ARTIFACTS_DIR [DOCS_SHOT]
//
// stdout: one JSON object a line: {"ok": bool, "name": "...", "diag": "..."}
// for each check; {"ask": "..."} when the test must do something (it answers
// one line on stdin); {"done": true} at the end.  Screenshots of every step go
// to ARTIFACTS_DIR; with DOCS_SHOT, the desktop screenshot for the docs too.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const [base, artifacts, docsShot] = process.argv.slice(2);
if (!base || !artifacts) {
    console.error('usage: node browser.mjs BASE_URL ARTIFACTS_DIR [DOCS_SHOT]');
    process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const CHROMIUM = process.env.RCE_CHROMIUM ?? '/usr/bin/chromium';

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const ok = (cond, name, diag) => { emit({ ok: !!cond, name, ...(cond ? {} : { diag: String(diag ?? '') }) }); return !!cond; };
const rl = createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
async function ask(what) {
    emit({ ask: what });
    const { value } = await lines.next();
    return value ?? '';
}

let shot = 0;
async function snap(page, name) {
    const file = join(artifacts, `${String(++shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
}

const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // as root in a container: no user namespaces for chromium's sandbox
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const errors = [];
function watch(page, label) {
    page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`${label} console: ${m.text()}`);
    });
}

async function newPage(opts = {}) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
    const page = await ctx.newPage();
    watch(page, opts.label ?? 'page');
    return page;
}

async function ready(page, url = base + '/') {
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
}

// replace the editor's text: click into it, select all, then type (short,
// one line: key by key) or insert (several lines, as a paste would)
async function setCode(page, code) {
    await page.click('.cm-content');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('Delete');
    if (!code.includes('\n') && code.length < 80) await page.keyboard.type(code);
    else await page.keyboard.insertText(code);
}
const editorText = (page) => page.evaluate(() => window.rcePlayground.view.state.doc.toString());

async function choose(page, lang) {
    await page.selectOption('#language', lang);
    await page.waitForFunction((l) => document.title.startsWith(l + ' '), lang);
}

// run and wait for the verdict; returns what the page shows
async function runAndWait(page, { key = false, timeout = 60000 } = {}) {
    if (key) {
        await page.click('.cm-content');
        await page.keyboard.press('ControlOrMeta+Enter');
    } else {
        await page.click('#run');
    }
    await page.waitForSelector('#stop:disabled', { state: 'attached', timeout: 5000 }).catch(() => {});
    await page.waitForFunction(() => !document.body.classList.contains('running') && (!document.getElementById('verdict').hidden || !document.getElementById('error').hidden), null, { timeout });
    return shown(page);
}

const shown = (page) => page.evaluate(() => {
    const $ = (id) => document.getElementById(id);
    const figs = {};
    document.querySelectorAll('#figures dd').forEach((dd) => { figs[dd.dataset.figure] = dd.textContent; });
    return {
        output: $('output').textContent,
        stdout: [...document.querySelectorAll('#output .s-stdout')].map((e) => e.textContent).join(''),
        stderr: [...document.querySelectorAll('#output .s-stderr')].map((e) => e.textContent).join(''),
        verdict: $('verdict').hidden ? null : $('verdict').dataset.verdict,
        figures: figs,
        compile: $('compile').hidden ? null : $('compile-output').textContent,
        error: $('error').hidden ? null : $('error').textContent.trim(),
        reason: $('reason').hidden ? null : $('reason').textContent,
        transport: $('transport').textContent,
    };
});

const figuresOk = (s) => s.figures.wall && s.figures.cpu && s.figures.memory;

try {
    // --- the page loads, with the language list --------------------------------------
    const page = await newPage({ label: 'desktop' });
    const csp = (await (await page.request.get(base + '/')).headers())['content-security-policy'] ?? '';
    ok(/default-src 'self'/.test(csp) && /script-src 'self'(;|$)/.test(csp) && /connect-src 'self'/.test(csp),
       'the page is served with a Content-Security-Policy of its own origin (any violation would be a console error below)', csp);
    await ready(page);
    const options = await page.$$eval('#language option', (os) => os.map((o) => [o.value, o.textContent]));
    const has = (l) => options.find(([v]) => v === l);
    ok(has('python') && has('c') && has('java'), 'the picker lists python, c and java', JSON.stringify(options));
    ok(options.every(([v, t]) => new RegExp(`^${v.replace(/[+#]/g, '\\$&')} \\d+(\\.\\d+)+$`).test(t)), 'each option shows name and version', JSON.stringify(options.slice(0, 5)));
    ok(/drill my brain/.test(await editorText(page)), 'python opens with its hello world');
    const libs = await page.textContent('#libraries');
    ok(/^with numpy \d[^ ]* · pandas \d/.test(libs) && /matplotlib \d/.test(libs), 'python shows its libraries, with versions', libs);
    ok(await page.$('.cm-lineNumbers .cm-gutterElement'), 'the editor has line numbers');
    ok(await page.waitForSelector('.cm-line span[class]', { timeout: 5000 }).catch(() => null), 'the code is highlighted');
    await snap(page, 'loaded');

    // --- python: typed, run with Ctrl+Enter ------------------------------------------
    await setCode(page, 'import sys; print(6 * 7); print("warn", file=sys.stderr)');
    let s = await runAndWait(page, { key: true });
    ok(s.stdout === '42\n', 'python: stdout shown', JSON.stringify(s));
    ok(s.stderr === 'warn\n', 'python: stderr shown apart', JSON.stringify(s));
    ok(s.verdict === 'OK', 'python: verdict OK', s.verdict);
    ok(figuresOk(s) && s.figures['exit code'] === '0', 'python: exit code, wall, cpu, memory', JSON.stringify(s.figures));
    await snap(page, 'python');

    // --- c: hello world, a compiler warning and an exit code; then a compile error --------
    await choose(page, 'c');
    ok(await page.isHidden('#libraries'), 'c, which has no libraries, shows none');
    ok(/#include <stdio.h>/.test(await editorText(page)), 'c opens with its hello world');
    ok(await page.waitForSelector('.cm-line span[class]', { timeout: 5000 }).catch(() => null), 'c is highlighted');
    await setCode(page, '#include <stdio.h>\n#warning "a word from the compiler"\nint main(void) {\n    printf("from c\\n");\n    return 3;\n}\n');
    s = await runAndWait(page);
    ok(s.stdout === 'from c\n', 'c: output', JSON.stringify(s));
    ok(s.verdict === 'RE' && s.figures['exit code'] === '3', 'c: verdict RE, exit code 3', JSON.stringify(s));
    ok(s.compile && /a word from the compiler/.test(s.compile), 'c: the compile output is shown', JSON.stringify(s.compile));
    ok(figuresOk(s), 'c: figures', JSON.stringify(s.figures));
    await snap(page, 'c');
    await setCode(page, 'int main(void) { return rce_undefined; }\n');
    s = await runAndWait(page);
    ok(s.verdict === 'CE' && /rce_undefined/.test(s.compile ?? ''), 'c: a compile error is CE with the compiler\'s message', JSON.stringify(s));
    ok(await page.$eval('#compile', (d) => d.open), 'c: the compile output is open for a CE');
    await snap(page, 'c-compile-error');

    // --- java: stdin and arguments fields -------------------------------------------
    await choose(page, 'java');
    ok(/class BrainDrill/.test(await editorText(page)), 'java opens with its hello world');
    await setCode(page, 'import java.util.Scanner;\npublic class Main {\n    public static void main(String[] args) {\n        String line = new Scanner(System.in).nextLine();\n        System.out.println(line.toUpperCase() + " " + String.join("|", args));\n    }\n}\n');
    await page.click('#inputs summary');
    await page.fill('#stdin', 'from stdin\n');
    await page.fill('#args', `one 'two words'`);
    s = await runAndWait(page);
    ok(s.stdout === 'FROM STDIN one|two words\n', 'java: stdin and arguments reach the program', JSON.stringify(s));
    ok(s.verdict === 'OK' && figuresOk(s), 'java: verdict and figures', JSON.stringify(s));
    await snap(page, 'java');
    // stdin given in the field is all of it: a program reading to end-of-file ends
    await choose(page, 'python');
    await setCode(page, 'import sys\ndata = sys.stdin.read()\nprint(len(data), data.split())\n');
    await page.fill('#stdin', 'a b\nc\n');
    await page.fill('#args', '');
    s = await runAndWait(page, { timeout: 20000 });
    ok(s.stdout === "6 ['a', 'b', 'c']\n" && s.verdict === 'OK', 'stdin field: the program reads it, then end-of-file', JSON.stringify(s));
    await page.fill('#stdin', '');

    // --- interactive stdin, over the WebSocket ------------------------------------------
    await choose(page, 'python');
    await setCode(page, 'name = input("name? ")\nprint("hello", name)\nprint("again?", input())\n');
    await page.click('#run');
    const live = await page.waitForFunction(() => /name\? /.test(document.getElementById('output').textContent)
        && document.body.classList.contains('running'), null, { timeout: 30000 }).then(() => true, () => false);
    ok(live, 'interactive: the prompt shows while the program waits for a line', JSON.stringify(await shown(page)));
    const liveOn = live && !(await page.$eval('#live-input', (e) => e.disabled));
    ok(liveOn, 'interactive: the stdin line is enabled while it runs', (await shown(page)).transport);
    if (liveOn) {
        await page.fill('#live-input', 'Ada');
        await page.press('#live-input', 'Enter');
        await page.waitForFunction(() => /hello Ada/.test(document.getElementById('output').textContent), null, { timeout: 15000 }).catch(() => {});
        ok(/hello Ada\n/.test((await shown(page)).stdout), 'interactive: the line typed while it runs is read', JSON.stringify(await shown(page)));
        await snap(page, 'interactive');
        await page.fill('#live-input', 'yes');
        await page.press('#live-input', 'Enter');
    }
    await page.waitForFunction(() => !document.body.classList.contains('running'), null, { timeout: 15000 }).catch(() => {});
    s = await shown(page);
    ok(/again\? yes\n/.test(s.stdout) && s.verdict === 'OK', 'interactive: a second line, then OK', JSON.stringify(s));
    if (!liveOn) await page.click('#stop', { timeout: 1000 }).catch(() => {});

    // --- streaming: a line a second shows before the end ------------------------------------
    await setCode(page, 'import time\nfor i in range(4):\n    print("line", i, flush=True)\n    time.sleep(1)\nprint("end")\n');
    const t0 = Date.now();
    await page.click('#run');
    let first = null;
    try {
        await page.waitForFunction(() => /line 0/.test(document.getElementById('output').textContent), null, { timeout: 30000, polling: 50 });
        first = Date.now() - t0;
    } catch { /* never came */ }
    const stillRunning = await page.evaluate(() => document.body.classList.contains('running') && document.getElementById('verdict').hidden);
    await snap(page, 'streaming');
    await page.waitForFunction(() => !document.body.classList.contains('running'), null, { timeout: 30000 }).catch(() => {});
    const total = Date.now() - t0;
    s = await shown(page);
    ok(first !== null && stillRunning, 'streaming: the first line shows while the program still runs', `first line at ${first} ms, running then: ${stillRunning}, ${JSON.stringify(s)}`);
    ok(first !== null && total - first >= 2000, `streaming: the first line came ${total - first} ms before the end`, `first ${first} ms, end ${total} ms`);
    ok(s.stdout === 'line 0\nline 1\nline 2\nline 3\nend\n' && s.verdict === 'OK', 'streaming: all of it, then OK', JSON.stringify(s));

    // --- the same over HTTP: Server-Sent Events (?transport=http) ---------------------------
    {
        const sse = await newPage({ label: 'sse' });
        await ready(sse, base + '/?transport=http');
        await setCode(sse, 'import sys, time\nfor i in range(3):\n    print("sse", i, flush=True)\n    time.sleep(1)\nprint("oops", file=sys.stderr)\n');
        const t1 = Date.now();
        await sse.click('#run');
        let firstSse = null;
        try {
            await sse.waitForFunction(() => /sse 0/.test(document.getElementById('output').textContent), null, { timeout: 30000, polling: 50 });
            firstSse = Date.now() - t1;
        } catch { /* never came */ }
        await sse.waitForFunction(() => !document.body.classList.contains('running'), null, { timeout: 30000 }).catch(() => {});
        const endSse = Date.now() - t1;
        s = await shown(sse);
        ok(/HTTP/.test(s.transport), 'HTTP: ?transport=http runs over HTTP', s.transport);
        ok(firstSse !== null && endSse - firstSse >= 1500, `HTTP: Server-Sent Events stream too (first line ${endSse - firstSse} ms before the end)`, `first ${firstSse}, end ${endSse}`);
        ok(s.stdout === 'sse 0\nsse 1\nsse 2\n' && s.stderr === 'oops\n' && s.verdict === 'OK' && figuresOk(s), 'HTTP: output, stderr apart, verdict and figures', JSON.stringify(s));
        await snap(sse, 'sse');
        await sse.context().close();
    }

    // --- Stop kills a long run --------------------------------------------------------
    await setCode(page, 'import time\ni = 0\nwhile True:\n    print("tick", i, flush=True)\n    i += 1\n    time.sleep(0.2)\n');
    await page.click('#run');
    await page.waitForFunction(() => /tick 1/.test(document.getElementById('output').textContent), null, { timeout: 30000 }).catch(() => {});
    const tStop = Date.now();
    await page.click('#stop', { timeout: 2000 }).catch(() => {});
    await page.waitForFunction(() => !document.body.classList.contains('running'), null, { timeout: 10000 }).catch(() => {});
    s = await shown(page);
    const stopMs = Date.now() - tStop;
    ok(s.verdict === 'CANCELLED' || (s.verdict === 'RE' && s.figures.signal), `Stop: the run ends at once (${stopMs} ms), shown as stopped`, JSON.stringify(s));
    ok(stopMs < 5000, 'Stop: within 5 s', `${stopMs} ms`);
    await snap(page, 'stopped');
    const gone = await ask('job-containers-gone');
    ok(gone === 'yes', 'Stop: the job\'s container is gone (long before its 5 s wall limit)', gone);

    // --- an error the API answers: code over rce_max_code_size ----------------------------
    await setCode(page, '# ' + 'x'.repeat(70 * 1024) + '\nprint(1)\n');
    s = await runAndWait(page);
    ok(s.error && /too large|large|65536|64 KiB|max_code_size/i.test(s.error), 'an error: code over the limit shows its message', JSON.stringify(s.error));
    await snap(page, 'error-too-large');

    // --- share link round trip -------------------------------------------------------
    await choose(page, 'c');
    const code = '#include <stdio.h>\n/* ünïcödé ✓ */\nint main(int c, char **v) { char s[32]; fgets(s, 32, stdin); printf("%s %s", v[1], s); }\n';
    await setCode(page, code);
    await page.fill('#stdin', 'shared input\n');
    await page.fill('#args', `"an arg"`);
    await page.click('#share');
    await page.waitForFunction(() => document.getElementById('share').dataset.url);
    const url = await page.$eval('#share', (b) => b.dataset.url);
    ok(/#lang=c&code=/.test(url) && !url.includes('?'), 'share: the link holds the language and code in the fragment', url.slice(0, 120));
    const other = await newPage({ label: 'shared' });
    await ready(other, url);
    ok(await other.$eval('#language', (s) => s.value) === 'c', 'share: the language comes back');
    ok(await editorText(other) === code, 'share: the code comes back exactly', JSON.stringify(await editorText(other)));
    ok(await other.$eval('#stdin', (e) => e.value) === 'shared input\n' && await other.$eval('#args', (e) => e.value) === `'an arg'`, 'share: stdin and arguments come back');
    s = await runAndWait(other);
    ok(s.stdout === 'an arg shared input\n', 'share: the shared program runs the same', JSON.stringify(s));
    await snap(other, 'shared');
    await other.context().close();
    await page.fill('#stdin', '');
    await page.fill('#args', '');

    // --- keyboard only -----------------------------------------------------------------
    await choose(page, 'python');
    await setCode(page, 'print("by keyboard")');
    // from the top of the page (a click on the title sets where Tab starts)
    await page.click('h1');
    const order = [];
    for (let i = 0; i < 8; i++) {
        await page.keyboard.press('Tab');
        const id = await page.evaluate(() => document.activeElement?.id || document.activeElement?.className || document.activeElement?.tagName);
        order.push(id);
        if (id === 'run') break;
    }
    ok(order.includes('language') && order.at(-1) === 'run', 'keyboard: Tab reaches the language picker and Run', order.join(' > '));
    const focusRing = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    ok(focusRing && focusRing !== 'none', 'keyboard: the focused control shows a focus ring', focusRing);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => !document.getElementById('verdict').hidden, null, { timeout: 30000 }).catch(() => {});
    ok((await shown(page)).stdout === 'by keyboard\n', 'keyboard: Enter on Run runs it');
    ok(await page.evaluate(() => document.activeElement?.id) === 'run', 'keyboard: after the run, focus is back on Run',
        await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName));

    // --- dark mode follows the system -----------------------------------------------------
    const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(200);
    const darkBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const darkEditor = await page.evaluate(() => getComputedStyle(document.querySelector('.cm-editor')).backgroundColor);
    ok(lightBg !== darkBg && darkEditor !== 'rgb(255, 255, 255)', 'dark mode: page and editor follow prefers-color-scheme', `${lightBg} / ${darkBg} / ${darkEditor}`);
    await snap(page, 'dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // --- the docs' screenshot ---------------------------------------------------------
    if (docsShot) {
        const d = await newPage({ label: 'docs', viewport: { width: 1100, height: 640 } });
        await ready(d);
        await choose(d, 'c');
        await setCode(d, '#include <stdio.h>\n\nint main(void)\n{\n    for (int i = 1; i <= 5; i++)\n        printf("%d squared is %d\\n", i, i * i);\n    fflush(stdout);\n    fprintf(stderr, "done\\n");\n    return 0;\n}\n');
        await runAndWait(d);
        await d.evaluate(() => document.activeElement?.blur());
        await d.screenshot({ path: docsShot });
        ok(true, `docs screenshot written: ${docsShot}`);
        await d.context().close();
    }

    // --- phone width -------------------------------------------------------------------
    const phone = await newPage({ label: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await ready(phone);
    const fits = await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    ok(fits, 'phone: nothing wider than the screen', await phone.evaluate(() => `${document.documentElement.scrollWidth} > ${window.innerWidth}`));
    const boxes = await phone.evaluate(() => ['language', 'run', 'stop', 'share', 'editor', 'output'].map((id) => {
        const r = document.getElementById(id).getBoundingClientRect();
        return { id, left: r.left, right: r.right, width: r.width, height: r.height };
    }));
    ok(boxes.every((b) => b.left >= 0 && b.right <= 391 && b.width > 0), 'phone: every control is on screen', JSON.stringify(boxes));
    ok(boxes.filter((b) => ['run', 'stop', 'share'].includes(b.id)).every((b) => b.height >= 36), 'phone: buttons are big enough to tap', JSON.stringify(boxes));
    await phone.tap('#run');
    await phone.waitForFunction(() => !document.getElementById('verdict').hidden, null, { timeout: 30000 }).catch(() => {});
    ok((await shown(phone)).stdout === 'drill my brain\n', 'phone: a run by tap');
    await snap(phone, 'phone');
    await phone.context().close();

    // --- the widget on another page -------------------------------------------------------
    const w = await newPage({ label: 'widget' });
    await w.goto(base + '/example/widget-example.html');
    await w.waitForSelector('.rce-w .rce-w-run', { timeout: 15000 });
    const n = await w.$$eval('.rce-w', (b) => b.length);
    ok(n >= 2, `widget: ${n} blocks became runnable snippets`);
    await snap(w, 'widget-before');
    await w.click('.rce-w >> nth=0 >> .rce-w-run');
    await w.waitForFunction(() => document.querySelector('.rce-w').dataset.verdict, null, { timeout: 30000 }).catch(() => {});
    const wres = await w.$eval('.rce-w', (b) => ({ verdict: b.dataset.verdict, out: b.querySelector('.rce-w-out').textContent, status: b.querySelector('.rce-w-status').textContent }));
    ok(wres.verdict === 'OK' && /hello from the widget/.test(wres.out), 'widget: the first snippet runs and shows its output', JSON.stringify(wres));
    ok(/wall/.test(wres.status), 'widget: its figures are shown', wres.status);
    await w.click('.rce-w >> nth=1 >> .rce-w-run');
    await w.waitForFunction(() => document.querySelectorAll('.rce-w')[1].dataset.verdict, null, { timeout: 60000 }).catch(() => {});
    const wres2 = await w.$$eval('.rce-w', (b) => ({ verdict: b[1].dataset.verdict, out: b[1].querySelector('.rce-w-out').textContent }));
    ok(wres2.verdict === 'OK' && /the answer is 84/.test(wres2.out), 'widget: a compiled snippet with stdin and arguments runs too', JSON.stringify(wres2));
    // the third block reads a line typed while it runs
    await w.click('.rce-w >> nth=2 >> .rce-w-run');
    const third = w.locator('.rce-w').nth(2);
    await third.locator('.rce-w-out').filter({ hasText: 'your name?' }).waitFor({ timeout: 30000 }).catch(() => {});
    await third.locator('.rce-w-stdin input').fill('Grace');
    await third.locator('.rce-w-stdin input').press('Enter');
    await w.waitForFunction(() => document.querySelectorAll('.rce-w')[2].dataset.verdict, null, { timeout: 30000 }).catch(() => {});
    const wres3 = await third.evaluate((b) => ({ verdict: b.dataset.verdict, out: b.querySelector('.rce-w-out').textContent }));
    ok(wres3.verdict === 'OK' && /hello, Grace/.test(wres3.out), 'widget: an interactive snippet reads a typed line', JSON.stringify(wres3));
    await snap(w, 'widget');
    await w.context().close();

    // --- a gateway that asks for an API key (the page under /keyed/, t/36's keyed locations) ---
    if (process.env.RCE_PLAYGROUND_KEY) {
        const kp = await newPage({ label: 'keyed' });
        await kp.goto(base + '/keyed/');
        await kp.waitForSelector('#error:not([hidden])', { timeout: 20000 });
        const said = await kp.textContent('#error');
        ok(/API key/.test(said) && await kp.$eval('#keybox', (d) => d.open), 'keys on, none given: the page says a key is needed and opens its field', said);
        await snap(kp, 'key-wanted');
        await kp.fill('#key', process.env.RCE_PLAYGROUND_KEY);
        await kp.press('#key', 'Tab');
        await kp.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
        ok(await kp.$eval('#language', (s) => s.options.length > 10), 'with the key, the language list loads');
        await setCode(kp, 'print(6 * 7)');
        let ks = await runAndWait(kp);
        ok(ks.stdout === '42\n' && ks.verdict === 'OK' && /WebSocket/i.test(ks.transport),
           'with the key, a run streams over the WebSocket (the key as its subprotocol)', JSON.stringify(ks));
        ok(!(await kp.evaluate(() => location.href)).includes(process.env.RCE_PLAYGROUND_KEY), 'the key is not in the address');
        await kp.fill('#key', 'not-the-key-0123456789');
        await kp.press('#key', 'Tab');
        ks = await runAndWait(kp);
        ok(ks.error && /API key is needed \(401\)/.test(ks.error) && !ks.verdict, 'a wrong key: the run is refused 401, in words', JSON.stringify(ks));
        await snap(kp, 'key-refused');
        await kp.context().close();
    }

    // --- an error the cluster answers: no live node ------------------------------------------
    const stopped = await ask('stop-workers');
    ok(stopped === 'yes', 'the test stopped the worker node', stopped);
    await setCode(page, 'print("nobody runs this")');
    s = await runAndWait(page);
    ok(s.error && /503|node|capacity|retry/i.test(s.error), 'no node: the run shows why, and when to retry', JSON.stringify(s));
    await snap(page, 'error-no-node');

    ok(errors.length === 0 || errors.every((e) => /WebSocket connection/.test(e)), 'no script errors in the pages', errors.join('\n'));
} catch (e) {
    ok(false, 'the browser session ran to its end', e.stack);
} finally {
    await browser.close();
    emit({ done: true });
    // let go of stdin, or node waits for the test to close it (and it waits for us)
    rl.close();
    process.stdin.destroy();
}
