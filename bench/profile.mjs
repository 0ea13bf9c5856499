// Where a scenario's time goes inside workerd: a V8 CPU profile of the worker's
// isolate taken while wrk loads one scenario, summed by function (self time) and
// by kind of work.
//
//   node --experimental-websocket bench/profile.mjs [--scenario ea.es256_fresh]
//        [--seconds 5] [--connections 16] [--worker-dir worker/build] [--top 40]
//
// Writes bench/out/<scenario>.cpuprofile (open it in Chrome DevTools or
// speedscope). Wasm frames carry Rust names only when the wasm keeps its `name`
// section, which scripts/build.sh strips: to see them, build a copy without
// that step (worker-build keeps names) and pass its directory as --worker-dir.
// Without names, wasm time still shows as "wasm: other" and the JS glue
// (`__wbg_*` imports: request.cf, Headers.append, console.log, crypto.subtle
// verify) keeps its names. Needs wrk; the profiler slows the worker down, so
// compare shares and µs here, and throughput only in bench/run.mjs.
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/miniflare-options.mjs";
import {
  OUT,
  loadWrk,
  prepare,
  probe,
  scenarios,
  setUpCredentials,
  sleep,
  startOrigin,
  startWorker,
  stateDir,
  stopChild,
  which,
} from "./lib/harness.mjs";

const { values: args } = parseArgs({
  options: {
    scenario: { type: "string", default: "ea.es256_fresh" },
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "16" },
    "worker-dir": { type: "string" },
    top: { type: "string", default: "40" },
    "inspector-port": { type: "string", default: "9329" },
  },
});
if (typeof WebSocket === "undefined") {
  console.error("profile: run with `node --experimental-websocket` (Node 20) or Node ≥ 22");
  process.exit(2);
}
if (!which("wrk")) {
  console.error("profile: needs wrk (apt-get install wrk)");
  process.exit(2);
}

