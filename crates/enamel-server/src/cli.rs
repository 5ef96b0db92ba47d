//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Enamel: a GraphQL gateway over a synced copy of a dental practice's PMS.
#[derive(Debug, Parser)]
#[command(name = "enamel", version, about)]
pub struct Cli {
    /// The store: `sqlite://path` or `postgres://user@host/db`.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = enamel_store::DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Master key encrypting PMS credentials at rest (32 bytes, base64).
    #[arg(long, global = true, env = "ENAMEL_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Log format on standard error.
    #[arg(long, global = true, env = "ENAMEL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

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

/// `enamel serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ENAMEL_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: std::net::SocketAddr,
    /// Serve GraphiQL at `/`.
    #[arg(long, env = "ENAMEL_GRAPHIQL")]
    pub graphiql: bool,
    /// Answer introspection queries and suggest field names in errors.
    #[arg(long, env = "ENAMEL_INTROSPECTION")]
    pub introspection: bool,
    /// Requests per second each API key may make (bursts of twice that); 0: unlimited.
    /// Over it, 429 with `Retry-After`.
    #[arg(long, env = "ENAMEL_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,
    /// Also accept bearer JWTs signed HS256 with this secret (at least 32 bytes).
    #[arg(long, env = "ENAMEL_JWT_HS256_SECRET", hide_env_values = true, conflicts_with = "jwt_rs256_public_key")]
    pub jwt_hs256_secret: Option<String>,
    /// Also accept bearer JWTs signed RS256, verified with this PEM public key file.
    #[arg(long, env = "ENAMEL_JWT_RS256_PUBLIC_KEY")]
    pub jwt_rs256_public_key: Option<std::path::PathBuf>,
    /// The audience (`aud`) JWTs must name, if any.
    #[arg(long, env = "ENAMEL_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
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
