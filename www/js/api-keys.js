// API keys: the create form, the new key shown once, the table of keys, and revoking with a confirmation.
import { announce, busy, clone, element, focus, show, slot, time } from "./view.js";
import { showError, showFormError } from "./errors.js";
import { client, serverNow } from "./session.js";

/** A list field as the API wants it: words separated by commas, spaces or new lines. */
export function listOf(text) {
  return String(text ?? "")
    .split(/[\s,]+/)
    .filter(Boolean);
}

const UNIT_MS = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * The `expires_at` for what was typed in Expires: a duration from now (`30d`,
 * `12h`, `90min`, `2w`), a local date or date-time (`2030-01-31`,
 * `2030-01-31T12:00`), or RFC 3339 as it is. Anything else goes to the worker
 * as typed, whose answer names the field. Empty: never (undefined).
 */
export function expiresAtOf(text, nowMs = serverNow()) {
  const typed = String(text ?? "").trim();
  if (!typed) return undefined;
  const relative = /^(\d{1,6})\s*(min|m|h|d|w)$/i.exec(typed);
  if (relative) return rfc3339(nowMs + Number(relative[1]) * UNIT_MS[relative[2].toLowerCase()]);
  if (/^\d{4}-\d{2}-\d{2}$/.test(typed)) {
    const local = new Date(`${typed}T00:00`);
    if (!Number.isNaN(local.getTime())) return rfc3339(local.getTime());
  }
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$/.test(typed)) {
    const local = new Date(typed.replace(" ", "T"));
    if (!Number.isNaN(local.getTime())) return rfc3339(local.getTime());
  }
  return typed;
}

/** The POST /v1/api-keys body for the form's fields; absent lists keep the API's defaults. */
export function keySpecOf(fields) {
  const spec = { name: String(fields.name ?? "").trim(), scopes: listOf(fields.scopes) };
  for (const list of ["resources", "tenants", "allowed_ips"]) {
    const values = listOf(fields[list]);
    if (values.length) spec[list] = values;
  }
  const expiresAt = expiresAtOf(fields.expires_at);
  if (expiresAt !== undefined) spec.expires_at = expiresAt;
  return spec;
}

function restrictions(key) {
  const list = element("ul");
  const item = (label, values, none) =>
    list.append(element("li", `${label}: ${values?.length ? values.join(", ") : none}`));
  if (key.all_resources) list.append(element("li", "Resources: all"));
  else item("Resources", key.resources, "none");
  item("Tenants", key.tenants, "none");
  item("IPs", key.allowed_ips, "any");
  return list;
}

function cell(label, content, tag = "td") {
  const c = element(tag, null, { "data-label": label });
  if (tag === "th") c.setAttribute("scope", "row");
  c.append(content);
  return c;
}

const newestFirst = (a, b) => String(b.created_at).localeCompare(String(a.created_at));

/**
 * Binds the API keys section in `root`. `onSessionRefused(error)` is called
 * when the session is over (the SDK's `signInAgain`), so the page can say so.
 */
