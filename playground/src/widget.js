// rce widget: turns <pre data-rce-lang="python">…</pre> blocks of any page
// into runnable snippets.  docs/playground.md says how to embed it.
//
//   <script src="https://rce.example.com/widget.js" defer></script>
//
// The gateway is the script's own origin, or data-rce-url on the <script>
// tag, or window.RCE_WIDGET = {url} set before it loads, or data-rce-url on
// one block.  Per block: data-rce-lang (a name or alias, required),
// data-rce-stdin, data-rce-args (a JSON array of strings), data-rce-version.
// The snippet's code is editable; Run streams the output below it (over the
// gateway's WebSocket, with live stdin; over HTTP if the socket is refused).
// Ctrl/Cmd+Enter in a snippet runs it.  window.RCEWidget.scan() picks up
// blocks added later.

import { startRun } from './lib/runner.js';
import { figures, verdictText } from './lib/describe.js';

const script = document.currentScript;

function defaultBase() {
    const cfg = window.RCE_WIDGET ?? {};
    if (cfg.url) return cfg.url;
    if (script?.dataset.rceUrl) return script.dataset.rceUrl;
    if (script?.src) return new URL('.', script.src).href;
    return new URL('/', location.href).href;
}

const CSS = `
.rce-w{margin:1em 0;border:1px solid var(--rce-border,#d0d4da);border-radius:8px;overflow:hidden;background:var(--rce-bg,#fff);color:var(--rce-fg,#1d1f23)}
.rce-w pre.rce-w-code{margin:0;padding:.75em;border:0;border-radius:0;outline:none;white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;background:transparent;color:inherit}
.rce-w pre.rce-w-code:focus-visible{box-shadow:inset 0 0 0 2px var(--rce-accent,#0b63ce)}
.rce-w-bar{display:flex;gap:.5em;align-items:center;padding:.35em .6em;border-top:1px solid var(--rce-border,#d0d4da);font:13px system-ui,sans-serif;flex-wrap:wrap}
.rce-w-bar button{font:inherit;padding:.25em .8em;border-radius:5px;border:1px solid var(--rce-accent,#0b63ce);background:var(--rce-accent,#0b63ce);color:#fff;cursor:pointer}
.rce-w-bar button.rce-w-stop{background:transparent;color:inherit;border-color:var(--rce-border,#d0d4da)}
.rce-w-bar button:disabled{opacity:.5;cursor:default}
.rce-w-lang{opacity:.7}
.rce-w-status{margin-left:auto;opacity:.8}
.rce-w-out{margin:0;padding:.6em .75em;border-top:1px dashed var(--rce-border,#d0d4da);white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;max-height:20em;overflow:auto}
.rce-w-out .rce-w-err{color:var(--rce-err,#b3261e)}
.rce-w-out .rce-w-in{color:var(--rce-in,#2e7d32);font-style:italic}
.rce-w-stdin{display:flex;gap:.4em;padding:0 .6em .5em}
.rce-w-stdin input{flex:1;min-width:0;font:13px ui-monospace,Menlo,monospace;padding:.2em .4em}
@media (prefers-color-scheme: dark){.rce-w{--rce-bg:#1e2127;--rce-fg:#e3e6eb;--rce-border:#3a3f4a;--rce-accent:#3f88e8;--rce-err:#ff8a80;--rce-in:#8bd68f}}
`;

let styled = false;
function addStyle() {
    if (styled) return;
    styled = true;
    const style = document.createElement('style');
    style.textContent = CSS;
    document.head.append(style);
}

function h(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    Object.assign(e, props);
    e.append(...children);
    return e;
}

