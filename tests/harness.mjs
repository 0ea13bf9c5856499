// Starts the built worker (worker/build/index.js) in Miniflare for one spec
// file, with the same bindings as `npm run dev` (scripts/miniflare-options.mjs).
import { randomBytes } from "node:crypto";
import { Miniflare } from "miniflare";
import { generateSigningKeys, miniflareOptions, workerVars } from "../scripts/miniflare-options.mjs";

export { startEchoOrigin } from "./origin.mjs";

/**
 * Options:
 *   vars          overrides of the worker's vars (`undefined` removes one);
 *                 the rest are the development defaults, never process.env
 *   omitBindings  e.g. ["API_KEYS"] or ["DIRECTORY", "NONCES"]: the binding is
 *                 missing, to simulate a failing store (the worker must answer 503)
 *   signingKeys   the SIGNING_KEYS value; default: one fresh P-256 key
 *   assetsDir     what the ASSETS binding serves (default www/dist)
 *   echoLogs      also print workerd's output (default: env EDGEAUTH_TEST_LOGS=1)
 *   persistDir    a directory to keep KV and Durable Object state in (kv/, do/), so
 *                 that a test can read the stored bytes (after dispose)
 *
 * Without persistDir, state (KV, Durable Objects) is in memory and new on every call.
 * Returns { url, mf, logs, signingKeys, fetch, settleLogs, dispose }:
 *   url          "http://127.0.0.1:<port>" (no trailing slash)
 *   logs         workerd's stdout and stderr, one entry per line, in arrival order
 *   fetch        (path, init) => fetch(url + path, init)
 *   settleLogs   resolves once workerd has been quiet for `quietMs` (its output
 *                arrives asynchronously; await this before asserting on `logs`)
 */
export async function startWorker(options = {}) {
  const {
    vars = {},
    omitBindings = [],
    signingKeys = await generateSigningKeys(`test-${randomBytes(4).toString("hex")}`),
    assetsDir,
    echoLogs = process.env.EDGEAUTH_TEST_LOGS === "1",
    persistDir,
  } = options;

  const logs = [];
  let lastOutput = Date.now();
  const capture = (stream, name) => {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      lastOutput = Date.now();
      if (echoLogs) process.stderr.write(`[workerd ${name}] ${chunk}`);
      const lines = (partial + chunk).split("\n");
      partial = lines.pop();
      logs.push(...lines);
    });
    stream.on("end", () => {
      if (partial) logs.push(partial);
      partial = "";
    });
  };

  const mf = new Miniflare(
    miniflareOptions({
      vars: workerVars({}, vars),
      signingKeys,
      omitBindings,
      assetsDir,
      persistDir,
      handleRuntimeStdio(stdout, stderr) {
        capture(stdout, "stdout");
        capture(stderr, "stderr");
      },
    }),
  );
  let url;
  try {
    url = (await mf.ready).origin;
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }

  return {
    url,
    mf,
    logs,
    signingKeys,
    fetch: (path, init) => fetch(url + path, init),
    async settleLogs(quietMs = 100, maxMs = 2000) {
      const start = Date.now();
      while (Date.now() - lastOutput < quietMs && Date.now() - start < maxMs) {
        await new Promise((resolve) => setTimeout(resolve, quietMs / 2));
      }
    },
    dispose: () => mf.dispose(),
  };
}
