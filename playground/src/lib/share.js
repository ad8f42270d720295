// Share links: the language, the code and (when set) stdin and the arguments,
// in the URL's fragment, so nothing is stored on the server and nothing is
// sent to it (a fragment never leaves the browser).
//
//   #lang=python&code=<base64url of the UTF-8 code>[&stdin=<base64url>][&args=<base64url of a JSON array>]
//
// Pure functions: the page and the unit test (test/share.test.mjs) share them.

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function toBase64Url(text) {
    const bytes = enc.encode(text);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
        bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// null when it is not base64url of UTF-8
export function fromBase64Url(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
    let bin;
    try { bin = atob(b64); } catch { return null; }
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    try { return dec.decode(bytes); } catch { return null; }
}

// {lang, code, stdin?, args?} -> "#lang=...&code=..."
export function encodeShare({ lang, code, stdin, args }) {
    const parts = ['lang=' + encodeURIComponent(lang), 'code=' + toBase64Url(code ?? '')];
    if (stdin) parts.push('stdin=' + toBase64Url(stdin));
    if (args && args.length) parts.push('args=' + toBase64Url(JSON.stringify(args)));
    return '#' + parts.join('&');
}

// "#lang=...&code=..." (or without the #) -> {lang, code, stdin, args}, or null
// when the fragment is not a share link (or a damaged one)
export function decodeShare(hash) {
    if (typeof hash !== 'string') return null;
    const params = new URLSearchParams(hash.replace(/^#/, ''));
    const lang = params.get('lang');
    const code = fromBase64Url(params.get('code') ?? '');
    if (!lang || !/^[\x21-\x7e]{1,32}$/.test(lang) || code === null || !params.has('code')) return null;
    const out = { lang, code, stdin: '', args: [] };
    if (params.has('stdin')) {
        const stdin = fromBase64Url(params.get('stdin'));
        if (stdin === null) return null;
        out.stdin = stdin;
    }
    if (params.has('args')) {
        let args;
        try { args = JSON.parse(fromBase64Url(params.get('args')) ?? ''); } catch { return null; }
        if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return null;
        out.args = args;
    }
    return out;
}

// The arguments field: words split as a shell would split them, without any
// expansion: blanks separate, '...' quotes literally, "..." quotes with \" and
// \\ as escapes, a backslash outside quotes takes the next character.
// Returns {args} or {error}.
export function parseArgs(line) {
    const args = [];
    let cur = null, i = 0;
    const s = line ?? '';
    while (i < s.length) {
        const c = s[i];
        if (c === ' ' || c === '\t' || c === '\n') {
            if (cur !== null) { args.push(cur); cur = null; }
            i++;
        } else if (c === "'") {
            const end = s.indexOf("'", i + 1);
            if (end < 0) return { error: 'an unclosed \' in the arguments' };
            cur = (cur ?? '') + s.slice(i + 1, end);
            i = end + 1;
        } else if (c === '"') {
            cur = cur ?? '';
            i++;
            for (;;) {
                if (i >= s.length) return { error: 'an unclosed " in the arguments' };
                if (s[i] === '"') { i++; break; }
                if (s[i] === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) { cur += s[i + 1]; i += 2; continue; }
                cur += s[i++];
            }
        } else if (c === '\\') {
            if (i + 1 >= s.length) return { error: 'a \\ at the end of the arguments' };
            cur = (cur ?? '') + s[i + 1];
            i += 2;
        } else {
            cur = (cur ?? '') + c;
            i++;
        }
    }
    if (cur !== null) args.push(cur);
    return { args };
}

// the inverse, for the field when a share link fills it
export function formatArgs(args) {
    return (args ?? []).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : "'" + a.replace(/'/g, `'\\''`) + "'")).join(' ');
}
