//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Enamel: a GraphQL gateway over a synced copy of a dental practice's PMS.
#[derive(Debug, Parser)]
#[command(name = "enamel", version, about)]
pub struct Cli {
    /// The configuration file (default: `enamel.toml` when present). Settings come from
    /// defaults → this file → `ENAMEL_*` and `DATABASE_URL` → these flags.
    #[arg(long, global = true, env = "ENAMEL_CONFIG")]
    pub config: Option<std::path::PathBuf>,

    /// The store: `sqlite://path` or `postgres://user@host/db` (`database_url`, `DATABASE_URL`).
    #[arg(long, global = true)]
    pub database_url: Option<String>,

    /// Master key encrypting PMS credentials at rest, 32 bytes in base64 (`master_key`;
    /// prefer `ENAMEL_MASTER_KEY`: command lines are visible to other users).
    #[arg(long, global = true)]
    pub master_key: Option<String>,

    /// Log format on standard error (`log_format`, `ENAMEL_LOG_FORMAT`).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

use crate::config::LogFormat;

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The embedded demo: starts an Open Dental simulator in-process, creates the demo
    /// practice and syncs the simulated office into the store with progress bars.
    Demo(DemoArgs),
    /// Apply pending migrations to the store.
    Migrate(MigrateArgs),
    /// Manage practices.
    #[command(subcommand)]
    Practice(PracticeCommand),
    /// Manage PMS connections.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Sync a practice's PMS connections once.
    Sync(SyncArgs),
    /// Serve the GraphQL API.
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Print the GraphQL schema (SDL), as committed in `schema.graphql`.
    Schema,
    /// Operate the write-back queue.
    #[command(subcommand)]
    Writeback(WritebackCommand),
    /// Check the write-back audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the encryption of stored PMS credentials.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `enamel config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print an example `enamel.toml`: every key with its documentation and default.
    Example,
    /// Print the effective configuration (defaults, file, environment, flags), secrets
    /// redacted, after validating it.
    Show,
}

/// `enamel secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored PMS credential under a new master key (the current one from
    /// `ENAMEL_MASTER_KEY`), in one transaction; then switch `ENAMEL_MASTER_KEY` to the new key.
    Rotate {
        /// The new master key (32 bytes, base64).
        #[arg(long, env = "ENAMEL_NEW_MASTER_KEY", hide_env_values = true)]
        new_master_key: String,
    },
}

/// `enamel writeback …`.
#[derive(Debug, Subcommand)]
pub enum WritebackCommand {
    /// Run every due write-back once (as `enamel serve`'s executor would), then exit.
    RunOnce {
        /// Attempts at most.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
}

/// `enamel audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify every practice's hash-chained audit trail; name the first broken link.
    Verify,
}

/// `enamel serve` options: each overrides its configuration key (`enamel config example`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (`http.listen`).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Serve GraphiQL at `/` (`http.graphiql`).
    #[arg(long)]
    pub graphiql: bool,
    /// Answer introspection queries and suggest field names in errors (`http.introspection`).
    #[arg(long)]
    pub introspection: bool,
    /// Requests per second each credential may make, bursts of twice that; 0: unlimited
    /// (`http.rate_limit`). Over it, 429 with `Retry-After`.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Also accept bearer JWTs signed HS256 with this secret, at least 32 bytes
    /// (`jwt.hs256_secret`; prefer `ENAMEL_JWT__HS256_SECRET`).
    #[arg(long, conflicts_with = "jwt_rs256_public_key")]
    pub jwt_hs256_secret: Option<String>,
    /// Also accept bearer JWTs signed RS256, verified with this PEM public key file
    /// (`jwt.rs256_public_key`).
    #[arg(long)]
    pub jwt_rs256_public_key: Option<std::path::PathBuf>,
    /// The audience (`aud`) JWTs must name (`jwt.audience`).
    #[arg(long)]
    pub jwt_audience: Option<String>,
    /// Serve the API only: no sync scheduler (`sync.enabled = false`).
    #[arg(long)]
    pub no_sync: bool,
    /// Serve the API only: no write-back executor (`writeback.enabled = false`).
    #[arg(long)]
    pub no_writeback: bool,
}

