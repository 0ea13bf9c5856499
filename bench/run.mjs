// The edge cost of each credential path, side by side with a pass-through floor
// and a jose reference worker, on this machine (issue 8). `npm run bench`.
//
//   node bench/run.mjs [--reps 5] [--duration 4] [--warmup 1] [--idle 1] [--worker-dir DIR]
//                      [--connections 16] [--only ea.floor,ref.floor,...] [--no-readme]
//
// Each repetition starts both workers afresh (the built worker, snapshotted at
// the start of the run, and bench/reference/worker.mjs bundled with jose), each
// in its own Miniflare/workerd, times them from process start to first answer,
// sets up a user, a session and an API key, then runs every scenario in turn
// against one local origin: `--connections` keep-alive connections for
// `--warmup` + `--duration` seconds (throughput, loaded latency), then one
// connection for `--idle` seconds (unloaded latency). Scenarios of one
// repetition run back to back so that their ratios share the machine's state;
// the table gives medians over repetitions. Loopback only; bounded in time.
//
// Load comes from wrk (C, little CPU: `apt-get install wrk`) when it is on
// PATH, else from a node:http generator (bench/lib/load.mjs), which takes about
// as much CPU as the worker at the floor's rate and so lowers every figure; the
// table says which one ran.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { ROOT } from "../scripts/miniflare-options.mjs";
import { sections, without } from "./lib/wasm.mjs";
import {
  BENCH,
  OUT,
  loadNode,
  loadWrk,
  prepare,
  probe,
  scenarios,
  setUpCredentials,
  startOrigin,
  startWorker,
  stateDir,
  stopChild,
  which,
} from "./lib/harness.mjs";

const README = path.join(BENCH, "README.md");
const BEGIN = "<!-- bench:results:begin (written by bench/run.mjs; edits here are overwritten) -->";
const END = "<!-- bench:results:end -->";

const { values: args } = parseArgs({
  options: {
    reps: { type: "string", default: "5" },
    duration: { type: "string", default: "4" },
    warmup: { type: "string", default: "1" },
    idle: { type: "string", default: "1" },
    connections: { type: "string", default: "16" },
    only: { type: "string" },
    generator: { type: "string" },
    "worker-dir": { type: "string" },
    "no-readme": { type: "boolean", default: false },
  },
});
const REPS = Number(args.reps);
const DURATION_S = Number(args.duration);
const WARMUP_S = Number(args.warmup);
const IDLE_S = Number(args.idle);
const CONNECTIONS = Number(args.connections);
for (const [name, v] of Object.entries({ REPS, DURATION_S, WARMUP_S, IDLE_S, CONNECTIONS })) {
  if (!Number.isFinite(v) || v < 0 || (name !== "WARMUP_S" && name !== "IDLE_S" && v === 0)) {
    throw new Error(`bad option ${name}=${v}`);
  }
}

