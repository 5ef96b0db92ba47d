//! Subscriptions over WebSocket against a real listener: `graphql-transport-ws` (and the
//! legacy `graphql-ws`), authentication in `connection_init` or on the upgrade, practice
//! isolation, scopes, limits, revocation and the init timeout. Sync runs are recorded
//! through the store, as a sync in another process would. On SQLite and PostgreSQL.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use enamel_domain::{Scope, SyncCounts};
use enamel_graphql::{Limits, Options};
use enamel_server::http::HttpConfig;
use enamel_store::Store;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

use support::{Server, app, backend_tests, connected, key, options};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";

/// What the server sent.
#[derive(Debug)]
enum Frame {
    Json(Value),
    Closed(u16, String),
}

/// Opens a WebSocket to `/graphql` asking for `protocol`, with an `Authorization` header
/// when given; the HTTP status when the upgrade is refused.
async fn connect(server: &Server, protocol: Option<&str>, header_token: Option<&str>) -> Result<Result<Ws, u16>> {
    let mut request = format!("ws://{}/graphql", server.addr).into_client_request()?;
    if let Some(protocol) = protocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocol)?);
    }
    if let Some(token) = header_token {
        request.headers_mut().insert("Authorization", HeaderValue::from_str(&format!("Bearer {token}"))?);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, response)) => {
            let chosen = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
            ensure!(chosen == protocol, "the server chose {chosen:?}, the client asked for {protocol:?}");
            Ok(Ok(ws))
        }
        Err(tungstenite::Error::Http(response)) => Ok(Err(response.status().as_u16())),
        Err(e) => Err(e.into()),
    }
}

async fn send(ws: &mut Ws, message: Value) -> Result<()> {
    ws.send(Message::text(message.to_string())).await.context("send")
}

/// The next message or close (pings skipped); fails after 10 s of silence.
async fn recv(ws: &mut Ws) -> Result<Frame> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.context("nothing within 10 s")?;
        match next {
            Some(Ok(Message::Text(text))) => return Ok(Frame::Json(serde_json::from_str(text.as_str())?)),
            Some(Ok(Message::Close(frame))) => {
                return Ok(frame.map_or(Frame::Closed(1005, String::new()), |f| {
                    Frame::Closed(u16::from(f.code), f.reason.as_str().to_owned())
                }));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Ok(Frame::Closed(1006, e.to_string())),
            None => return Ok(Frame::Closed(1006, "the connection ended".into())),
        }
    }
}

/// The next close; every message before it must satisfy `allowed`.
async fn closed(ws: &mut Ws, allowed: impl Fn(&Value) -> bool) -> Result<(u16, String)> {
    loop {
        match recv(ws).await? {
            Frame::Closed(code, reason) => return Ok((code, reason)),
            Frame::Json(message) => ensure!(allowed(&message), "unexpected before the close: {message}"),
        }
    }
}

/// A `graphql-transport-ws` session initialised with `payload` and acknowledged.
async fn open(server: &Server, payload: Value) -> Result<Ws> {
    let mut ws = connect(server, Some(TRANSPORT_WS), None).await?.map_err(|s| anyhow::anyhow!("upgrade: {s}"))?;
    send(&mut ws, json!({"type": "connection_init", "payload": payload})).await?;
    match recv(&mut ws).await? {
        Frame::Json(ack) if ack == json!({"type": "connection_ack"}) => Ok(ws),
        other => bail!("expected connection_ack, got {other:?}"),
    }
}

fn bearer(token: &str) -> Value {
    json!({"Authorization": format!("Bearer {token}")})
}

async fn subscribe(ws: &mut Ws, id: &str, query: &str) -> Result<()> {
    send(ws, json!({"type": "subscribe", "id": id, "payload": {"query": query}})).await
}

/// The next `next` message: its id and payload.
async fn next(ws: &mut Ws) -> Result<(String, Value)> {
    match recv(ws).await? {
        Frame::Json(m) if m["type"] == "next" => Ok((m["id"].as_str().context("id")?.to_owned(), m["payload"].clone())),
        other => bail!("expected next, got {other:?}"),
    }
}

