// Builds the playground into a folder of static files the gateway serves:
//
//   node build.mjs [--out DIR] [--langs DIR]
//
//   DIR/index.html            the page (served at /)
//   DIR/assets/app.js, app.css and chunks/ (CodeMirror, a chunk per language mode)
//   DIR/assets/hellos.json    each language's hello world: docker/lang/<name>/smoke.src,
//                             the file the image build checks, so there is one source
//   DIR/widget.js             the embeddable widget (one file, no CodeMirror)
//
// Defaults: --out ../build/playground, --langs ../docker/lang.  The root
// Makefile's 'make playground' runs it (after npm ci); so does the gateway
// image's build stage.

import { build } from 'esbuild';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : dflt;
};
const out = arg('--out', join(here, '..', 'build', 'playground'));
const langs = arg('--langs', join(here, '..', 'docker', 'lang'));

async function hellos() {
    const map = {};
    for (const ent of (await readdir(langs, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
        const src = join(langs, ent.name, 'smoke.src');
        if (ent.isDirectory() && existsSync(src)) map[ent.name] = await readFile(src, 'utf8');
    }
    if (!Object.keys(map).length) throw new Error(`no docker/lang/*/smoke.src under ${langs}`);
    return map;
}

const t0 = Date.now();
await rm(out, { recursive: true, force: true });
await mkdir(join(out, 'assets'), { recursive: true });
const common = { bundle: true, minify: true, target: 'es2022', legalComments: 'linked', logLevel: 'warning' };
await build({
    ...common,
    entryPoints: { app: join(here, 'src', 'app.js') },
    outdir: join(out, 'assets'),
    format: 'esm',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
});
await build({ ...common, entryPoints: { app: join(here, 'src', 'app.css') }, outdir: join(out, 'assets') });
await build({ ...common, entryPoints: { widget: join(here, 'src', 'widget.js') }, outdir: out, format: 'iife' });
await copyFile(join(here, 'src', 'index.html'), join(out, 'index.html'));
const h = await hellos();
await writeFile(join(out, 'assets', 'hellos.json'), JSON.stringify(h));

// what was made, and how large
async function walk(dir, acc = []) {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, ent.name);
        if (ent.isDirectory()) await walk(p, acc); else acc.push(p);
    }
    return acc;
}
let total = 0;
const files = await walk(out);
for (const f of files) total += (await readFile(f)).length;
console.log(`[playground] ${files.length} files, ${(total / 1024).toFixed(0)} KiB, ${Object.keys(h).length} hello worlds, in ${out} (${Date.now() - t0} ms)`);
