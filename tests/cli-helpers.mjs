// Runs the built `edgeauth` binary for the CLI spec files: a clean environment
// per call (no EDGEAUTH_* from the caller, no display, no keyring), a temporary
// home and config folder per test, and helpers to read the config file.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The binary under test: EDGEAUTH_BIN, else the debug build scripts/build.sh makes. */
export const BIN =
  process.env.EDGEAUTH_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, "target"), "debug", "edgeauth");

export async function assertBinaryBuilt() {
  await access(BIN).catch(() => {
    throw new Error(`${BIN} is missing: run scripts/build.sh cli (or cargo build -p edgeauth-cli)`);
  });
}

export const unique = () => randomBytes(6).toString("hex");
export const newPassword = () => `pw-${randomBytes(12).toString("base64url")}`;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A temporary home whose config folder (not yet created) is `config`. */
export async function tempHome() {
  const home = await mkdtemp(path.join(tmpdir(), "edgeauth-cli-"));
  return {
    home,
    config: path.join(home, "config"),
    file: path.join(home, "config", "config.toml"),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}

/**
 * The environment of one CLI run: only what is given. No D-Bus session bus
 * (so no keyring) and no DISPLAY (so no browser).
 */
export function cliEnv(home, extra = {}) {
  const env = {
    PATH: process.env.PATH,
    HOME: home.home,
    EDGEAUTH_CONFIG_DIR: home.config,
    XDG_RUNTIME_DIR: home.home,
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${path.join(home.home, "no-bus")}`,
    LANG: "C.UTF-8",
    ...extra,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Starts the CLI; stdout and stderr accumulate on the returned object. */
export function startCli(args, { env, input } = {}) {
  const child = spawn(BIN, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  const run = { child, stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (d) => (run.stdout += d));
  child.stderr.on("data", (d) => (run.stderr += d));
  run.done = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout: run.stdout, stderr: run.stderr }));
  });
  child.stdin.on("error", () => {});
  child.stdin.end(input ?? "");
  return run;
}

/** Runs the CLI to its end: `{code, stdout, stderr}`. */
export async function runCli(args, options = {}) {
  const { timeoutMs = 30_000 } = options;
  const run = startCli(args, options);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill("SIGKILL");
      reject(new Error(`edgeauth ${args.join(" ")} still running after ${timeoutMs} ms\n${run.stderr}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `pattern` shows up in the run's stdout or stderr. */
export async function waitForOutput(run, pattern, timeoutMs = 15_000) {
  const start = Date.now();
  for (;;) {
    const m = run.stdout.match(pattern) ?? run.stderr.match(pattern);
    if (m) return m;
    if (run.child.exitCode !== null) throw new Error(`exited ${run.child.exitCode} first:\n${run.stdout}\n${run.stderr}`);
    if (Date.now() - start > timeoutMs) throw new Error(`no ${pattern} after ${timeoutMs} ms:\n${run.stdout}\n${run.stderr}`);
    await sleep(50);
  }
}

/** Asserts the exit code, showing the output when it differs. */
export function assertExit(result, code, what = "") {
  assert.equal(result.code, code, `${what} exit ${result.code}, expected ${code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

export const modeOf = async (p) => (await stat(p)).mode & 0o777;

/** The config folder is 0700 and the file 0600. */
export async function assertPrivate(home) {
  assert.equal((await modeOf(home.config)).toString(8), "700", "config folder mode");
  assert.equal((await modeOf(home.file)).toString(8), "600", "config file mode");
}

export const readConfig = (home) => readFile(home.file, "utf8");

/** A string value of the config file, such as `token` of the first credential table. */
export function configValue(text, key) {
  const m = text.match(new RegExp(`^${key} = "([^"]*)"$`, "m"));
  return m?.[1];
}

/** JSON printed on stdout. */
export function stdoutJson(result) {
  try {
    return JSON.parse(result.stdout);
  } catch (error) {
    throw new Error(`stdout is not JSON (${error.message}):\n${result.stdout}\nstderr: ${result.stderr}`);
  }
}