/// `enamel apikey …`.
#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key and print its token (shown only now).
    Create {
        /// The practice.
        #[arg(long)]
        practice: String,
        /// A label (`frontend`, `ai-service`).
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: read, context, propose, approve, admin.
        #[arg(long, default_value = "read")]
        scopes: String,
        /// Days until it expires (never by default).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a practice's keys (never their secrets).
    List {
        /// The practice.
        #[arg(long)]
        practice: String,
    },
    /// Revoke a key.
    Revoke {
        /// The practice.
        #[arg(long)]
        practice: String,
        /// The key's id.
        #[arg(long)]
        id: String,
    },
}

/// Which PMS a connection reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConnectionKind {
    /// Open Dental's REST API.
    OpenDental,
    /// A TDental tenant (`https://<tenant>.tdental.vn`).
    Tdental,
}

/// Open Dental API mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiMode {
    /// `api.opendental.com`: 100-row pages, throttled.
    Remote,
    /// Local API / API Service: 1,000-row pages.
    Local,
}

/// `enamel connection …`.
#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add a connection; its credentials are encrypted with the master key. Prints its id.
    Add {
        /// The practice.
        #[arg(long)]
        practice: String,
        /// Which PMS.
        #[arg(long, value_enum)]
        kind: ConnectionKind,
        /// The API root, e.g. `https://api.opendental.com/api/v1` or `https://clinic.tdental.vn`.
        #[arg(long)]
        base_url: String,
        /// Open Dental developer key.
        #[arg(long, required_if_eq("kind", "open-dental"))]
        developer_key: Option<String>,
        /// Open Dental customer key.
        #[arg(long, required_if_eq("kind", "open-dental"))]
        customer_key: Option<String>,
        /// Open Dental API mode.
        #[arg(long, value_enum, default_value_t = ApiMode::Remote)]
        mode: ApiMode,
        /// TDental login name.
        #[arg(long, required_if_eq("kind", "tdental"))]
        username: Option<String>,
        /// TDental password.
        #[arg(long, required_if_eq("kind", "tdental"))]
        password: Option<String>,
    },
    /// List a practice's connections (never their credentials).
    List {
        /// The practice.
        #[arg(long)]
        practice: String,
    },
}

/// `enamel sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The practice.
    #[arg(long)]
    pub practice: String,
    /// Only these streams (repeatable); all by default.
    #[arg(long = "stream")]
    pub streams: Vec<String>,
    /// Full passes even where an incremental read is possible.
    #[arg(long)]
    pub full: bool,
    /// Map and compare every row read, even in pages whose answer is byte for byte the one
    /// whose rows last landed (those are otherwise taken as they are).
    #[arg(long)]
    pub reread: bool,
    /// One JSON object on standard output instead of progress bars.
    #[arg(long)]
    pub json: bool,
}

/// `enamel demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Size of the simulated office: `small` (150 patients) or `clinic` (10,000 patients,
    /// five years, ~440k rows).
    #[arg(long, value_enum, default_value_t = enamel_sim::Scale::Small)]
    pub scale: enamel_sim::Scale,
    /// Simulator seed (same seed, same office).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Port to serve GraphQL on (0 picks a free one).
    #[arg(long, default_value_t = 4000)]
    pub port: u16,
    /// Keep the demo store (`enamel.db`) in this folder instead of `DATABASE_URL`.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Sync, print the keys, and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
}

/// `enamel migrate` options.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Revert every migration instead (drops all Enamel tables and their data).
    #[arg(long)]
    pub down_all: bool,
    /// Create the PostgreSQL database first when it does not exist.
    #[arg(long)]
    pub create_database: bool,
}

/// `enamel practice …`.
#[derive(Debug, Subcommand)]
pub enum PracticeCommand {
    /// Create a practice and print its id.
    Add {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Office time zone (IANA name).
        #[arg(long, default_value = "America/New_York")]
        time_zone: String,
        /// Currency: USD or VND.
        #[arg(long, default_value = "USD")]
        currency: String,
    },
    /// List practices.
    List,
}
