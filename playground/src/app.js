// The rce playground: CodeMirror 6, the language list of the live nodes, a
// run streamed over the gateway's WebSocket (lib/runner.js).

import { EditorView, basicSetup } from 'codemirror';
import { keymap } from '@codemirror/view';
import { Compartment, EditorState, Prec } from '@codemirror/state';
import { indentWithTab } from '@codemirror/commands';
import { oneDark } from '@codemirror/theme-one-dark';
import { languageSupport } from './lib/modes.js';
import { startRun, httpUrl, keyHeaders } from './lib/runner.js';
import { describeHttpError, figures, verdictText } from './lib/describe.js';
import { decodeShare, encodeShare, formatArgs, parseArgs } from './lib/share.js';

const $ = (id) => document.getElementById(id);
const el = {
    language: $('language'), run: $('run'), stop: $('stop'), share: $('share'),
    stdin: $('stdin'), args: $('args'), inputs: $('inputs'),
    status: $('status'), verdict: $('verdict'), output: $('output'),
    error: $('error'), errorTitle: $('error-title'), errorDetail: $('error-detail'),
    compile: $('compile'), compileOutput: $('compile-output'),
    live: $('live'), liveInput: $('live-input'), send: $('send'), eof: $('eof'),
    figures: $('figures'), reason: $('reason'), transport: $('transport'),
    libraries: $('libraries'), keybox: $('keybox'), key: $('key'),
};

// the gateway this page came from (a page under a path prefix keeps it)
const BASE = new URL('.', location.href).href;
// ?transport=http: runs over HTTP (Server-Sent Events), not the WebSocket,
// for a proxy that breaks WebSockets (the page falls back by itself when the
// socket cannot be opened at all)
const TRANSPORT = new URLSearchParams(location.search).get('transport') === 'http' ? 'http' : 'auto';

let languages = [];          // [{name, version, aliases, compiled, libraries}]
let hellos = {};             // name -> hello world (hellos.json, built from docker/lang/*/smoke.src)
const drafts = new Map();    // name -> the code last typed in that language
let current = null;          // the chosen language's name
let running = null;          // the run in progress
let pending = decodeShare(location.hash);
let keyWanted = false;       // the language list was refused for want of an API key

// --- the editor ----------------------------------------------------------------

const langConf = new Compartment();
const themeConf = new Compartment();
const dark = window.matchMedia('(prefers-color-scheme: dark)');

const view = new EditorView({
    parent: $('editor'),
    state: EditorState.create({
        doc: '',
        extensions: [
            Prec.highest(keymap.of([
                { key: 'Mod-Enter', run: () => { runNow(); return true; } },
                { key: 'Shift-Mod-Enter', run: () => { stop(); return true; } },
            ])),
            basicSetup,
            keymap.of([indentWithTab]),
            langConf.of([]),
            themeConf.of(dark.matches ? oneDark : []),
            EditorView.contentAttributes.of({ 'aria-label': 'Code', 'aria-multiline': 'true' }),
            EditorView.updateListener.of((u) => { if (u.docChanged && current) drafts.set(current, u.state.doc.toString()); }),
        ],
    }),
});
// for the browser test (t/36-playground.t) and the console
window.rcePlayground = { view };
dark.addEventListener('change', (e) => view.dispatch({ effects: themeConf.reconfigure(e.matches ? oneDark : []) }));

function setCode(code) {
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } });
}

async function chooseLanguage(name, code) {
    current = name;
    el.language.value = name;
    setCode(code ?? drafts.get(name) ?? hellos[name] ?? '');
    showLibraries(languages.find((l) => l.name === name));
    const support = await languageSupport(name);
    if (current === name) view.dispatch({ effects: langConf.reconfigure(support) });
    document.title = `${name} · rce playground`;
}

// "with numpy 1.24.2 · pandas 1.5.3": what the language's image adds, from
// GET /api/v1/languages (a gateway older than the field sends none)
function showLibraries(lang) {
    const libs = Object.entries(lang?.libraries ?? {});
    el.libraries.hidden = !libs.length;
    el.libraries.textContent = libs.length
        ? `with ${libs.map(([n, v]) => `${n} ${v}`).join(' · ')}` : '';
}

// --- output ------------------------------------------------------------------

function append(stream, text) {
    if (!text) return;
    const box = el.output;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    const last = box.lastElementChild;
    if (last && last.dataset.stream === stream) {
        last.textContent += text;
    } else {
        const span = document.createElement('span');
        span.className = `s-${stream}`;
        span.dataset.stream = stream;
        span.textContent = text;
        box.append(span);
    }
    if (atBottom) box.scrollTop = box.scrollHeight;
}

