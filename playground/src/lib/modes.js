// Syntax highlighting per language: a CodeMirror 6 language package where one
// exists, else a legacy (CodeMirror 5) mode.  Each is loaded when first chosen
// (esbuild splits them into chunks of their own).

import { StreamLanguage } from '@codemirror/language';

const legacy = (load, pick) => async () => StreamLanguage.define(pick(await load()));

export const MODES = {
    python: async () => (await import('@codemirror/lang-python')).python(),
    c: async () => (await import('@codemirror/lang-cpp')).cpp(),
    cpp: async () => (await import('@codemirror/lang-cpp')).cpp(),
    java: async () => (await import('@codemirror/lang-java')).java(),
    javascript: async () => (await import('@codemirror/lang-javascript')).javascript(),
    typescript: async () => (await import('@codemirror/lang-javascript')).javascript({ typescript: true }),
    rust: async () => (await import('@codemirror/lang-rust')).rust(),
    go: async () => (await import('@codemirror/lang-go')).go(),
    php: async () => (await import('@codemirror/lang-php')).php({ plain: false }),
    bash: legacy(() => import('@codemirror/legacy-modes/mode/shell'), (m) => m.shell),
    csharp: legacy(() => import('@codemirror/legacy-modes/mode/clike'), (m) => m.csharp),
    kotlin: legacy(() => import('@codemirror/legacy-modes/mode/clike'), (m) => m.kotlin),
    scala: legacy(() => import('@codemirror/legacy-modes/mode/clike'), (m) => m.scala),
    elixir: legacy(() => import('@codemirror/legacy-modes/mode/ruby'), (m) => m.ruby),
    fortran: legacy(() => import('@codemirror/legacy-modes/mode/fortran'), (m) => m.fortran),
    haskell: legacy(() => import('@codemirror/legacy-modes/mode/haskell'), (m) => m.haskell),
    lua: legacy(() => import('@codemirror/legacy-modes/mode/lua'), (m) => m.lua),
    ocaml: legacy(() => import('@codemirror/legacy-modes/mode/mllike'), (m) => m.oCaml),
    pascal: legacy(() => import('@codemirror/legacy-modes/mode/pascal'), (m) => m.pascal),
    perl: legacy(() => import('@codemirror/legacy-modes/mode/perl'), (m) => m.perl),
    r: legacy(() => import('@codemirror/legacy-modes/mode/r'), (m) => m.r),
    ruby: legacy(() => import('@codemirror/legacy-modes/mode/ruby'), (m) => m.ruby),
    clojure: legacy(() => import('@codemirror/legacy-modes/mode/clojure'), (m) => m.clojure),
    cobol: legacy(() => import('@codemirror/legacy-modes/mode/cobol'), (m) => m.cobol),
    commonlisp: legacy(() => import('@codemirror/legacy-modes/mode/commonlisp'), (m) => m.commonLisp),
    crystal: legacy(() => import('@codemirror/legacy-modes/mode/crystal'), (m) => m.crystal),
    d: legacy(() => import('@codemirror/legacy-modes/mode/d'), (m) => m.d),
    erlang: legacy(() => import('@codemirror/legacy-modes/mode/erlang'), (m) => m.erlang),
    forth: legacy(() => import('@codemirror/legacy-modes/mode/forth'), (m) => m.forth),
    groovy: legacy(() => import('@codemirror/legacy-modes/mode/groovy'), (m) => m.groovy),
    objectivec: legacy(() => import('@codemirror/legacy-modes/mode/clike'), (m) => m.objectiveC),
    octave: legacy(() => import('@codemirror/legacy-modes/mode/octave'), (m) => m.octave),
    racket: legacy(() => import('@codemirror/legacy-modes/mode/scheme'), (m) => m.scheme),
    scheme: legacy(() => import('@codemirror/legacy-modes/mode/scheme'), (m) => m.scheme),
    sml: legacy(() => import('@codemirror/legacy-modes/mode/mllike'), (m) => m.sml),
    sql: legacy(() => import('@codemirror/legacy-modes/mode/sql'), (m) => m.sqlite),
    tcl: legacy(() => import('@codemirror/legacy-modes/mode/tcl'), (m) => m.tcl),
    zsh: legacy(() => import('@codemirror/legacy-modes/mode/shell'), (m) => m.shell),
};

// The languages that have no mode in CodeMirror's packages: their code is shown
// as plain text (with line numbers, brackets and the rest of the editor).
export const PLAIN = ['ada', 'awk', 'nasm', 'nim', 'prolog'];

export async function languageSupport(name) {
    const load = MODES[name];
    if (!load) return [];
    try {
        return await load();
    } catch {
        return [];
    }
}
