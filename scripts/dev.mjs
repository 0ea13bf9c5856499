// The dev server: the built worker in Miniflare on 127.0.0.1:$PORT, with local
// KV and Durable Objects persisted under .edgeauth-dev/ and generated signing keys.
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import {
  ASSETS_DIR,
  ROOT,
  WORKER_SCRIPT,
  generateSigningKeys,
  miniflareOptions,
  workerVars,
} from "./miniflare-options.mjs";

const STATE_DIR = path.join(ROOT, ".edgeauth-dev");
const KEYS_FILE = path.join(STATE_DIR, "signing-keys.json");

function fail(message) {
  console.error(`dev: ${message}`);
  process.exit(1);
}

/** The development signing keys: read from .edgeauth-dev/, made on first run. */
async function developmentSigningKeys() {
  let text;
  try {
    text = await readFile(KEYS_FILE, "utf8");
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
  if (text !== undefined) {
    let keys;
    try {
      keys = JSON.parse(text);
    } catch {
      fail(`${KEYS_FILE} is not JSON: delete it to generate new keys`);
    }
    const valid =
      typeof keys?.active_kid === "string" &&
      Array.isArray(keys.keys) &&
      keys.keys.some((key) => key?.kid === keys.active_kid && typeof key.d === "string");
    if (!valid) fail(`${KEYS_FILE} has no private key for its active_kid: delete it to generate new keys`);
    return { keys, created: false };
  }
  const kid = `dev-${new Date().toISOString().slice(0, 10)}`;
  const keys = await generateSigningKeys(kid);
  await writeFile(KEYS_FILE, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  await chmod(KEYS_FILE, 0o600);
  return { keys, created: true };
}

function port() {
  const value = process.env.PORT ?? "8787";
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 65535) fail(`PORT=${value} is not a port number`);
  return number;
}

await readFile(WORKER_SCRIPT).catch(() => fail(`${WORKER_SCRIPT} is missing: run scripts/build.sh`));
await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
const { keys: signingKeys, created } = await developmentSigningKeys();
const vars = workerVars(process.env);

// Registered before Miniflare's own exit hook (which kills workerd and exits
// with 128+signal), so that the message comes first.
let mf;
let stopping = false;
function stop(signal) {
  if (stopping) process.exit(130); // a second Ctrl-C does not wait
  stopping = true;
  console.log(`\ndev: ${signal}, stopping`);
  const disposed = mf ? mf.dispose() : Promise.resolve();
  disposed.finally(() => process.exit(0));
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
// `npm run dev` runs us under `sh -c`, which does not pass on the SIGTERM that
// npm forwards when it is stopped (say by an editor); without this the server
// would live on, orphaned, holding the port.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop("parent exited");
}, 1000).unref();

mf = new Miniflare(
  miniflareOptions({
    vars,
    signingKeys,
    port: port(),
    persistDir: STATE_DIR,
    log: new Log(LogLevel.INFO),
  }),
);

let url;
try {
  url = (await mf.ready).origin;
} catch (error) {
  await mf.dispose().catch(() => {});
  fail(`the worker did not start: ${error.message}`);
}

const rel = (file) => path.relative(process.cwd(), file) || ".";
console.log(`
edgeauth dev server: ${url}
  console        ${url}/console/   (files from ${rel(ASSETS_DIR)})
  origin         ${vars.ORIGIN_URL ? vars.ORIGIN_URL : "built-in echo origin (set ORIGIN_URL to forward elsewhere)"}
  signing key    ${signingKeys.active_kid} (${created ? "generated, " : ""}${rel(KEYS_FILE)})
  state          ${rel(STATE_DIR)}/ (delete it to start over)
  settings       ${Object.entries(vars)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ")}

try:
  curl -i ${url}/health
  curl -s ${url}/v1/auth/register -H 'content-type: application/json' \\
    -d '{"email":"dev@example.com","password":"correct horse battery","name":"Dev"}'
  TOKEN=$(curl -s ${url}/v1/auth/token -H 'content-type: application/json' \\
    -d '{"email":"dev@example.com","password":"correct horse battery"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
  curl -s ${url}/api/me -H "authorization: Bearer $TOKEN"

Ctrl-C stops the server.
`);
