// What the page says about an answer: the API's refusals in words, the
// verdicts, the figures.  Pure functions (unit-tested in test/describe.test.mjs).

export const VERDICTS = {
    OK: 'OK',
    CE: 'compile error',
    RE: 'runtime error',
    TLE: 'time limit exceeded',
    MLE: 'memory limit exceeded',
    OLE: 'output limit exceeded',
    IE: 'internal error',
    CANCELLED: 'stopped',
};

// Piston's per-stage status (the WebSocket's exit message) as our verdict
const PISTON_STATUS = { RE: 'RE', SG: 'RE', TO: 'TLE', OL: 'OLE', EL: 'OLE', XX: 'IE' };

export function verdictText(v) {
    return VERDICTS[v] ?? v ?? '';
}

function seconds(retryAfter) {
    if (retryAfter == null || retryAfter === '') return null;
    const n = Number(retryAfter);
    if (Number.isFinite(n)) return Math.max(0, Math.round(n));
    const t = Date.parse(retryAfter);
    return Number.isFinite(t) ? Math.max(0, Math.round((t - Date.now()) / 1000)) : null;
}

// An HTTP refusal of the API: status, the body (parsed JSON, or text) and the
// Retry-After header -> {title, detail, retryAfter}
export function describeHttpError(status, body, retryAfter) {
    const b = body && typeof body === 'object' ? body : {};
    const said = b.error ?? b.message ?? (typeof body === 'string' ? body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) : '');
    const wait = seconds(retryAfter);
    const again = wait != null ? ` Try again in ${wait} s.` : ' Try again shortly.';
    let title, detail = said;
    switch (status) {
    case 400:
        title = 'The request was refused (400)';
        if (b.field) detail = `${said} (${b.field})`;
        break;
    case 401:
        title = 'An API key is needed (401)';
        detail = 'this gateway runs code for holders of a key: enter yours in "API key"'
            + (said ? ` (the gateway: ${said})` : '');
        break;
    case 404:
        if (b.field === 'version') {
            title = 'That version is not available (404)';
            if (Array.isArray(b.versions)) detail = `${said}; the nodes run ${b.versions.join(', ')}`;
        } else if (Array.isArray(b.known) || b.language) {
            title = 'Unknown language (404)';
            detail = `${said}${b.language ? `: ${b.language}` : ''}`;
        } else {
            title = 'Not found (404)';
        }
        break;
    case 413: {
        title = 'The program is too large (413)';
        const max = b.max_code_size ?? b.max_bytes;
        if (max) detail = `${said}: at most ${formatBytes(max)}${b.field ? ` of ${b.field}` : ''}`;
        break;
    }
    case 429:
        title = 'Too many requests (429)';
        detail = (said ? said + '.' : 'This client sent too many requests.') + again;
        break;
    case 503:
        title = 'No capacity right now (503)';
        detail = (said ? said + '.' : 'The cluster cannot take the job now.') + again;
        break;
    case 504:
        title = 'No result in time (504)';
        detail = said || 'The gateway waited for the result and gave up.';
        break;
    default:
        title = status ? `The gateway answered ${status}` : 'The gateway could not be reached';
    }
    return { title, detail: detail || '', retryAfter: wait };
}

// An error the stream told ({"type":"error","message"} on the WebSocket, an
// SSE error event): the gateway's words, with a title from what they say
export function describeStreamError(message) {
    const m = String(message ?? '');
    let title = 'The run was refused';
    if (/larger than|too large|limited to|too long/i.test(m)) title = 'The program or its input is too large';
    else if (/runtime is unknown|unknown language|not available/i.test(m)) title = 'Unknown language or version';
    else if (/no live|queue.*full|full|busy|capacity|unavailable/i.test(m)) title = 'No capacity right now';
    else if (/in time|timed? ?out|deadline/i.test(m)) title = 'No result in time';
    else if (/internal|redis|could not be read/i.test(m)) title = 'Internal error (IE)';
    return { title, detail: m, retryAfter: null };
}

export function formatBytes(n) {
    if (n == null || !Number.isFinite(Number(n))) return '';
    n = Number(n);
    if (n >= 1048576) return `${+(n / 1048576).toFixed(1)} MiB`;
    if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
    return `${n} B`;
}

export function formatMs(ms) {
    if (ms == null || !Number.isFinite(Number(ms))) return null;
    ms = Number(ms);
    return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

// The end of a run, from the v1 result document (POST /api/v1/run) or a
// WebSocket exit message, as one shape:
// {verdict, exitCode, signal, wallMs, cpuMs, memoryKb, reason}
export function summaryFromV1(doc) {
    const run = doc.run ?? {};
    const compile = doc.compile ?? {};
    return {
        verdict: doc.status ?? null,
        exitCode: doc.run ? run.exit_code ?? null : null,
        signal: run.signal ?? null,
        wallMs: doc.run ? run.wall_ms ?? null : compile.wall_ms ?? null,
        cpuMs: doc.run ? run.cpu_ms ?? null : compile.cpu_ms ?? null,
        memoryKb: doc.run ? run.memory_kb ?? null : compile.memory_kb ?? null,
        reason: doc.reason ?? null,
    };
}

export function summaryFromExit(msg) {
    let verdict = msg.verdict ?? null;
    if (!verdict && typeof msg.status === 'string') verdict = PISTON_STATUS[msg.status] ?? msg.status;
    if (!verdict) verdict = msg.code === 0 && !msg.signal ? 'OK' : 'RE';
    if (msg.stage === 'compile' && verdict !== 'OK') verdict = 'CE';
    const num = (...v) => v.find((x) => x != null && Number.isFinite(Number(x))) ?? null;
    const memBytes = num(msg.memory);
    return {
        verdict,
        exitCode: msg.code ?? msg.exit_code ?? null,
        signal: msg.signal ?? null,
        wallMs: num(msg.wall_ms, msg.wall_time),
        cpuMs: num(msg.cpu_ms, msg.cpu_time),
        memoryKb: num(msg.memory_kb, memBytes != null ? Math.round(memBytes / 1024) : null),
        // rce's own reason when it says (null for a plain exit), else Piston's message
        reason: ('reason' in msg ? msg.reason : msg.message) ?? null,
    };
}

// [label, value] pairs for the figures line
export function figures(s) {
    const out = [];
    if (s.signal) out.push(['signal', s.signal]);
    else if (s.exitCode != null) out.push(['exit code', String(s.exitCode)]);
    const wall = formatMs(s.wallMs), cpu = formatMs(s.cpuMs);
    if (wall) out.push(['wall', wall]);
    if (cpu) out.push(['cpu', cpu]);
    if (s.memoryKb != null) out.push(['memory', formatBytes(s.memoryKb * 1024)]);
    return out;
}
