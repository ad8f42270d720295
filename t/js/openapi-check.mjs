// Checks answers the test stack gave against docs/openapi.json (t/35-openapi.t):
//
//   node t/js/openapi-check.mjs docs/openapi.json answers.jsonl
//
// Each line of answers.jsonl is one answer, {"name", "method", "path" (the request's path,
// without its query; "doc_path" instead where a test location serves a documented route
// under another prefix), "status", "content_type", "headers" ({lowercase name: value}),
// "body_b64"}.  For each it finds the path of the document (its templates matched segment
// by segment), the operation (HEAD: the GET's; a method the path does not list: the
// path's x-other-methods), the response of that exact status (a status the document does
// not list is a failure), the media type of the answer's Content-Type (exact, else without
// its parameters), and validates the body against that media type's schema with ajv
// (JSON Schema 2020-12, as OpenAPI 3.1 schemas are); a text/event-stream body is read
// event by event (each name one of the document's, its data JSON valid against the media
// type schema's x-event-data, of that "type"; "result" against its x-result-data).  What
// follows a 101 is the WebSocket's, not checked here.  Headers the response requires must be
// there, and every header it describes is checked against its schema.  Then every
// operation of the document must have been asked at least once.
//
// Output: one TAP-like line per answer ("ok NAME" or "not ok NAME<tab>why"), then
// "ok operations covered" or "not ok ...".  Exit status 1 if anything failed.

import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [docFile, answersFile] = process.argv.slice(2);
if (!docFile || !answersFile) {
    console.error("usage: openapi-check.mjs openapi.json answers.jsonl");
    process.exit(2);
}

const doc = JSON.parse(readFileSync(docFile, "utf8"));
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const SSE_EVENTS = new Set(["runtime", "stage", "data", "exit", "error", "result"]);

// every $ref "#/components/schemas/X" becomes "rce-openapi#/$defs/X", in one schema ajv holds
const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== "object") return node;
    const out = {};
    for (const [k, v] of Object.entries(node)) {
        if (k.startsWith("x-")) continue;       // the document's extensions are no keywords
        out[k] = (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/"))
            ? "rce-openapi#/$defs/" + v.slice("#/components/schemas/".length)
            : rewrite(v);
    }
    return out;
};

const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
addFormats(ajv);
ajv.addKeyword("example");          // OpenAPI's own keyword in a schema
ajv.addSchema({ $id: "rce-openapi", $defs: rewrite(doc.components.schemas) });

const compiled = new Map();
const validator = (schema) => {
    if (!compiled.has(schema)) compiled.set(schema, ajv.compile(rewrite(schema)));
    return compiled.get(schema);
};

// a "$ref" to #/components/..., followed
const deref = (obj) => {
    while (obj && typeof obj.$ref === "string") {
        obj = obj.$ref.slice(2).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
            .reduce((o, k) => (o === undefined ? undefined : o[k]), doc);
    }
    return obj;
};

const templates = Object.keys(doc.paths).map((p) => ({
    path: p,
    re: new RegExp("^" + p.split(/(\{[^}]+\})/).map((part) =>
        part.startsWith("{") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("") + "$"),
}));

const asked = new Set();
let failed = 0;

const fail = (name, why) => {
    failed++;
    console.log(`not ok ${name}\t${String(why).replace(/\n/g, " ")}`);
};

const errorsOf = (v) => ajv.errorsText(v.errors, { separator: "; " });

