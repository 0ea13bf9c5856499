// The device page (/console/device?user_code=…): a signed-in person approves or denies a device
// login (RFC 8628) that a CLI or other headless client started.
import { announce, busy, clone, focus, refuseFraming, show, slot } from "./view.js";
import { describe, showError, showFormError } from "./errors.js";
import { client, describeSession, keepSession } from "./session.js";
import { showAccount, showSignIn } from "./sign-in.js";

const view = document.getElementById("view");
const account = document.getElementById("account");

/** `BCDFGHJK`, `bcdf-ghjk`, `BCDF GHJK` → `BCDF-GHJK` (SPEC: case and the dash are ignored on input). */
function normalizeUserCode(raw) {
  const letters = String(raw ?? "").toUpperCase().replace(/[^A-Z]/g, "");
  return letters.length === 8 ? `${letters.slice(0, 4)}-${letters.slice(4)}` : String(raw ?? "").trim();
}

let userCode = normalizeUserCode(new URLSearchParams(location.search).get("user_code") ?? "");
let shownUser;

async function signOut() {
  try {
    await client.logout();
  } catch (error) {
    announce(`Signed out on this device. ${describe(error).message}`, { error: true });
  }
}

function showCodeEntry(error) {
  const content = clone("code-entry-view");
  const form = content.querySelector('[data-form="code"]');
  form.elements.user_code.value = userCode;
  if (error) showFormError(form, error);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    userCode = normalizeUserCode(form.elements.user_code.value);
    const url = new URL(location.href);
    url.searchParams.set("user_code", userCode);
    history.replaceState(null, "", url);
    void lookUp();
  });
  show(view, content);
  focus(form.elements.user_code);
}

async function lookUp() {
  if (!userCode) return showCodeEntry();
  let device;
  try {
    device = await client.lookupDeviceCode(userCode);
  } catch (error) {
    return showCodeEntry(error);
  }
  showDecision(device);
}

function showDecision(device) {
  const content = clone("decision-view");
  const section = content.querySelector("section");
  slot(content, "client").textContent = device.client_name;
  slot(content, "user-code").textContent = device.user_code;
  const from = device.requested_from ?? {};
  slot(content, "from").textContent = [from.ip ?? "an unknown address", from.country && `(${from.country})`]
    .filter(Boolean)
    .join(" ");
  const when = slot(content, "when");
  when.dateTime = device.requested_at ?? "";
  when.textContent = device.requested_at ? new Date(device.requested_at).toLocaleString() : "unknown";
  const error = slot(content, "error");
  const buttons = slot(content, "buttons");

  const decide = (approve) => async () => {
    showError(error, null);
    await busy(buttons, async () => {
      try {
        await client.approveDevice(device.user_code, approve);
        showDone(device, approve);
      } catch (e) {
        showError(error, e);
      }
    });
  };
  content.querySelector('[data-action="approve"]').addEventListener("click", decide(true));
  content.querySelector('[data-action="deny"]').addEventListener("click", decide(false));
  show(view, content);
  focus(section.querySelector("h2"));
}

function showDone(device, approved) {
  const content = clone("done-view");
  slot(content, "title").textContent = approved ? "Device approved" : "Device denied";
  slot(content, "text").textContent = approved
    ? `${device.client_name} is now signed in as you. You can close this page and go back to it.`
    : `${device.client_name} was not signed in. If you did not start this, nothing more is needed.`;
  show(view, content);
  focus(view.querySelector("h2"));
  announce(approved ? "Approved." : "Denied.");
}

function render(session) {
  const userId = session ? describeSession(session).userId : null;
  if (userId === shownUser) return;
  const first = shownUser === undefined;
  shownUser = userId;
  showAccount(account, session, signOut);
  if (session) void lookUp();
  else showSignIn(view, { focusForm: !first });
}

if (!refuseFraming(view)) {
  try {
    render(await keepSession(render));
  } catch (error) {
    announce(describe(error).message, { error: true });
  }
}