/// The next event's `syncRunChanged` for subscription `id` (fails on another id).
async fn run_event(ws: &mut Ws, id: &str) -> Result<Value> {
    let (got, payload) = next(ws).await?;
    ensure!(got == id, "an event for {got}, expected {id}: {payload}");
    ensure!(payload.get("errors").is_none(), "errors: {payload}");
    Ok(payload["data"]["syncRunChanged"].clone())
}

const RUNS: &str = "subscription { syncRunChanged { stream status fetched inserted error } }";

/// The `syncRunChanged` events of a session's subscriptions, by subscription id.
#[derive(Default)]
struct Events(HashMap<String, Vec<Value>>);

impl Events {
    /// The first event of subscription `id` that `wanted` accepts, reading more (and
    /// keeping them all) until it comes.
    async fn until(&mut self, ws: &mut Ws, id: &str, wanted: impl Fn(&Value) -> bool) -> Result<Value> {
        if let Some(event) = self.0.get(id).and_then(|events| events.iter().find(|e| wanted(e))) {
            return Ok(event.clone());
        }
        loop {
            let (got, payload) = next(ws).await?;
            ensure!(payload.get("errors").is_none(), "{got}: {payload}");
            let event = payload["data"]["syncRunChanged"].clone();
            self.0.entry(got.clone()).or_default().push(event.clone());
            if got == id && wanted(&event) {
                return Ok(event);
            }
        }
    }

    /// The events of subscription `id` for `stream`, as `status` values.
    fn statuses(&self, id: &str, stream: &str) -> Vec<&str> {
        let events = self.0.get(id).map_or(&[][..], Vec::as_slice);
        events.iter().filter(|e| e["stream"] == stream).filter_map(|e| e["status"].as_str()).collect()
    }
}

fn is(stream: &str, status: &str) -> impl Fn(&Value) -> bool {
    move |e| e["stream"] == stream && e["status"] == status
}

