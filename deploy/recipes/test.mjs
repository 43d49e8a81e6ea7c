// Checks docs/recipes.md: makes a small result set with dhtexp (recipes.toml), runs every
// `sql` block of the page with DuckDB (@duckdb/node-api), and compares each answer with the
// numbers of dhtexp's own analysis (`dhtexp report DIR --format csv`). Also reads the result
// set with Polars (nodejs-polars) and checks one answer with it.
//
//   cd deploy/recipes && npm ci && npm test
//
// Polars: nodejs-polars 0.25.2 (0.26.1's platform packages are not all published, so npm ci
// cannot use its lock file). Its native package declares node >= 22, and npm silently skips an
// optional dependency whose engine does not match, so package.json names the linux-x64-gnu one
// directly: it loads and works on node 20 here; on another platform, replace that line.
//
// DHTEXP=/path/to/dhtexp uses that binary instead of building one with `go build`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { DuckDBInstance } from "@duckdb/node-api";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const page = path.join(repo, "docs/recipes.md");

let tmp, dir, eventsDir, report, conn;

// recipes returns the page's queries by name: each `sql` block must follow a
// `<!-- recipe: NAME -->` line, so that none goes untested.
function recipes() {
  const text = fs.readFileSync(page, "utf8");
  const all = [...text.matchAll(/^```sql\n/gm)].length;
  const named = [...text.matchAll(/^<!-- recipe: ([a-z0-9-]+) -->\n```sql\n([\s\S]*?)^```$/gm)];
  assert.equal(named.length, all, "every sql block of docs/recipes.md needs a <!-- recipe: NAME --> line above it");
  return Object.fromEntries(named.map((m) => [m[1], m[2]]));
}
const queries = recipes();

async function run(name) {
  assert.ok(queries[name], `docs/recipes.md has no recipe ${name}`);
  const sql = queries[name].replaceAll("results/x/", dir + "/");
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJson().map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v])));
}

// csv parses dhtexp's report table (no quoted fields in these columns).
function csv(text) {
  const [head, ...lines] = text.trim().split("\n");
  const cols = head.split(",");
  return lines.map((l) => {
    assert.ok(!l.includes('"'), `unexpected quoted field in report line ${l}`);
    const v = l.split(",");
    return Object.fromEntries(cols.map((c, i) => [c, v[i] === "" ? null : isNaN(Number(v[i])) ? v[i] : Number(v[i])]));
  });
}

function near(got, want, what) {
  assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: DuckDB ${got}, dhtexp report ${want}`);
}

// group sums the report's rows by key(row), with fn adding a row into the accumulator.
function group(rows, key, fn) {
  const m = new Map();
  for (const r of rows) {
    const k = key(r);
    m.set(k, fn(m.get(k), r));
  }
  return m;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dhtexp-recipes-"));
  let bin = process.env.DHTEXP;
  if (!bin) {
    bin = path.join(tmp, "dhtexp");
    execFileSync("go", ["build", "-o", bin, "./cmd/dhtexp"], { cwd: repo, stdio: "inherit" });
  }
  dir = path.join(tmp, "recipes");
  execFileSync(bin, ["sweep", path.join(here, "recipes.toml"), "-o", dir], { stdio: ["ignore", "ignore", "inherit"] });
  // The same runs with every event kept, for the events table.
  eventsDir = path.join(tmp, "events");
  execFileSync(bin, ["sweep", path.join(here, "recipes.toml"), "--trace", "messages", "-o", eventsDir], { stdio: ["ignore", "ignore", "inherit"] });
  report = csv(execFileSync(bin, ["report", dir, "--format", "csv"], { encoding: "utf8" }));
  assert.ok(report.length > 0, "empty report");
  const db = await DuckDBInstance.create(":memory:");
  conn = await db.connect();
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("1. join success rate per protocol and joiners", async () => {
  const want = group(report, (r) => `${r.protocol}/${r.joiners}`, (a = { joins: 0, ok: 0 }, r) =>
    ({ joins: a.joins + r.joins, ok: a.ok + r.joins_ok }));
  const rows = await run("join-success");
  assert.equal(rows.length, want.size);
  for (const r of rows) {
    const w = want.get(`${r.protocol}/${r.joiners}`);
    assert.ok(w, `no report rows for ${r.protocol}/${r.joiners}`);
    assert.equal(r.joins, w.joins, `joins of ${r.protocol}/${r.joiners}`);
    assert.equal(r.joins_ok, w.ok, `joins_ok of ${r.protocol}/${r.joiners}`);
    near(r.join_success, Math.round((w.ok / w.joins) * 1e4) / 1e4, `join_success of ${r.protocol}/${r.joiners}`);
  }
  assert.ok(rows.some((r) => r.join_success < 1) && rows.some((r) => r.join_success > 0), "the result set should have both outcomes");
});

test("2. median and p99 join latency per grid point", async () => {
  const want = new Map(report.filter((r) => r.latency_p50_ms !== null).map((r) => [`${r.protocol}/${r.joiners}/${r.nodes}`, r]));
  assert.ok(report.every((r) => r.latency_source === "joins"));
  const rows = await run("latency");
  assert.equal(rows.length, want.size);
  for (const r of rows) {
    const k = `${r.protocol}/${r.joiners}/${r.nodes}`;
    const w = want.get(k);
    assert.ok(w, `no report row with latencies for ${k}`);
    assert.equal(r.joins_ok, w.joins_ok, `joins_ok of ${k}`);
    near(r.p50_ms, w.latency_p50_ms, `p50 of ${k}`);
    near(r.p99_ms, w.latency_p99_ms, `p99 of ${k}`);
  }
});

test("3. messages and hops per join", async () => {
  const want = new Map(report.map((r) => [`${r.protocol}/${r.joiners}/${r.nodes}`, r]));
  const rows = await run("messages");
  assert.equal(rows.length, want.size);
  for (const r of rows) {
    const k = `${r.protocol}/${r.joiners}/${r.nodes}`;
    near(r.messages_per_join, want.get(k).messages_per_join, `messages_per_join of ${k}`);
    near(r.hops_per_join, want.get(k).hops_per_join, `hops_per_join of ${k}`);
  }
});

test("4. failure classes per protocol", async () => {
  const want = new Map();
  for (const r of report) {
    for (const [c, n] of Object.entries(r)) {
      if (c.startsWith("failures_") && n > 0) {
        const k = `${r.protocol}/${c.slice("failures_".length)}`;
        want.set(k, (want.get(k) ?? 0) + n);
      }
    }
  }
  const rows = await run("failures");
  const got = new Map(rows.map((r) => [`${r.protocol}/${r.outcome}`, r.runs]));
  assert.deepEqual(Object.fromEntries([...got].sort()), Object.fromEntries([...want].sort()));
  assert.ok(got.size >= 2, "the result set should have at least two failure classes");
  assert.ok(rows.every((r) => typeof r.example === "string" && r.example.length > 0), "every failure class has a detail");
});

test("5. DHT lookup hops against the ring size", async () => {
  const want = group(report.filter((r) => r.dht_runs > 0), (r) => r.ring_size, (a = { ok: 0, hops: 0 }, r) =>
    ({ ok: a.ok + r.lookups_ok, hops: a.hops + r.hops_per_lookup * r.lookups_ok }));
  const rows = await run("lookup-hops");
  assert.equal(rows.length, want.size);
  for (const r of rows) {
    const w = want.get(r.ring_size);
    assert.ok(w, `no report rows for ring size ${r.ring_size}`);
    assert.equal(r.lookups_ok, w.ok, `lookups_ok at ring size ${r.ring_size}`);
    near(r.hops_per_lookup, w.hops / w.ok, `hops_per_lookup at ring size ${r.ring_size}`);
  }
});

test("Polars (nodejs-polars) reads the tables and gets recipe 5's answer", () => {
  const pl = require("nodejs-polars");
  const runs = pl.readParquet(path.join(dir, "runs/part-000000.parquet"));
  assert.equal(runs.height, report.reduce((n, r) => n + r.runs, 0), "runs rows");
  const parts = fs.readdirSync(path.join(dir, "ops")).filter((f) => f.endsWith(".parquet"));
  const ops = pl.concat(parts.map((f) => pl.readParquet(path.join(dir, "ops", f))));
  const got = ops
    .filter(pl.col("kind").eq(pl.lit("lookup")).and(pl.col("status").eq(pl.lit("ok"))).and(pl.col("correct")))
    .join(runs.select("run_id", "nodes", "joiners"), { on: "run_id" })
    .withColumns(pl.col("nodes").add(pl.col("joiners")).alias("ring_size"))
    .groupBy("ring_size")
    .agg(pl.col("hops").count().alias("lookups_ok"), pl.col("hops").mean().alias("hops_per_lookup"))
    .sort("ring_size")
    .toRecords();
  const want = group(report.filter((r) => r.dht_runs > 0), (r) => r.ring_size, (a = { ok: 0, hops: 0 }, r) =>
    ({ ok: a.ok + r.lookups_ok, hops: a.hops + r.hops_per_lookup * r.lookups_ok }));
  assert.equal(got.length, want.size);
  for (const r of got) {
    const w = want.get(Number(r.ring_size));
    assert.equal(Number(r.lookups_ok), w.ok, `lookups_ok at ring size ${r.ring_size}`);
    near(r.hops_per_lookup, w.hops / w.ok, `hops_per_lookup at ring size ${r.ring_size}`);
  }
});

// The events table mixes codecs (zstd, Snappy, none) and encodings (delta, dictionary): both
// readers must read every event the manifest counts, and agree on what they read.
test("DuckDB and Polars read the events table", async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(eventsDir, "manifest.json"), "utf8"));
  const events = manifest.done.reduce((n, p) => n + p.events, 0);
  assert.ok(events > 0, "the manifest counts no events");

  const sql = `SELECT kind, count(*) AS n, count(msg_type) AS msgs, count(detail) AS details,
      count("from") AS froms, count(joiner) AS joiners, count(DISTINCT node) AS nodes,
      min(node) AS first_node, max(node) AS last_node, max(seq) AS last_seq
    FROM '${eventsDir}/events/*.parquet' GROUP BY kind ORDER BY kind`;
  const duck = (await conn.runAndReadAll(sql)).getRowObjectsJson().map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === "kind" ? v : Number(v)])));
  assert.equal(duck.reduce((n, r) => n + r.n, 0), events, "DuckDB's events");

  const pl = require("nodejs-polars");
  const parts = fs.readdirSync(path.join(eventsDir, "events")).filter((f) => f.endsWith(".parquet"));
  const ev = pl.concat(parts.map((f) => pl.readParquet(path.join(eventsDir, "events", f))));
  assert.equal(ev.height, events, "Polars's events");
  const polars = ev
    .groupBy("kind")
    .agg(
      pl.col("seq").isNotNull().sum().alias("n"),
      pl.col("msg_type").isNotNull().sum().alias("msgs"),
      pl.col("detail").isNotNull().sum().alias("details"),
      pl.col("from").isNotNull().sum().alias("froms"),
      pl.col("joiner").isNotNull().sum().alias("joiners"),
      pl.col("node").nUnique().alias("nodes"),
      pl.col("node").min().alias("first_node"),
      pl.col("node").max().alias("last_node"),
      pl.col("seq").max().alias("last_seq"),
    )
    .sort("kind")
    .toRecords()
    .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === "kind" ? v : Number(v)])));
  assert.deepEqual(polars, duck);
  assert.ok(duck.some((r) => r.msgs > 0) && duck.some((r) => r.details > 0), "events with and without messages and details");
});
