//! Configuration, in layers: embedded defaults → `enamel.toml` (or `--config FILE`) →
//! `ENAMEL_*` environment variables (`__` between a section and a key:
//! `ENAMEL_HTTP__LISTEN=0.0.0.0:4000`, `ENAMEL_SYNC__STREAMS__APPOINTMENTS=1m`) and
//! `DATABASE_URL` → command-line flags. Typed and validated before anything starts; a bad
//! value stops the start with one message naming the key and where it came from. Secrets
//! (`master_key`, `jwt.hs256_secret`, the database password) are wrapped: never printed,
//! never logged.
//!
//! `enamel config example` prints `enamel.example.toml`, generated from these types and
//! their documentation (a test keeps the committed file current); `enamel config show`
//! prints the effective configuration with secrets redacted.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use figment::Figment;
use figment::providers::{Format as _, Toml};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The file read when present and no `--config` is given.
pub(crate) const DEFAULT_FILE: &str = "enamel.toml";

/// A secret value: `[redacted]` whenever printed or serialized.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(with = "String")]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that uses it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// A database URL: its password never printed.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(with = "String")]
pub(crate) struct DatabaseUrl(String);

impl DatabaseUrl {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        DatabaseUrl(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&enamel_store::redact_url(&self.0))
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&enamel_store::redact_url(&self.0))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Enamel's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// The store: `sqlite://path` (embedded, one process) or `postgres://user@host/db` (any
    /// number of replicas). Also read from `DATABASE_URL`.
    pub(crate) database_url: DatabaseUrl,
    /// The master key encrypting PMS credentials at rest: 32 bytes, base64. Required by
    /// `enamel serve` (sync and write-back open PMS credentials with it). Prefer the
    /// environment (`ENAMEL_MASTER_KEY`) to a file.
    pub(crate) master_key: Option<Secret>,
    /// Log lines on standard error: `text` or `json` (one object per line, with request ids).
    pub(crate) log_format: LogFormat,
    /// How long `enamel serve` may take to stop after SIGTERM or Ctrl-C: in-flight requests,
    /// the sync page and the write-back attempt get this long, then are abandoned (both
    /// resume safely on the next start or on another replica).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) shutdown_grace: Duration,
    /// The HTTP API.
    pub(crate) http: HttpSection,
    /// Bearer JWTs accepted beside API keys.
    pub(crate) jwt: JwtSection,
    /// The sync scheduler of `enamel serve`.
    pub(crate) sync: SyncSection,
    /// The write-back executor of `enamel serve`.
    pub(crate) writeback: WritebackSection,
}

/// The HTTP API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HttpSection {
    /// Address to listen on (`0.0.0.0:4000` in a container).
    #[schemars(with = "String")]
    pub(crate) listen: SocketAddr,
    /// Serve GraphiQL at `/`.
    pub(crate) graphiql: bool,
    /// Answer introspection queries and suggest field names in errors.
    pub(crate) introspection: bool,
    /// Requests per second each credential may make (bursts of twice that); 0: unlimited.
    pub(crate) rate_limit: u32,
    /// Longest a request may run.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) request_timeout: Duration,
    /// Largest request body (and WebSocket message), in bytes.
    pub(crate) body_limit: usize,
    /// Most GraphQL requests executed at once; more wait their turn (within
    /// `request_timeout`). Execution is CPU work: beyond a few per core it adds memory, not
    /// throughput.
    pub(crate) max_concurrent_requests: usize,
    /// How often subscriptions re-read the store when no change notification arrives
    /// (PostgreSQL notifies every replica of changes at once; this is the safety net).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) subscription_poll: Duration,
}

/// Bearer JWTs (HS256 with a shared secret or RS256 with a public key), beside API keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct JwtSection {
    /// HS256 secret (at least 32 bytes).
    pub(crate) hs256_secret: Option<Secret>,
    /// RS256: a PEM public key file.
    pub(crate) rs256_public_key: Option<PathBuf>,
    /// The audience (`aud`) tokens must name, if any.
    pub(crate) audience: Option<String>,
}

