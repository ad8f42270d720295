// An API key as the page sends it: a header over HTTP, subprotocols over the
// WebSocket ("rce" and "rce.key.<base64url>": a token whatever the key holds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyHeaders, keyProtocols } from '../src/lib/runner.js';
import { describeHttpError } from '../src/lib/describe.js';

test('no key: no header, no subprotocol', () => {
    assert.deepEqual(keyHeaders(''), {});
    assert.deepEqual(keyProtocols(''), []);
    assert.deepEqual(keyProtocols(undefined), []);
});

test('a key: Bearer, and base64url in a subprotocol token', () => {
    const key = 'k3y+/with?any=visible~chars!0123';
    assert.deepEqual(keyHeaders(key), { Authorization: `Bearer ${key}` });
    const [rce, token] = keyProtocols(key);
    assert.equal(rce, 'rce');
    assert.match(token, /^rce\.key\.[A-Za-z0-9_-]+$/);
    const b64 = token.slice('rce.key.'.length).replace(/-/g, '+').replace(/_/g, '/');
    assert.equal(Buffer.from(b64, 'base64').toString(), key);
});

test('a 401 says a key is needed and where it goes', () => {
    const e = describeHttpError(401, { error: 'an API key is required' }, null);
    assert.match(e.title, /API key/);
    assert.match(e.detail, /"API key"/);
    assert.match(e.detail, /an API key is required/);
});
