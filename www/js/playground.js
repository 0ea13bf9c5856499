// The request playground: a request through the gateway with the session's bearer, signed by the SDK,
// and what went out and came back, as they were.
import { busy, focus, slot } from "./view.js";
import { showFormError } from "./errors.js";
import { client, watchRequests } from "./session.js";

/** Header values that must not be shown whole: the bearer credential. */
function shownValue(name, value) {
  if (name.toLowerCase() !== "authorization") return value;
  const [scheme, credential = ""] = value.split(" ");
  return `${scheme} ${credential.slice(0, 12)}… (${credential.length} characters, not shown)`;
}

function requestText(sent) {
  const url = new URL(sent.url);
  const lines = [`${sent.method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of new Headers(sent.headers)) lines.push(`${name}: ${shownValue(name, value)}`);
  if (sent.body) lines.push("", sent.body);
  return lines.join("\n");
}

function prettyBody(text, contentType) {
  if (!/json/i.test(contentType ?? "")) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function answerText(response) {
  const lines = [`HTTP/1.1 ${response.status} ${response.statusText}`.trimEnd()];
  for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
  const text = await response.text();
  if (text) lines.push("", prettyBody(text, response.headers.get("content-type")));
  return lines.join("\n");
}

/** Binds the playground form in `root`. */
export function playground(root) {
  const form = root.querySelector('[data-form="playground"]');
  const exchange = slot(root, "exchange");
  const requestOut = slot(root, "request");
  const answerOut = slot(root, "answer");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, null);
    const method = form.elements.method.value;
    const path = form.elements.path.value.trim() || "/";
    const withBody = method !== "GET" && form.elements.body.value !== "";
    const body = withBody ? form.elements.body.value : undefined;
    const headers = {};
    if (withBody) {
      let json = true;
      try {
        JSON.parse(body);
      } catch {
        json = false;
      }
      headers["content-type"] = json ? "application/json" : "text/plain; charset=utf-8";
    }

    await busy(form, async () => {
      // The URL the SDK sends a path to (it joins it to the base URL as it is). It may
      // send more than once (after a renewal, a clock correction): the last one answered.
      const target = path.startsWith("/") ? location.origin + path : path;
      const sent = [];
      const stop = watchRequests((url, init) => {
        if (url === target) sent.push({ url, method: init.method, headers: init.headers, body });
      });
      try {
        const response = await client.fetch(path, { method, body, headers, sign: form.elements.sign.checked });
        requestOut.textContent = sent.length
          ? requestText(sent.at(-1))
          : `${method} ${path}\n(sent by the SDK; headers not seen)`;
        answerOut.textContent = await answerText(response);
        exchange.hidden = false;
        focus(answerOut);
      } catch (error) {
        exchange.hidden = true;
        focus(showFormError(form, error) ?? form.elements.path);
      } finally {
        stop();
      }
    });
  });
}