/// The sync scheduler.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct SyncSection {
    /// Run the scheduler in `enamel serve`.
    pub(crate) enabled: bool,
    /// Time from the end of a stream's pass to its next one.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) every: Duration,
    /// Per-stream intervals overriding `every`, by stream name (`appointments = "1m"`).
    #[schemars(with = "BTreeMap<String, String>")]
    pub(crate) streams: BTreeMap<String, HumanDuration>,
    /// How long a replica holds a stream without renewing it (renewed every third); a
    /// dead replica's streams are taken over after this.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) lease: Duration,
    /// How often the scheduler looks for due streams.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) tick: Duration,
    /// After a failed pass a stream waits this long, doubled per failure in a row…
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) retry_base: Duration,
    /// …up to this.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) retry_cap: Duration,
    /// Overlap re-read before an incremental stream's cursor.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) lookback: Duration,
    /// A full pass (catching edits outside incremental reads, and deletions) at least this
    /// often.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) sweep_every: Duration,
    /// A reconciliation that would soft-delete more than this share of a stream's live rows
    /// is refused (0 < share ≤ 1).
    pub(crate) max_delete_share: f64,
    /// Consecutive pages of a pass share one transaction while it holds fewer than this many
    /// rows (0: every unit of pages commits alone)…
    pub(crate) transaction_rows: usize,
    /// …and while it is younger than this (it also commits when the next pages are not
    /// fetched by then). On SQLite other writes wait for it: keep it short.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) transaction_time: Duration,
    /// A first sync into a table with no rows at all sets its lookup indexes aside and
    /// creates them when the stream's pass ends (faster than inserting every row into
    /// them); meanwhile API reads of that table scan it. `false` keeps them.
    pub(crate) defer_indexes: bool,
    /// TDental has no change stamps: an incremental pass re-reads the business dates from
    /// this many days before the office's clock (edits older than that wait for the sweep)…
    pub(crate) tdental_window_back_days: u32,
    /// …to this many days after it (future appointments are booked and moved).
    pub(crate) tdental_window_ahead_days: u32,
}

/// The widest rolling window a TDental incremental pass may re-read, each way (ten years).
const MAX_WINDOW_DAYS: u32 = 3650;

/// What PMS clients opened from stored connections take from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PmsSettings {
    /// TDental: days before the office's clock an incremental pass re-reads.
    pub(crate) window_back_days: u32,
    /// TDental: days after it.
    pub(crate) window_ahead_days: u32,
}

impl Default for PmsSettings {
    fn default() -> Self {
        let defaults = enamel_pms::tdental::TdConfig::new("", "", "");
        let days = |d: i64| u32::try_from(d).unwrap_or(0);
        Self { window_back_days: days(defaults.window_back_days), window_ahead_days: days(defaults.window_ahead_days) }
    }
}

/// A duration written as text (`90s`, `5m`, `1h 30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct HumanDuration(#[serde(with = "humantime_serde")] pub(crate) Duration);

/// The write-back executor.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct WritebackSection {
    /// Run the executor in `enamel serve`.
    pub(crate) enabled: bool,
    /// How long the executor waits when nothing is due.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) idle: Duration,
    /// How long a claim holds a write-back; an executor gone for longer (a dead replica) is
    /// presumed dead and its write-back is reconciled (probed) before any resend. Longer
    /// than a PMS request's timeout.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub(crate) lease: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: DatabaseUrl::new(enamel_store::DEFAULT_DATABASE_URL),
            master_key: None,
            log_format: LogFormat::Text,
            shutdown_grace: Duration::from_secs(20),
            http: HttpSection::default(),
            jwt: JwtSection::default(),
            sync: SyncSection::default(),
            writeback: WritebackSection::default(),
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            graphiql: false,
            introspection: false,
            rate_limit: 50,
            request_timeout: Duration::from_secs(30),
            body_limit: 256 * 1024,
            max_concurrent_requests: 16,
            subscription_poll: Duration::from_secs(1),
        }
    }
}

impl Default for SyncSection {
    fn default() -> Self {
        let engine = enamel_sync::SyncConfig::default();
        let schedule = enamel_sync::Schedule::default();
        SyncSection {
            enabled: true,
            every: schedule.every,
            streams: BTreeMap::new(),
            lease: schedule.lease,
            tick: Duration::from_secs(1),
            retry_base: schedule.retry_base,
            retry_cap: schedule.retry_cap,
            lookback: engine.lookback,
            sweep_every: engine.sweep_every,
            max_delete_share: engine.max_delete_share,
            transaction_rows: engine.rows_per_transaction,
            transaction_time: engine.transaction_time,
            defer_indexes: engine.defer_indexes,
            tdental_window_back_days: PmsSettings::default().window_back_days,
            tdental_window_ahead_days: PmsSettings::default().window_ahead_days,
        }
    }
}

