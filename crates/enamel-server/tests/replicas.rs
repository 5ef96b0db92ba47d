//! `enamel serve` as a production service: real processes over one PostgreSQL database
//! against the simulators.
//!
//! - Two replicas sync side by side for several cycles: no stream is ever synced by both at
//!   once (each pass tags its requests `X-Enamel-Sync: <replica>/<stream>/<lease>`, and the
//!   simulator's log shows every pass's requests apart from every other pass of the stream)
//!   and the store equals the simulator.
//! - A replica killed (SIGKILL) in the middle of a stream: the other takes it over once the
//!   lease lapses, and the store converges with nothing duplicated.
//! - A write-back approved through one replica reaches a `writeBackChanged` subscription
//!   held on the other at once (LISTEN/NOTIFY; the subscriptions' poll is set to a minute).
//! - SIGTERM during a sync and during a write-back: the process exits within its grace, and
//!   the next start finishes the work without loss or a second write.
//! - A bad configuration value, an unreachable database and a missing master key stop the
//!   start with one clear message.
//!
//! The replica tests need PostgreSQL (`postgres::…`); they fail when it is unreachable and
//! `ENAMEL_REQUIRE_POSTGRES=1`, and are skipped otherwise.

use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use enamel_sim::{FaultKind, FaultSpec, Mode, PmsKind, SimConfig, SimHandle};
use serde_json::{Value, json};

#[allow(dead_code, unreachable_pub)]
#[path = "support/process.rs"]
mod process;
use process::{
    Backend, COMMAND_TIMEOUT, Cli, Database, Proc, enamel, http_get, http_post_json, run_command, runtime, serve_with,
};

/// The grace of a stop in these tests (leases last 3 s).
const GRACE: Duration = Duration::from_secs(3);

mod postgres {
    #[test]
    fn two_replicas_never_sync_one_stream_at_once_and_the_store_equals_the_office() {
        super::two_replicas();
    }

    #[test]
    fn a_replica_killed_mid_sync_is_taken_over_once_its_lease_lapses() {
        super::killed_mid_sync();
    }

    #[test]
    fn a_write_back_approved_on_one_replica_reaches_a_subscription_on_the_other() {
        super::write_back_across_replicas();
    }

    #[test]
    fn sigterm_during_a_sync_and_a_write_back_exits_in_time_and_the_next_start_resumes() {
        super::sigterm();
    }
}

/// A fresh PostgreSQL store with one practice connected to an Open Dental simulator.
struct Office {
    cli: Cli,
    sim: SimHandle,
    practice: String,
    rt: tokio::runtime::Runtime,
    _database: Database,
}

