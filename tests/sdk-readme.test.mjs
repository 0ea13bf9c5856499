// The npm package's README examples run as written (STYLE: "a README whose examples run
// as written"): every ```js block, in order, against the built worker, importing
// "edgeauth-sdk" by name. Blocks that need a browser (EventSource, document) are skipped.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { startWorker } from "./harness.mjs";

const run = promisify(execFile);
const PKG = fileURLToPath(new URL("../sdk-wasm/pkg/", import.meta.url));
const README = fileURLToPath(new URL("../sdk-wasm/npm/README.md", import.meta.url));
const BROWSER_ONLY = /\b(EventSource|document|window)\b/;

let worker;
let dir;

before(async () => {
  worker = await startWorker();
  dir = await mkdtemp(path.join(tmpdir(), "edgeauth-sdk-readme-"));
  await mkdir(path.join(dir, "node_modules"));
  await symlink(PKG, path.join(dir, "node_modules", "edgeauth-sdk"), "dir");
  await writeFile(path.join(dir, "package.json"), JSON.stringify({ private: true, type: "module" }));
});

after(async () => {
  await worker?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("every Node-runnable ```js example of the README runs", async () => {
  const readme = await readFile(README, "utf8");
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  const runnable = blocks.filter((code) => !BROWSER_ONLY.test(code));
  assert.ok(runnable.length >= 4, `found ${runnable.length} runnable examples`);

  // The API-key example reads EDGEAUTH_TOKEN: a key of a user of its own.
  const { EdgeAuthClient } = await import(path.join(PKG, "node.js"));
  const owner = new EdgeAuthClient({ baseUrl: worker.url });
  await owner.register({ email: "readme-owner@example.com", password: "correct horse battery", name: "Owner" });
  await owner.login({ email: "readme-owner@example.com", password: "correct horse battery" });
  const { key } = await owner.createApiKey({ name: "README", scopes: ["scans:trigger"] });

  for (const [i, code] of runnable.entries()) {
    const file = path.join(dir, `example-${i + 1}.mjs`);
    await writeFile(file, code.replaceAll("http://127.0.0.1:8787", worker.url));
    try {
      await run(process.execPath, [file], {
        cwd: dir,
        env: { ...process.env, EDGEAUTH_TOKEN: key },
        timeout: 60_000,
      });
    } catch (error) {
      assert.fail(`README example ${i + 1} failed:\n${code}\n${error.stderr || error.message}`);
    }
  }
});
