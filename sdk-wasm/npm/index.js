// edgeauth-sdk for browsers, bundlers and other runtimes with fetch(): the wasm is
// fetched next to this file (bundlers see the `new URL(..., import.meta.url)` and ship
// it as an asset). Node, which cannot fetch file: URLs, normally gets node.js through
// the exports map; importing this file by path from Node works too.
import init from "./edgeauth_sdk.js";

const wasm = new URL("./edgeauth_sdk_bg.wasm", import.meta.url);
const FS = "node:fs/promises";
const fromDisk = wasm.protocol === "file:" && typeof process === "object" && process.versions?.node;
await init({
  module_or_path: fromDisk ? await (await import(/* webpackIgnore: true */ /* @vite-ignore */ FS)).readFile(wasm) : wasm,
});

export { EdgeAuthClient, EdgeAuthError, signRequest, decodeToken } from "./client.js";
