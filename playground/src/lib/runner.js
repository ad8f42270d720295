// One run against an rce gateway, streamed.  Shared by the playground and the
// widget.
//
// The run goes over the WebSocket /api/v2/connect (Piston's protocol, with
// rce's extensions: the exit message's verdict, reason and figures, and a
// stdin end-of-file).  If the socket cannot be opened at all (a gateway
// without it, a proxy that refuses the upgrade), the run goes over HTTP
// instead: POST /api/v1/run asking for Server-Sent Events, read as they come
// (or the JSON answer at once, from a gateway that does not stream); there,
// stdin is only what was given at the start.
//
//   const run = startRun(base, {language, version, code, stdin, args, key}, handlers)
//
// key: an API key, where the gateway asks for one: over HTTP as
// "Authorization: Bearer <key>", over the WebSocket (which a browser opens
// without headers of its own) as the subprotocol "rce.key.<base64url>"
// beside "rce" (keyProtocols).
//   run.send(text)   stdin while it runs (false when the transport cannot)
//   run.eof()        close its stdin (a run given stdin at the start has it
//                    closed after that, unless req.closeStdin is false)
//   run.stop()       kill it (the gateway kills the job's container)
//
// handlers: onTransport(name), onRuntime(language, version), onStage(stage),
// onData(stage, stream, text), onCompileEnd(summary), onEnd(summary),
// onError({title, detail, retryAfter}); each called at most as described, and
// after onEnd or onError nothing more is called.

import { describeHttpError, describeStreamError, summaryFromExit, summaryFromV1 } from './describe.js';

export function wsUrl(base) {
    const u = new URL('api/v2/connect', base.endsWith('/') ? base : base + '/');
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
}

// the WebSocket's subprotocols for an API key (none without one)
export function keyProtocols(key) {
    if (!key) return [];
    const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(key)));
    return ['rce', 'rce.key.' + b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')];
}

// the HTTP headers for an API key
export function keyHeaders(key) {
    return key ? { Authorization: `Bearer ${key}` } : {};
}

export function httpUrl(base, path) {
    return new URL(path, base.endsWith('/') ? base : base + '/').href;
}

const CLOSE_TEXT = {
    4000: 'the connection was already initialised',
    4001: 'the run request did not arrive in time',
    4002: 'the gateway reported an error',
    4003: 'the connection was not initialised',
    4004: 'only stdin can be written',
    4005: 'an invalid signal',
};

export function startRun(base, req, h, opt = {}) {
    let done = false;
    let impl = null;
    const noop = () => {};
    const handlers = {
        onTransport: noop, onRuntime: noop, onStage: noop, onData: noop,
        onCompileEnd: noop, onEnd: noop, onError: noop, ...h,
    };
    const finish = (fn, arg) => {
        if (done) return;
        done = true;
        fn(arg);
    };
    const api = {
        transport: null,
        send: (text) => (impl && !done ? impl.send(text) : false),
        eof: () => (impl && !done ? impl.eof() : false),
        stop: () => { if (impl && !done) impl.stop(); },
        get done() { return done; },
    };
    const ctx = {
        handlers,
        end: (s) => finish(handlers.onEnd, s),
        fail: (e) => finish(handlers.onError, e),
        isDone: () => done,
        setTransport(name) { api.transport = name; handlers.onTransport(name); },
    };
    if (opt.transport === 'http' || typeof WebSocket === 'undefined') {
        impl = runHttp(base, req, ctx);
    } else {
        impl = runWs(base, req, ctx, () => (impl = runHttp(base, req, ctx)));
    }
    return api;
}

