// Signing in and out: the sign-in form, the form that creates an account, and the bar with
// who is signed in and "Sign out" (the same on both pages).
import { announce, busy, clone, focus, show, slot } from "./view.js";
import { showFormError } from "./errors.js";
import { client, describeSession } from "./session.js";

const valuesOf = (form) => Object.fromEntries(new FormData(form));

/**
 * Shows the sign-in form in `container`. A successful sign-in stores the
 * session; the page hears of it through the SDK's onSessionChange.
 */
export function showSignIn(container, { email = "", focusForm = false } = {}) {
  const view = clone("sign-in-view");
  const form = view.querySelector('[data-form="sign-in"]');
  form.elements.email.value = email;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, null);
    const { email, password } = valuesOf(form);
    await busy(form, async () => {
      try {
        await client.login({ email: email.trim(), password });
      } catch (e) {
        const field = showFormError(form, e) ?? form.elements.password;
        focus(field);
        if (field === form.elements.password) field.select();
      }
    });
  });

  view.querySelector('[data-action="show-register"]')?.addEventListener("click", () => {
    showRegister(container, { email: form.elements.email.value });
  });
  view.querySelector('[data-action="show-forgot"]')?.addEventListener("click", () => {
    showEmailLink(container, "reset", { email: form.elements.email.value });
  });
  view.querySelector('[data-action="show-magic"]')?.addEventListener("click", () => {
    showEmailLink(container, "sign-in", { email: form.elements.email.value });
  });

  show(container, view);
  if (focusForm) focus(form.elements[email ? "password" : "email"]);
}

/** Shows the form that creates an account; afterwards the sign-in form, with the email filled in. */
export function showRegister(container, { email = "" } = {}) {
  const view = clone("register-view");
  const form = view.querySelector('[data-form="register"]');
  form.elements.email.value = email;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, null);
    const { name, email, password } = valuesOf(form);
    await busy(form, async () => {
      try {
        const { user } = await client.register({ name: name.trim(), email: email.trim(), password });
        const registered = user?.email ?? email.trim();
        showSignIn(container, { email: registered, focusForm: true });
        announce(`Account created. We sent a link to ${registered} to verify the address. Sign in with your password.`);
      } catch (e) {
        focus(showFormError(form, e) ?? form.elements.name);
      }
    });
  });

  view.querySelector('[data-action="show-sign-in"]').addEventListener("click", () => {
    showSignIn(container, { email: form.elements.email.value, focusForm: true });
  });

  show(container, view);
  focus(form.elements.name);
}

const EMAIL_LINKS = {
  reset: {
    title: "Reset your password",
    intro: "We will email you a link to choose a new password. It works once, for 15 minutes.",
    submit: "Send reset link",
    send: (email) => client.forgotPassword(email),
  },
  "sign-in": {
    title: "Sign in with an email link",
    intro: "We will email you a link that signs you in without your password. It works once, for 15 minutes.",
    submit: "Send sign-in link",
    send: (email) => client.sendMagicLink(email),
  },
};

/**
 * Shows the form that asks for a password reset link (`kind` "reset") or a sign-in link
 * ("sign-in"). The worker answers alike whether or not the address has an account, and so
 * does the page.
 */
export function showEmailLink(container, kind, { email = "" } = {}) {
  const words = EMAIL_LINKS[kind];
  const view = clone("email-link-view");
  slot(view, "title").textContent = words.title;
  slot(view, "intro").textContent = words.intro;
  slot(view, "submit").textContent = words.submit;
  const form = view.querySelector('[data-form="email-link"]');
  const sent = slot(view, "sent");
  form.elements.email.value = email;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, null);
    sent.textContent = "";
    const address = form.elements.email.value.trim();
    await busy(form, async () => {
      try {
        await words.send(address);
        sent.textContent = `If ${address} has an account, a link is on its way to it. Open it in this browser within 15 minutes.`;
      } catch (e) {
        focus(showFormError(form, e) ?? form.elements.email);
      }
    });
  });

  view.querySelector('[data-action="show-sign-in"]').addEventListener("click", () => {
    showSignIn(container, { email: form.elements.email.value, focusForm: true });
  });

  show(container, view);
  focus(form.elements.email);
}

/** The page header's account bar: the signed-in email and "Sign out" (empty when signed out). */
export function showAccount(container, session, signOut) {
  if (!session) {
    container.replaceChildren();
    return;
  }
  const bar = clone("signed-in-account");
  slot(bar, "email").textContent = describeSession(session).email;
  bar.querySelector('[data-action="sign-out"]').addEventListener("click", signOut);
  container.replaceChildren(bar);
}
