//! Enamel's PMS simulators: Open Dental and TDental over HTTP, faithful to their real
//! contracts (quirks included), with a deterministic data generator, a controllable clock,
//! fault injection and a log of requests and writes.
//!
//! Every test, benchmark and the demo run against these simulators: we cannot reach a real
//! PMS from here. The simulator serves its own JSON, rendered onto the PMS's documented
//! objects (`templates/`); it never uses the adapters' wire types, so a mapping bug cannot
//! hide on both sides.
//!
//! In-process use: [`spawn`] returns the base URL and a [`Control`] handle. Out of process:
//! the `enamel-sim` binary, controlled over `/_sim/…` routes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

pub mod clock;
mod control;
pub mod faults;
pub mod opendental;
pub mod rng;
pub mod rows;
pub mod tdental;

pub use faults::{FaultKind, FaultSpec};

/// Which PMS to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PmsKind {
    /// Open Dental's REST API.
    #[value(name = "opendental")]
    OpenDental,
    /// TDental (TMT Dental) web API.
    #[value(name = "tdental")]
    #[serde(rename = "tdental")]
    Tdental,
}

/// How much data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// A few hundred rows per stream, generated in well under a second (tests).
    Small,
    /// Open Dental: 10,000 patients and about five years of history (≥ 300k rows).
    Clinic,
    /// TDental: the production volumes of the real tenant (~711k records).
    Tdental,
}

/// Open Dental API mode: Remote (100-row pages, throttled) or Local / API Service
/// (1,000-row pages, not throttled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `https://api.opendental.com/api/v1`: throttled per customer key.
    Remote,
    /// Local API / API Service: not throttled.
    Local,
}

/// A simulator's configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Which PMS.
    pub pms: PmsKind,
    /// Data volume.
    pub scale: Scale,
    /// Seed of the data generator: same seed, same data, same bytes.
    pub seed: u64,
    /// Open Dental API mode.
    pub mode: Mode,
    /// Open Dental developer key.
    pub developer_key: String,
    /// Open Dental customer key.
    pub customer_key: String,
    /// Open Dental: the customer key's developer holds Read All only (1 request per 5 s
    /// instead of 1 per second, in Remote mode).
    pub read_only_key: bool,
    /// Open Dental Remote mode: overrides the throttle interval (tests use a short one).
    pub throttle: Option<std::time::Duration>,
    /// TDental user name.
    pub username: String,
    /// TDental password.
    pub password: String,
}

impl SimConfig {
    /// Defaults for a PMS: small scale, seed 1, remote mode, the documented default
    /// credentials (`dev-key` / `customer-key`, `admin` / `admin`).
    pub fn new(pms: PmsKind) -> Self {
        Self {
            pms,
            scale: Scale::Small,
            seed: 1,
            mode: Mode::Remote,
            developer_key: "dev-key".into(),
            customer_key: "customer-key".into(),
            read_only_key: false,
            throttle: None,
            username: "admin".into(),
            password: "admin".into(),
        }
    }
}

/// One request the simulator answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Arrival order.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Status answered.
    pub status: u16,
    /// Milliseconds since the simulator started, at arrival.
    pub started_ms: u64,
    /// Milliseconds since the simulator started, at the answer.
    pub finished_ms: u64,
    /// The client's `X-Enamel-Sync` tag (which replica's pass of which stream sent it).
    pub tag: Option<String>,
}

/// One write the simulator accepted or refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteRecord {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The request body.
    pub body: serde_json::Value,
    /// Status answered.
    pub status: u16,
}

/// What a mutation round changed, per stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Mutations {
    /// Rows updated per stream (their change stamps moved).
    pub updated: BTreeMap<String, usize>,
    /// Rows inserted per stream.
    pub inserted: BTreeMap<String, usize>,
    /// Rows deleted per stream (hard, or as the PMS marks them).
    pub deleted: BTreeMap<String, usize>,
}

/// The simulated data.
#[derive(Debug)]
pub(crate) enum Dataset {
    OpenDental(opendental::Office),
    Tdental(tdental::Tenant),
}

/// State shared by the routes and the control handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) pms: PmsKind,
    pub(crate) config: SimConfig,
    pub(crate) clock: clock::Clock,
    pub(crate) faults: Mutex<faults::Faults>,
    pub(crate) requests: Mutex<Vec<RequestRecord>>,
    pub(crate) writes: Mutex<Vec<WriteRecord>>,
    pub(crate) data: RwLock<Dataset>,
    pub(crate) started: Instant,
    pub(crate) mutation_rounds: Mutex<u64>,
}

impl Shared {
    pub(crate) fn log_write(&self, method: &str, path: &str, body: serde_json::Value, status: u16) {
        let record = WriteRecord { method: method.into(), path: path.into(), body, status };
        self.writes.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }
}

/// Builds the dataset for a configuration, without serving it (for benchmarks).
pub fn generate_only(config: &SimConfig) -> usize {
    let data = build_dataset(config);
    match &data {
        Dataset::OpenDental(office) => office.counts().values().sum(),
        Dataset::Tdental(tenant) => tenant.counts().values().sum(),
    }
}

