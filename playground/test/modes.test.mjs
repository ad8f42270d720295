// Every language folder of docker/lang has a highlighting mode or is listed as
// plain text, and every mode loads (the stream parser each legacy mode picks
// exists: a misspelt export would silently give plain text in the page).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { MODES, PLAIN, languageSupport } from '../src/lib/modes.js';

const langs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docker', 'lang');
const folders = readdirSync(langs, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(langs, e.name, 'lang.conf')))
    .map((e) => e.name);

test('each language has a mode or is plain text on purpose', () => {
    assert.ok(folders.length >= 40, `found ${folders.length} language folders`);
    const missing = folders.filter((l) => !MODES[l] && !PLAIN.includes(l));
    assert.deepEqual(missing, []);
    assert.deepEqual(PLAIN.filter((l) => MODES[l]), [], 'a plain language with a mode');
});

test('every mode loads', async () => {
    for (const name of Object.keys(MODES)) {
        const support = await MODES[name]();
        assert.ok(support && (support.language || support.extension), `${name}: no language support`);
    }
    assert.deepEqual(await languageSupport('klingon'), []);
});