async fn subscription_streams_runs_as_they_start_and_finish(store: Store) -> Result<()> {
    let (p, c) = connected(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let server = Server::start(app(&store, options(), HttpConfig::default())).await?;
    let mut ws = open(&server, bearer(&token)).await?;
    let mut events = Events::default();

    // A filtered subscription, live once it reports a run of its stream.
    subscribe(&mut ws, "appointments", "subscription { syncRunChanged(stream: \"appointments\") { stream status } }")
        .await?;
    let appointments = store.start_run(p, c, "appointments").await?;
    events.until(&mut ws, "appointments", is("appointments", "RUNNING")).await?;
    // An unfiltered one starts with the run in progress.
    subscribe(&mut ws, "all", RUNS).await?;
    let first = events.until(&mut ws, "all", |_| true).await?;
    ensure!(
        first == json!({"stream": "appointments", "status": "RUNNING", "fetched": 0, "inserted": 0, "error": null}),
        "{first}"
    );

    let patients = store.start_run(p, c, "patients").await?;
    let event = events.until(&mut ws, "all", is("patients", "RUNNING")).await?;
    ensure!(event == json!({"stream": "patients", "status": "RUNNING", "fetched": 0, "inserted": 0, "error": null}));
    let counts = SyncCounts { fetched: 3, inserted: 2, unchanged: 1, ..Default::default() };
    store.finish_run(p, patients, counts, None).await?;
    let event = events.until(&mut ws, "all", is("patients", "SUCCEEDED")).await?;
    ensure!(
        event == json!({"stream": "patients", "status": "SUCCEEDED", "fetched": 3, "inserted": 2, "error": null}),
        "{event}"
    );

    store.finish_run(p, appointments, SyncCounts::default(), Some("the PMS is unreachable".into())).await?;
    let event = events.until(&mut ws, "all", is("appointments", "FAILED")).await?;
    ensure!(event["error"] == "the PMS is unreachable", "{event}");
    events.until(&mut ws, "appointments", is("appointments", "FAILED")).await?;

    // Each change once, in order; the filtered subscription saw its stream only.
    ensure!(events.statuses("all", "patients") == ["RUNNING", "SUCCEEDED"], "{:?}", events.0);
    ensure!(events.statuses("all", "appointments") == ["RUNNING", "FAILED"], "{:?}", events.0);
    ensure!(events.statuses("appointments", "appointments") == ["RUNNING", "FAILED"], "{:?}", events.0);
    ensure!(events.0["appointments"].len() == 2, "{:?}", events.0);
    Ok(())
}

async fn connection_init_without_a_valid_key_is_refused(store: Store) -> Result<()> {
    let (p, c) = connected(&store, "Smile Street").await?;
    let (revoked, revoked_token) = store.create_api_key(p, "revoked", &[Scope::Read], None).await?;
    store.revoke_api_key(p, revoked.id).await?;
    // A run in progress: a refused session must never see it.
    store.start_run(p, c, "patients").await?;
    let server = Server::start(app(&store, options(), HttpConfig::default())).await?;

    let refused = [
        (bearer("enm_0000_0000"), "unknown API key"),
        (json!({"token": "nope"}), "unknown API key"),
        (bearer(&revoked_token), "expired or revoked"),
        (json!({}), "send an API key"),
        (json!({"Authorization": ""}), "send an API key"),
    ];
    for (payload, reason) in refused {
        let mut ws = connect(&server, Some(TRANSPORT_WS), None).await?.map_err(|s| anyhow::anyhow!("upgrade {s}"))?;
        send(&mut ws, json!({"type": "connection_init", "payload": payload})).await?;
        // Subscribing at once (before any answer) must not get data either.
        subscribe(&mut ws, "1", RUNS).await?;
        let (code, why) = closed(&mut ws, |_| false).await?;
        ensure!(code == 4403 && why.contains(reason), "{payload}: closed {code} {why:?}");
    }

    // An operation before connection_init.
    let mut ws = connect(&server, Some(TRANSPORT_WS), None).await?.map_err(|s| anyhow::anyhow!("upgrade {s}"))?;
    subscribe(&mut ws, "1", RUNS).await?;
    let (code, why) = closed(&mut ws, |_| false).await?;
    ensure!(code == 4401 && why.contains("connection_init"), "closed {code} {why:?}");

    // The legacy protocol says why in connection_error, with the code, then closes.
    let mut ws = connect(&server, Some(LEGACY_WS), None).await?.map_err(|s| anyhow::anyhow!("upgrade {s}"))?;
    send(&mut ws, json!({"type": "connection_init", "payload": bearer("enm_0000_0000")})).await?;
    match recv(&mut ws).await? {
        Frame::Json(m) if m["type"] == "connection_error" => {
            ensure!(m["payload"]["extensions"]["code"] == "UNAUTHENTICATED", "{m}");
        }
        other => bail!("expected connection_error, got {other:?}"),
    }
    let (code, _) = closed(&mut ws, |_| false).await?;
    ensure!(code == 4403, "closed {code}");
    Ok(())
}

async fn another_practices_key_sees_nothing_of_this_practice(store: Store) -> Result<()> {
    let (a, ca) = connected(&store, "Practice A").await?;
    let (b, cb) = connected(&store, "Practice B").await?;
    let b_token = key(&store, b, &[Scope::Read]).await?;
    let server = Server::start(app(&store, options(), HttpConfig::default())).await?;

    // One of A's runs is in progress when B subscribes, and ends after.
    let a_run = store.start_run(a, ca, "patients").await?;
    let mut ws = open(&server, bearer(&b_token)).await?;
    subscribe(&mut ws, "b", RUNS).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.finish_run(a, a_run, SyncCounts { fetched: 9, ..Default::default() }, None).await?;
    let other = store.start_run(a, ca, "appointments").await?;
    store.finish_run(a, other, SyncCounts::default(), None).await?;
    // Several polls' worth of time for anything of A's to leak through.
    tokio::time::sleep(Duration::from_millis(400)).await;

    store.start_run(b, cb, "procedures").await?;
    let event = run_event(&mut ws, "b").await?;
    ensure!(event["stream"] == "procedures" && event["status"] == "RUNNING", "B saw another practice's run: {event}");
    Ok(())
}

async fn the_upgrade_requests_key_authenticates_the_session(store: Store) -> Result<()> {
    let (p, c) = connected(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let server = Server::start(app(&store, options(), HttpConfig::default())).await?;

    let mut ws = connect(&server, Some(TRANSPORT_WS), Some(&token)).await?.map_err(|s| anyhow::anyhow!("{s}"))?;
    send(&mut ws, json!({"type": "connection_init"})).await?;
    match recv(&mut ws).await? {
        Frame::Json(m) if m["type"] == "connection_ack" => {}
        other => bail!("expected connection_ack, got {other:?}"),
    }
    subscribe(&mut ws, "1", RUNS).await?;
    store.start_run(p, c, "patients").await?;
    ensure!(run_event(&mut ws, "1").await?["stream"] == "patients", "no event");

    // A bad key on the upgrade is a plain 401; a missing or unknown protocol a 400.
    let status = connect(&server, Some(TRANSPORT_WS), Some("enm_0000_0000")).await?.err();
    ensure!(status == Some(401), "bad header key: {status:?}");
    let status = connect(&server, None, Some(&token)).await?.err();
    ensure!(status == Some(400), "no protocol: {status:?}");
    let status = connect(&server, Some("mqtt"), Some(&token)).await?.err();
    ensure!(status == Some(400), "unknown protocol: {status:?}");
    Ok(())
}

async fn subscriptions_need_the_read_scope(store: Store) -> Result<()> {
    let (p, _) = connected(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Context]).await?;
    let server = Server::start(app(&store, options(), HttpConfig::default())).await?;
    let mut ws = open(&server, bearer(&token)).await?;
    subscribe(&mut ws, "1", RUNS).await?;
    let (id, payload) = next(&mut ws).await?;
    ensure!(id == "1" && payload["errors"][0]["extensions"]["code"] == "FORBIDDEN", "{payload}");
    ensure!(payload["data"].is_null(), "{payload}");
    match recv(&mut ws).await? {
        Frame::Json(m) if m == json!({"type": "complete", "id": "1"}) => Ok(()),
        other => bail!("expected complete, got {other:?}"),
    }
}

async fn subscriptions_obey_the_query_limits(store: Store) -> Result<()> {
    let (p, c) = connected(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let aliases: String = (0..31).map(|i| format!(" s{i}: stream")).collect();
    let aliases = format!("subscription {{ syncRunChanged {{{aliases} }} }}");
    let wide: String = (0..25).map(|_| " stream").collect();
    let wide = format!("subscription {{ syncRunChanged {{{wide} }} }}");
    let deep = "subscription { syncRunChanged { stream } }".to_owned();
    // Each document over one limit (the alias limit's error has a code, as in queries).
    let cases = [
        (Limits { aliases: 30, ..Limits::default() }, &aliases, Some("LIMIT_EXCEEDED")),
        (Limits { complexity: 20, ..Limits::default() }, &wide, None),
        (Limits { depth: 1, ..Limits::default() }, &deep, None),
    ];
    for (limits, document, code) in cases {
        let server = Server::start(app(&store, Options { limits, ..options() }, HttpConfig::default())).await?;
        let mut ws = open(&server, bearer(&token)).await?;
        subscribe(&mut ws, "1", document).await?;
        let (_, payload) = next(&mut ws).await?;
        ensure!(payload["errors"].as_array().is_some_and(|e| !e.is_empty()), "{limits:?}: {payload}");
        ensure!(payload["data"].is_null(), "{limits:?}: {payload}");
        if let Some(code) = code {
            ensure!(payload["errors"][0]["extensions"]["code"] == code, "{limits:?}: {payload}");
        }
        match recv(&mut ws).await? {
            Frame::Json(m) if m == json!({"type": "complete", "id": "1"}) => {}
            other => bail!("expected complete, got {other:?}"),
        }
    }
    // Under generous limits the same documents run.
    let limits = Limits { aliases: 40, ..Limits::default() };
    let server = Server::start(app(&store, Options { limits, ..options() }, HttpConfig::default())).await?;
    let mut ws = open(&server, bearer(&token)).await?;
    for (id, document) in [("aliases", &aliases), ("wide", &wide), ("deep", &deep)] {
        subscribe(&mut ws, id, document).await?;
    }
    store.start_run(p, c, "patients").await?;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, payload) = next(&mut ws).await?;
        ensure!(payload.get("errors").is_none() && payload["data"]["syncRunChanged"].is_object(), "{id}: {payload}");
        ids.push(id);
    }
    ids.sort();
    ensure!(ids == ["aliases", "deep", "wide"], "{ids:?}");
    Ok(())
}