impl Default for WritebackSection {
    fn default() -> Self {
        WritebackSection {
            enabled: true,
            idle: Duration::from_secs(1),
            lease: enamel_writeback::Config::default().lease,
        }
    }
}

/// The top-level keys, which `ENAMEL_*` variables may set (others, such as the tests'
/// `ENAMEL_REQUIRE_POSTGRES`, are not configuration).
const KEYS: [&str; 8] =
    ["database_url", "master_key", "log_format", "shutdown_grace", "http", "jwt", "sync", "writeback"];

/// Where configuration comes from besides the defaults.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    /// `--config FILE` (must exist); otherwise `enamel.toml` when present.
    pub(crate) file: Option<PathBuf>,
    /// The environment, as (name, value) pairs (the process's, or a test's).
    pub(crate) env: Vec<(String, String)>,
}

impl Sources {
    /// `file` and the process's environment.
    pub(crate) fn process(file: Option<PathBuf>) -> Sources {
        Sources { file, env: std::env::vars().collect() }
    }
}

impl Config {
    /// Defaults → file → environment. Not yet validated: command-line flags come on top,
    /// then [`Config::validate`].
    pub(crate) fn load(sources: &Sources) -> Result<Config> {
        let mut figment = Figment::new();
        match &sources.file {
            Some(path) => {
                ensure!(path.is_file(), "the configuration file {} does not exist", path.display());
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new(DEFAULT_FILE).is_file() => figment = figment.merge(Toml::file_exact(DEFAULT_FILE)),
            None => {}
        }
        figment = figment.merge(EnvVars(sources.env.clone()));
        figment.extract().map_err(|e| anyhow::anyhow!(describe(&e)))
    }

    /// Checks what types cannot: URL schemes, key sizes, ranges, stream names.
    pub(crate) fn validate(&self) -> Result<()> {
        let url = self.database_url.expose();
        ensure!(
            url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "database_url: {} is not a sqlite:// or postgres:// URL",
            enamel_store::redact_url(url)
        );
        if let Some(key) = &self.master_key {
            crate::secrets::MasterKey::parse(key.expose()).context("master_key (ENAMEL_MASTER_KEY)")?;
        }
        ensure!(
            (Duration::from_secs(1)..=Duration::from_secs(600)).contains(&self.shutdown_grace),
            "shutdown_grace: {:?} is outside 1s..=10m",
            self.shutdown_grace
        );
        ensure!(self.http.body_limit >= 1024, "http.body_limit: at least 1024 bytes");
        ensure!(!self.http.request_timeout.is_zero(), "http.request_timeout: must be more than 0");
        ensure!(self.http.max_concurrent_requests >= 1, "http.max_concurrent_requests: at least 1");
        ensure!(self.http.subscription_poll >= Duration::from_millis(10), "http.subscription_poll: at least 10ms");
        if let Some(secret) = &self.jwt.hs256_secret {
            ensure!(secret.expose().len() >= 32, "jwt.hs256_secret: at least 32 bytes");
            ensure!(self.jwt.rs256_public_key.is_none(), "jwt: set hs256_secret or rs256_public_key, not both");
        }
        let s = &self.sync;
        ensure!(s.lease >= Duration::from_secs(2), "sync.lease: at least 2s");
        ensure!(!s.tick.is_zero() && s.tick < s.lease, "sync.tick: more than 0 and less than sync.lease");
        ensure!(s.every >= Duration::from_secs(1), "sync.every: at least 1s");
        ensure!(
            !s.retry_base.is_zero() && s.retry_base <= s.retry_cap,
            "sync.retry_base: more than 0, at most retry_cap"
        );
        ensure!(
            s.max_delete_share > 0.0 && s.max_delete_share <= 1.0,
            "sync.max_delete_share: {} is outside (0, 1]",
            s.max_delete_share
        );
        ensure!(s.transaction_time <= Duration::from_secs(60), "sync.transaction_time: at most 60s");
        for (key, days) in [
            ("tdental_window_back_days", s.tdental_window_back_days),
            ("tdental_window_ahead_days", s.tdental_window_ahead_days),
        ] {
            ensure!(days <= MAX_WINDOW_DAYS, "sync.{key}: {days} days is more than {MAX_WINDOW_DAYS}");
        }
        let known: Vec<&str> =
            enamel_pms::opendental::STREAMS.iter().chain(enamel_pms::tdental::STREAMS).map(|spec| spec.name).collect();
        for (name, every) in &s.streams {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                bail!("sync.streams.{name}: no such stream; streams: {}", known.join(", "));
            }
            ensure!(every.0 >= Duration::from_secs(1), "sync.streams.{name}: at least 1s");
        }
        ensure!(!self.writeback.idle.is_zero(), "writeback.idle: more than 0");
        ensure!(self.writeback.lease >= Duration::from_secs(2), "writeback.lease: at least 2s");
        Ok(())
    }