function runWs(base, req, ctx, fallback) {
    const h = ctx.handlers;
    let ws;
    try {
        const protocols = keyProtocols(req.key);
        ws = protocols.length ? new WebSocket(wsUrl(base), protocols) : new WebSocket(wsUrl(base));
    } catch {
        return fallback();
    }
    let opened = false, stage = null, stopping = false, stopTimer = null;
    const sendJson = (o) => {
        if (ws.readyState !== WebSocket.OPEN) return false;
        ws.send(JSON.stringify(o));
        return true;
    };
    ws.onopen = () => {
        opened = true;
        ctx.setTransport('websocket');
        const init = { type: 'init', language: req.language, version: req.version || '*', files: [{ content: req.code }] };
        if (req.stdin) init.stdin = req.stdin;
        if (req.args && req.args.length) init.args = req.args;
        sendJson(init);
        // stdin given up front is all of it: the program reads end-of-file
        // after it (else stdin stays open for send() and eof())
        if (req.stdin && req.closeStdin !== false) sendJson({ type: 'data', stream: 'stdin', data: '', eof: true });
    };
    ws.onmessage = (ev) => {
        if (ctx.isDone()) return;
        let m;
        try { m = JSON.parse(ev.data); } catch { return; }
        switch (m.type) {
        case 'runtime':
            h.onRuntime(m.language, m.version);
            break;
        case 'stage':
            stage = m.stage;
            h.onStage(stage);
            break;
        case 'data':
            if (m.stream === 'stdout' || m.stream === 'stderr') h.onData(m.stage ?? stage, m.stream, decodeData(m));
            break;
        case 'exit': {
            const s = summaryFromExit(m);
            if ((m.stage ?? stage) === 'compile') {
                // the compile stage's end: the run follows, unless it failed
                h.onCompileEnd(s);
                if (s.verdict !== 'OK') ctx.end(s);
            } else {
                if (stopping && (s.verdict === 'RE' || s.verdict === 'TLE') && s.signal === 'SIGKILL') s.verdict = 'CANCELLED';
                ctx.end(s);
            }
            break;
        }
        case 'error':
            ctx.fail(describeStreamError(m.message ?? 'unknown error'));
            break;
        default:
            break;
        }
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
        clearTimeout(stopTimer);
        if (!opened) {
            if (stopping) {
                ctx.end({ verdict: 'CANCELLED', exitCode: null, signal: null, wallMs: null, cpuMs: null, memoryKb: null, reason: 'stopped before it started' });
            } else {
                // never opened: no WebSocket here; run over HTTP
                fallback();
            }
            return;
        }
        if (ctx.isDone()) return;
        if (stopping) {
            ctx.end({ verdict: 'CANCELLED', exitCode: null, signal: 'SIGKILL', wallMs: null, cpuMs: null, memoryKb: null, reason: 'stopped' });
            return;
        }
        const why = ev.reason || CLOSE_TEXT[ev.code] || '';
        ctx.fail({
            title: 'The connection closed before the run ended',
            detail: `WebSocket closed with code ${ev.code}${why ? `: ${why}` : ''}`,
        });
    };
    return {
        send: (text) => sendJson({ type: 'data', stream: 'stdin', data: text }),
        eof: () => sendJson({ type: 'data', stream: 'stdin', data: '', eof: true }),
        stop() {
            if (stopping) return;
            stopping = true;
            // ask the gateway to kill the job; if it has not answered soon,
            // close the socket (the gateway kills the job of a closed socket)
            if (!sendJson({ type: 'signal', signal: 'SIGKILL' })) { ws.close(); return; }
            stopTimer = setTimeout(() => { try { ws.close(1000, 'stopped'); } catch { /* closed */ } }, 1500);
        },
    };
}

// Server-Sent Events: the parser (fed text as it comes), pure
export function sseParser(onEvent) {
    let buf = '', event = '', data = [];
    return (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
            if (buf[nl] === '\r' && nl === buf.length - 1) break; // a CR: its LF may come next
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
            if (line === '') {
                if (data.length) onEvent(event || 'message', data.join('\n'));
                event = ''; data = [];
            } else if (line[0] === ':') {
                // a comment (keep-alive)
            } else {
                const c = line.indexOf(':');
                const field = c < 0 ? line : line.slice(0, c);
                let value = c < 0 ? '' : line.slice(c + 1);
                if (value[0] === ' ') value = value.slice(1);
                if (field === 'event') event = value;
                else if (field === 'data') data.push(value);
            }
        }
    };
}

// a data message's text: "encoding": "base64" marks bytes that are not UTF-8
export function decodeData(m) {
    if (m.encoding === 'base64' && typeof m.data === 'string') {
        try {
            const bin = atob(m.data);
            const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
            return new TextDecoder().decode(bytes);
        } catch { return ''; }
    }
    return m.data ?? '';
}