async fn a_revoked_key_closes_an_open_session(store: Store) -> Result<()> {
    let (p, _) = connected(&store, "Smile Street").await?;
    let (api_key, token) = store.create_api_key(p, "soon revoked", &[Scope::Read], None).await?;
    let options = Options { ws_recheck: Some(Duration::from_millis(100)), ..options() };
    let config = HttpConfig { auth_cache_ttl: Duration::ZERO, ..Default::default() };
    let server = Server::start(app(&store, options, config)).await?;
    let mut ws = open(&server, bearer(&token)).await?;
    subscribe(&mut ws, "1", RUNS).await?;
    // Still open after several checks.
    tokio::time::sleep(Duration::from_millis(400)).await;
    send(&mut ws, json!({"type": "ping"})).await?;
    match recv(&mut ws).await? {
        Frame::Json(m) if m["type"] == "pong" => {}
        other => bail!("expected pong, got {other:?}"),
    }
    store.revoke_api_key(p, api_key.id).await?;
    let (code, why) = closed(&mut ws, |_| false).await?;
    ensure!(code == 4403 && why.contains("revoked"), "closed {code} {why:?}");
    Ok(())
}

async fn sessions_without_connection_init_time_out(store: Store) -> Result<()> {
    let options = Options { ws_init_timeout: Some(Duration::from_millis(200)), ..options() };
    let server = Server::start(app(&store, options, HttpConfig::default())).await?;
    let mut ws = connect(&server, Some(TRANSPORT_WS), None).await?.map_err(|s| anyhow::anyhow!("{s}"))?;
    let (code, _) = closed(&mut ws, |_| false).await?;
    ensure!(code == 4408, "closed {code}");
    Ok(())
}

