// The console page (/console/): signed out, the sign-in and account forms; signed in, the session
// panel, API keys, tenant members and the request playground. Every call goes through the SDK's client.
import { announce, clone, focus, refuseFraming, show, slot } from "./view.js";
import { describe } from "./errors.js";
import { client, describeSession, keepSession, sessionPersists } from "./session.js";
import { showAccount, showSignIn } from "./sign-in.js";
import { sessionPanel } from "./session-panel.js";
import { apiKeys } from "./api-keys.js";
import { members } from "./members.js";
import { playground } from "./playground.js";

const view = document.getElementById("view");
const account = document.getElementById("account");

/** Who the page shows: a user id when signed in, null when signed out, undefined before the first look. */
let shownUser;
let panel;
let signingOut = false;

async function signOut() {
  signingOut = true;
  try {
    await client.logout();
    announce("Signed out.");
  } catch (error) {
    // The session is forgotten here anyway; say what the worker answered.
    announce(`Signed out on this device. ${describe(error).message}`, { error: true });
  } finally {
    signingOut = false;
  }
}

/** The session is over (the SDK has forgotten it): say so, and end it on the worker too. */
async function sessionRefused(error) {
  announce(`Your session has ended: ${describe(error).message}. Sign in again.`, { error: true });
  await client.logout().catch(() => {});
}

function showSignedIn(session) {
  const content = clone("signed-in-view");
  const [sessionSection, keysSection, membersSection, playgroundSection] = content.querySelectorAll("section");
  panel?.stop();
  panel = sessionPanel(sessionSection);
  panel.update(session);
  const who = describeSession(session);
  slot(keysSection, "own-scopes").textContent = who.scopes.length ? `Yours: ${who.scopes.join(" ")}.` : "";
  const tenants = Object.keys(who.tenants);
  slot(keysSection, "own-tenants").textContent = tenants.length ? `Yours: ${tenants.join(", ")}.` : "";
  apiKeys(keysSection, { onSessionRefused: sessionRefused });
  members(membersSection, { tenants, onSessionRefused: sessionRefused });
  playground(playgroundSection);
  show(view, content);
}

function render(session, event) {
  const userId = session ? describeSession(session).userId : null;
  if (userId === shownUser) {
    // Same person (a renewal, or another tab's): only the panel changes.
    if (session) panel?.update(session);
    return;
  }
  const first = shownUser === undefined;
  shownUser = userId;
  showAccount(account, session, signOut);
  if (session) {
    showSignedIn(session);
    if (!first) {
      announce("");
      focus(document.getElementById("session-heading"));
    }
    return;
  }
  panel?.stop();
  panel = undefined;
  showSignIn(view, { focusForm: !first });
  if (!first && event === "signed_out" && !signingOut && !document.getElementById("status").textContent) {
    announce("You are signed out (here or in another tab).");
  }
}

if (!refuseFraming(view)) {
  if (!sessionPersists) {
    announce("This browser does not let the console keep data: you will be signed out when you leave or reload this page.");
  }
  try {
    render(await keepSession(render), undefined);
  } catch (error) {
    announce(describe(error).message, { error: true });
  }
}