function appendCompile(stream, text) {
    if (!text) return;
    el.compile.hidden = false;
    const span = document.createElement('span');
    span.className = `s-${stream}`;
    span.textContent = text;
    el.compileOutput.append(span);
}

function showError({ title, detail }) {
    el.error.hidden = false;
    el.errorTitle.textContent = title;
    el.errorDetail.textContent = detail ? ` ${detail}` : '';
}

function clearResult() {
    el.output.replaceChildren();
    el.compileOutput.replaceChildren();
    el.compile.hidden = true;
    el.compile.open = false;
    el.error.hidden = true;
    el.verdict.hidden = true;
    el.verdict.className = 'verdict';
    el.figures.hidden = true;
    el.figures.replaceChildren();
    el.reason.hidden = true;
}

function showSummary(s) {
    el.verdict.hidden = false;
    el.verdict.textContent = s.verdict === 'OK' ? 'OK' : `${s.verdict} · ${verdictText(s.verdict)}`;
    el.verdict.className = `verdict v-${s.verdict}`;
    el.verdict.dataset.verdict = s.verdict;
    const pairs = figures(s);
    el.figures.replaceChildren(...pairs.map(([k, v]) => {
        const div = document.createElement('div');
        const dt = document.createElement('dt'); dt.textContent = k;
        const dd = document.createElement('dd'); dd.textContent = v; dd.dataset.figure = k;
        div.append(dt, dd);
        return div;
    }));
    el.figures.hidden = pairs.length === 0;
    if (s.reason && s.verdict !== 'OK') {
        el.reason.hidden = false;
        el.reason.textContent = s.reason;
    }
    if (s.verdict === 'CE') el.compile.open = true;
}

function setRunning(on) {
    // a control about to be disabled keeps no focus: keyboard users go on from Run
    const lost = !on && (document.activeElement === document.body || document.activeElement?.disabled
        || document.activeElement === el.liveInput || document.activeElement === el.stop);
    el.run.disabled = on || !languages.length;
    el.stop.disabled = !on;
    el.language.disabled = on || !languages.length;
    document.body.classList.toggle('running', on);
    setLive(on && running?.transport === 'websocket' && !el.stdin.value);
    if (lost) el.run.focus();
}

function setLive(on) {
    el.liveInput.disabled = !on;
    el.send.disabled = !on;
    el.eof.disabled = !on;
}

// --- running -------------------------------------------------------------------

function runNow() {
    if (running || !current) return;
    clearResult();
    const parsed = parseArgs(el.args.value);
    if (parsed.error) {
        showError({ title: 'The arguments cannot be read', detail: parsed.error });
        return;
    }
    const lang = languages.find((l) => l.name === current);
    const req = {
        language: current,
        version: lang?.version,
        code: view.state.doc.toString(),
        stdin: el.stdin.value,
        args: parsed.args,
        key: el.key.value.trim(),
    };
    if (!req.code.trim()) {
        showError({ title: 'Nothing to run', detail: 'the editor is empty' });
        return;
    }
    el.status.textContent = 'Connecting…';
    const t0 = performance.now();
    const run = startRun(BASE, req, {
        onTransport(name) {
            el.transport.textContent = name === 'websocket' ? 'streaming over WebSocket' : 'over HTTP (no live stdin)';
            el.status.textContent = 'Queued…';
            setLive(name === 'websocket' && !req.stdin);
        },
        onRuntime(language, version) {
            el.status.textContent = `${language} ${version}: starting…`;
        },
        onStage(stage) {
            el.status.textContent = stage === 'compile' ? 'Compiling…' : 'Running…';
            // ready for a line of stdin (not on a touch screen: no keyboard popping up)
            if (stage === 'run' && !el.liveInput.disabled && window.matchMedia('(pointer: fine)').matches) {
                el.liveInput.focus({ preventScroll: true });
            }
        },
        onData(stage, stream, text) {
            if (stage === 'compile') appendCompile(stream, text);
            else append(stream, text);
        },
        onCompileEnd() {},
        onEnd(s) {
            running = null;
            setRunning(false);
            el.status.textContent = `Finished in ${Math.round(performance.now() - t0)} ms`;
            showSummary(s);
        },
        onError(e) {
            running = null;
            setRunning(false);
            el.status.textContent = 'Failed';
            showError(e);
        },
    }, { transport: TRANSPORT });
    running = run;
    setRunning(true);
    // one column (a phone): bring the output into view
    if (window.matchMedia('(max-width: 760px)').matches) {
        el.status.scrollIntoView({ block: 'start', behavior: window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
    }
}

function stop() {
    if (!running) return;
    el.status.textContent = 'Stopping…';
    running.stop();
}

el.run.addEventListener('click', runNow);
el.stop.addEventListener('click', stop);
el.live.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!running) return;
    const line = el.liveInput.value + '\n';
    if (running.send(line)) {
        append('stdin', line);
        el.liveInput.value = '';
    }
});
el.eof.addEventListener('click', () => { if (running?.eof()) { append('stdin', '⏎ EOF\n'); setLive(false); } });
el.liveInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'd' && ev.ctrlKey) { ev.preventDefault(); el.eof.click(); }
});
document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && !ev.defaultPrevented) { ev.preventDefault(); runNow(); }
    else if (ev.key === 'Escape' && running && !view.hasFocus) stop();
});
el.language.addEventListener('change', () => chooseLanguage(el.language.value));

