// How the console speaks of failures: the error contract's message, readable, with its stable reason.
import { EdgeAuthError } from "./sdk.js";
import { element } from "./view.js";

/** The words to show for `error`: the contract's message as it is, then what a program would branch on. */
export function describe(error) {
  if (error instanceof EdgeAuthError) {
    if (error.code === "NETWORK") {
      return { message: `Could not reach edgeauth (${error.message}). Check the connection and try again.`, detail: "network error" };
    }
    return { message: error.message, detail: [error.reason, error.status || undefined].filter(Boolean).join(", ") };
  }
  // A fault of the page itself, not of the worker: say so rather than hide it.
  return { message: `Something went wrong in this page: ${error?.message ?? String(error)}`, detail: "" };
}

/** Fills an error slot (a role=alert element) with `error`'s readable text; `null` clears it. */
export function showError(slotElement, error) {
  slotElement.replaceChildren();
  if (error === null || error === undefined) return;
  const { message, detail } = describe(error);
  slotElement.append(element("span", message, { class: "message" }));
  if (detail) slotElement.append(" ", element("span", `(${detail})`, { class: "detail" }));
}

/**
 * The request field `error` is about: a 400 `invalid_field` names it first
 * (`scopes: must list at least one scope`, `tenants[1]: …`); a 409
 * `email_taken` is about the email.
 */
export function fieldOf(error) {
  if (!(error instanceof EdgeAuthError)) return undefined;
  if (error.reason === "email_taken") return "email";
  if (error.reason !== "invalid_field") return undefined;
  return /^([a-z_]+)(?:\[\d+\])?:/.exec(error.message)?.[1];
}

/**
 * Shows `error` in the form's alert and marks the field it names as invalid;
 * resolves to that field (to move focus to), if the form has it.
 */
export function showFormError(form, error) {
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  showError(form.querySelector('[data-slot="error"]'), error);
  if (error === null || error === undefined) return undefined;
  const name = fieldOf(error);
  const control = name ? form.elements.namedItem(name) : null;
  if (control instanceof HTMLElement) {
    control.setAttribute("aria-invalid", "true");
    return control;
  }
  return undefined;
}
