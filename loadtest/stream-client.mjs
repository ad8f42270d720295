// loadtest/stream-client.mjs: the WebSocket side of loadtest/stream.pl (which starts the stack
// and prints the report). Speaks Piston's /api/v2/connect protocol with npm's `ws` (pinned in
// t/js). Every loop is bounded in count and time; it only connects to the URL it is given,
// which stream.pl points at 127.0.0.1.
//
//   node stream-client.mjs latency <ws url> <sessions> <lines>
//       sessions one after another; in each, a Python program prints its clock (CLOCK_REALTIME,
//       ms) <lines> times, 20 ms apart; each line's latency is when its data message arrived
//       here less the time it carries (same machine, same clock). Prints one JSON object.
//   node stream-client.mjs idle <ws url> <sessions> <hold s>
//       opens <sessions> sessions at once, each initialised with a program that waits for a
//       line of stdin (the node runs as many as it has slots, the rest wait in its queue);
//       holds them <hold s>, pings every one (a held session answers: wslay in the gateway's
//       event loop), then closes them all. Prints one JSON object.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(new URL('../t/js/', import.meta.url));
const WebSocket = require('ws');

const [mode, url, nArg, mArg] = process.argv.slice(2);
const n = Number(nArg), m = Number(mArg);
if (!['latency', 'idle'].includes(mode) || !url || !(n > 0) || !(m > 0)) {
    console.error('usage: stream-client.mjs latency|idle <ws url> <sessions> <lines|hold s>');
    process.exit(2);
}
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function session(program, onMessage, limitMs) {
    return new Promise((resolve) => {
        const ws = new WebSocket(url);
        const s = { ws, closeCode: null, error: null, runtime: false, exit: null };
        const timer = setTimeout(() => { s.error = s.error || 'timed out'; ws.terminate(); }, limitMs);
        ws.on('open', () => ws.send(JSON.stringify({
            type: 'init', language: 'python', version: '*', files: [{ content: program }],
        })));
        ws.on('message', (raw) => {
            const msg = JSON.parse(raw.toString());
            if (msg.type === 'runtime') s.runtime = true;
            if (msg.type === 'exit' && msg.stage === 'run') s.exit = msg;
            if (msg.type === 'error') s.error = msg.message;
            onMessage(s, msg);
        });
        ws.on('error', (e) => { s.error = s.error || String(e.message || e); });
        ws.on('close', (code) => { clearTimeout(timer); s.closeCode = code; resolve(s); });
    });
}

function pct(p, v) {
    if (!v.length) return null;
    const s = [...v].sort((a, b) => a - b);
    const i = Math.max(0, Math.ceil(p / 100 * s.length) - 1);
    return Math.round(s[i] * 100) / 100;
}

async function latency() {
    const program = `import sys, time
for i in range(${m}):
    sys.stdout.write("%.3f\\n" % (time.time() * 1000))
    sys.stdout.flush()
    time.sleep(0.02)
`;
    const lat = [];
    let failed = 0;
    for (let i = 0; i < n; i++) {
        let partial = '';
        const s = await session(program, (s, msg) => {
            if (msg.type !== 'data' || msg.stream !== 'stdout') return;
            const t = now();
            const lines = (partial + msg.data).split('\n');
            partial = lines.pop();
            for (const l of lines) if (l) lat.push(t - Number(l));
        }, 60000);
        if (s.closeCode !== 4999 || !s.exit || s.exit.code !== 0) failed++;
    }
    console.log(JSON.stringify({ mode, sessions: n, samples: lat.length, failed,
        p50: pct(50, lat), p90: pct(90, lat), p99: pct(99, lat), max: pct(100, lat) }));
}

if (mode === 'latency') {
    await latency();
} else {
    // idle: the sockets are kept, to be pinged and closed after the hold
    const program = 'import sys\nline = sys.stdin.readline()\nprint("got " + line.strip())\n';
    const socks = [];
    let answered = 0, runtimes = 0;
    const closed = {};
    const t0 = now();
    for (let i = 0; i < n; i++) {
        const ws = new WebSocket(url);
        socks.push(ws);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'init', language: 'python', version: '*',
            files: [{ content: program }] })));
        ws.on('message', (raw) => {
            const msg = JSON.parse(raw.toString());
            if (msg.type === 'runtime') runtimes++;
            if (msg.type === 'data' && msg.stream === 'stdout' && msg.data.startsWith('got ')) answered++;
        });
        ws.on('error', () => {});
        ws.on('close', (code) => { closed[code] = (closed[code] || 0) + 1; });
        if (i % 50 === 49) await sleep(50);
    }
    const tOpen = now() - t0;
    await sleep(m * 1000);
    const openAfterHold = socks.filter((ws) => ws.readyState === WebSocket.OPEN).length;
    // every session pings; a held session answers with a pong (wslay, in the gateway's loop)
    let pongs = 0;
    const t1 = now();
    await Promise.all(socks.filter((ws) => ws.readyState === WebSocket.OPEN).map((ws) => new Promise((r) => {
        const t = setTimeout(r, 5000);
        ws.once('pong', () => { pongs++; clearTimeout(t); r(); });
        ws.ping();
    })));
    const pingAll = now() - t1;
    for (const ws of socks) ws.close(1000);
    await sleep(2000);
    for (const ws of socks) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    console.log(JSON.stringify({ mode, sessions: n, hold_s: m, open_ms: Math.round(tOpen), runtimes,
        open_after_hold: openAfterHold, pongs, ping_all_ms: Math.round(pingAll), answered_before_close: answered,
        closed }));
}
