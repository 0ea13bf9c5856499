// The local origin every scenario forwards to: a small fixed JSON answer, so that
// the origin costs the same in every scenario and as little as possible.
// Run as a child process (its own event loop, apart from the load generator);
// prints `{"url": ...}` on its first line of stdout.
import http from "node:http";

const BODY = Buffer.from('{"ok":true}');
let served = 0;

const server = http.createServer((req, res) => {
  // Drain the body (POSTs carry one) before answering, as a real origin would.
  req.on("data", () => {});
  req.on("end", () => {
    served += 1;
    if (req.url === "/__served") {
      const body = JSON.stringify({ served });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
// The parent closing our stdin (or dying) ends us: never outlive the bench.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