    /// The sync engine's tunables.
    pub(crate) fn sync_engine(&self) -> enamel_sync::SyncConfig {
        enamel_sync::SyncConfig {
            lookback: self.sync.lookback,
            sweep_every: self.sync.sweep_every,
            max_delete_share: self.sync.max_delete_share,
            rows_per_transaction: self.sync.transaction_rows,
            transaction_time: self.sync.transaction_time,
            defer_indexes: self.sync.defer_indexes,
            ..enamel_sync::SyncConfig::default()
        }
    }

    /// Settings of the PMS clients opened from stored connections.
    pub(crate) fn pms_settings(&self) -> PmsSettings {
        PmsSettings {
            window_back_days: self.sync.tdental_window_back_days,
            window_ahead_days: self.sync.tdental_window_ahead_days,
        }
    }

    /// The scheduler's schedule. Stream names match either PMS's streams whatever their
    /// case (environment variable names are read in lower case): `appointments` sets Open
    /// Dental's `appointments` and TDental's `Appointments`.
    pub(crate) fn schedule(&self) -> enamel_sync::Schedule {
        let streams = enamel_pms::opendental::STREAMS
            .iter()
            .chain(enamel_pms::tdental::STREAMS)
            .filter_map(|spec| {
                let every = self.sync.streams.iter().find(|(name, _)| name.eq_ignore_ascii_case(spec.name))?.1;
                Some((spec.name.to_owned(), every.0))
            })
            .collect();
        enamel_sync::Schedule {
            every: self.sync.every,
            streams,
            lease: self.sync.lease,
            retry_base: self.sync.retry_base,
            retry_cap: self.sync.retry_cap,
        }
    }

