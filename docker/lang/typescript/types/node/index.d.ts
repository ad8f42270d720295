// Node.js's globals, loosely typed (`any`): Debian 12 packages no @types/node.
// Installed as /opt/rce/types/node and named by tsc's --types node.  tsc runs
// with --lib es2020 (no DOM: Node has none), so the globals Node shares with
// browsers are declared here too.
declare var require: any;
declare var module: any;
declare var exports: any;
declare var process: any;
declare var Buffer: any;
declare var global: any;
declare var __dirname: string;
declare var __filename: string;
declare var console: any;
declare var performance: any;
declare var TextEncoder: any;
declare var TextDecoder: any;
declare var URL: any;
declare var URLSearchParams: any;
declare var AbortController: any;
declare function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]): any;
declare function setInterval(callback: (...args: any[]) => void, ms?: number, ...args: any[]): any;
declare function setImmediate(callback: (...args: any[]) => void, ...args: any[]): any;
declare function clearTimeout(handle: any): void;
declare function clearInterval(handle: any): void;
declare function clearImmediate(handle: any): void;
declare function queueMicrotask(callback: () => void): void;
declare function structuredClone(value: any): any;
// Any module ("fs", "readline", ...) imports as `any`.
declare module "*";