function runHttp(base, req, ctx) {
    const h = ctx.handlers;
    const ctrl = new AbortController();
    let stopped = false;
    ctx.setTransport('http');
    const body = { language: req.language, code: req.code, priority: 'interactive' };
    if (req.version && req.version !== '*') body.version = req.version;
    if (req.stdin) body.stdin = req.stdin;
    if (req.args && req.args.length) body.args = req.args;
    (async () => {
        let res;
        try {
            res = await fetch(httpUrl(base, 'api/v1/run'), {
                method: 'POST',
                headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream, application/json', ...keyHeaders(req.key) },
                body: JSON.stringify(body),
                signal: ctrl.signal,
            });
        } catch (e) {
            if (stopped) return;
            ctx.fail({ title: 'The gateway could not be reached', detail: String(e.message ?? e) });
            return;
        }
        const type = res.headers.get('Content-Type') ?? '';
        if (!res.ok) {
            const text = await res.text().catch(() => '');
            let parsed = text;
            try { parsed = JSON.parse(text); } catch { /* not JSON */ }
            ctx.fail(describeHttpError(res.status, parsed, res.headers.get('Retry-After')));
            return;
        }
        if (type.startsWith('text/event-stream') && res.body) {
            let stage = null;
            const feed = sseParser((event, data) => {
                if (ctx.isDone()) return;
                let m;
                try { m = JSON.parse(data); } catch { return; }
                const kind = m.type ?? event;
                if (kind === 'stage') { stage = m.stage; h.onStage(stage); }
                else if (kind === 'runtime') h.onRuntime(m.language, m.version);
                else if (kind === 'output' || kind === 'data') h.onData(m.stage ?? stage, m.stream, decodeData(m));
                else if (kind === 'exit') {
                    const s = summaryFromExit(m);
                    if ((m.stage ?? stage) === 'compile') { h.onCompileEnd(s); if (s.verdict !== 'OK') ctx.end({ ...s, verdict: 'CE' }); }
                    else ctx.end(s);
                } else if (kind === 'result' || kind === 'end' || (m.status && m.id)) {
                    if (m.compile) h.onCompileEnd(summaryFromV1({ ...m, run: null, status: m.status === 'CE' ? 'CE' : 'OK' }));
                    ctx.end(summaryFromV1(m));
                } else if (kind === 'error') {
                    ctx.fail(describeStreamError(m.error ?? m.message ?? data));
                }
            });
            const reader = res.body.getReader();
            const dec = new TextDecoder();
            try {
                for (;;) {
                    const { value, done } = await reader.read();
                    if (done) break;
                    feed(dec.decode(value, { stream: true }));
                }
            } catch (e) {
                if (!stopped) ctx.fail({ title: 'The stream broke off', detail: String(e.message ?? e) });
                return;
            }
            if (!ctx.isDone() && !stopped) ctx.fail({ title: 'The stream ended without a result', detail: '' });
            return;
        }
        let doc;
        try { doc = await res.json(); } catch (e) {
            ctx.fail({ title: 'The answer could not be read', detail: String(e.message ?? e) });
            return;
        }
        // the whole answer at once: replay it as a stream would have come
        if (doc.compile) {
            h.onStage('compile');
            if (doc.compile.stdout) h.onData('compile', 'stdout', doc.compile.stdout);
            if (doc.compile.stderr) h.onData('compile', 'stderr', doc.compile.stderr);
            h.onCompileEnd(summaryFromV1({ ...doc, run: null, status: doc.status === 'CE' ? 'CE' : 'OK' }));
        }
        if (doc.run) {
            h.onStage('run');
            if (doc.run.stdout) h.onData('run', 'stdout', doc.run.stdout);
            if (doc.run.stderr) h.onData('run', 'stderr', doc.run.stderr);
        }
        ctx.end(summaryFromV1(doc));
    })();
    return {
        send: () => false,
        eof: () => false,
        stop() {
            stopped = true;
            ctrl.abort();
            // a streamed run's job is killed when its client goes; a gateway
            // that answers JSON only lets it run to its limit
            ctx.end({ verdict: 'CANCELLED', exitCode: null, signal: null, wallMs: null, cpuMs: null, memoryKb: null, reason: 'stopped: the request was closed' });
        },
    };
}
