// A scripted WebSocket client (npm ws) for t/34-stream.t:
//     node ws-client.mjs ws://127.0.0.1:PORT/api/v2/connect 'STEPS'
// RCE_WS_PROTOCOLS (comma-separated) are offered as subprotocols; "open" names the
// one the server chose.
// STEPS is a JSON array (or @file holding one) run in order once the socket is open:
//     {"send": {...}}                 a text message, the object as JSON
//     {"raw": "text"}                 a text message as it is
//     {"binary": "base64"}            a binary message
//     {"frame": "base64"}             raw bytes onto the TCP socket (malformed frames)
//     {"wait": {"type": T, "data": S?}}  until a message of type T (whose data holds S)
//     {"sleep": ms}
//     {"close": code?}                our close frame
//     {"drop": true}                  the TCP connection dropped, no close frame
// Prints one JSON line per thing seen, with ms since the start:
//     {"t", "open"} {"t", "msg": {...}} {"t", "close": code, "reason"}
//     {"t", "http": status, "body"} (the upgrade refused) {"t", "error"}
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const [url, stepsText, limitText] = process.argv.slice(2);
const steps = JSON.parse((stepsText || '').startsWith('@')
    ? readFileSync(stepsText.slice(1), 'utf8') : (stepsText || '[]'));
const limit = Number(limitText || 30000);
const start = Date.now();
const out = (o) => console.log(JSON.stringify({ t: Date.now() - start, ...o }));

const protocols = (process.env.RCE_WS_PROTOCOLS || '').split(',').filter(Boolean);
const ws = protocols.length ? new WebSocket(url, protocols) : new WebSocket(url);
const seen = [];
let waiter = null;

const matches = (w, m) => m.type === w.type
    && (w.data === undefined || (typeof m.data === 'string' && m.data.includes(w.data)));

ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (c) => { body += c; });
    res.on('end', () => { out({ http: res.statusCode, body, headers: res.headers }); process.exit(0); });
});
ws.on('error', (e) => { out({ error: String(e) }); });
ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data.toString()); } catch (e) { msg = { unparsed: data.toString() }; }
    seen.push(msg);
    out({ msg });
    if (waiter && matches(waiter.w, msg)) { const r = waiter.resolve; waiter = null; r(); }
});
ws.on('close', (code, reason) => { out({ close: code, reason: reason.toString() }); process.exit(0); });

setTimeout(() => { out({ timeout: true }); process.exit(0); }, limit);

ws.on('open', async () => {
    out({ open: true, protocol: ws.protocol });
    for (const s of steps) {
        if (s.send !== undefined) ws.send(JSON.stringify(s.send));
        else if (s.raw !== undefined) ws.send(s.raw);
        else if (s.binary !== undefined) ws.send(Buffer.from(s.binary, 'base64'));
        else if (s.frame !== undefined) ws._socket.write(Buffer.from(s.frame, 'base64'));
        else if (s.sleep !== undefined) await new Promise((r) => setTimeout(r, s.sleep));
        else if (s.close !== undefined) ws.close(s.close === true ? 1000 : s.close);
        else if (s.drop) { ws._socket.destroy(); out({ dropped: true }); setTimeout(() => process.exit(0), 100); return; }
        else if (s.wait !== undefined) {
            if (!seen.some((m) => matches(s.wait, m))) {
                await new Promise((resolve) => { waiter = { w: s.wait, resolve }; });
            }
        }
    }
});
