// The pages that email links open: /console/verify, /console/reset and /console/magic
// (`<body data-link=…>`). The token travels in the URL's fragment, so it never reaches a
// server log or a Referer; the page takes it out of the address bar (and so out of history)
// before anything else, then posts it through the SDK.
import { announce, busy, clone, focus, refuseFraming, show, slot } from "./view.js";
import { describe, showError, showFormError } from "./errors.js";
import { client, describeSession } from "./session.js";
import { showAccount } from "./sign-in.js";

const view = document.getElementById("view");
const account = document.getElementById("account");
const kind = document.body.dataset.link;

/** The link's token, removed from the address bar. */
function takeToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (location.hash) history.replaceState(history.state, "", location.pathname + location.search);
  return token;
}

async function signOut() {
  try {
    await client.logout();
  } catch (error) {
    announce(`Signed out on this device. ${describe(error).message}`, { error: true });
  }
  showAccount(account, null, signOut);
}

function showDone(title, text) {
  const content = clone("done-view");
  slot(content, "title").textContent = title;
  slot(content, "text").textContent = text;
  show(view, content);
  focus(view.querySelector("h2"));
}

/** What to do instead, by page, when its link is refused. */
const NEXT = {
  verify: "Links work once and for 24 hours. Sign in to the console to have a new one sent.",
  reset: "Links work once and for 15 minutes. Ask for a new one with “Forgot password?” on the console's sign-in page.",
  magic: "Links work once and for 15 minutes. Ask for a new one with “Email me a sign-in link” on the console's sign-in page.",
};

/** `problem`: the worker's refusal, or the page's own words. */
function showFailed(problem) {
  const content = clone("failed-view");
  if (typeof problem === "string") slot(content, "error").textContent = problem;
  else showError(slot(content, "error"), problem);
  slot(content, "text").textContent = NEXT[kind];
  show(view, content);
  focus(view.querySelector("h2"));
}

async function verify(token) {
  try {
    const { user } = await client.verifyEmail(token);
    showDone("Email address verified", `${user.email} is verified. Thank you.`);
  } catch (error) {
    showFailed(error);
  }
}

function showResetForm(token) {
  const content = clone("reset-view");
  const form = content.querySelector('[data-form="reset"]');
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, null);
    await busy(form, async () => {
      try {
        const session = await client.resetPassword(token, form.elements.password.value);
        showAccount(account, session, signOut);
        showDone(
          "Password changed",
          `You are signed in as ${describeSession(session).email}. Every other session of your account has been signed out.`,
        );
      } catch (error) {
        if (error?.reason === "email_token_invalid") return showFailed(error);
        const field = showFormError(form, error) ?? form.elements.password;
        focus(field);
      }
    });
  });
  show(view, content);
  focus(form.elements.password);
}

async function signIn(token) {
  try {
    await client.signInWithMagicLink(token);
    announce("Signed in. Opening the console…");
    // The session is the SDK's (shared with the console): the console picks it up.
    location.replace("./");
  } catch (error) {
    showFailed(error);
  }
}

async function open() {
  const token = takeToken();
  if (!token) {
    showFailed("The link is incomplete: open it from the message again, whole.");
  } else if (kind === "verify") {
    await verify(token);
  } else if (kind === "reset") {
    showResetForm(token);
  } else if (kind === "magic") {
    await signIn(token);
  }
}

if (!refuseFraming(view)) {
  // Another link opened while this page is showing only changes the fragment.
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(location.hash.slice(1)).has("token")) void open();
  });
  await open();
}
