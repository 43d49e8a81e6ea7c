// Validates the Kubernetes manifests in deploy/kubernetes/ offline, in two ways, both from the
// npm package kubernetes-models (generated from the Kubernetes OpenAPI spec):
//   1. its JSON schema validator (types, required fields, enums) through Model.validate();
//   2. its TypeScript declarations: each document is compiled as an object literal of type
//      IJob, so that TypeScript's excess-property check rejects unknown fields (a typo such as
//      `completionz`), which the JSON schema, open to extra properties, lets through.
// kubernetes-models 4.5.1 has the batch/v1 JobSpec fields up to Kubernetes 1.30 (managedBy,
// successPolicy; backoffLimitPerIndex, which the manifest uses, is from 1.28), although its
// README still names 1.27.1.
// It then checks that both catch deliberately broken copies, so that a silently passing
// check cannot go unnoticed.
//
//   cd deploy/kubernetes/validate && npm ci && npm test
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const YAML = require("yaml");
const { Job } = require("kubernetes-models/batch/v1/Job");

const dir = path.resolve(__dirname, "..");
const manifests = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).map((f) => path.join(dir, f));
const models = { "batch/v1 Job": { cls: Job, type: "IJob", module: "kubernetes-models/batch/v1/Job" } };

function modelOf(doc) {
  const m = models[`${doc.apiVersion} ${doc.kind}`];
  if (!m) throw new Error(`no schema here for apiVersion ${doc.apiVersion} kind ${doc.kind}`);
  return m;
}

// schemaErrors returns the JSON schema validator's complaint, or "" if none.
function schemaErrors(doc) {
  try {
    new (modelOf(doc).cls)(doc).validate();
    return "";
  } catch (e) {
    return e.message;
  }
}

// typeErrors compiles each document as a literal of its model's interface and returns tsc's
// complaints, one string per document ("" if none).
function typeErrors(docs) {
  // Inside this folder, so that the imports resolve to its node_modules.
  const tmp = fs.mkdtempSync(path.join(__dirname, ".check-"));
  try {
    const files = docs.map((doc, i) => {
      const m = modelOf(doc);
      const f = path.join(tmp, `doc${i}.ts`);
      fs.writeFileSync(f, `import type { ${m.type} } from ${JSON.stringify(m.module)};\n` +
        `export const doc: ${m.type} = ${JSON.stringify(doc, null, 2)};\n`);
      return f;
    });
    const tsc = require.resolve("typescript/bin/tsc");
    let out = "";
    try {
      execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--moduleResolution", "node",
        "--module", "commonjs", "--target", "es2020", ...files], { encoding: "utf8", cwd: tmp });
    } catch (e) {
      out = String(e.stdout || "") + String(e.stderr || "");
      if (!out) throw e;
    }
    const ours = (l) => files.some((f) => l.startsWith(path.basename(f) + "("));
    const other = out.split("\n").filter((l) => /error TS/.test(l) && !ours(l));
    if (other.length) throw new Error(`tsc failed outside the documents:\n${other.join("\n")}`);
    return files.map((f) => out.split("\n").filter((l) => l.startsWith(path.basename(f) + "(")).join("\n"));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

let failed = 0;
const docs = [];
const names = [];
for (const file of manifests) {
  YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).forEach((d, i) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    docs.push(d.toJSON());
    names.push(`${path.relative(path.resolve(dir, "../.."), file)}#${i}`);
  });
}
if (docs.length === 0) throw new Error(`no manifests in ${dir}`);

// Broken copies of the first document that each check must reject.
const broken = [
  ["completions is a string", "schema", (d) => { d.spec.completions = "eight"; }],
  ["a container without a name", "schema", (d) => { delete d.spec.template.spec.containers[0].name; }],
  ["unknown field spec.completionz", "types", (d) => { d.spec.completionz = 8; }],
  ["unknown field in a container", "types", (d) => { d.spec.template.spec.containers[0].imagee = "x"; }],
].map(([what, by, mutate]) => {
  const d = structuredClone(docs[0]);
  mutate(d);
  return { what, by, doc: d };
});

const tErr = typeErrors([...docs, ...broken.map((b) => b.doc)]);
docs.forEach((doc, i) => {
  const s = schemaErrors(doc);
  const t = tErr[i];
  if (s || t) {
    failed++;
    console.log(`FAIL ${names[i]}: ${s}${s && t ? "\n" : ""}${t}`);
  } else {
    console.log(`ok   ${names[i]}: ${doc.apiVersion} ${doc.kind} "${doc.metadata.name}" matches the schema and has no unknown fields`);
  }
});
broken.forEach((b, j) => {
  const err = b.by === "schema" ? schemaErrors(b.doc) : tErr[docs.length + j];
  if (err) {
    console.log(`ok   rejected (${b.what}): ${err.split("\n")[0].replace(/^.*error /, "")}`);
  } else {
    failed++;
    console.log(`FAIL the ${b.by} check accepted a manifest with ${b.what}`);
  }
});
const kmVersion = require("kubernetes-models/package.json").version;
console.log(`kubernetes-models ${kmVersion}, typescript ${require("typescript").version}: ` +
  `${docs.length + broken.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