const log = (...m) => console.error(`bench: ${m.join(" ")}`);
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
function version(cmd, argv, pick = (s) => s.split("\n")[0].trim()) {
  try {
    return pick(execFileSync(cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
  } catch (error) {
    const text = `${error.stdout ?? ""}${error.stderr ?? ""}`;
    return text ? pick(text) : "unavailable";
  }
}
async function packageVersion(name) {
  const pkg = JSON.parse(await readFile(path.join(ROOT, "node_modules", name, "package.json"), "utf8"));
  return pkg.version;
}

/** `--only a,b`: those scenarios, and the floors their ratios need. */
function selected(list) {
  if (!args.only) return list;
  const only = new Set(args.only.split(","));
  const unknown = [...only].filter((id) => !list.some((s) => s.id === id));
  if (unknown.length) throw new Error(`--only: unknown scenario ${unknown.join(", ")} (known: ${list.map((s) => s.id).join(", ")})`);
  return list.filter((s) => only.has(s.id) || s.id.endsWith(".floor"));
}

// ---------------------------------------------------------------- load

const USE_WRK = args.generator ? args.generator === "wrk" : Boolean(which("wrk"));
if (USE_WRK && !which("wrk")) throw new Error("--generator wrk: wrk is not on PATH (apt-get install wrk)");

/** Warm-up, loaded run, unloaded run. `rate` bounds how many fresh requests a second could be used. */
async function runScenario(base, scenario, rate, dir) {
  await probe(base, scenario);
  const count = (seconds) => (scenario.fresh ? Math.ceil(rate * seconds * 1.6) + 2000 : 1);
  const load = USE_WRK ? loadWrk : loadNode;
  const run = (connections, seconds, phase) =>
    load({ base, make: scenario.make, count: count(seconds), connections, seconds, dir, tag: `${scenario.id}.${phase}` });
  if (WARMUP_S > 0) await run(CONNECTIONS, WARMUP_S, "warm");
  const loaded = await run(CONNECTIONS, DURATION_S, "load");
  const idle = IDLE_S > 0 ? await run(1, IDLE_S, "idle") : null;
  // Going round the list again matters only where every request must be new.
  for (const r of [loaded, idle]) if (r && !scenario.fresh) r.reused = false;
  return { loaded, idle };
}

// ---------------------------------------------------------------- sizes, versions

async function sizeOf(file) {
  try {
    const bytes = await readFile(file);
    return { file: path.relative(ROOT, file), raw: bytes.length, gzip: gzipSync(bytes).length, gzip9: gzipSync(bytes, { level: 9 }).length };
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
}

async function sdkSizes() {
  const dir = path.join(ROOT, "sdk-wasm", "pkg");
  const found = [];
  const walk = async (d) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith(".wasm")) found.push(await sizeOf(p));
    }
  };
  await walk(dir);
  return found;
}