async fn the_legacy_graphql_ws_protocol_streams_too(store: Store) -> Result<()> {
    let (p, c) = connected(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let server = Server::start(app(&store, options(), HttpConfig::default())).await?;
    let mut ws = connect(&server, Some(LEGACY_WS), None).await?.map_err(|s| anyhow::anyhow!("{s}"))?;
    send(&mut ws, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}})).await?;
    match recv(&mut ws).await? {
        Frame::Json(m) if m["type"] == "connection_ack" => {}
        other => bail!("expected connection_ack, got {other:?}"),
    }
    send(&mut ws, json!({"type": "start", "id": "1", "payload": {"query": RUNS}})).await?;
    let run = store.start_run(p, c, "patients").await?;
    let expect = |status: &str| {
        json!({"type": "data", "id": "1", "payload": {"data": {"syncRunChanged":
            {"stream": "patients", "status": status, "fetched": 0, "inserted": 0, "error": null}}}})
    };
    match recv(&mut ws).await? {
        Frame::Json(m) if m == expect("RUNNING") => {}
        other => bail!("expected the running run, got {other:?}"),
    }
    store.finish_run(p, run, SyncCounts::default(), None).await?;
    match recv(&mut ws).await? {
        Frame::Json(m) if m == expect("SUCCEEDED") => {}
        other => bail!("expected the finished run, got {other:?}"),
    }
    send(&mut ws, json!({"type": "stop", "id": "1"})).await?;
    match recv(&mut ws).await? {
        Frame::Json(m) if m == json!({"type": "complete", "id": "1"}) => Ok(()),
        other => bail!("expected complete, got {other:?}"),
    }
}

