// A closed-loop HTTP/1.1 load generator over keep-alive connections (node:http).
// Each connection sends its next request when the previous answer has been read
// in full; requests are built per request (fresh token, fresh nonce, signature).
import http from "node:http";

/** Percentile by nearest rank over a sorted Float64Array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Runs `connections` request loops against `base` for `warmupMs + durationMs`.
 * Only requests sent after the warm-up and answered before the end count.
 *   build(i) => {method, path, headers, body?}   (i: running request number)
 *   check(status, body) => true when the answer is the expected one
 * Returns {requests, rps, latency_ms: {p50, p90, p99, max, mean}, errors, statuses, firstError}.
 */
export async function runLoad({ base, connections, warmupMs, durationMs, build, check = (s) => s === 200 }) {
  const target = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const latencies = new Float64Array(4_000_000);
  let counted = 0;
  let errors = 0;
  let firstError;
  const statuses = {};
  let sent = 0;
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;

  const once = (spec) =>
    new Promise((resolve) => {
      const headers = { ...spec.headers };
      if (spec.body !== undefined) headers["content-length"] = Buffer.byteLength(spec.body);
      const req = http.request(
        { host: target.hostname, port: target.port, method: spec.method, path: spec.path, headers, agent },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", (error) => resolve({ status: 0, body: String(error) }));
        },
      );
      req.on("error", (error) => resolve({ status: 0, body: String(error) }));
      req.end(spec.body);
    });

  const loop = async () => {
    while (performance.now() < end) {
      const spec = build(sent++);
      const t0 = performance.now();
      const { status, body } = await once(spec);
      const t1 = performance.now();
      if (t0 < measureFrom || t1 > end) continue;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (!check(status, body)) {
        errors += 1;
        firstError ??= `${status} ${body.slice(0, 300)}`;
      }
      if (counted < latencies.length) latencies[counted] = t1 - t0;
      counted += 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  agent.destroy();

  const sorted = latencies.subarray(0, Math.min(counted, latencies.length)).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const round = (v) => Math.round(v * 1000) / 1000;
  return {
    requests: counted,
    rps: Math.round((counted / durationMs) * 1000 * 10) / 10,
    latency_ms: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[sorted.length - 1] ?? NaN),
      mean: round(sum / sorted.length),
    },
    errors,
    statuses,
    firstError,
  };
}