export function apiKeys(root, { onSessionRefused }) {
  const form = root.querySelector('[data-form="create-key"]');
  const newKeySlot = slot(root, "new-key");
  const body = slot(root, "keys");
  const tableWrap = slot(root, "table-wrap");
  const noKeys = slot(root, "no-keys");
  const listError = slot(root, "list-error");
  const expiresHelp = slot(root, "expires-help");
  const expiresHelpText = expiresHelp.cloneNode(true);
  let keys = [];

  const refused = (error) => {
    if (error?.signInAgain) onSessionRefused(error);
  };

  function render() {
    const rows = [...keys].sort(newestFirst).map((key, index) => {
      const nameId = `key-row-${index}-name`;
      const row = element("tr");
      const name = cell("Name", key.name, "th");
      name.id = nameId;
      const prefix = element("span");
      prefix.append(element("code", key.prefix), element("span", "…", { "aria-hidden": "true" }));
      const revoke = element("button", "Revoke", { type: "button", class: "danger", "aria-describedby": nameId });
      revoke.addEventListener("click", () => revokeKey(key, revoke));
      const actions = cell("", revoke);
      actions.classList.add("row-actions");
      row.append(
        name,
        cell("Prefix", prefix),
        cell("Scopes", key.scopes?.length ? key.scopes.join(" ") : "none"),
        cell("Restrictions", restrictions(key)),
        cell("Created", time(key.created_at)),
        cell("Expires", time(key.expires_at)),
        actions,
      );
      return row;
    });
    body.replaceChildren(...rows);
    tableWrap.hidden = rows.length === 0;
    noKeys.hidden = rows.length !== 0;
  }

  async function load() {
    try {
      keys = await client.listApiKeys();
      showError(listError, null);
      render();
    } catch (error) {
      showError(listError, error);
      refused(error);
    }
  }

  function showNewKey(created) {
    const panel = clone("new-key-panel");
    const section = panel.querySelector("section");
    slot(panel, "name").textContent = created.name;
    const code = slot(panel, "key");
    code.textContent = created.key;
    const copyStatus = slot(panel, "copy-status");
    panel.querySelector('[data-action="copy"]').addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(code.textContent);
        copyStatus.textContent = "Copied to the clipboard.";
      } catch {
        // No clipboard access (permissions, an old browser): select it for the reader to copy.
        getSelection()?.selectAllChildren(code);
        copyStatus.textContent = "Could not copy automatically: the key is selected, copy it with Ctrl+C (⌘C on a Mac).";
      }
    });
    panel.querySelector('[data-action="dismiss"]').addEventListener("click", () => {
      newKeySlot.replaceChildren();
      focus(form.elements.name);
    });
    show(newKeySlot, panel);
    focus(section);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, null);
    const spec = keySpecOf(Object.fromEntries(new FormData(form)));
    await busy(form, async () => {
      try {
        const created = await client.createApiKey(spec);
        const { key: _secret, ...shown } = created;
        keys = [...keys.filter((k) => k.id !== shown.id), shown];
        render();
        form.reset();
        expiresHelp.replaceChildren(...expiresHelpText.cloneNode(true).childNodes);
        showNewKey(created);
        announce(`Key “${created.name}” created.`);
      } catch (error) {
        focus(showFormError(form, error) ?? form.elements.name);
        refused(error);
      }
    });
  });

  // Says when a typed expiry falls, before the key is made.
  form.elements.expires_at.addEventListener("input", () => {
    const value = expiresAtOf(form.elements.expires_at.value);
    const at = value === undefined ? NaN : Date.parse(value);
    if (Number.isNaN(at)) {
      expiresHelp.replaceChildren(...expiresHelpText.cloneNode(true).childNodes);
    } else {
      expiresHelp.replaceChildren("Expires ", time(new Date(at).toISOString()), ".");
    }
  });

  async function revokeKey(key, button) {
    const sure = window.confirm(
      `Revoke the key “${key.name}” (${key.prefix}…)?\n\nPrograms using it will be refused from now on. This cannot be undone.`,
    );
    if (!sure) return;
    button.disabled = true;
    try {
      await client.revokeApiKey(key.id);
      const at = [...keys].sort(newestFirst).findIndex((k) => k.id === key.id);
      keys = keys.filter((k) => k.id !== key.id);
      render();
      showError(listError, null);
      announce(`Key “${key.name}” revoked.`);
      // Keep the keyboard near where it was: the next row's Revoke, else the heading.
      const buttons = body.querySelectorAll("button");
      focus(buttons[Math.min(at, buttons.length - 1)] ?? root.querySelector("#key-list-heading"));
    } catch (error) {
      button.disabled = false;
      showError(listError, error);
      focus(button);
      refused(error);
    }
  }

  void load();
  return { reload: load };
}
