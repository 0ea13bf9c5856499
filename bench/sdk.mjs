// The SDK's numbers for bench/README.md: wasm size (raw, gzip -9) of the built package, and
// the cost of its synchronous work. Run after `bash scripts/build.sh sdk`:
//   node bench/sdk.mjs
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";

const PKG = new URL("../sdk-wasm/pkg/", import.meta.url);
const size = async (name) => {
  const bytes = await readFile(new URL(name, PKG));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};

const started = performance.now();
const { signRequest, decodeToken } = await import(new URL("node.js", PKG).href);
const importMs = performance.now() - started;

async function perCall(n, run) {
  for (let i = 0; i < n / 10; i += 1) await run();
  const t = performance.now();
  for (let i = 0; i < n; i += 1) await run();
  return ((performance.now() - t) * 1000) / n;
}

const key = "ea_live_0123456789abcdefghijABCDEFGHIJ0123456789";
const body = JSON.stringify({ branch: "main", force: true, note: "x".repeat(200) });
const claims = { sub: "usr_1", exp: 1_700_000_000, scope: "scans:read drifts:*", tenants: { demo: "admin" } };
const token = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;

const result = {
  wasm: await size("edgeauth_sdk_bg.wasm"),
  glue_js: await size("edgeauth_sdk.js"),
  client_js: await size("client.js"),
  import_ms: Number(importMs.toFixed(1)),
  sign_request_us: Number((await perCall(50_000, () => signRequest(key, "POST", "/api/scans/trigger/r1", body))).toFixed(2)),
  decode_token_us: Number((await perCall(50_000, () => decodeToken(token))).toFixed(2)),
};
console.log(JSON.stringify(result, null, 2));
