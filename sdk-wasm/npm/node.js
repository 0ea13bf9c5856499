// edgeauth-sdk for Node (>= 20): the wasm is read from disk, since Node's
// fetch() does not read file: URLs.
import { readFile } from "node:fs/promises";
import init from "./edgeauth_sdk.js";

await init({ module_or_path: await readFile(new URL("./edgeauth_sdk_bg.wasm", import.meta.url)) });

export { EdgeAuthClient, EdgeAuthError, signRequest, decodeToken } from "./client.js";
