// The page's pure parts: what it says about answers (src/lib/describe.js) and
// the Server-Sent Events parser (src/lib/runner.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeHttpError, describeStreamError, figures, formatBytes, summaryFromExit, summaryFromV1 } from '../src/lib/describe.js';
import { decodeData, sseParser, wsUrl } from '../src/lib/runner.js';

test('the API\'s refusals in words', () => {
    let e = describeHttpError(413, { error: 'code too large', status: 413, max_code_size: 65536 });
    assert.match(e.title, /too large.*413/);
    assert.match(e.detail, /at most 64 KiB/);
    e = describeHttpError(503, { error: 'no live node offers the language', status: 503 }, '1');
    assert.match(e.title, /503/);
    assert.match(e.detail, /no live node.*Try again in 1 s/);
    assert.equal(e.retryAfter, 1);
    e = describeHttpError(429, '<html><body><h1>429 Too Many Requests</h1></body></html>', '7');
    assert.match(e.detail, /429 Too Many Requests.*Try again in 7 s/);
    e = describeHttpError(404, { error: 'unknown language', status: 404, language: 'cobol', known: ['c'] });
    assert.match(e.title, /Unknown language/);
    assert.match(e.detail, /cobol/);
    e = describeHttpError(404, { error: 'version "0" of python is not available', status: 404, field: 'version', versions: ['3.11.2'] });
    assert.match(e.detail, /3\.11\.2/);
    e = describeHttpError(504, { error: 'no result in time', status: 504 });
    assert.match(e.title, /504/);
    e = describeHttpError(400, { error: 'unknown field', status: 400, field: 'stdn' });
    assert.equal(e.detail, 'unknown field (stdn)');
    e = describeHttpError(0, null);
    assert.match(e.title, /could not be reached/);
});

test('figures of a v1 result', () => {
    const s = summaryFromV1({ status: 'RE', reason: null, compile: { wall_ms: 200 },
        run: { exit_code: 3, signal: null, wall_ms: 12, cpu_ms: 2, memory_kb: 2592 } });
    assert.deepEqual(figures(s), [['exit code', '3'], ['wall', '12 ms'], ['cpu', '2 ms'], ['memory', '2.5 MiB']]);
    const ce = summaryFromV1({ status: 'CE', compile: { wall_ms: 40, cpu_ms: 20, memory_kb: 19324 }, run: null });
    assert.equal(ce.verdict, 'CE');
    assert.equal(ce.exitCode, null);
    assert.deepEqual(figures(ce).map(([k]) => k), ['wall', 'cpu', 'memory']);
});

test('a WebSocket exit message, Piston\'s fields or rce\'s', () => {
    let s = summaryFromExit({ type: 'exit', stage: 'run', code: 0, signal: null, status: null, cpu_time: 14, wall_time: 269, memory: 7712768 });
    assert.equal(s.verdict, 'OK');
    assert.deepEqual(figures(s), [['exit code', '0'], ['wall', '269 ms'], ['cpu', '14 ms'], ['memory', '7.4 MiB']]);
    s = summaryFromExit({ type: 'exit', stage: 'run', code: null, signal: 'SIGKILL', status: 'TO', message: 'Time limit exceeded' });
    assert.equal(s.verdict, 'TLE');
    assert.equal(s.reason, 'Time limit exceeded');
    s = summaryFromExit({ type: 'exit', stage: 'run', code: 137, signal: 'SIGKILL', verdict: 'MLE', reason: 'out of memory', memory_kb: 262144 });
    assert.equal(s.verdict, 'MLE');
    assert.equal(figures(s)[0][1], 'SIGKILL');
    s = summaryFromExit({ type: 'exit', stage: 'compile', code: 1, signal: null, status: 'RE' });
    assert.equal(s.verdict, 'CE');
    s = summaryFromExit({ type: 'exit', stage: 'run', code: 2, signal: null });
    assert.equal(s.verdict, 'RE');
    s = summaryFromExit({ type: 'exit', stage: 'run', code: 3, signal: null, status: 'RE', message: 'Exited with error status 3', verdict: 'RE', reason: null });
    assert.equal(s.reason, null, 'rce says no reason: Piston\'s message is not repeated');
});

test('bytes', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(65536), '64 KiB');
    assert.equal(formatBytes(1572864), '1.5 MiB');
});

test('the WebSocket URL of a gateway', () => {
    assert.equal(wsUrl('http://127.0.0.1:8080/'), 'ws://127.0.0.1:8080/api/v2/connect');
    assert.equal(wsUrl('https://rce.example.com/play'), 'wss://rce.example.com/play/api/v2/connect');
});

test('Server-Sent Events, fed in pieces', () => {
    const got = [];
    const feed = sseParser((event, data) => got.push([event, data]));
    const text = ': keep-alive\n\nevent: stage\ndata: {"stage":"run"}\n\nevent: output\r\ndata: {"a":\ndata: 1}\r\n\r\ndata: plain\n\n';
    for (const ch of text) feed(ch);
    assert.deepEqual(got, [['stage', '{"stage":"run"}'], ['output', '{"a":\n1}'], ['message', 'plain']]);
});

test('errors the stream tells get a title from their words', () => {
    assert.match(describeStreamError('files: the files are larger than 65536 bytes in all').title, /too large/);
    assert.match(describeStreamError('cobol-* runtime is unknown').title, /Unknown language/);
    assert.match(describeStreamError('no live worker node').title, /capacity/);
    assert.match(describeStreamError('the node\'s result could not be read').title, /IE/);
    const e = describeStreamError('something else');
    assert.equal(e.title, 'The run was refused');
    assert.equal(e.detail, 'something else');
});

test('data chunks: text, or base64 for bytes that are not UTF-8', () => {
    assert.equal(decodeData({ data: 'plain ü' }), 'plain ü');
    assert.equal(decodeData({ data: Buffer.from('ok ✓').toString('base64'), encoding: 'base64' }), 'ok ✓');
    assert.equal(decodeData({ data: '//4=', encoding: 'base64' }), '\ufffd\ufffd');
    assert.equal(decodeData({}), '');
});