/** A minimal Chrome DevTools Protocol client. */
async function devtools(port) {
  let targets = [];
  for (let i = 0; i < 50 && targets.length === 0; i++) {
    try {
      targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
    } catch {
      await sleep(100);
    }
  }
  // Miniflare lists its own internal workers too; ours is the user worker.
  const target = targets.find((t) => /edgeauth|reference/.test(t.title ?? t.id ?? "")) ?? targets[0];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result);
    }
  };
  return {
    title: target.title,
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const n = ++id;
        pending.set(n, { resolve, reject });
        ws.send(JSON.stringify({ id: n, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** What kind of work a frame is, for the summary by kind. */
function kindOf(frame) {
  const name = frame.functionName || "(anonymous)";
  const url = frame.url || "";
  if (name === "(garbage collector)") return "GC";
  if (name === "(idle)" || name === "(program)" || name === "(root)") return name;
  if (/^\$?(edgeauth_core)::/.test(name) || name.includes("edgeauth_core::")) return "wasm: edgeauth_core";
  if (name.includes("edgeauth_worker::")) return "wasm: edgeauth_worker";
  if (/serde_json|serde::/.test(name)) return "wasm: serde/serde_json";
  if (/jwt_compact/.test(name)) return "wasm: jwt_compact";
  if (/sha2|hmac|digest::/.test(name)) return "wasm: sha2/hmac";
  if (/base64/.test(name)) return "wasm: base64";
  if (/^worker::|<worker::|worker_sys|wasm_bindgen|js_sys|web_sys/.test(name)) return "wasm: workers-rs/wasm-bindgen";
  if (/dlmalloc|alloc::|__rust_alloc|__rust_dealloc|memcpy|memmove|memset/.test(name)) return "wasm: alloc/mem";
  if (/^(core|std)::|<core::|<std::|<alloc::/.test(name)) return "wasm: core/std";
  if (url.startsWith("wasm://") || /^\$?func\d+|^wasm-function/.test(name)) return "wasm: other";
  if (url === "" && name !== "(anonymous)") return `native: ${name}`;
  if (/jose|reference/.test(url)) return "JS: worker (jose)";
  if (/index\.js|edgeauth|worker/.test(url)) return "JS: wasm-bindgen glue";
  return url ? `JS: ${path.basename(url)}` : "JS: other";
}

/**
 * Self time by function and by kind, counted in samples: V8 charges the gap
 * before a sample to that sample's frame, and the first gap after
 * Profiler.start (it logs every compiled function first) can be a second long.
 */
function summarize(profile, top, perRequestUs) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const fn = new Map();
  const kinds = new Map();
  for (const [nid, us] of self) {
    const f = byId.get(nid).callFrame;
    const key = `${f.functionName || "(anonymous)"}  ${f.url ? path.basename(f.url) : ""}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const k = kindOf(f);
    kinds.set(k, (kinds.get(k) ?? 0) + us);
  }
  // A share of samples, and what it comes to per request: share × wall time / requests.
  const pct = (n) => `${((100 * n) / total).toFixed(1).padStart(5)}% ${((n / total) * perRequestUs).toFixed(1).padStart(6)} µs/req`;
  const busy = total - (kinds.get("(idle)") ?? 0);
  const lines = [
    `${total} samples, ${((100 * busy) / total).toFixed(0)}% busy: ${((busy / total) * perRequestUs).toFixed(0)} µs of the isolate's thread per request`,
    "",
    "by kind (self time):",
  ];
  for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1])) lines.push(`  ${pct(n)}  ${k}`);
  lines.push("", `top ${top} functions (self time):`);
  for (const [k, n] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(n)}  ${k.slice(0, 150)}`);
  return lines.join("\n");
}

async function main() {
  const seconds = Number(args.seconds);
  const port = Number(args["inspector-port"]);
  const runDir = path.join(OUT, `profile-${Date.now()}`);
  await mkdir(runDir, { recursive: true });
  const origin = await startOrigin();
  const tmpDir = await stateDir(runDir);
  let worker;
  try {
    const prepared = await prepare(runDir, origin.url, {
      inspectorPort: port,
      tmpDir,
      ...(args["worker-dir"] ? { workerDir: path.resolve(ROOT, args["worker-dir"]) } : {}),
    });
    // Credentials need edgeauth even when the reference is profiled: a separate,
    // uninspected instance makes them.
    const { inspectorPort: _unused, ...eaPlain } = prepared.specs.ea;
    const scenarioTarget = args.scenario.split(".")[0];
    const ea = scenarioTarget === "ea" ? await startWorker(prepared.specs.ea) : await startWorker(eaPlain);
    const ref = scenarioTarget === "ref" ? await startWorker(prepared.specs.ref) : null;
    worker = [ea, ref];
    const list = scenarios(await setUpCredentials(ea.url, prepared));
    const scenario = list.find((s) => s.id === args.scenario);
    if (!scenario) throw new Error(`--scenario: one of ${list.map((s) => s.id).join(", ")}`);
    const base = scenario.target === "ea" ? ea.url : ref.url;
    await probe(base, scenario);
    const load = (secs, tag) =>
      loadWrk({ base, make: scenario.make, count: scenario.fresh ? 12_000 * secs : 1, connections: Number(args.connections), seconds: secs, dir: runDir, tag });
    await load(1, "warm");

    const cdp = await devtools(port);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
    const result = await load(seconds, "load");
    const { profile } = await cdp.send("Profiler.stop");
    cdp.close();

    const file = path.join(OUT, `${scenario.id}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    console.log(`${scenario.id} (${cdp.title}) under the profiler: ${result.rps} req/s, ${result.errors} errors`);
    console.log(summarize(profile, Number(args.top), (seconds * 1e6) / result.requests));
    console.log(`\nprofile: ${path.relative(ROOT, file)}`);
  } finally {
    for (const w of worker ?? []) await stopChild(w);
    await stopChild(origin);
    await rm(runDir, { recursive: true, force: true });
    await rm(tmpDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`profile: ${error.stack ?? error}`);
  process.exit(1);
});
