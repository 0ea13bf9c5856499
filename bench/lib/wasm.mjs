// A wasm module's sections and their sizes, enough to say where the bytes are
// (code, data, the `name` section of function names) without other tools.

function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

const IDS = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount", "tag"];

/** [{name, start, end}] with `end` exclusive; custom sections are named `custom:<name>`. */
export function sections(bytes) {
  const out = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, body] = leb(bytes, at + 1);
    let name = IDS[id] ?? `id${id}`;
    if (id === 0) {
      const [len, s] = leb(bytes, body);
      name = `custom:${Buffer.from(bytes.subarray(s, s + len)).toString("utf8")}`;
    }
    out.push({ name, start: at, end: body + size });
    at = body + size;
  }
  return out;
}

/** The module without the custom sections whose names `drop` matches (e.g. /^custom:name$/). */
export function without(bytes, drop) {
  const keep = sections(bytes).filter((s) => !drop.test(s.name));
  return Buffer.concat([bytes.subarray(0, 8), ...keep.map((s) => bytes.subarray(s.start, s.end))]);
}