    /// The effective configuration as TOML, secrets redacted.
    pub(crate) fn show(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

/// The environment as a figment provider: `ENAMEL_<KEY>` (`__` between a section and a
/// key) for the configuration's keys, and `DATABASE_URL` (`ENAMEL_DATABASE_URL` wins). Values
/// are read as figment reads environment variables (`7` a number, `true` a boolean, else
/// text).
struct EnvVars(Vec<(String, String)>);

impl figment::Provider for EnvVars {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("the environment").interpolater(|_, keys| match keys {
            ["database_url"] => "DATABASE_URL".to_owned(),
            _ => format!("ENAMEL_{}", keys.join("__").to_ascii_uppercase()),
        })
    }

    fn data(&self) -> std::result::Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut vars: Vec<(String, &str)> = Vec::new();
        if let Some((_, url)) = self.0.iter().find(|(k, _)| k == "DATABASE_URL") {
            vars.push(("database_url".to_owned(), url));
        }
        for (key, value) in &self.0 {
            let Some(rest) = key.strip_prefix("ENAMEL_") else { continue };
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) || !KEYS.contains(&path[0].as_str()) {
                continue;
            }
            vars.push((path.join("."), value));
        }
        let mut dict = figment::value::Dict::new();
        for (path, value) in vars {
            let Ok(value) = value.parse::<figment::value::Value>();
            let path: Vec<&str> = path.split('.').collect();
            insert(&mut dict, &path, value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// Sets `path` in `dict` to `value`, making the tables on the way.
fn insert(dict: &mut figment::value::Dict, path: &[&str], value: figment::value::Value) {
    use figment::value::{Dict, Tag, Value};
    match path {
        [] => {}
        [key] => {
            dict.insert((*key).to_owned(), value);
        }
        [key, rest @ ..] => {
            let entry = dict.entry((*key).to_owned()).or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::Dict(Tag::Default, Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// figment's error, one line per problem, naming the key and where its value came from.
fn describe(error: &figment::Error) -> String {
    let lines: Vec<String> = error
        .clone()
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { String::new() } else { format!("{}: ", e.path.join(".")) };
            let from = match &e.metadata {
                Some(m) if m.name == "the environment" => {
                    format!(" (from {})", m.interpolate(&e.profile.clone().unwrap_or_default(), &e.path))
                }
                Some(m) => {
                    format!(" (from {})", m.source.as_ref().map_or_else(|| m.name.to_string(), ToString::to_string))
                }
                None => String::new(),
            };
            format!("{key}{}{from}", e.kind)
        })
        .collect();
    format!("invalid configuration: {}", lines.join("; "))
}

/// `enamel.example.toml`: every key with its documentation and default, generated from
/// the types above (so it cannot drift).
pub(crate) fn example() -> Result<String> {
    let schema = serde_json::to_value(schemars::schema_for!(Config))?;
    let defaults = toml::Table::try_from(Config::default())?;
    let mut out = String::from(
        "# Enamel's configuration: every key, its meaning and its default.\n\
         # Generated by `enamel config example`; copy to enamel.toml and keep what you change.\n\
         # Layers: these defaults → enamel.toml (or --config FILE) → ENAMEL_* environment\n\
         # (ENAMEL_HTTP__LISTEN=0.0.0.0:4000; DATABASE_URL too) → command-line flags.\n",
    );
    write_table(&mut out, &schema, &schema, &defaults, "")?;
    Ok(out)
}

fn resolve<'a>(root: &'a serde_json::Value, node: &'a serde_json::Value) -> &'a serde_json::Value {
    let reference = node
        .get("$ref")
        .and_then(|r| r.as_str())
        .or_else(|| node.get("allOf").and_then(|a| a.get(0)).and_then(|n| n.get("$ref")).and_then(|r| r.as_str()));
    match reference.and_then(|r| r.strip_prefix("#/")) {
        Some(path) => root.pointer(&format!("/{path}")).unwrap_or(node),
        None => node,
    }
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let line = format!("# {line}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn write_table(
    out: &mut String,
    root: &serde_json::Value,
    node: &serde_json::Value,
    defaults: &toml::Table,
    prefix: &str,
) -> Result<()> {
    let node = resolve(root, node);
    let Some(properties) = node.get("properties").and_then(|p| p.as_object()) else {
        bail!("the configuration schema of {prefix:?} has no properties")
    };
    // The fields' order (the defaults keep it), then those unset by default.
    let mut keys: Vec<&String> = defaults.keys().filter(|k| properties.contains_key(*k)).collect();
    keys.extend(properties.keys().filter(|k| !defaults.contains_key(*k)));
    let mut sections = Vec::new();
    for key in keys {
        let Some(property) = properties.get(key) else { continue };
        let description = property.get("description").and_then(|d| d.as_str()).unwrap_or("");
        match defaults.get(key) {
            Some(toml::Value::Table(table)) => sections.push((key, property, table, description)),
            Some(value) => {
                out.push('\n');
                comment(out, description);
                out.push_str(&format!("{key} = {value}\n"));
            }
            None => {
                out.push('\n');
                comment(out, description);
                out.push_str(&format!("# {key} = (unset)\n"));
            }
        }
    }
    for (key, property, table, description) in sections {
        out.push('\n');
        comment(out, description);
        out.push_str(&format!("[{prefix}{key}]\n"));
        if resolve(root, property).get("properties").is_some() {
            write_table(out, root, property, table, &format!("{prefix}{key}."))?;
        } else {
            // A map (per-stream intervals): empty by default, shown by example.
            if table.is_empty() {
                out.push_str("# appointments = \"1m\"\n");
            }
            for (k, v) in table {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Sources {
        Sources { file: None, env: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect() }
    }

    fn load(sources: &Sources) -> Result<Config> {
        let config = Config::load(sources)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn defaults_load_and_validate() -> Result<()> {
        let config = load(&env(&[]))?;
        assert_eq!(config.http.listen.port(), 4000);
        assert_eq!(config.sync.lease, Duration::from_secs(30));
        Ok(())
    }

    #[test]
    fn the_environment_overrides_nested_keys_and_ignores_other_enamel_variables() -> Result<()> {
        let config = load(&env(&[
            ("DATABASE_URL", "postgres://u:pw@db/enamel"),
            ("ENAMEL_HTTP__LISTEN", "0.0.0.0:8080"),
            ("ENAMEL_HTTP__RATE_LIMIT", "7"),
            ("ENAMEL_SYNC__STREAMS__APPOINTMENTS", "1m"),
            ("ENAMEL_SYNC__LEASE", "10s"),
            ("ENAMEL_REQUIRE_POSTGRES", "1"),
        ]))?;
        assert_eq!(config.database_url.expose(), "postgres://u:pw@db/enamel");
        assert_eq!(config.http.listen.port(), 8080);
        assert_eq!(config.http.rate_limit, 7);
        assert_eq!(config.sync.streams.get("appointments").map(|d| d.0), Some(Duration::from_secs(60)));
        assert_eq!(config.schedule().every("appointments"), Duration::from_secs(60));
        assert_eq!(config.sync.lease, Duration::from_secs(10));
        Ok(())
    }

    #[test]
    fn the_tdental_window_reaches_the_pms_clients() -> Result<()> {
        assert_eq!(load(&env(&[]))?.pms_settings(), PmsSettings::default());
        assert_eq!(PmsSettings::default(), PmsSettings { window_back_days: 30, window_ahead_days: 90 });
        let vars = [("ENAMEL_SYNC__TDENTAL_WINDOW_BACK_DAYS", "7"), ("ENAMEL_SYNC__TDENTAL_WINDOW_AHEAD_DAYS", "180")];
        assert_eq!(load(&env(&vars))?.pms_settings(), PmsSettings { window_back_days: 7, window_ahead_days: 180 });
        Ok(())
    }

    #[test]
    fn sync_transactions_are_configured() -> Result<()> {
        let vars = [("ENAMEL_SYNC__TRANSACTION_ROWS", "0"), ("ENAMEL_SYNC__TRANSACTION_TIME", "250ms")];
        let engine = load(&env(&vars))?.sync_engine();
        assert_eq!((engine.rows_per_transaction, engine.transaction_time), (0, Duration::from_millis(250)));
        assert!(engine.defer_indexes, "indexes are deferred by default");
        assert!(!load(&env(&[("ENAMEL_SYNC__DEFER_INDEXES", "false")]))?.sync_engine().defer_indexes);
        Ok(())
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("ENAMEL_HTTP__RATE_LIMIT", "fast")], "http.rate_limit"),
            (&[("ENAMEL_HTTP__LISTEN", "nowhere")], "http.listen"),
            (&[("ENAMEL_HTTP__MAX_CONCURRENT_REQUESTS", "0")], "http.max_concurrent_requests"),
            (&[("ENAMEL_SYNC__LEASE", "ten")], "sync.lease"),
            (&[("ENAMEL_SYNC__LEASE", "1s")], "sync.lease"),
            (&[("ENAMEL_SYNC__STREAMS__NOPE", "1m")], "sync.streams.nope"),
            (&[("ENAMEL_HTTP__LISTN", "0.0.0.0:1")], "listn"),
            (&[("DATABASE_URL", "mysql://x")], "database_url"),
            (&[("ENAMEL_MASTER_KEY", "short")], "master_key"),
            (&[("ENAMEL_SYNC__MAX_DELETE_SHARE", "2")], "sync.max_delete_share"),
            (&[("ENAMEL_SYNC__TRANSACTION_TIME", "2m")], "sync.transaction_time"),
            (&[("ENAMEL_SYNC__TRANSACTION_ROWS", "many")], "sync.transaction_rows"),
            (&[("ENAMEL_SYNC__TDENTAL_WINDOW_AHEAD_DAYS", "5000")], "sync.tdental_window_ahead_days"),
            (&[("ENAMEL_SYNC__TDENTAL_WINDOW_BACK_DAYS", "-1")], "sync.tdental_window_back_days"),
        ];
        for (vars, key) in cases {
            let error = match load(&env(vars)) {
                Ok(_) => panic!("{vars:?} was accepted"),
                Err(e) => format!("{e:#}"),
            };
            assert!(error.contains(key), "{vars:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn secrets_never_print() -> Result<()> {
        let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let config = load(&env(&[
            ("ENAMEL_MASTER_KEY", key),
            ("DATABASE_URL", "postgres://u:hunter2@db/enamel"),
            ("ENAMEL_JWT__HS256_SECRET", "0123456789abcdef0123456789abcdef"),
        ]))?;
        let shown = format!("{}\n{config:?}", config.show()?);
        for secret in [key, "hunter2", "0123456789abcdef0123456789abcdef"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert_eq!(config.master_key.as_ref().map(Secret::expose), Some(key));
        Ok(())
    }

    #[test]
    fn the_committed_example_is_current_and_loads_to_the_defaults() -> Result<()> {
        let generated = example()?;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../enamel.example.toml");
        if std::env::var("ENAMEL_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &generated)?;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "enamel.example.toml is stale: run `enamel config example > enamel.example.toml` (or ENAMEL_UPDATE_SCHEMA=1 cargo test)"
        );
        let from_file = load(&Sources { file: Some(path), env: Vec::new() })?;
        assert_eq!(toml::Table::try_from(&from_file)?, toml::Table::try_from(Config::default())?);
        Ok(())
    }
}