function enhance(pre) {
    if (pre.dataset.rceReady) return;
    pre.dataset.rceReady = '1';
    addStyle();
    const lang = pre.dataset.rceLang;
    const base = pre.dataset.rceUrl || defaultBase();
    // the code: the block's text, dedented
    const code = pre.textContent.replace(/^\n/, '').replace(/\s+$/, '\n');
    const box = h('div', { className: 'rce-w' });
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', `runnable ${lang} snippet`);
    pre.replaceWith(box);
    pre.classList.add('rce-w-code');
    pre.textContent = code;
    pre.contentEditable = 'plaintext-only';
    if (pre.contentEditable !== 'plaintext-only') pre.contentEditable = 'true';
    pre.spellcheck = false;
    pre.setAttribute('role', 'textbox');
    pre.setAttribute('aria-multiline', 'true');
    pre.setAttribute('aria-label', `${lang} code`);
    const runBtn = h('button', { type: 'button', className: 'rce-w-run', textContent: '▶ Run' });
    const stopBtn = h('button', { type: 'button', className: 'rce-w-stop', textContent: 'Stop', disabled: true });
    const status = h('span', { className: 'rce-w-status' });
    status.setAttribute('role', 'status');
    const bar = h('div', { className: 'rce-w-bar' }, runBtn, stopBtn, h('span', { className: 'rce-w-lang', textContent: lang }), status);
    const out = h('pre', { className: 'rce-w-out', hidden: true });
    out.setAttribute('aria-live', 'polite');
    const input = h('input', { type: 'text', placeholder: 'stdin: type a line, Enter', disabled: true });
    input.setAttribute('aria-label', 'a line for the program\'s stdin');
    const form = h('form', { className: 'rce-w-stdin', hidden: true }, input);
    box.append(pre, bar, out, form);

    let run = null;
    const write = (cls, text) => {
        if (!text) return;
        out.hidden = false;
        out.append(cls ? h('span', { className: cls, textContent: text }) : document.createTextNode(text));
        out.scrollTop = out.scrollHeight;
    };
    const ended = () => {
        run = null;
        runBtn.disabled = false;
        stopBtn.disabled = true;
        input.disabled = true;
        form.hidden = true;
    };
    const go = () => {
        if (run) return;
        out.replaceChildren();
        out.hidden = false;
        status.textContent = 'running…';
        runBtn.disabled = true;
        stopBtn.disabled = false;
        let args = [];
        try { args = pre.dataset.rceArgs ? JSON.parse(pre.dataset.rceArgs) : []; } catch { args = []; }
        run = startRun(base, {
            language: lang, version: pre.dataset.rceVersion, code: pre.innerText ?? pre.textContent,
            stdin: pre.dataset.rceStdin ?? '', args,  // given stdin is all of it: then end-of-file
        }, {
            // a snippet without data-rce-stdin gets a line to type into while it runs
            onTransport(t) { if (t === 'websocket' && !pre.dataset.rceStdin) { form.hidden = false; input.disabled = false; } },
            onStage(stage) { status.textContent = stage === 'compile' ? 'compiling…' : 'running…'; },
            onData(stage, stream, text) { if (stage !== 'compile' || stream === 'stderr') write(stream === 'stderr' ? 'rce-w-err' : '', text); },
            onEnd(s) {
                ended();
                const figs = figures(s).map(([k, v]) => `${k} ${v}`).join(' · ');
                status.textContent = `${s.verdict === 'OK' ? 'OK' : `${s.verdict} (${verdictText(s.verdict)})`}${figs ? ' · ' + figs : ''}`;
                box.dataset.verdict = s.verdict;
                if (s.reason && s.verdict !== 'OK') write('rce-w-err', `\n${s.reason}\n`);
            },
            onError(e) {
                ended();
                status.textContent = 'error';
                box.dataset.verdict = 'error';
                write('rce-w-err', `${e.title}${e.detail ? ': ' + e.detail : ''}\n`);
            },
        });
    };
    runBtn.addEventListener('click', go);
    stopBtn.addEventListener('click', () => run?.stop());
    pre.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); go(); }
    });
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (run && run.send(input.value + '\n')) { write('rce-w-in', input.value + '\n'); input.value = ''; }
    });
}

function scan(root = document) {
    root.querySelectorAll('pre[data-rce-lang]').forEach(enhance);
}

window.RCEWidget = { scan };
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => scan());
else scan();