// --- share links ---------------------------------------------------------------

function shareUrl() {
    const parsed = parseArgs(el.args.value);
    const frag = encodeShare({ lang: current, code: view.state.doc.toString(), stdin: el.stdin.value, args: parsed.args ?? [] });
    return location.href.replace(/#.*$/, '') + frag;
}

el.share.addEventListener('click', async () => {
    const url = shareUrl();
    history.replaceState(null, '', url);
    let copied = false;
    try { await navigator.clipboard.writeText(url); copied = true; } catch { /* not allowed: the address bar has it */ }
    el.status.textContent = copied ? 'Link copied: it holds the language and the code' : 'The address bar now holds the link';
    el.share.dataset.url = url;
});

window.addEventListener('hashchange', () => {
    const s = decodeShare(location.hash);
    if (s && languages.length) applyShare(s);
});

function applyShare(s) {
    if (!languages.some((l) => l.name === s.lang || l.aliases?.includes(s.lang))) {
        showError({ title: 'The shared language is not offered here', detail: `"${s.lang}": no live node runs it` });
        return;
    }
    const name = languages.find((l) => l.name === s.lang || l.aliases?.includes(s.lang)).name;
    el.stdin.value = s.stdin;
    el.args.value = formatArgs(s.args);
    if (s.stdin || s.args.length) el.inputs.open = true;
    drafts.set(name, s.code);
    chooseLanguage(name, s.code);
}

// --- start-up ------------------------------------------------------------------

async function load() {
    const [langRes, hellosRes] = await Promise.all([
        fetch(httpUrl(BASE, 'api/v1/languages'), { headers: keyHeaders(el.key.value.trim()) }).catch((e) => e),
        fetch(httpUrl(BASE, 'assets/hellos.json')).catch(() => null),
    ]);
    try { hellos = hellosRes && hellosRes.ok ? await hellosRes.json() : {}; } catch { hellos = {}; }
    if (langRes instanceof Error || !langRes.ok) {
        let body = '';
        if (!(langRes instanceof Error)) { try { body = await langRes.json(); } catch { /* not JSON */ } }
        const e = langRes instanceof Error
            ? { title: 'The gateway could not be reached', detail: String(langRes.message) }
            : describeHttpError(langRes.status, body, langRes.headers.get('Retry-After'));
        showError({ title: `No language list: ${e.title}`, detail: e.detail });
        el.language.replaceChildren(new Option('no languages', ''));
        if (!(langRes instanceof Error) && langRes.status === 401) {
            el.keybox.open = true;
            keyWanted = true;
        }
        if (e.retryAfter != null) setTimeout(load, Math.max(1, e.retryAfter) * 1000);
        return;
    }
    languages = await langRes.json();
    if (!languages.length) {
        showError({ title: 'No language is offered', detail: 'no worker node is live; this page retries every 5 s' });
        setTimeout(load, 5000);
        return;
    }
    el.error.hidden = true;
    el.language.replaceChildren(...languages.map((l) => {
        const o = new Option(`${l.name} ${l.version}`, l.name);
        return o;
    }));
    el.language.disabled = false;
    el.run.disabled = false;
    if (pending) {
        applyShare(pending);
        pending = null;
    }
    if (!current) {
        const first = languages.find((l) => l.name === 'python') ?? languages[0];
        await chooseLanguage(first.name);
    }
    document.body.dataset.ready = '1';
}

// the API key: this tab's (sessionStorage), read by every request; a list that
// was refused for the lack of one is asked again once one is entered
const KEY_ITEM = 'rce-playground-key';
try { el.key.value = sessionStorage.getItem(KEY_ITEM) ?? ''; } catch { /* storage off */ }
if (el.key.value) el.keybox.open = true;
el.key.addEventListener('change', () => {
    const key = el.key.value.trim();
    try { if (key) sessionStorage.setItem(KEY_ITEM, key); else sessionStorage.removeItem(KEY_ITEM); } catch { /* storage off */ }
    if (keyWanted && key) {
        keyWanted = false;
        load();
    }
});

load();
