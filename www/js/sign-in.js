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
        announce("Account created. Sign in with your password.");
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
