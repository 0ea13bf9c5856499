// The page's view plumbing: cloning a <template> into place, finding its slots, the status line.

/** A fresh copy of `<template id=…>`'s content (so that the page holds one form per label at a time). */
export function clone(templateId) {
  const template = document.getElementById(templateId);
  if (!(template instanceof HTMLTemplateElement)) throw new Error(`no <template id="${templateId}">`);
  return template.content.cloneNode(true);
}

/** The element marked `data-slot=name` inside `root`. */
export function slot(root, name) {
  const found = root.querySelector(`[data-slot="${name}"]`);
  if (!found) throw new Error(`no data-slot="${name}"`);
  return found;
}

/** Replaces what `container` shows with `content`. */
export function show(container, content) {
  container.replaceChildren(content);
}

/** An element with text and attributes, e.g. `element("code", "ea_live_abcd")`. */
export function element(tag, text, attributes = {}) {
  const el = document.createElement(tag);
  if (text !== undefined && text !== null) el.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  return el;
}

/** A list of short values as chips, or `empty` as plain text when there are none. */
export function chips(values, empty) {
  if (!values || values.length === 0) return element("span", empty, { class: "muted" });
  const list = element("ul", null, { class: "chips" });
  for (const value of values) list.append(element("li", value));
  return list;
}

const statusLine = () => document.getElementById("status");

/** Says something in the page's status line (a polite live region). */
export function announce(text, { error = false } = {}) {
  const line = statusLine();
  line.classList.toggle("is-error", error);
  line.replaceChildren();
  if (text instanceof Node) line.append(text);
  else line.textContent = text;
}

/** Moves keyboard focus to `el` (making it focusable if it is not) without scrolling past it. */
export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute("tabindex") && el.tabIndex < 0) el.setAttribute("tabindex", "-1");
  el.focus();
}

/** A date-time from the API (RFC 3339) as a `<time>` in the reader's locale. */
export function time(rfc3339, empty = "never") {
  if (!rfc3339) return element("span", empty, { class: "muted" });
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return element("span", rfc3339);
  return element("time", date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }), {
    datetime: rfc3339,
  });
}

/**
 * Disables a form's buttons while `work` runs, so that a double click sends
 * once; keyboard focus comes back to where it was.
 */
export async function busy(form, work) {
  const buttons = [...form.querySelectorAll("button")].filter((b) => !b.disabled);
  const active = document.activeElement;
  for (const button of buttons) button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    for (const button of buttons) button.disabled = false;
    form.removeAttribute("aria-busy");
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && active instanceof HTMLElement && active.isConnected) active.focus();
  }
}

/**
 * In a frame, another site could lay this page under its own and steer a
 * click onto Approve or Revoke (clickjacking). The page then shows only a
 * link to open it on its own, and returns true: the caller starts nothing.
 */
export function refuseFraming(container) {
  let framed;
  try {
    framed = window.top !== window.self;
  } catch {
    framed = true;
  }
  if (!framed) return false;
  const note = element("p", "For your safety this page does not work inside another page. ", { class: "error" });
  note.append(element("a", "Open it in its own tab", { href: location.href, target: "_blank", rel: "noopener" }));
  container.replaceChildren(note);
  return true;
}
