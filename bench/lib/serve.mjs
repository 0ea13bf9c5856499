// One Miniflare instance (its own workerd), run as a child process so that the
// bench can time it from process start to first answer and keep its Node side
// off the load generator's event loop.
//   node bench/lib/serve.mjs   with BENCH_SERVE = JSON {kind, vars, signingKeys?, script?, inspectorPort?}
//   kind "edgeauth": the built worker (or `script`, a copy of it) with
//                     scripts/miniflare-options.mjs's bindings
//   kind "reference": the bundled jose worker (`script`), vars as bindings
// Prints `{"url": ...}` once ready; disposes and exits when stdin closes.
import path from "node:path";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE, miniflareOptions, workerVars } from "../../scripts/miniflare-options.mjs";

const spec = JSON.parse(process.env.BENCH_SERVE ?? "{}");
let logLines = 0;
let ready = false;
const early = [];
// The worker logs a line per unsigned request on `signature: optional` routes;
// keep draining workerd's output (a full pipe would stall it) but print none of
// it, except what it says before it is ready (why it did not start).
// BENCH_WORKER_LOGS=1 passes it all through to stderr.
const echo = process.env.BENCH_WORKER_LOGS === "1";
// Lines that say the worker itself failed (a panic, a Wasm instance rebuilt):
// counted, and reported by the bench, since they change what is measured.
const TROUBLE = /panicked|Critical|Reinitializing|Uncaught|RuntimeError|edgeauth: .*(failed|unavailable)/;
const trouble = { count: 0, first: [] };
const drain = (stream) => {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    if (!ready) early.push(Buffer.from(chunk));
    if (echo) process.stderr.write(chunk);
    const lines = (partial + chunk).split("\n");
    partial = lines.pop();
    logLines += lines.length;
    for (const line of lines) {
      if (TROUBLE.test(line)) {
        trouble.count += 1;
        if (trouble.first.length < 5) trouble.first.push(line.slice(0, 300));
      }
    }
  });
};
const handleRuntimeStdio = (stdout, stderr) => {
  drain(stdout);
  drain(stderr);
};

let options;
if (spec.kind === "edgeauth") {
  options = miniflareOptions({
    vars: workerVars({}, spec.vars ?? {}),
    signingKeys: spec.signingKeys,
    handleRuntimeStdio,
  });
  // A snapshot of worker/build taken by the bench (the build may change under a run).
  if (spec.script) options.scriptPath = spec.script;
  // Module names are relative to modulesRoot (default: the working directory),
  // and workerd refuses `..` in them: root them where the script is.
  options.modulesRoot = path.dirname(options.scriptPath);
} else if (spec.kind === "reference") {
  options = {
    name: "reference",
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath: spec.script,
    modulesRoot: path.dirname(spec.script),
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: spec.vars,
    cf: false,
    handleRuntimeStdio,
  };
} else {
  throw new Error(`BENCH_SERVE.kind: ${spec.kind}`);
}

// For bench/profile.mjs: V8's inspector, to take CPU profiles of the worker.
if (spec.inspectorPort) options.inspectorPort = spec.inspectorPort;

const mf = new Miniflare(options);
let url;
try {
  url = (await mf.ready).origin;
} catch (error) {
  process.stderr.write(Buffer.concat(early));
  throw error;
}
ready = true;
early.length = 0;
process.stdout.write(`${JSON.stringify({ url, pid: process.pid })}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`BENCH_STATS ${JSON.stringify({ log_lines: logLines, trouble })}\n`);
  await mf.dispose().catch(() => {});
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
