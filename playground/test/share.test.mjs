// The page's pure parts: share links, argument splitting (src/lib/share.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeShare, encodeShare, formatArgs, fromBase64Url, parseArgs, toBase64Url } from '../src/lib/share.js';

test('base64url round-trips any text, without padding or + and /', () => {
    for (const s of ['', 'a', 'ab', 'abc', 'print("hi")\n', 'ünïcödé ✓ 😀', '\u0000\u0001\uffff', '>>>???///+++'.repeat(50)]) {
        const b = toBase64Url(s);
        assert.match(b, /^[A-Za-z0-9_-]*$/);
        assert.equal(fromBase64Url(b), s);
    }
});

test('base64url refuses what is not base64url of UTF-8', () => {
    assert.equal(fromBase64Url('a+b/'), null);
    assert.equal(fromBase64Url('abcde'), null); // length 1 mod 4
    assert.equal(fromBase64Url('_w'), null);    // 0xff: not UTF-8
    assert.equal(fromBase64Url(undefined), null);
});

test('a share link round-trips language, code, stdin and arguments', () => {
    const state = { lang: 'c++', code: '#include <cstdio>\nint main() { puts("ü"); }\n', stdin: '1 2\n', args: ['a b', "it's", ''] };
    const hash = encodeShare(state);
    assert.match(hash, /^#lang=c%2B%2B&code=[A-Za-z0-9_-]+&stdin=[A-Za-z0-9_-]+&args=[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeShare(hash), state);
    assert.deepEqual(decodeShare(hash.slice(1)), state, 'without the #');
});

test('a link without stdin or arguments leaves them out and reads them back empty', () => {
    const hash = encodeShare({ lang: 'python', code: 'print(1)', stdin: '', args: [] });
    assert.equal(hash, '#lang=python&code=cHJpbnQoMSk');
    assert.deepEqual(decodeShare(hash), { lang: 'python', code: 'print(1)', stdin: '', args: [] });
});

test('a fragment that is not a share link is ignored', () => {
    for (const h of ['', '#', '#top', '#lang=python', '#code=cHJpbnQoMSk', '#lang=&code=eA', '#lang=py%20thon&code=eA',
        '#lang=python&code=%%%', '#lang=python&code=_w', '#lang=python&code=eA&args=eA', '#lang=python&code=eA&args=WzFd',
        '#lang=python&code=eA&stdin=_w', null, 42]) {
        assert.equal(decodeShare(h), null, String(h));
    }
});

test('arguments split as a shell splits them, without expansion', () => {
    assert.deepEqual(parseArgs(''), { args: [] });
    assert.deepEqual(parseArgs('  one  two\tthree '), { args: ['one', 'two', 'three'] });
    assert.deepEqual(parseArgs(`'two words' "say \\"hi\\"" a\\ b '' $HOME *.c`), { args: ['two words', 'say "hi"', 'a b', '', '$HOME', '*.c'] });
    assert.deepEqual(parseArgs(`x'y'"z"`), { args: ['xyz'] });
    assert.ok(parseArgs(`'open`).error);
    assert.ok(parseArgs(`"open`).error);
    assert.ok(parseArgs('end\\').error);
});

test('formatArgs writes what parseArgs reads back', () => {
    for (const args of [[], ['plain'], ['two words', "it's", '', '"q"', 'a\\b', '$x', 'ü']]) {
        assert.deepEqual(parseArgs(formatArgs(args)), { args });
    }
});