fn build_dataset(config: &SimConfig) -> Dataset {
    match config.pms {
        PmsKind::OpenDental => {
            Dataset::OpenDental(opendental::Office::generate(config.scale, config.seed, start_time()))
        }
        PmsKind::Tdental => Dataset::Tdental(tdental::Tenant::generate(config.scale, config.seed, start_time())),
    }
}

/// The simulated clock's start: a fixed instant, so that runs are reproducible.
pub fn start_time() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 2).and_then(|d| d.and_hms_opt(10, 0, 0)).unwrap_or_default()
}

/// Controls a running simulator: clock, mutations, faults, logs.
#[derive(Debug, Clone)]
pub struct Control(pub(crate) Arc<Shared>);

impl Control {
    /// The simulated clock (PMS local time).
    pub fn now(&self) -> NaiveDateTime {
        self.0.clock.now()
    }

    /// TDental: renders every row in each of its views now, on every core, rather than on
    /// first request (benchmarks: a real PMS runs on its own machine, the simulator shares
    /// the one measured). The texts are kept until the data or the day changes. Open
    /// Dental renders nothing ahead.
    pub fn prerender(&self) {
        let now = self.0.clock.now();
        let data = self.0.data.read().unwrap_or_else(|e| e.into_inner());
        if let Dataset::Tdental(tenant) = &*data {
            tenant.prerender(now);
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) -> NaiveDateTime {
        self.0.clock.advance(by)
    }

    /// Changes up to `per_stream` records of every stream: updates (stamps move), inserts
    /// and deletes, the way the PMS does them. Deterministic for the seed and round.
    pub fn mutate(&self, per_stream: usize) -> Mutations {
        let round = {
            let mut r = self.0.mutation_rounds.lock().unwrap_or_else(|e| e.into_inner());
            *r += 1;
            *r
        };
        let now = self.0.clock.now();
        let mut data = self.0.data.write().unwrap_or_else(|e| e.into_inner());
        match &mut *data {
            Dataset::OpenDental(office) => office.mutate(self.0.config.seed, round, now, per_stream),
            Dataset::Tdental(tenant) => tenant.mutate(self.0.config.seed, round, now, per_stream),
        }
    }

    /// Adds a fault.
    pub fn inject(&self, fault: FaultSpec) {
        self.0.faults.lock().unwrap_or_else(|e| e.into_inner()).add(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.0.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.0.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every write received so far.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.0.writes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Rows per stream.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        match &*self.0.data.read().unwrap_or_else(|e| e.into_inner()) {
            Dataset::OpenDental(office) => office.counts(),
            Dataset::Tdental(tenant) => tenant.counts(),
        }
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:PORT` (Open Dental: the API root is `…/api/v1`).
    pub base_url: String,
    /// The control handle.
    pub control: Control,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SimHandle {
    /// The Open Dental API root (`{base_url}/api/v1`) or the TDental site root.
    pub fn api_url(&self) -> String {
        match self.control.0.pms {
            PmsKind::OpenDental => format!("{}/api/v1", self.base_url),
            PmsKind::Tdental => self.base_url.clone(),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The simulator's HTTP application.
pub(crate) fn app(shared: Arc<Shared>) -> Router {
    let pms_routes = match shared.pms {
        PmsKind::OpenDental => opendental::routes(shared.clone()),
        PmsKind::Tdental => tdental::routes(shared.clone()),
    };
    Router::new()
        .merge(pms_routes)
        .merge(control::routes())
        .layer(axum::middleware::from_fn_with_state(shared.clone(), faults::apply))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), log_request))
        .with_state(shared)
}

async fn log_request(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let started = shared.started.elapsed().as_millis() as u64;
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let tag = request.headers().get("x-enamel-sync").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = next.run(request).await;
    if !path.starts_with("/_sim") {
        let finished = shared.started.elapsed().as_millis() as u64;
        let mut log = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
        let seq = log.len() as u64 + 1;
        log.push(RequestRecord {
            seq,
            method,
            path,
            query,
            status: response.status().as_u16(),
            started_ms: started,
            finished_ms: finished,
            tag,
        });
    }
    response
}

/// Generates the data and serves it on `127.0.0.1:port` (0 picks a free port).
pub async fn spawn(config: SimConfig, port: u16) -> std::io::Result<SimHandle> {
    spawn_on(config, SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Generates the data and serves it on `addr` (a container binds `0.0.0.0`).
pub async fn spawn_on(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let data = build_dataset(&config);
    let shared = Arc::new(Shared {
        pms: config.pms,
        clock: clock::Clock::new(start_time()),
        faults: Mutex::new(faults::Faults::new(config.seed)),
        requests: Mutex::new(Vec::new()),
        writes: Mutex::new(Vec::new()),
        data: RwLock::new(data),
        started: Instant::now(),
        mutation_rounds: Mutex::new(0),
        config,
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = app(shared.clone());
    tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "simulator server stopped");
        }
    });
    Ok(SimHandle { base_url: format!("http://{addr}"), control: Control(shared), shutdown: Some(tx) })
}
