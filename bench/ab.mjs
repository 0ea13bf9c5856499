// A/B checks behind bench/README.md's analysis of the misses: the same load on
// two configurations, interleaved within each repetition, so that the machine's
// noise hits both alike. Not part of `npm run bench`.
//
//   node bench/ab.mjs [--reps 3] [--duration 5]
//
//   log: edgeauth as configured by default, where `GET /api/me` has
//        `signature: optional` and so logs one `unsigned_request` line per
//        request, against the same worker with `POLICY` giving that route
//        `signature: none` (no log line); for API key, repeated and fresh ES256.
//   cf:  the reference worker's pass-through, as is and reading `request.cf`
//        once per request (what workers-rs does on every request when it
//        converts the incoming request).
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { build as esbuild } from "esbuild";
import { ROOT } from "../scripts/miniflare-options.mjs";
import { OUT, loadWrk, prepare, probe, scenarios, setUpCredentials, startOrigin, startWorker, stateDir, stopChild, which } from "./lib/harness.mjs";

const { values: args } = parseArgs({
  options: { reps: { type: "string", default: "3" }, duration: { type: "string", default: "5" } },
});
const REPS = Number(args.reps);
const DURATION_S = Number(args.duration);
if (!which("wrk")) {
  console.error("ab: needs wrk (apt-get install wrk)");
  process.exit(2);
}
const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const runDir = path.join(OUT, `ab-${Date.now()}`);
  await mkdir(runDir, { recursive: true });
  const origin = await startOrigin();
  const rps = {};
  const tmpDir = await stateDir(runDir);
  try {
    const prepared = await prepare(runDir, origin.url, { tmpDir });

    const policy = JSON.parse(await readFile(path.join(ROOT, "core", "policy.default.json"), "utf8"));
    const me = policy.routes.find((r) => r.path === "/api/me");
    if (!me) throw new Error("core/policy.default.json has no /api/me route");
    me.signature = "none";

    const source = await readFile(path.join(ROOT, "bench", "reference", "worker.mjs"), "utf8");
    const anchor = "const url = new URL(request.url);";
    if (!source.includes(anchor)) throw new Error("bench/reference/worker.mjs changed: update ab.mjs's cf variant");
    const cfEntry = path.join(runDir, "reference-cf.mjs");
    await writeFile(cfEntry, source.replace(anchor, `${anchor}\n    globalThis.__benchCf = request.cf;`));
    const cfBundle = path.join(runDir, "reference-cf.bundle.mjs");
    await esbuild({
      entryPoints: [cfEntry],
      nodePaths: [path.join(ROOT, "node_modules")],
      bundle: true,
      format: "esm",
      platform: "neutral",
      conditions: ["worker", "browser"],
      mainFields: ["module", "main"],
      minify: true,
      outfile: cfBundle,
      logLevel: "warning",
    });

    const specs = {
      ea: prepared.specs.ea,
      eaNoLog: { ...prepared.specs.ea, vars: { ...prepared.specs.ea.vars, POLICY: JSON.stringify(policy) } },
      ref: prepared.specs.ref,
      refCf: { ...prepared.specs.ref, script: cfBundle },
    };

    for (let rep = 1; rep <= REPS; rep++) {
      const w = {};
      for (const [k, spec] of Object.entries(specs)) w[k] = await startWorker(spec);
      try {
        const a = Object.fromEntries(scenarios(await setUpCredentials(w.ea.url, prepared)).map((s) => [s.id, s]));
        const b = Object.fromEntries(scenarios(await setUpCredentials(w.eaNoLog.url, prepared)).map((s) => [s.id, s]));
        const plan = [
          ["cf: reference pass-through", w.ref, a["ref.floor"]],
          ["cf: reference pass-through + request.cf", w.refCf, a["ref.floor"]],
          ["log: API key, default policy (logs)", w.ea, a["ea.api_key"]],
          ["log: API key, signature: none (no log)", w.eaNoLog, b["ea.api_key"]],
          ["log: repeated ES256, default policy (logs)", w.ea, a["ea.es256_repeat"]],
          ["log: repeated ES256, signature: none (no log)", w.eaNoLog, b["ea.es256_repeat"]],
          ["log: fresh ES256, default policy (logs)", w.ea, a["ea.es256_fresh"]],
          ["log: fresh ES256, signature: none (no log)", w.eaNoLog, b["ea.es256_fresh"]],
        ];
        for (const [name, worker, sc] of plan) {
          await probe(worker.url, sc);
          const run = (seconds, tag) =>
            loadWrk({ base: worker.url, make: sc.make, count: sc.fresh ? 9000 * seconds : 1, connections: 16, seconds, dir: runDir, tag });
          await run(1, "warm");
          const r = await run(DURATION_S, "load");
          if (r.errors || (sc.fresh && r.reused)) throw new Error(`${name}: ${r.errors} errors, reused ${r.reused}`);
          (rps[name] ??= []).push(r.rps);
          console.error(`ab: rep ${rep}/${REPS} ${name}: ${r.rps} req/s`);
        }
      } finally {
        for (const x of Object.values(w)) await stopChild(x);
      }
    }
  } finally {
    await stopChild(origin);
    await rm(runDir, { recursive: true, force: true });
    await rm(tmpDir, { recursive: true, force: true });
  }

  const names = Object.keys(rps);
  const lines = ["| configuration | req/s (median) | runs | B/A |", "|---|---:|---|---:|"];
  for (let i = 0; i < names.length; i += 2) {
    const [a, b] = [names[i], names[i + 1]];
    const ratio = median(rps[b].map((x, k) => x / rps[a][k]));
    lines.push(`| ${a} | ${Math.round(median(rps[a]))} | ${rps[a].map(Math.round).join(", ")} | |`);
    lines.push(`| ${b} | ${Math.round(median(rps[b]))} | ${rps[b].map(Math.round).join(", ")} | ${ratio.toFixed(2)} |`);
  }
  const file = path.join(OUT, `ab-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), reps: REPS, duration_s: DURATION_S, rps }, null, 2)}\n`);
  console.log(lines.join("\n"));
  console.error(`ab: raw results in ${path.relative(ROOT, file)}`);
}

main().catch((error) => {
  console.error(`ab: ${error.stack ?? error}`);
  process.exit(1);
});