async function environment() {
  const cpu = (await readFile("/proc/cpuinfo", "utf8").catch(() => "")).match(/model name\s*:\s*(.+)/)?.[1] ?? os.cpus()[0]?.model;
  let commit = version("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]);
  const dirty = version("git", ["-C", ROOT, "status", "--porcelain", "--", "worker", "core"], (s) => s.trim());
  if (dirty && dirty !== "unavailable") commit += " (worker/ or core/ modified)";
  return {
    date: new Date().toISOString(),
    machine: `${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    load_average_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
    versions: {
      node: process.version,
      workerd: version(path.join(ROOT, "node_modules", ".bin", "workerd"), ["--version"]),
      miniflare: await packageVersion("miniflare"),
      jose: await packageVersion("jose"),
      rustc: version("rustc", ["--version"]),
      "worker-build": version("worker-build", ["--version"]),
      load_generator: USE_WRK ? version("wrk", ["-v"], (s) => s.split("\n")[0].replace(/ Copyright.*/, "").trim()) : "node:http (bench/lib/load.mjs)",
    },
    commit,
  };
}

// ---------------------------------------------------------------- report

const fmt = (v, digits = 0) => (Number.isFinite(v) ? v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–");
const kib = (n) => `${fmt(n / 1024, 1)} KiB`;

function summarize(runs, list) {
  const out = {};
  for (const sc of list) {
    const reps = runs.map((r) => r.scenarios[sc.id]).filter(Boolean);
    const floorId = sc.target === "ea" ? "ea.floor" : "ref.floor";
    const ratio = runs
      .filter((r) => r.scenarios[sc.id] && r.scenarios["ea.floor"])
      .map((r) => r.scenarios[sc.id].loaded.rps / r.scenarios["ea.floor"].loaded.rps);
    const ownFloor = runs
      .filter((r) => r.scenarios[sc.id] && r.scenarios[floorId])
      .map((r) => r.scenarios[sc.id].loaded.rps / r.scenarios[floorId].loaded.rps);
    out[sc.id] = {
      label: sc.label,
      rps: median(reps.map((r) => r.loaded.rps)),
      rps_min: Math.min(...reps.map((r) => r.loaded.rps)),
      rps_max: Math.max(...reps.map((r) => r.loaded.rps)),
      p50: median(reps.map((r) => r.loaded.latency_ms.p50)),
      p99: median(reps.map((r) => r.loaded.latency_ms.p99)),
      idle_p50: median(reps.map((r) => r.idle?.latency_ms.p50)),
      idle_p99: median(reps.map((r) => r.idle?.latency_ms.p99)),
      vs_floor: median(ratio),
      vs_own_floor: median(ownFloor),
      errors: reps.reduce((a, r) => a + r.loaded.errors + (r.idle?.errors ?? 0), 0),
      reused: reps.some((r) => r.loaded.reused || r.idle?.reused),
    };
  }
  return out;
}

function pairedRatio(runs, a, b) {
  return median(runs.filter((r) => r.scenarios[a] && r.scenarios[b]).map((r) => r.scenarios[a].loaded.rps / r.scenarios[b].loaded.rps));
}

function targets(summary, runs, sizes) {
  const t = [];
  const check = (name, value, goal, text) => t.push({ name, value, goal, met: Number.isFinite(value) ? value >= goal : null, text });
  if (summary["ea.api_key"]) check("cached API key vs floor", summary["ea.api_key"].vs_floor, 0.8, "≥ 0.8×");
  if (summary["ea.es256_repeat"]) check("repeated ES256 token vs floor", summary["ea.es256_repeat"].vs_floor, 0.8, "≥ 0.8×");
  if (summary["ea.hs256_repeat"]) check("repeated HS256 token vs floor", summary["ea.hs256_repeat"].vs_floor, 0.8, "≥ 0.8×");
  if (summary["ea.es256_fresh"] && summary["ref.es256_fresh"]) check("fresh ES256 vs jose reference", pairedRatio(runs, "ea.es256_fresh", "ref.es256_fresh"), 1.0, "≥ 1.0×");
  if (summary["ea.signed"]) check("signed request vs floor", summary["ea.signed"].vs_floor, 0.5, "≥ 0.5×");
  const worker = sizes.worker;
  if (worker) t.push({ name: "worker wasm, gzip", value: worker.gzip, goal: 400 * 1024, met: worker.gzip <= 400 * 1024, text: "≤ 400 KiB", size: true });
  const sdk = sizes.sdk;
  t.push(
    sdk.length
      ? { name: "SDK wasm, gzip", value: Math.max(...sdk.map((s) => s.gzip)), goal: 120 * 1024, met: Math.max(...sdk.map((s) => s.gzip)) <= 120 * 1024, text: "≤ 120 KiB", size: true }
      : { name: "SDK wasm, gzip", value: NaN, goal: 120 * 1024, met: null, text: "≤ 120 KiB", size: true, note: "not built" },
  );
  return t;
}

function table(result) {
  const { env, summary, runs, sizes, startup, settings, command } = result;
  const L = [];
  L.push(BEGIN);
  L.push("");
  L.push(`Run ${env.date.slice(0, 16).replace("T", " ")} UTC, commit ${env.commit}: \`${command}\``);
  L.push("");
  L.push(`- Machine: ${env.machine}; load average ${env.load_average_at_start.join(", ")} at the start (the machine is shared: compare ratios, not absolute rates)`);
  L.push(
    `- Versions: Node ${env.versions.node}, workerd ${env.versions.workerd.replace(/^workerd\s*/, "")}, miniflare ${env.versions.miniflare}, jose ${env.versions.jose}, ${env.versions.rustc}, worker-build ${env.versions["worker-build"].replace(/^worker-build\s*/, "")}`,
  );
  L.push(
    `- Load: ${env.versions.load_generator}, ${settings.connections} keep-alive connections, ${settings.warmup_s} s warm-up + ${settings.duration_s} s per scenario (loaded columns), then 1 connection for ${settings.idle_s} s (unloaded p50); ${settings.reps} repetitions, medians shown (req/s range in brackets). Every request goes through workerd to one local Node origin answering \`{"ok":true}\`.`,
  );
  L.push("");
  L.push("| scenario | req/s | × floor | p50 ms | p99 ms | unloaded p50 ms |");
  L.push("|---|---:|---:|---:|---:|---:|");
  for (const [id, s] of Object.entries(summary)) {
    const flag = [s.errors ? ` ⚠ ${s.errors} errors` : "", s.reused ? " ⚠ credentials reused" : ""].join("");
    L.push(
      `| ${s.label}${flag} | ${fmt(s.rps)} (${fmt(s.rps_min)}–${fmt(s.rps_max)}) | ${fmt(s.vs_floor, 2)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${fmt(s.idle_p50, 2)} |`,
    );
    void id;
  }
  L.push("");
  L.push("`× floor` is the median over repetitions of the scenario's req/s over edgeauth's floor in the same repetition.");
  const trouble = runs.reduce((n, r) => n + (r.worker_logs?.ea?.trouble.count ?? 0) + (r.worker_logs?.ref?.trouble.count ?? 0), 0);
  if (trouble) L.push(`⚠ The workers logged ${trouble} failure lines (panics, errors) during the run: see \`worker_logs\` in the raw results.`);
  L.push("");
  L.push("| target | measured | goal | |");
  L.push("|---|---:|---:|---|");
  for (const t of result.targets) {
    const value = t.size ? (t.note ?? `${kib(t.value)} (${fmt(t.value)} B)`) : `${fmt(t.value, 2)}×`;
    L.push(`| ${t.name} | ${value} | ${t.text} | ${t.met === null ? "not measured" : t.met ? "met" : "**missed**"} |`);
  }
  L.push("");
  L.push("| size | raw | gzip (-6) | gzip -9 |");
  L.push("|---|---:|---:|---:|");
  const sizeRow = (name, s) => L.push(`| ${name} (\`${s.file}\`) | ${kib(s.raw)} | ${kib(s.gzip)} | ${kib(s.gzip9)} |`);
  if (sizes.worker) sizeRow("worker wasm", sizes.worker);
  if (sizes.worker_without_names && sizes.worker_sections["custom:name"]) {
    sizeRow("worker wasm less its `name` section", { ...sizes.worker_without_names, file: "the same, `name` stripped" });
  }
  if (sizes.worker_js) sizeRow("worker JS glue", sizes.worker_js);
  if (sizes.sdk.length) for (const s of sizes.sdk) sizeRow("SDK wasm", s);
  else L.push("| SDK wasm (`sdk-wasm/pkg/*.wasm`) | not built | not built | not built |");
  if (sizes.reference) sizeRow("reference bundle (jose, esbuild)", sizes.reference);
  L.push("");
  if (sizes.worker_sections) {
    const w = sizes.worker_sections;
    L.push(
      `Worker wasm by section: code ${kib(w.code ?? 0)}, data ${kib(w.data ?? 0)}, \`name\` (function names) ${kib(w["custom:name"] ?? 0)}, the rest ${kib(sizes.worker.raw - (w.code ?? 0) - (w.data ?? 0) - (w["custom:name"] ?? 0))}.`,
    );
    L.push("");
  }
  L.push("| start-up, process start → first answered request (median) | ready (Miniflare) | first answer |");
  L.push("|---|---:|---:|");
  L.push(`| edgeauth (wasm) | ${fmt(startup.ea.ready_ms)} ms | ${fmt(startup.ea.first_answer_ms)} ms |`);
  L.push(`| reference (jose) | ${fmt(startup.ref.ready_ms)} ms | ${fmt(startup.ref.first_answer_ms)} ms |`);
  L.push("");
  L.push(`Raw results: \`bench/out/${path.basename(result.file)}\` (not committed).`);
  L.push("");
  L.push(END);
  void runs;
  return L.join("\n");
}

async function writeReadme(block) {
  let text;
  try {
    text = await readFile(README, "utf8");
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
    text = "# edgeauth benchmarks\n\n## Results\n\n";
  }
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a !== -1 && b > a) text = text.slice(0, a) + block + text.slice(b + END.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(README, text);
}

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const runDir = path.join(OUT, `run-${stamp}`);
  await mkdir(runDir, { recursive: true });

  const origin = await startOrigin();
  const runs = [];
  let list;
  let prepared;
  let tmpDir;
  let sizes;
  let env;
  try {
    tmpDir = await stateDir(runDir);
    prepared = await prepare(runDir, origin.url, {
      tmpDir,
      ...(args["worker-dir"] ? { workerDir: path.resolve(args["worker-dir"]) } : {}),
    });
    const wasm = await readFile(path.join(prepared.snapshot, "index_bg.wasm"));
    const stripped = without(wasm, /^custom:name$/);
    sizes = {
      worker: { ...(await sizeOf(path.join(prepared.snapshot, "index_bg.wasm"))), file: "worker/build/index_bg.wasm" },
      worker_js: { ...(await sizeOf(path.join(prepared.snapshot, "index.js"))), file: "worker/build/index.js" },
      sdk: await sdkSizes(),
      reference: { ...(await sizeOf(prepared.referenceBundle)), file: "bench/reference/worker.mjs + jose" },
      worker_sections: Object.fromEntries(sections(wasm).map((x) => [x.name, x.end - x.start])),
      worker_without_names: { raw: stripped.length, gzip: gzipSync(stripped).length, gzip9: gzipSync(stripped, { level: 9 }).length },
    };
    env = await environment();
    env.worker_wasm_sha256 = createHash("sha256").update(wasm).digest("hex").slice(0, 12);
    log(`${env.machine}; load generator: ${env.versions.load_generator}`);
    if (!USE_WRK) {
      log(`${args.generator === "node" ? "--generator node" : "wrk not found"}: the node:http generator takes CPU from the worker (apt-get install wrk)`);
    }

    for (let rep = 1; rep <= REPS; rep++) {
      const ea = await startWorker(prepared.specs.ea);
      const ref = await startWorker(prepared.specs.ref);
      const run = { rep, startup: { ea: ea.startup, ref: ref.startup }, scenarios: {} };
      try {
        list = selected(scenarios(await setUpCredentials(ea.url, prepared)));
        const floorRate = {};
        for (const sc of list) {
          const base = sc.target === "ea" ? ea.url : ref.url;
          const rate = Math.max(floorRate.ea ?? 0, floorRate.ref ?? 0) || 8000;
          const t0 = Date.now();
          const r = await runScenario(base, sc, rate, runDir);
          if (sc.id.endsWith(".floor")) floorRate[sc.target] = r.loaded.rps;
          run.scenarios[sc.id] = r;
          log(
            `rep ${rep}/${REPS} ${sc.id.padEnd(16)} ${fmt(r.loaded.rps).padStart(6)} req/s  p50 ${fmt(r.loaded.latency_ms.p50, 2)} p99 ${fmt(r.loaded.latency_ms.p99, 2)} ms  unloaded p50 ${fmt(r.idle?.latency_ms.p50, 2)} ms${r.loaded.errors ? `  ${r.loaded.errors} ERRORS` : ""}${r.loaded.reused ? "  REUSED" : ""}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
          );
        }
      } finally {
        // What the workers logged: a panic or a rebuilt Wasm instance changes what was measured.
        run.worker_logs = { ea: await stopChild(ea), ref: await stopChild(ref) };
      }
      for (const [name, stats] of Object.entries(run.worker_logs)) {
        if (stats?.trouble.count) log(`rep ${rep}: ${name} logged ${stats.trouble.count} failure lines, e.g. ${stats.trouble.first[0]}`);
      }
      runs.push(run);
    }
  } finally {
    await stopChild(origin);
    await rm(runDir, { recursive: true, force: true });
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  }

  const summary = summarize(runs, list);
  const startup = {
    ea: { ready_ms: median(runs.map((r) => r.startup.ea.ready_ms)), first_answer_ms: median(runs.map((r) => r.startup.ea.first_answer_ms)) },
    ref: { ready_ms: median(runs.map((r) => r.startup.ref.ready_ms)), first_answer_ms: median(runs.map((r) => r.startup.ref.first_answer_ms)) },
  };
  const argv = process.argv.slice(2);
  const result = {
    file: path.join(OUT, `results-${stamp}.json`),
    command: `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    env: { ...env, load_average_at_end: os.loadavg().map((x) => Math.round(x * 100) / 100), wall_s: Math.round((Date.now() - started) / 1000) },
    settings: { reps: REPS, duration_s: DURATION_S, warmup_s: WARMUP_S, idle_s: IDLE_S, connections: CONNECTIONS },
    sizes,
    startup,
    summary,
    runs,
  };
  result.targets = targets(summary, runs, sizes);
  await writeFile(result.file, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(path.join(OUT, "latest.json"), `${JSON.stringify(result, null, 2)}\n`);

  const block = table(result);
  console.log(block);
  if (!args["no-readme"]) {
    await writeReadme(block);
    log(`bench/README.md updated; raw results in ${path.relative(ROOT, result.file)} (${result.env.wall_s} s)`);
  }
}

main().catch((error) => {
  console.error(`bench: ${error.stack ?? error}`);
  process.exit(1);
});
