// Device login with the `edgeauth` CLI (SPEC "Device login", RFC 8628): the CLI shows a
// code, a signed-in user approves or denies it through the API, and the CLI ends signed in
// or exits 4; the token endpoint's slow_down, used and unknown codes.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";
import {
  assertBinaryBuilt,
  assertExit,
  assertPrivate,
  cliEnv,
  newPassword,
  runCli,
  sleep,
  startCli,
  stdoutJson,
  tempHome,
  unique,
  waitForOutput,
} from "./cli-helpers.mjs";

const USER_CODE = /\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b/;

let worker;
const homes = [];
before(async () => {
  await assertBinaryBuilt();
  worker = await startWorker();
});
after(async () => {
  await worker?.dispose();
  await Promise.all(homes.map((h) => h.cleanup()));
});

async function home() {
  const h = await tempHome();
  homes.push(h);
  return h;
}

const post = (p, body, token) =>
  worker.fetch(p, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

/** A user signed in through the API (the one who approves in the console). */
async function approver() {
  const email = `approver-${unique()}@example.com`;
  const password = newPassword();
  const reg = await post("/v1/auth/register", { email, password, name: "Approver" });
  assert.equal(reg.status, 201, await reg.text());
  const res = await post("/v1/auth/token", { email, password });
  assert.equal(res.status, 200);
  const { token } = await res.json();
  return { email, token };
}

async function decide(userCode, token, approve) {
  const res = await post("/v1/auth/device/approve", { user_code: userCode, approve }, token);
  assert.equal(res.status, 204, await res.text());
}

describe("edgeauth auth login --device", () => {
  test("prints a code; approved through the API, the CLI ends signed in as the approver", async () => {
    const h = await home();
    const user = await approver();
    const env = cliEnv(h, { EDGEAUTH_URL: worker.url });
    const run = startCli(["auth", "login", "--device", "--no-browser"], { env });
    const [, code] = await waitForOutput(run, USER_CODE);
    assert.ok(run.stdout.includes(`${worker.url}/console/device`), run.stdout);
    await decide(code.toLowerCase().replace("-", ""), user.token, true); // case and dash are ignored
    const done = await Promise.race([run.done, sleep(25_000).then(() => ({ code: "timeout" }))]);
    assertExit(done, 0, "device login");
    assert.match(done.stdout, new RegExp(`Signed in to ${worker.url} as ${user.email}`));
    await assertPrivate(h);
    const who = await runCli(["auth", "whoami", "--json"], { env });
    assertExit(who, 0, "whoami");
    assert.equal(stdoutJson(who).email, user.email);
    const status = stdoutJson(await runCli(["auth", "status", "--json"], { env }));
    assert.equal(status.source, "config");
    // Approval issued a new session: the approver's own token still works.
    const own = await worker.fetch("/v1/auth/whoami", { headers: { authorization: `Bearer ${user.token}` } });
    assert.equal(own.status, 200);
    await own.arrayBuffer();
  });

  test("--json prints the code's details first, never the device code", async () => {
    const h = await home();
    const user = await approver();
    const env = cliEnv(h, { EDGEAUTH_URL: worker.url });
    const run = startCli(["auth", "login", "--no-browser", "--json"], { env });
    await waitForOutput(run, /\n/);
    const first = JSON.parse(run.stdout.split("\n")[0]);
    assert.match(first.user_code, USER_CODE);
    assert.equal(first.verification_uri, `${worker.url}/console/device`);
    assert.equal(first.interval, 5);
    assert.equal(first.device_code, undefined);
    await decide(first.user_code, user.token, true);
    const done = await Promise.race([run.done, sleep(25_000).then(() => ({ code: "timeout" }))]);
    assertExit(done, 0, "device login --json");
    const last = JSON.parse(done.stdout.slice(done.stdout.indexOf("\n") + 1));
    assert.equal(last.user.email, user.email);
    assert.equal(last.token, undefined);
    assert.equal(last.refresh_token, undefined);
    assert.equal(last.profile, "default");
  });

  test("a denied code ends with exit 4 and stores nothing", async () => {
    const h = await home();
    const user = await approver();
    const env = cliEnv(h, { EDGEAUTH_URL: worker.url });
    const run = startCli(["auth", "login", "--device", "--no-browser"], { env });
    const [, code] = await waitForOutput(run, USER_CODE);
    await decide(code, user.token, false);
    const done = await Promise.race([run.done, sleep(25_000).then(() => ({ code: "timeout" }))]);
    assertExit(done, 4, "denied");
    assert.match(done.stderr, /denied/);
    await assert.rejects(readFile(h.file, "utf8"), /ENOENT/);
  });
});

describe("the device token endpoint", () => {
  const codeFor = async () => {
    const res = await post("/v1/auth/device/code", { client_name: "spec" });
    assert.equal(res.status, 200);
    return res.json();
  };
  const poll = async (deviceCode) => {
    const res = await post("/v1/auth/device/token", { device_code: deviceCode });
    return { status: res.status, body: await res.json() };
  };

  test("polling faster than the interval gets slow_down", async () => {
    const code = await codeFor();
    const first = await poll(code.device_code);
    assert.equal(first.status, 400);
    assert.ok(["authorization_pending", "slow_down"].includes(first.body.error.reason), first.body.error.reason);
    const second = await poll(code.device_code);
    assert.equal(second.status, 400);
    assert.equal(second.body.error.reason, "slow_down");
  });

  test("a used code is refused with expired_token, and an unknown one is refused", async () => {
    const user = await approver();
    const code = await codeFor();
    await decide(code.user_code, user.token, true);
    const issued = await poll(code.device_code);
    assert.equal(issued.status, 200);
    assert.equal(issued.body.user.email, user.email);
    const again = await poll(code.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.body.error.reason, "expired_token");
    const unknown = await poll(`ea_dc_${"x".repeat(43)}`);
    assert.equal(unknown.status, 400);
    assert.ok(["expired_token", "invalid_field"].includes(unknown.body.error.reason), unknown.body.error.reason);
  });
});