function checkAnswer(a) {
    const name = a.name || `${a.method} ${a.path} ${a.status}`;
    const path = a.doc_path || a.path;
    const found = templates.filter((t) => t.re.test(path));
    // a literal path wins over a template (/api/v1/jobs over nothing, say)
    found.sort((x, y) => (x.path.includes("{") ? 1 : 0) - (y.path.includes("{") ? 1 : 0));
    if (!found.length) return fail(name, `no path of the document matches ${path}`);

    const item = doc.paths[found[0].path];
    const method = a.method.toLowerCase();
    let op = item[method];
    let opKey = `${method} ${found[0].path}`;
    if (!op && method === "head" && item.get) {
        op = item.get;
        opKey = `get ${found[0].path}`;
    }
    let responses;
    if (op) {
        asked.add(opKey);
        responses = op.responses;
    } else if (item["x-other-methods"]) {
        responses = item["x-other-methods"].responses;
    } else {
        return fail(name, `${a.method} is not an operation of ${found[0].path}, and the path has no x-other-methods`);
    }

    const response = deref(responses[String(a.status)]);
    if (!response) {
        return fail(name, `status ${a.status} is not documented for ${a.method} ${found[0].path} `
            + `(documented: ${Object.keys(responses).join(", ")})`);
    }

    // headers: required ones present, each described one valid
    const headers = a.headers || {};
    for (const [hname, hobj0] of Object.entries(response.headers || {})) {
        const hobj = deref(hobj0);
        const value = headers[hname.toLowerCase()];
        if (value === undefined) {
            if (hobj.required) return fail(name, `header ${hname} is required and absent`);
            continue;
        }
        if (hobj.schema) {
            const v = validator(hobj.schema);
            if (!v(value)) return fail(name, `header ${hname}: ${JSON.stringify(value)}: ${errorsOf(v)}`);
        }
    }

    const body = Buffer.from(a.body_b64 || "", "base64");
    const content = response.content;
    if (a.status === 101) {
        // what follows a 101 is the upgraded connection's, not an HTTP body
        return console.log(`ok ${name}`);
    }
    if (!content) {
        if (body.length && a.method !== "HEAD") return fail(name, `status ${a.status} has no content, but the answer has a body`);
        return console.log(`ok ${name}`);
    }

    const type = (a.content_type || "").toLowerCase().replace(/\s+/g, "");
    const media = Object.entries(content).find(([k]) => k.toLowerCase().replace(/\s+/g, "") === type)
        || Object.entries(content).find(([k]) => k.toLowerCase().split(";")[0].trim() === type.split(";")[0]);
    if (!media) {
        return fail(name, `content type ${JSON.stringify(a.content_type)} is not documented for status ${a.status} `
            + `(documented: ${Object.keys(content).join(", ")})`);
    }

    if (a.method === "HEAD") {
        if (body.length) return fail(name, "a HEAD answer with a body");
        return console.log(`ok ${name}`);
    }

    const [mediaType, mediaObj] = media;
    const schema = mediaObj.schema || {};
    const base = mediaType.split(";")[0].trim().toLowerCase();

    if (base === "application/json") {
        let value;
        try {
            value = JSON.parse(body.toString("utf8"));
        } catch (e) {
            return fail(name, `not JSON: ${e.message}: ${body.toString("utf8").slice(0, 200)}`);
        }
        const v = validator(schema);
        if (!v(value)) return fail(name, `${errorsOf(v)}: ${JSON.stringify(value).slice(0, 600)}`);
        return console.log(`ok ${name}`);
    }

    if (base === "text/event-stream") {
        const json = schema["x-result-data"]
            || (content["application/json"] && content["application/json"].schema);
        const eventData = schema["x-event-data"];
        const events = body.toString("utf8").split(/\n\n/).filter((e) => e.trim() !== "");
        if (!events.length) return fail(name, "an event stream without an event");
        for (const e of events) {
            const lines = e.split("\n").filter((l) => !l.startsWith(":"));
            const ev = (lines.find((l) => l.startsWith("event:")) || "").slice(6).trim();
            const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
            if (!SSE_EVENTS.has(ev)) return fail(name, `event ${JSON.stringify(ev)} is none of the document's`);
            let value;
            try {
                value = JSON.parse(data);
            } catch (err) {
                return fail(name, `event ${ev}: its data is not JSON: ${data.slice(0, 200)}`);
            }
            if (ev === "result") {
                if (json) {
                    const v = validator(json);
                    if (!v(value)) return fail(name, `event result: ${errorsOf(v)}`);
                }
            } else if (eventData) {
                if (!value || value.type !== ev) return fail(name, `event ${ev}: its data's type is ${JSON.stringify(value && value.type)}`);
                const v = validator(eventData);
                if (!v(value)) return fail(name, `event ${ev}: ${errorsOf(v)}: ${data.slice(0, 300)}`);
            }
        }
        return console.log(`ok ${name}`);
    }

    // text: the schema of a string
    const v = validator(schema);
    if (!v(body.toString("latin1"))) return fail(name, errorsOf(v));
    console.log(`ok ${name}`);
}

const lines = readFileSync(answersFile, "utf8").split("\n").filter((l) => l.trim() !== "");
for (const line of lines) {
    let a;
    try {
        a = JSON.parse(line);
    } catch (e) {
        fail("answers file", `a line that is not JSON: ${line.slice(0, 100)}`);
        continue;
    }
    try {
        checkAnswer(a);
    } catch (e) {
        fail(a.name || "answer", `checker error: ${e.message}`);
    }
}

const missing = [];
for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
        if (item[m] && !asked.has(`${m} ${p}`)) missing.push(`${m.toUpperCase()} ${p}`);
    }
}
if (missing.length) {
    fail("operations covered", `never asked: ${missing.join(", ")}`);
} else {
    console.log(`ok operations covered: every operation of the document was asked (${lines.length} answers)`);
}

process.exit(failed ? 1 : 0);
