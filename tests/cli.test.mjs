// The `edgeauth` CLI against the built worker (SPEC "CLI"): sessions, signing, refresh,
// API keys and profiles, the config file's modes and failures, the keyring rule, and exit codes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { startWorker } from "./harness.mjs";
import {
  assertBinaryBuilt,
  assertExit,
  assertPrivate,
  BIN,
  cliEnv,
  configValue,
  modeOf,
  newPassword,
  readConfig,
  runCli,
  stdoutJson,
  tempHome,
  unique,
} from "./cli-helpers.mjs";

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

/** A CLI bound to one home and the test worker (through EDGEAUTH_URL unless told otherwise). */
function cliFor(h, baseEnv = {}) {
  return (args, { env = {}, input } = {}) =>
    runCli(args, { env: cliEnv(h, { EDGEAUTH_URL: worker.url, ...baseEnv, ...env }), input });
}

async function apiJson(p, init = {}) {
  const res = await worker.fetch(p, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** Registers and signs in through the CLI; returns what the test needs. */
async function signedIn(cli) {
  const email = `cli-${unique()}@example.com`;
  const password = newPassword();
  assertExit(await cli(["auth", "register", "--email", email, "--name", "CLI User", "--password-stdin"], { input: `${password}\n` }), 0, "register");
  assertExit(await cli(["auth", "login", "--email", email, "--password-stdin"], { input: `${password}\n` }), 0, "login");
  return { email, password };
}

describe("a password session, end to end", () => {
  test("register → login → status → whoami → request → signed request → refresh → logout", async () => {
    const h = await home();
    const cli = cliFor(h);
    const email = `cli-${unique()}@example.com`;
    const password = newPassword();

    const reg = await cli(["auth", "register", "--email", email, "--name", "Ann", "--password-stdin", "--json"], { input: `${password}\n` });
    assertExit(reg, 0, "register");
    const registered = stdoutJson(reg);
    assert.equal(registered.user.email, email);
    assert.ok(!reg.stdout.includes(password) && !reg.stderr.includes(password), "no password in output");

    const login = await cli(["auth", "login", "--email", email, "--password-stdin"], { input: `${password}\n` });
    assertExit(login, 0, "login");
    assert.match(login.stdout, new RegExp(`Signed in to ${worker.url} as ${email} \\(profile default\\)`));
    await assertPrivate(h);
    let config = await readConfig(h);
    assert.ok(!config.includes(password), "the password is never stored");
    const token = configValue(config, "token");
    const refreshToken = configValue(config, "refresh_token");
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.match(refreshToken, /^ea_rt_/);
    for (const out of [login.stdout, login.stderr]) {
      assert.ok(!out.includes(token) && !out.includes(refreshToken) && !out.includes(password), "no secret in output");
    }

    const status = await cli(["auth", "status"]);
    assertExit(status, 0, "status");
    assert.match(status.stdout, new RegExp(`Signed in to ${worker.url} as ${email} \\(profile default\\)`));
    assert.match(status.stdout, /from config \(/);
    assert.match(status.stdout, /valid until: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (59|60) min\)/);
    const statusJson = stdoutJson(await cli(["auth", "status", "--json"]));
    assert.equal(statusJson.profile, "default");
    assert.equal(statusJson.url, worker.url);
    assert.equal(statusJson.source, "config");
    assert.equal(statusJson.kind, "user");
    assert.equal(statusJson.email, email);

    // whoami --json is exactly the API's answer for the stored token.
    const whoami = await cli(["auth", "whoami", "--json"]);
    assertExit(whoami, 0, "whoami");
    const direct = await apiJson("/v1/auth/whoami", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(direct.status, 200);
    assert.deepEqual(stdoutJson(whoami), direct.body);
    const { profile, url, source, ...rest } = statusJson;
    assert.deepEqual(rest, direct.body, "status --json is whoami plus profile, url, source");

    // The identity reaches the origin.
    const me = await cli(["request", "GET", "/api/me"]);
    assertExit(me, 0, "request GET /api/me");
    assert.match(me.stderr, /^HTTP\/1\.1 200 OK$/m);
    const echoed = JSON.parse(me.stdout);
    assert.equal(echoed.method, "GET");
    assert.equal(echoed.path, "/api/me");
    assert.equal(echoed.headers["x-edgeauth-subject"], registered.user.id);
    assert.equal(echoed.headers["x-edgeauth-kind"], "user");
    assert.equal(echoed.headers.authorization, undefined, "the credential is not forwarded");
    assert.match(echoed.headers["x-cli-signature"], /^[0-9a-f]{64}$/, "signed by default");

    // A route that requires a signature accepts the CLI's, body and query included.
    const signed = await cli(["request", "POST", "/api/signed/x?y=1", "--data", '{"a":1}']);
    assertExit(signed, 0, "signed POST");
    const signedEcho = JSON.parse(signed.stdout);
    assert.equal(signedEcho.body, '{"a":1}');
    assert.equal(signedEcho.query, "y=1");
    assert.equal(signedEcho.headers["content-type"], "application/json");
    assert.match(signedEcho.headers["x-cli-nonce"], /^[A-Za-z0-9_-]{16,128}$/);
    assert.ok(Math.abs(Number(signedEcho.headers["x-cli-timestamp"]) - Date.now()) < 60_000);

    const unsigned = await cli(["request", "POST", "/api/signed/x", "--data", '{"a":1}', "--no-sign"]);
    assertExit(unsigned, 4, "--no-sign on a signed route");
    assert.match(unsigned.stderr, /^HTTP\/1\.1 401 Unauthorized$/m);
    assert.equal(JSON.parse(unsigned.stdout).error.reason, "signature_missing");
    assert.match(unsigned.stderr, /without --no-sign/);

    // refresh stores a new pair; the config stays private.
    const refresh = await cli(["auth", "refresh"]);
    assertExit(refresh, 0, "refresh");
    config = await readConfig(h);
    const token2 = configValue(config, "token");
    const refreshToken2 = configValue(config, "refresh_token");
    assert.notEqual(token2, token);
    assert.notEqual(refreshToken2, refreshToken);
    await assertPrivate(h);
    assertExit(await cli(["auth", "whoami"]), 0, "whoami after refresh");

    // logout ends the session on the server and forgets it here.
    const logout = await cli(["auth", "logout"]);
    assertExit(logout, 0, "logout");
    config = await readConfig(h);
    assert.equal(configValue(config, "token"), undefined);
    assert.equal(configValue(config, "refresh_token"), undefined);
    await assertPrivate(h);
    const gone = await apiJson("/v1/auth/whoami", { headers: { authorization: `Bearer ${token2}` } });
    assert.equal(gone.status, 401, "the server ended the session");
    const after = await cli(["auth", "whoami"]);
    assertExit(after, 4, "whoami after logout");
    assert.match(after.stderr, /not signed in: run `edgeauth auth login`/);
    assert.equal(after.stdout, "");
  });

  test("token-info shows the claims, never the token", async () => {
    const h = await home();
    const cli = cliFor(h);
    const { email } = await signedIn(cli);
    const token = configValue(await readConfig(h), "token");
    const info = await cli(["auth", "token-info"]);
    assertExit(info, 0, "token-info");
    assert.match(info.stdout, new RegExp(`email: ${email}`));
    assert.match(info.stdout, /exp: \d+ \(\d{4}-/);
    assert.ok(!info.stdout.includes(token));
    const json = stdoutJson(await cli(["auth", "token-info", "--json"]));
    assert.equal(json.type, "jwt");
    assert.equal(json.claims.email, email);
    assert.equal(json.source, "config");
    assert.equal(typeof json.claims.exp, "number");
  });

  test("auth revoke ends the session on the server and forgets it", async () => {
    const h = await home();
    const cli = cliFor(h);
    await signedIn(cli);
    const token = configValue(await readConfig(h), "token");
    assertExit(await cli(["auth", "revoke"]), 0, "revoke");
    assert.equal(configValue(await readConfig(h), "token"), undefined);
    const res = await apiJson("/v1/auth/whoami", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.reason, "session_revoked");
  });

  test("a wrong password is refused with exit 4 and stores nothing", async () => {
    const h = await home();
    const cli = cliFor(h);
    const { email } = await signedIn(cli);
    const h2 = await home();
    const r = await cliFor(h2)(["auth", "login", "--email", email, "--password-stdin"], { input: "not-the-password\n" });
    assertExit(r, 4, "wrong password");
    assert.match(r.stderr, /invalid_login/);
    await assert.rejects(readConfig(h2), /ENOENT/);
  });
});

describe("sessions refresh themselves", () => {
  let shortWorker;
  before(async () => {
    // Access tokens of 4 minutes: less than 5 remain from the start.
    shortWorker = await startWorker({ vars: { ACCESS_TTL_S: "240" } });
  });
  after(async () => {
    await shortWorker?.dispose();
  });

  test("a token with less than 5 minutes left is refreshed before use and stored", async () => {
    const h = await home();
    const cli = (args, opts = {}) =>
      runCli(args, { env: cliEnv(h, { EDGEAUTH_URL: shortWorker.url }), ...opts });
    await signedIn(cli);
    const before1 = await readConfig(h);
    const who = await cli(["auth", "whoami", "--json"]);
    assertExit(who, 0, "whoami");
    const after1 = await readConfig(h);
    assert.notEqual(configValue(after1, "token"), configValue(before1, "token"), "refreshed");
    assert.notEqual(configValue(after1, "refresh_token"), configValue(before1, "refresh_token"), "rotated");
    await assertPrivate(h);
    // The old refresh token is spent: the stored one is the one that works now.
    const res = await shortWorker.fetch("/v1/auth/whoami", { headers: { authorization: `Bearer ${configValue(after1, "token")}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });
});

describe("API keys and profiles", () => {
  test("keys create prints the key once; EDGEAUTH_TOKEN works with an empty config; profiles stay apart; revoke makes it exit 4", async () => {
    const h = await home();
    const cli = cliFor(h);
    const { email } = await signedIn(cli);

    const created = await cli(["keys", "create", "--name", "CI", "--scope", "api_keys:read", "--scope", "scans:read", "--json"]);
    assertExit(created, 0, "keys create --json");
    const key = stdoutJson(created);
    assert.match(key.key, /^ea_(live|test)_[0-9A-Za-z]{32,64}$/);
    assert.equal(key.prefix, key.key.slice(0, 12));
    assert.deepEqual(key.scopes, ["api_keys:read", "scans:read"]);
    assert.equal(key.all_resources, true);
    assert.deepEqual(Object.keys(key).sort(), ["all_resources", "allowed_ips", "created_at", "expires_at", "id", "key", "name", "prefix", "resources", "scopes", "tenants"]);

    const text = await cli(["keys", "create", "--name", "Deploy", "--scope", "scans:read", "--expires", "30d"]);
    assertExit(text, 0, "keys create");
    const shown = text.stdout.match(/ea_(live|test)_[0-9A-Za-z]*/g);
    assert.equal(shown.length, 1, "the key is printed exactly once, and nothing else looks like one");
    assert.match(shown[0], /^ea_(live|test)_[0-9A-Za-z]{32,64}$/);
    assert.match(text.stdout, /shown this once/);
    assert.match(text.stdout, /expires: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 30 d\)/);

    const list = await cli(["keys", "list"]);
    assertExit(list, 0, "keys list");
    assert.match(list.stdout, new RegExp(key.id));
    assert.ok(!list.stdout.includes(key.key), "a list never shows a key");
    const listed = stdoutJson(await cli(["keys", "list", "--json"]));
    assert.ok(listed.keys.some((k) => k.id === key.id && k.key === undefined));

    // EDGEAUTH_TOKEN with an empty config folder: works, says `env`, writes nothing.
    const ci = await home();
    const envCli = cliFor(ci, { EDGEAUTH_TOKEN: key.key });
    const envStatus = await envCli(["auth", "status"]);
    assertExit(envStatus, 0, "status with EDGEAUTH_TOKEN");
    assert.match(envStatus.stdout, /from env \(EDGEAUTH_TOKEN\)/);
    assert.ok(!envStatus.stdout.includes(key.key));
    const envJson = stdoutJson(await envCli(["auth", "status", "--json"]));
    assert.equal(envJson.source, "env");
    assert.equal(envJson.kind, "api_key");
    assert.equal(envJson.key_id, key.id);
    const viaKey = await envCli(["request", "GET", "/api/me"]);
    assertExit(viaKey, 0, "request with the key");
    const echoed = JSON.parse(viaKey.stdout);
    assert.equal(echoed.headers["x-edgeauth-kind"], "api_key");
    assert.equal(echoed.headers["x-edgeauth-key-id"], key.id);
    await assert.rejects(readdir(ci.config), /ENOENT/, "nothing written");

    // A second profile with the key, read from stdin; the default profile keeps the session.
    const withToken = await cli(["--profile", "ci", "auth", "login", "--with-token"], { input: `${key.key}\n` });
    assertExit(withToken, 0, "--profile ci auth login --with-token");
    assert.ok(!withToken.stdout.includes(key.key));
    await assertPrivate(h);
    const ciWho = stdoutJson(await cli(["--profile", "ci", "auth", "whoami", "--json"]));
    assert.equal(ciWho.kind, "api_key");
    const defaultWho = stdoutJson(await cli(["auth", "whoami", "--json"]));
    assert.equal(defaultWho.kind, "user");
    assert.equal(defaultWho.email, email);
    const ciByEnv = stdoutJson(await cli(["auth", "whoami", "--json"], { env: { EDGEAUTH_PROFILE: "ci" } }));
    assert.equal(ciByEnv.kind, "api_key", "EDGEAUTH_PROFILE picks the profile");
    const profiles = stdoutJson(await cli(["config", "list", "--json"]));
    assert.deepEqual(profiles.profiles.map((p) => [p.name, p.credential?.kind]), [["ci", "api_key"], ["default", "session"]]);
    const ciInfo = stdoutJson(await cli(["--profile", "ci", "auth", "token-info", "--json"]));
    assert.equal(ciInfo.type, "api_key");
    assert.equal(ciInfo.prefix, key.prefix);
    assert.ok(!JSON.stringify(ciInfo).includes(key.key));

    // config set-profile changes the default choice.
    assertExit(await cli(["config", "set-profile", "ci"]), 0, "set-profile");
    await assertPrivate(h);
    assert.equal(stdoutJson(await cli(["auth", "whoami", "--json"])).kind, "api_key");
    assert.equal(stdoutJson(await cli(["--profile", "default", "auth", "whoami", "--json"])).kind, "user");
    assertExit(await cli(["config", "set-profile", "default"]), 0, "set-profile back");

    // Revoked: the key fails from then on, from the profile and from the environment.
    assertExit(await cli(["keys", "revoke", key.id]), 0, "keys revoke");
    const refused = await cli(["--profile", "ci", "auth", "whoami"]);
    assertExit(refused, 4, "whoami with a revoked key");
    assert.match(refused.stderr, /api_key_revoked/);
    assert.match(refused.stderr, /edgeauth --profile ci auth login --with-token/);
    const refusedEnv = await envCli(["request", "GET", "/api/me"]);
    assertExit(refusedEnv, 4, "request with a revoked key");
    assert.match(refusedEnv.stderr, /EDGEAUTH_TOKEN/);
  });

  test("auth revoke on a key: refused without api_keys:write, done with it", async () => {
    const h = await home();
    const cli = cliFor(h);
    await signedIn(cli);
    const weak = stdoutJson(await cli(["keys", "create", "--name", "weak", "--scope", "scans:read", "--json"]));
    const strong = stdoutJson(await cli(["keys", "create", "--name", "strong", "--scope", "api_keys:write", "--json"]));

    assertExit(await cli(["--profile", "weak", "auth", "login", "--token", weak.key]), 0, "login weak");
    const r = await cli(["--profile", "weak", "auth", "revoke"]);
    assertExit(r, 4, "a key without api_keys:write cannot revoke itself");
    assert.match(r.stderr, new RegExp(`edgeauth keys revoke ${weak.id}`));
    assertExit(await cli(["--profile", "weak", "auth", "whoami"]), 0, "still stored and valid");

    assertExit(await cli(["--profile", "strong", "auth", "login", "--token", strong.key]), 0, "login strong");
    assertExit(await cli(["--profile", "strong", "auth", "revoke"]), 0, "revoke itself");
    const res = await apiJson("/v1/auth/whoami", { headers: { authorization: `Bearer ${strong.key}` } });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.reason, "api_key_revoked");
    assertExit(await cli(["--profile", "strong", "auth", "whoami"]), 4, "forgotten");
  });

  test("a stored credential is never sent to another server", async () => {
    const h = await home();
    const cli = cliFor(h);
    await signedIn(cli);
    const r = await cli(["auth", "whoami"], { env: { EDGEAUTH_URL: "http://127.0.0.1:9" } });
    assertExit(r, 4, "whoami at another URL");
    assert.match(r.stderr, new RegExp(`holds a credential for ${worker.url}`));
  });
});

describe("the config file", () => {
  test("0700 folder and 0600 file after every write, even when they were looser", async () => {
    const h = await home();
    await mkdir(h.config, { mode: 0o755 });
    await chmod(h.config, 0o755);
    const cli = cliFor(h);
    assertExit(await cli(["config", "set-profile", "work"]), 0, "set-profile");
    await assertPrivate(h);
    await chmod(h.file, 0o644);
    await chmod(h.config, 0o755);
    await signedIn(cliFor(h, { EDGEAUTH_PROFILE: "default" }));
    await assertPrivate(h);
    const left = await readdir(h.config);
    assert.ok(left.every((n) => !n.endsWith(".tmp")), `no temporary files left: ${left}`);
  });

  test("a malformed file gives exit 1, names the file and line, and is left as it was", async () => {
    const h = await home();
    await mkdir(h.config, { mode: 0o700 });
    const broken = '[profiles.default]\nurl = "http://127.0.0.1:8787"\nthis is = = not toml\n';
    await writeFile(h.file, broken, { mode: 0o600 });
    const cli = cliFor(h);
    for (const args of [["auth", "status"], ["auth", "whoami"], ["config", "set-profile", "x"], ["config", "list"]]) {
      const r = await cli(args);
      assertExit(r, 1, args.join(" "));
      assert.ok(r.stderr.includes(h.file), `names the file: ${r.stderr}`);
      assert.match(r.stderr, /line 3/);
    }
    const login = await cli(["auth", "login", "--email", "a@example.com", "--password-stdin"], { input: "password1234\n" });
    assertExit(login, 1, "login over a malformed file");
    assert.equal(await readFile(h.file, "utf8"), broken, "not overwritten");
  });

  test("an unreadable file gives exit 1 and is not overwritten", async () => {
    const h = await home();
    await mkdir(h.config, { mode: 0o700 });
    const content = 'active_profile = "default"\n';
    await writeFile(h.file, content, { mode: 0o600 });
    await chmod(h.file, 0o000);
    const cli = cliFor(h);
    for (const args of [["auth", "whoami"], ["config", "set-profile", "x"]]) {
      const r = await cli(args);
      assertExit(r, 1, args.join(" "));
      assert.ok(r.stderr.includes(h.file), r.stderr);
      assert.match(r.stderr, /cannot be read/);
    }
    assert.equal(await modeOf(h.file), 0o000, "left as it was");
    await chmod(h.file, 0o600);
    assert.equal(await readFile(h.file, "utf8"), content);
  });

  test("--use-keyring where no keyring exists stores nothing and says so", async () => {
    const h = await home();
    const cli = cliFor(h);
    const email = `cli-${unique()}@example.com`;
    const password = newPassword();
    assertExit(await cli(["auth", "register", "--email", email, "--name", "K", "--password", password]), 0, "register");
    const r = await cli(["auth", "login", "--email", email, "--password-stdin", "--use-keyring"], { input: `${password}\n` });
    assertExit(r, 1, "login --use-keyring");
    assert.match(r.stderr, /no OS keyring is available/);
    assert.match(r.stderr, /Nothing was stored/);
    await assert.rejects(readFile(h.file, "utf8"), /ENOENT/, "no config file was written");
    const key = await cli(["auth", "login", "--token", `ea_live_${"A".repeat(40)}`, "--use-keyring"]);
    assertExit(key, 1, "login --token --use-keyring");
    await assert.rejects(readFile(h.file, "utf8"), /ENOENT/);
    assertExit(await cli(["auth", "whoami"]), 4, "still not signed in");
  });
});

// Only where a Secret Service can be started: Debian's gnome-keyring and dbus-daemon.
const canRunKeyring = ["dbus-run-session", "gnome-keyring-daemon"].every(
  (tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0,
);

describe("the OS keyring", () => {
  test("--use-keyring keeps the session in a real Secret Service, and the file only says so", { skip: !canRunKeyring && "no dbus-run-session or gnome-keyring-daemon here" }, async () => {
    const h = await home();
    const cli = cliFor(h);
    const { email, password } = await signedIn(cli);
    assertExit(await cli(["auth", "logout"]), 0, "logout");
    // One D-Bus session with an unlocked keyring for the whole script.
    const script = `
      set -u
      printf 'keyring-password' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
      gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1
      printf '%s\n' "$PW" | "$BIN" auth login --email "$EMAIL" --password-stdin --use-keyring >/dev/null || exit 11
      cp "$EDGEAUTH_CONFIG_DIR/config.toml" "$HOME/after-login.toml"
      "$BIN" auth status --json >"$HOME/status.json" || exit 12
      "$BIN" auth refresh >/dev/null || exit 13
      "$BIN" request GET /api/me >/dev/null 2>&1 || exit 14
      "$BIN" auth logout >/dev/null || exit 15
      "$BIN" auth whoami >/dev/null 2>&1; [ $? -eq 4 ] || exit 16
    `;
    const env = cliEnv(h, { EDGEAUTH_URL: worker.url, BIN, EMAIL: email, PW: password, DBUS_SESSION_BUS_ADDRESS: undefined });
    const r = spawnSync("dbus-run-session", ["--", "sh", "-c", script], { env, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `step failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    const stored = await readFile(`${h.home}/after-login.toml`, "utf8");
    assert.match(stored, /^keyring = true$/m);
    assert.equal(configValue(stored, "token"), undefined, "no token in the file");
    assert.equal(configValue(stored, "refresh_token"), undefined);
    const status = JSON.parse(await readFile(`${h.home}/status.json`, "utf8"));
    assert.equal(status.source, "keyring");
    assert.equal(status.email, email);
  });
});

describe("exit codes and messages", () => {
  test("unknown command or flag: 2", async () => {
    const h = await home();
    const cli = cliFor(h);
    for (const args of [["nope"], ["auth", "login", "--bogus"], ["auth", "login", "--password", "x"], ["keys", "create", "--name", "x"], ["request", "GET", "api/me"], []]) {
      const r = await cli(args);
      assertExit(r, 2, args.join(" "));
      assert.match(r.stderr, /error|Usage/);
    }
    assertExit(await cli(["--help"]), 0, "--help");
    const v = await cli(["--version"]);
    assertExit(v, 0, "--version");
    assert.match(v.stdout, /^edgeauth \d+\.\d+\.\d+/);
  });

  test("no credential: 4, saying what to run", async () => {
    const cli = cliFor(await home());
    for (const args of [["auth", "status"], ["auth", "whoami"], ["keys", "list"], ["request", "GET", "/api/me"], ["--profile", "ci", "auth", "token-info"]]) {
      const r = await cli(args);
      assertExit(r, 4, args.join(" "));
      assert.match(r.stderr, /not signed in: run `edgeauth (--profile ci )?auth login`/);
    }
  });

  test("a refused credential: 4", async () => {
    const cli = cliFor(await home(), { EDGEAUTH_TOKEN: `ea_live_${"Z".repeat(40)}` });
    const r = await cli(["auth", "whoami"]);
    assertExit(r, 4, "unknown key");
    assert.match(r.stderr, /api_key_unknown/);
    const req = await cli(["request", "GET", "/api/me"]);
    assertExit(req, 4, "request with an unknown key");
    const garbage = await cli(["auth", "whoami"], { env: { EDGEAUTH_TOKEN: "not-a-credential" } });
    assertExit(garbage, 4, "a malformed EDGEAUTH_TOKEN");
    assert.match(garbage.stderr, /malformed_credential/);
    const h = await home();
    const login = await cliFor(h)(["auth", "login", "--token", "not a key"]);
    assertExit(login, 4, "login --token with something that is not a key");
    await assert.rejects(readFile(h.file, "utf8"), /ENOENT/);
  });

  test("an unreachable server: 1, naming the URL", async () => {
    const h = await home();
    const cli = cliFor(h);
    const url = "http://127.0.0.1:9";
    const r = await cli(["--url", url, "auth", "login", "--email", "a@example.com", "--password-stdin"], { input: "password1234\n" });
    assertExit(r, 1, "unreachable");
    assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
    const env = await cli(["auth", "whoami"], { env: { EDGEAUTH_URL: url, EDGEAUTH_TOKEN: `ea_live_${"Z".repeat(40)}` } });
    assertExit(env, 1, "unreachable with a token");
    assert.match(env.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  test("other error answers: 1 (request prints the body anyway)", async () => {
    const h = await home();
    const cli = cliFor(h);
    await signedIn(cli);
    const r = await cli(["request", "GET", "/nowhere"]);
    assertExit(r, 1, "no route");
    assert.match(r.stderr, /^HTTP\/1\.1 404 Not Found$/m);
    assert.equal(JSON.parse(r.stdout).error.reason, "no_route");
    const dup = await cli(["auth", "register", "--email", `x-${unique()}@example.com`, "--name", "X", "--password", "short"]);
    assertExit(dup, 1, "a password too short");
    assert.match(dup.stderr, /invalid_field/);
  });
});