/// A proposal stored as the queue stores it (the store does not look into it).
fn proposal(practice: enamel_domain::PracticeId, key: &str) -> enamel_store::NewWriteBack {
    use enamel_domain::enums::{CommDirection, CommMode};
    use enamel_domain::ids::{PatientId, WriteBackId};
    use enamel_domain::writeback::{PmsWrite, Principal, Proposal};
    let patient = PatientId::new();
    let at = chrono::Utc::now();
    enamel_store::NewWriteBack {
        id: WriteBackId::new(),
        practice_id: practice,
        source: enamel_domain::Source::OpenDental,
        proposal: Proposal::CommlogCreate {
            patient_id: patient,
            note: "Called".into(),
            mode: CommMode::Phone,
            direction: CommDirection::Sent,
            communicated_at: None,
        },
        write: PmsWrite::CreateCommlog {
            patient: "7".into(),
            note: "Called".into(),
            mode: CommMode::Phone,
            direction: CommDirection::Sent,
            communicated_at: at,
        },
        base_version: None,
        patient_id: Some(patient),
        reason: "follow-up".into(),
        idempotency_key: key.into(),
        request_hash: key.into(),
        proposed_by: Principal { id: "api_key:ai".into(), name: "ai".into() },
        deadline: at + chrono::Duration::hours(1),
        at,
    }
}

async fn write_backs_are_pushed_as_they_change(store: Store) -> Result<()> {
    use enamel_domain::writeback::{Principal, WriteBackState};
    use enamel_store::{Expect, Proposed, Transition};
    let (p, _) = connected(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Approve]).await?;
    let server = Server::start(app(&store, options(), HttpConfig::default())).await?;
    let mut ws = open(&server, bearer(&token)).await?;
    subscribe(&mut ws, "all", "subscription { writeBackChanged { state kind reason } }").await?;
    subscribe(&mut ws, "approved", "subscription { writeBackChanged(state: [APPROVED]) { state } }").await?;
    // Let both subscriptions take their baseline before anything changes.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let Proposed::Created(wb) = store.propose_write_back(proposal(p, "k1")).await? else { bail!("not created") };
    let (id, payload) = next(&mut ws).await?;
    ensure!(id == "all", "{id}: {payload}");
    ensure!(
        payload["data"]["writeBackChanged"]
            == json!({"state": "PENDING_APPROVAL", "kind": "COMMLOG_CREATE", "reason": "follow-up"}),
        "{payload}"
    );
    let mut approve = Transition::new(WriteBackState::Approved, "api_key:desk", chrono::Utc::now());
    approve.decided_by = Some(Principal { id: "api_key:desk".into(), name: "desk".into() });
    let expect = Expect { states: &[WriteBackState::PendingApproval], lease_owner: None };
    store.transition_write_back(Some(p), wb.id, expect, &approve).await?;
    let mut seen = HashMap::new();
    for _ in 0..2 {
        let (id, payload) = next(&mut ws).await?;
        seen.insert(id, payload["data"]["writeBackChanged"]["state"].clone());
    }
    ensure!(seen["all"] == "APPROVED" && seen["approved"] == "APPROVED", "{seen:?}");
    // Every event named its patient in the access audit.
    let audited = store.phi_accesses(p, &enamel_store::PhiAccessFilter::default(), 0, 10).await?;
    ensure!(audited.len() == 3, "{audited:?}");
    ensure!(
        audited
            .iter()
            .all(|e| e.operation == "writeBackChanged" && e.patient_ids == [wb.patient_id.unwrap_or_default()])
    );

    // Another practice's write-backs never reach this session.
    let (other, _) = connected(&store, "Elsewhere").await?;
    store.propose_write_back(proposal(other, "k2")).await?;
    let quiet = tokio::time::timeout(Duration::from_millis(2500), next(&mut ws)).await;
    ensure!(quiet.is_err(), "an event from another practice: {quiet:?}");
    Ok(())
}

backend_tests!(
    write_backs_are_pushed_as_they_change,
    subscription_streams_runs_as_they_start_and_finish,
    connection_init_without_a_valid_key_is_refused,
    another_practices_key_sees_nothing_of_this_practice,
    the_upgrade_requests_key_authenticates_the_session,
    subscriptions_need_the_read_scope,
    subscriptions_obey_the_query_limits,
    a_revoked_key_closes_an_open_session,
    sessions_without_connection_init_time_out,
    the_legacy_graphql_ws_protocol_streams_too,
);
