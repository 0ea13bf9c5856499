// An echo origin for forwarding tests: answers like SPEC's built-in echo origin
// and records every request it receives.
import http from "node:http";

/**
 * Starts the echo origin on 127.0.0.1 (any free port). Every request gets 200
 * `{method, path, query, headers, body}`: path is the pathname as sent, query
 * the query string without "?" ("" when none), headers an object with
 * lower-case names, body the raw body as text.
 * Returns `{ url, requests, clear, close }`; `requests` holds the same objects.
 */
export async function startEchoOrigin() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const target = req.url ?? "/";
      const q = target.indexOf("?");
      const headers = {};
      for (const [name, value] of Object.entries(req.headers)) {
        headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const echo = {
        method: req.method,
        path: q === -1 ? target : target.slice(0, q),
        query: q === -1 ? "" : target.slice(q + 1),
        headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(echo);
      const body = JSON.stringify(echo);
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    clear: () => requests.splice(0, requests.length),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