impl Office {
    fn new() -> Option<Office> {
        let (database, url) = Database::new(Backend::Postgres)?;
        let rt = runtime();
        let mut config = SimConfig::new(PmsKind::OpenDental);
        config.mode = Mode::Local;
        let sim = rt.block_on(enamel_sim::spawn(config, 0)).expect("the Open Dental simulator starts");
        let master_key = base64::engine::general_purpose::STANDARD
            .encode([uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat());
        let env = [
            ("ENAMEL_SYNC__EVERY", "1s"),
            ("ENAMEL_SYNC__TICK", "200ms"),
            ("ENAMEL_SYNC__LEASE", "3s"),
            ("ENAMEL_SYNC__RETRY_BASE", "1s"),
            ("ENAMEL_SHUTDOWN_GRACE", "3s"),
            ("ENAMEL_HTTP__SUBSCRIPTION_POLL", "60s"),
            ("ENAMEL_HTTP__RATE_LIMIT", "0"),
            ("ENAMEL_WRITEBACK__IDLE", "200ms"),
            ("ENAMEL_WRITEBACK__LEASE", "3s"),
            ("ENAMEL_LOG_FORMAT", "json"),
            ("RUST_LOG", "warn,enamel=info"),
        ];
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let cli = Cli { database_url: url, master_key, env };
        cli.run(&["migrate", "--create-database"]);
        let practice = cli.run(&["practice", "add", "--name", "Replica Dental"]).trim().to_owned();
        let api_url = sim.api_url();
        cli.add_open_dental(&practice, &api_url);
        Some(Office { cli, sim, practice, rt, _database: database })
    }

    /// A replica: `enamel serve` on a free port.
    fn replica(&self, name: &str) -> Replica {
        let mut command = self.cli.command(&["serve", "--listen", "127.0.0.1:0"]);
        command.env("HOSTNAME", name);
        let (mut proc, addr, log) = serve_with(command);
        proc.label = format!("replica {name}");
        let holder = format!("{name}:{}", proc.child.id());
        Replica { proc, addr, log: Some(log), holder }
    }

    fn store(&self) -> enamel_store::Store {
        self.rt.block_on(enamel_store::Store::connect(&self.cli.database_url)).expect("the test reaches the store")
    }

    /// Waits until every stream has completed at least `passes` passes (by anyone).
    fn wait_for_passes(&self, passes: usize, timeout: Duration, replicas: &mut [&mut Replica]) {
        let store = self.store();
        let practice: enamel_domain::PracticeId = self.practice.parse::<uuid::Uuid>().expect("a practice id").into();
        let streams = enamel_pms::opendental::STREAMS.len();
        let started = Instant::now();
        loop {
            let runs = self.rt.block_on(store.sync_runs(practice, 10_000)).expect("sync runs");
            let mut done: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &runs {
                if r.status == enamel_domain::SyncRunStatus::Succeeded {
                    *done.entry(r.stream.as_str()).or_default() += 1;
                }
            }
            if done.len() == streams && done.values().all(|n| *n >= passes) {
                return;
            }
            for r in replicas.iter_mut() {
                r.alive();
            }
            if started.elapsed() > timeout {
                let mut logs = String::new();
                for r in replicas.iter_mut() {
                    r.proc.signal("KILL");
                    let _ = r.proc.wait_exit(Duration::from_secs(5));
                    let log = r.log.take().and_then(|l| l.join().ok()).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(40).collect();
                    logs.push_str(&format!(
                        "--- {} (last lines)\n{}\n",
                        r.proc.label,
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ));
                }
                let mut failed: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
                for r in &runs {
                    if let Some(e) = &r.error {
                        let entry = failed.entry(r.stream.as_str()).or_insert((0, e.as_str()));
                        entry.0 += 1;
                    }
                }
                panic!("streams did not reach {passes} passes in {timeout:?}: {done:?}\nfailures: {failed:?}\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `enamel sync --full --json` changes nothing and fetches what the simulator has.
    fn assert_store_equals_the_office(&self) {
        let report: Value =
            serde_json::from_str(&self.cli.run(&["sync", "--practice", &self.practice, "--full", "--json"]))
                .expect("`sync --json` prints JSON");
        assert!(report["error"].is_null(), "{report}");
        let counts = self.sim.control.counts();
        for s in report["connections"][0]["streams"].as_array().expect("streams") {
            let name = s["stream"].as_str().unwrap_or_default();
            assert_eq!(s["fetched"].as_u64(), counts.get(name).map(|n| *n as u64), "{name}: {s}");
            for k in ["inserted", "updated", "deleted", "quarantined"] {
                assert_eq!(s[k], 0, "{name}: the store differed from the office: {s}");
            }
        }
    }

    /// The simulator's requests per pass tag: (first arrival, last answer) in ms, per stream.
    fn passes(&self) -> BTreeMap<String, Vec<(String, u64, u64)>> {
        let mut spans: BTreeMap<String, (String, u64, u64)> = BTreeMap::new();
        for r in self.sim.control.requests() {
            let Some(tag) = r.tag else { continue };
            let stream = tag.split('/').nth(1).unwrap_or_default().to_owned();
            let span = spans.entry(tag).or_insert((stream, r.started_ms, r.finished_ms));
            span.1 = span.1.min(r.started_ms);
            span.2 = span.2.max(r.finished_ms);
        }
        let mut by_stream: BTreeMap<String, Vec<(String, u64, u64)>> = BTreeMap::new();
        for (tag, (stream, from, to)) in spans {
            by_stream.entry(stream).or_default().push((tag, from, to));
        }
        by_stream
    }

    /// An API key with `scopes`.
    fn key(&self, name: &str, scopes: &str) -> String {
        self.cli
            .run(&["apikey", "create", "--practice", &self.practice, "--name", name, "--scopes", scopes])
            .trim()
            .to_owned()
    }
}

/// A running replica.
struct Replica {
    proc: Proc,
    addr: String,
    log: Option<std::thread::JoinHandle<String>>,
    holder: String,
}

impl Replica {
    /// Fails the test with the replica's log if it exited.
    fn alive(&mut self) {
        if let Ok(Some(status)) = self.proc.child.try_wait() {
            let log = self.log.take().and_then(|l| l.join().ok()).unwrap_or_default();
            panic!("{} exited ({status}):\n{log}", self.proc.label);
        }
    }

    /// SIGTERM; the time it took to exit, and its log.
    fn terminate(mut self) -> (Duration, std::process::ExitStatus, String) {
        let asked = Instant::now();
        self.proc.signal("TERM");
        let status = self.proc.wait_exit(GRACE + Duration::from_secs(20));
        let took = asked.elapsed();
        let log = self.log.take().and_then(|l| l.join().ok()).unwrap_or_default();
        let status = status.unwrap_or_else(|| panic!("{} did not exit after SIGTERM:\n{log}", self.proc.label));
        (took, status, log)
    }

    fn graphql(&self, key: &str, query: &str, variables: Value) -> Value {
        let (status, body) =
            http_post_json(&self.addr, "/graphql", key, &json!({"query": query, "variables": variables}))
                .unwrap_or_else(|e| panic!("POST /graphql on {}: {e}", self.addr));
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }
}

/// Every pass of a stream kept apart from every other pass of it.
fn assert_no_overlap(passes: &BTreeMap<String, Vec<(String, u64, u64)>>) {
    for (stream, spans) in passes {
        for (i, (tag, from, to)) in spans.iter().enumerate() {
            for (other, other_from, other_to) in &spans[i + 1..] {
                assert!(
                    to < other_from || other_to < from,
                    "{stream}: {tag} [{from}, {to}] overlaps {other} [{other_from}, {other_to}]"
                );
            }
        }
    }
}

fn two_replicas() {
    let Some(office) = Office::new() else { return };
    let mut a = office.replica("replica-a");
    let mut b = office.replica("replica-b");
    office.wait_for_passes(2, Duration::from_secs(120), &mut [&mut a, &mut b]);
    // The office changes between cycles; both replicas keep going.
    office.sim.control.mutate(1);
    office.wait_for_passes(4, Duration::from_secs(120), &mut [&mut a, &mut b]);
    let (holder_a, holder_b) = (a.holder.clone(), b.holder.clone());
    let (took_a, status_a, log_a) = a.terminate();
    let (took_b, status_b, log_b) = b.terminate();
    assert!(status_a.success() && status_b.success(), "{log_a}\n{log_b}");
    assert!(
        took_a < GRACE + Duration::from_secs(2) && took_b < GRACE + Duration::from_secs(2),
        "{took_a:?} {took_b:?}"
    );
    let passes = office.passes();
    assert_eq!(passes.len(), enamel_pms::opendental::STREAMS.len(), "every stream was synced: {:?}", passes.keys());
    let by: HashSet<&str> = passes.values().flatten().filter_map(|(tag, _, _)| tag.split('/').next()).collect();
    assert!(by.contains(holder_a.as_str()) && by.contains(holder_b.as_str()), "both replicas synced: {by:?}");
    assert_no_overlap(&passes);
    let count = |holder: &str| passes.values().flatten().filter(|(tag, _, _)| tag.starts_with(holder)).count();
    eprintln!(
        "figures: {} passes by a, {} by b, none overlapping; SIGTERM exits in {took_a:?} and {took_b:?}",
        count(&holder_a),
        count(&holder_b)
    );
    office.assert_store_equals_the_office();
}

/// The lease of `stream` as the store has it now.
fn lease(office: &Office, stream: &str) -> Option<enamel_domain::SyncLease> {
    let store = office.store();
    let leases = office.rt.block_on(store.sync_leases(None)).expect("leases");
    leases.into_iter().find(|l| l.stream == stream)
}

fn killed_mid_sync() {
    let Some(office) = Office::new() else { return };
    // Patients answer slowly: the first replica is still on them when it dies.
    office.sim.control.inject(FaultSpec::rate(FaultKind::Slow { millis: 10_000 }, 1.0).on("/api/v1/patients"));
    let mut a = office.replica("replica-a");
    let holder_a = a.holder.clone();
    let started = Instant::now();
    while lease(&office, "patients").is_none_or(|l| l.holder.as_deref() != Some(holder_a.as_str())) {
        a.alive();
        assert!(started.elapsed() < Duration::from_secs(60), "replica a never took patients");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut b = office.replica("replica-b");
    std::thread::sleep(Duration::from_millis(300));
    let held = lease(&office, "patients").expect("the patients lease");
    assert_eq!(held.holder.as_deref(), Some(holder_a.as_str()), "a is still on patients: {held:?}");
    a.proc.signal("KILL");
    assert!(a.proc.wait_exit(Duration::from_secs(5)).is_some(), "SIGKILL ends replica a");
    let lapses = held.expires_at.expect("a held lease expires");
    office.sim.control.clear_faults();
    office.wait_for_passes(1, Duration::from_secs(120), &mut [&mut b]);
    let holder_b = b.holder.clone();
    let (_, status, log) = b.terminate();
    assert!(status.success(), "{log}");
    assert_no_overlap(&office.passes());
    let store = office.store();
    let practice: enamel_domain::PracticeId = office.practice.parse::<uuid::Uuid>().expect("id").into();
    let mut runs = office.rt.block_on(store.sync_runs(practice, 10_000)).expect("runs");
    runs.reverse();
    let patients: Vec<_> = runs.iter().filter(|r| r.stream == "patients").collect();
    // A's run, closed as interrupted when b took the stream over; b's first run of patients
    // began only once a's lease (as last seen before the kill) had lapsed.
    assert!(patients[0].error.as_deref().is_some_and(|e| e.contains("interrupted")), "{patients:?}");
    let taken_over = patients.get(1).expect("b ran patients");
    assert!(
        taken_over.started_at >= lapses,
        "b took patients at {} before a's lease lapsed at {lapses}",
        taken_over.started_at
    );
    assert!(taken_over.status == enamel_domain::SyncRunStatus::Succeeded, "{taken_over:?}");
    eprintln!(
        "figures: b took patients over {} ms after a's last seen lease expiry",
        (taken_over.started_at - lapses).num_milliseconds()
    );
    assert!(
        runs.iter().all(|r| r.status != enamel_domain::SyncRunStatus::Running),
        "no run is left running: {:?}",
        runs.iter().filter(|r| r.status == enamel_domain::SyncRunStatus::Running).collect::<Vec<_>>()
    );
    assert!(office.passes()["patients"].iter().any(|(tag, _, _)| tag.starts_with(&holder_b)));
    office.assert_store_equals_the_office();
}

/// A subscription's next `writeBackChanged` events over `graphql-transport-ws`.
async fn subscribe(addr: &str, key: &str) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let mut request = format!("ws://{addr}/graphql").into_client_request().expect("a request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("the websocket opens");
    let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {key}")}});
    ws.send(Message::text(init.to_string())).await.expect("init");
    let start =
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { writeBackChanged { id state } }"}});
    ws.send(Message::text(start.to_string())).await.expect("subscribe");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Text(text) = message
                && let Ok(value) = serde_json::from_str::<Value>(text.as_str())
                && value["type"] == "next"
                && tx.send(value["payload"]["data"]["writeBackChanged"].clone()).is_err()
            {
                break;
            }
        }
    });
    rx
}

/// Proposes a commlog through `replica` and approves it with another key; returns its id.
fn propose_and_approve(replica: &Replica, proposer: &str, approver: &str, note: &str) -> String {
    let patients = replica.graphql(proposer, "{ patients(first: 1) { edges { node { id } } } }", json!({}));
    let patient = patients["patients"]["edges"][0]["node"]["id"].as_str().expect("a patient").to_owned();
    let proposed = replica.graphql(
        proposer,
        "mutation($p: ID!, $note: String!, $key: String!) { proposeCommlogCreate(commlog: {patientId: $p, note: $note}, meta: {reason: \"test\", idempotencyKey: $key}) { id state } }",
        json!({"p": patient, "note": note, "key": uuid::Uuid::new_v4().to_string()}),
    );
    let id = proposed["proposeCommlogCreate"]["id"].as_str().expect("an id").to_owned();
    replica.graphql(approver, "mutation($id: ID!) { approveWriteBack(id: $id) { id state } }", json!({"id": id}));
    id
}

fn write_back_across_replicas() {
    let Some(office) = Office::new() else { return };
    let mut a = office.replica("replica-a");
    let mut b = office.replica("replica-b");
    office.wait_for_passes(1, Duration::from_secs(120), &mut [&mut a, &mut b]);
    let proposer = office.key("ai-service", "read,context,propose");
    let approver = office.key("front-desk", "read,approve");
    let mut events = office.rt.block_on(subscribe(&b.addr, &approver));
    // Let the subscription start before the change.
    std::thread::sleep(Duration::from_millis(500));
    let id = propose_and_approve(&a, &proposer, &approver, "Called about the crown; will confirm Tuesday.");
    let approved_at = Instant::now();
    let mut seen = Vec::new();
    office.rt.block_on(async {
        while !seen.iter().any(|e: &Value| e["id"] == id.as_str() && e["state"] == "APPROVED") {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(event)) => seen.push(event),
                _ => break,
            }
        }
    });
    let arrived = approved_at.elapsed();
    assert!(
        seen.iter().any(|e| e["id"] == id.as_str() && e["state"] == "APPROVED"),
        "the subscription on b saw: {seen:?}"
    );
    // The subscriptions poll once a minute here: only the notification can be this quick.
    assert!(arrived < Duration::from_secs(5), "the event took {arrived:?}");
    eprintln!("figures: the approval reached the other replica's subscription in {arrived:?}");
    // The executor of one of the replicas applies it, once.
    let started = Instant::now();
    while !office.sim.control.writes().iter().any(|w| w.path.contains("commlogs")) {
        a.alive();
        b.alive();
        assert!(started.elapsed() < Duration::from_secs(30), "the commlog was never written");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(office.sim.control.writes().iter().filter(|w| w.path.contains("commlogs")).count(), 1);
    // Both replicas expose what happened: requests by operation, sync lag per stream,
    // write-backs by state (read from the shared store), PMS errors.
    let mut metrics = String::new();
    for replica in [&a, &b] {
        let (status, text) = http_get(&replica.addr, "/metrics").expect("/metrics answers");
        assert_eq!(status, 200);
        let done =
            ["APPLIED", "CONFIRMED"].iter().any(|s| text.contains(&format!("enamel_write_backs{{state=\"{s}\"}} 1")));
        assert!(done, "the write-back counted by state on every replica:\n{text}");
        metrics.push_str(&text);
    }
    for expected in
        ["enamel_graphql_requests_total", "enamel_sync_records_total", "enamel_sync_lag_seconds{", "enamel_store_up 1"]
    {
        assert!(metrics.contains(expected), "/metrics lacks {expected}:\n{metrics}");
    }
    drop((a, b));
}

fn sigterm() {
    let Some(office) = Office::new() else { return };
    // During a sync: patients answer slowly, SIGTERM arrives mid-pass.
    office.sim.control.inject(FaultSpec::rate(FaultKind::Slow { millis: 10_000 }, 1.0).on("/api/v1/patients"));
    let mut a = office.replica("replica-a");
    let started = Instant::now();
    while !office.sim.control.requests().iter().any(|r| r.path.starts_with("/api/v1/patients")) {
        a.alive();
        assert!(started.elapsed() < Duration::from_secs(60), "the sync never reached patients");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (took, status, log) = a.terminate();
    assert!(status.success(), "{log}");
    assert!(took < GRACE + Duration::from_secs(2), "SIGTERM during a sync took {took:?}:\n{log}");
    eprintln!("figures: SIGTERM mid-sync exited in {took:?}");
    office.sim.control.clear_faults();
    let mut a2 = office.replica("replica-a2");
    office.wait_for_passes(1, Duration::from_secs(120), &mut [&mut a2]);
    assert_no_overlap(&office.passes());
    office.assert_store_equals_the_office();

    // During a write-back: the PMS takes the write but answers late, SIGTERM arrives while
    // the executor waits for it.
    let proposer = office.key("ai-service", "read,context,propose");
    let approver = office.key("front-desk", "read,approve");
    office
        .sim
        .control
        .inject(FaultSpec::times(FaultKind::LateAnswer { millis: 20_000 }, 1).method("POST").on("/api/v1/commlogs"));
    let id = propose_and_approve(&a2, &proposer, &approver, "Left a voicemail about the recall visit.");
    let started = Instant::now();
    while office.sim.control.writes().iter().all(|w| !w.path.contains("commlogs")) {
        a2.alive();
        assert!(started.elapsed() < Duration::from_secs(30), "the write-back was never attempted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (took, status, log) = a2.terminate();
    assert!(status.success(), "{log}");
    assert!(took < GRACE + Duration::from_secs(2), "SIGTERM during a write-back took {took:?}:\n{log}");
    eprintln!("figures: SIGTERM mid-write-back exited in {took:?}");
    // The next start reconciles it (its lease lapses, the probe finds the commlog) and
    // never writes it again.
    let a3 = office.replica("replica-a3");
    let started = Instant::now();
    let state = loop {
        let data = a3.graphql(&approver, "query($id: ID!) { writeBack(id: $id) { state } }", json!({"id": id}));
        let state = data["writeBack"]["state"].as_str().unwrap_or_default().to_owned();
        if state == "APPLIED" || state == "CONFIRMED" {
            break state;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the write-back stayed {state}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let writes = office.sim.control.writes().into_iter().filter(|w| w.path.contains("commlogs")).count();
    assert_eq!(writes, 1, "written once ({state})");
    drop(a3);
}

/// `enamel serve` with `env`: exits at once with status 1 and one line on standard error
/// containing `expected`.
fn refuses_to_start(env: &[(&str, &str)], args: &[&str], expected: &str) {
    let mut command = Command::new(enamel());
    command.arg("serve").args(args).env_remove("ENAMEL_MASTER_KEY").env_remove("DATABASE_URL");
    for (k, v) in env {
        command.env(k, v);
    }
    let started = Instant::now();
    let out = run_command(command, "enamel serve", COMMAND_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(15), "it took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", out.describe("enamel serve"));
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one message: {}", out.stderr);
    assert!(lines[0].starts_with("error: ") && lines[0].contains(expected), "{}", out.stderr);
}

#[test]
fn bad_configuration_unreachable_database_and_missing_master_key_stop_the_start_clearly() {
    let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let file = std::env::temp_dir().join(format!("enamel-bad-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, "[sync]\nlease = \"soon\"\n").expect("write a config file");
    let path = file.display().to_string();
    refuses_to_start(&[("ENAMEL_HTTP__RATE_LIMIT", "fast")], &[], "http.rate_limit");
    refuses_to_start(&[], &["--config", &path], "sync.lease");
    refuses_to_start(&[("ENAMEL_SYNC__STREAMS__PATIENS", "1m")], &[], "sync.streams.patiens: no such stream");
    refuses_to_start(
        &[("ENAMEL_MASTER_KEY", key), ("DATABASE_URL", "postgres://enamel@127.0.0.1:1/enamel")],
        &[],
        "cannot reach the database at postgres://enamel",
    );
    refuses_to_start(&[("DATABASE_URL", "sqlite::memory:")], &[], "ENAMEL_MASTER_KEY is not set");
    refuses_to_start(&[("ENAMEL_MASTER_KEY", "too-short")], &[], "master_key");
    let _ = std::fs::remove_file(file);
}
