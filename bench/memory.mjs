// How much memory one huge request body costs the worker: workerd's resident set before and
// during a chunked upload with no Content-Length (300 MB by default) to POST /v1/auth/token,
// sampled every 20 ms. Bodies are read as a stream and refused once they pass the limit
// (64 KiB), so the peak should stay within a few MB of idle.
//   node bench/memory.mjs [--mb 300]      (build first: bash scripts/build.sh worker)
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { startWorker } from "../tests/harness.mjs";

const mb = Number(process.argv[process.argv.indexOf("--mb") + 1]) || 300;

/** The workerd processes this process started (Miniflare spawns one per worker). */
function workerdPids() {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm.startsWith("workerd") && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // A process that ended while being read.
    }
  }
  return pids;
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

/** Offers `mbOffered` MB chunked to POST /v1/auth/token; resolves when the answer comes. */
function upload(url, mbOffered) {
  return new Promise((resolve) => {
    const req = http.request({
      host: url.hostname, port: url.port, method: "POST", path: "/v1/auth/token", agent: false,
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    });
    const chunk = Buffer.alloc(64 * 1024, "a");
    let sent = 0;
    const pump = () => {
      while (sent < mbOffered * 1024 * 1024) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      req.end();
    };
    req.on("response", (res) => {
      res.resume();
      resolve({ status: res.statusCode, sent });
      req.destroy();
    });
    req.on("error", (e) => resolve({ status: `connection ${e.code ?? "closed"}`, sent }));
    pump();
  });
}

const w = await startWorker();
try {
  const url = new URL(w.url);
  // Warm up the same path with a 1 MB body, so that what is measured is the body, not
  // the first request's compilation and allocations (about 30 MB here, whatever the size).
  await upload(url, 1);
  await new Promise((r) => setTimeout(r, 500));
  const [pid] = workerdPids();
  if (!pid) throw new Error("no workerd child process found");
  const idle = rssKiB(pid);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 20);
  const started = Date.now();
  const outcome = await upload(url, mb);
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(sampler);
  const row = {
    body_mb_offered: mb,
    answer: outcome.status,
    mb_sent_before_answer: +(outcome.sent / 1048576).toFixed(1),
    ms: Date.now() - started,
    rss_idle_mb: +(idle / 1024).toFixed(1),
    rss_peak_mb: +(peak / 1024).toFixed(1),
    growth_mb: +((peak - idle) / 1024).toFixed(1),
  };
  console.log(JSON.stringify(row));
  // "Within a few MB of idle": more than 8 MB means the body is being held somewhere.
  if (row.growth_mb > 8) process.exitCode = 1;
} finally {
  await w.dispose();
}
