//! The commands' implementations. Output for people goes to standard output; diagnostics
//! go through `tracing` to standard error.

#![allow(clippy::print_stdout)]

use anyhow::{Context, Result, bail};
use enamel_domain::Currency;
use enamel_store::{Backend, NewPractice, Store, redact_url};

use crate::cli::{
    ApiMode, ApikeyCommand, AuditCommand, Cli, Command, ConfigCommand, ConnectionCommand, ConnectionKind, DemoArgs,
    MigrateArgs, PracticeCommand, SecretsCommand, SyncArgs, WritebackCommand,
};
use crate::config::{Config, DatabaseUrl, PmsSettings, Secret, Sources};
use crate::secrets::{MasterKey, OdCredentials, TdCredentials};

/// Loads and validates the configuration, then runs the command (the binary resolves the
/// configuration first, to set up logging).
#[cfg(test)]
pub(crate) async fn run(cli: Cli) -> Result<()> {
    let config = resolve(&cli)?;
    run_with(cli, config).await
}

/// The configuration for `cli`: defaults → file → environment → the command line's flags,
/// validated.
pub(crate) fn resolve(cli: &Cli) -> Result<Config> {
    if matches!(cli.command, Command::Schema | Command::Config(ConfigCommand::Example)) {
        return Ok(Config::default());
    }
    let mut config = Config::load(&Sources::process(cli.config.clone()))?;
    if let Some(url) = &cli.database_url {
        config.database_url = DatabaseUrl::new(url.clone());
    }
    if let Some(key) = &cli.master_key {
        config.master_key = Some(Secret::new(key.clone()));
    }
    if let Some(format) = cli.log_format {
        config.log_format = format;
    }
    if let Command::Serve(args) = &cli.command {
        let http = &mut config.http;
        if let Some(listen) = args.listen {
            http.listen = listen;
        }
        http.graphiql |= args.graphiql;
        http.introspection |= args.introspection;
        if let Some(rate) = args.rate_limit {
            http.rate_limit = rate;
        }
        if let Some(secret) = &args.jwt_hs256_secret {
            config.jwt.hs256_secret = Some(Secret::new(secret.clone()));
        }
        if let Some(path) = &args.jwt_rs256_public_key {
            config.jwt.rs256_public_key = Some(path.clone());
        }
        if let Some(aud) = &args.jwt_audience {
            config.jwt.audience = Some(aud.clone());
        }
        config.sync.enabled &= !args.no_sync;
        config.writeback.enabled &= !args.no_writeback;
    }
    config.validate()?;
    Ok(config)
}

/// Runs the command with a resolved configuration.
pub(crate) async fn run_with(cli: Cli, config: Config) -> Result<()> {
    let url = config.database_url.expose().to_owned();
    let url = url.as_str();
    let key = config.master_key.as_ref().map(|k| k.expose().to_owned());
    let key = key.as_deref();
    match cli.command {
        Command::Demo(args) => demo(url, args).await,
        Command::Migrate(args) => migrate(url, args).await,
        Command::Practice(cmd) => practice(url, cmd).await,
        Command::Connection(cmd) => connection(url, key, cmd).await,
        Command::Sync(args) => sync(url, key, config.pms_settings(), config.sync_engine(), args).await,
        Command::Serve(_) => crate::service::serve(config).await,
        Command::Writeback(cmd) => writeback(url, key, config.pms_settings(), cmd).await,
        Command::Secrets(SecretsCommand::Rotate { new_master_key }) => rotate(url, key, &new_master_key).await,
        Command::Audit(AuditCommand::Verify) => crate::writeback::verify(&open_migrated(url).await?).await,
        Command::Apikey(cmd) => apikey(url, cmd).await,
        Command::Schema => {
            print!("{}", enamel_graphql::sdl());
            Ok(())
        }
        Command::Config(ConfigCommand::Example) => {
            print!("{}", crate::config::example()?);
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!("{}", config.show()?);
            Ok(())
        }
    }
}

/// `enamel secrets rotate`: every connection's credentials opened with the current key and
/// sealed with the new one; all written in one transaction, or none if any fails to open.
async fn rotate(url: &str, key: Option<&str>, new: &str) -> Result<()> {
    let old = master_key(key)?;
    let new = MasterKey::parse(new).context("the new master key")?;
    let store = open_migrated(url).await?;
    let mut blobs = Vec::new();
    for practice in store.practices().await? {
        for connection in store.connections(practice.id).await? {
            let Some(blob) = connection.credentials.as_deref() else { continue };
            let plain: serde_json::Value = old
                .open(practice.id, blob)
                .with_context(|| format!("connection {} of practice {}", connection.id, practice.id))?;
            blobs.push((practice.id, connection.id, new.seal(practice.id, &plain)?));
        }
    }
    let n = store.replace_credentials(blobs).await?;
    println!("{n} connection credential(s) re-encrypted; set ENAMEL_MASTER_KEY to the new key");
    Ok(())
}

async fn writeback(url: &str, key: Option<&str>, settings: PmsSettings, cmd: WritebackCommand) -> Result<()> {
    match cmd {
        WritebackCommand::RunOnce { max } => {
            let store = open_migrated(url).await?;
            let directory = std::sync::Arc::new(crate::connections::StoredConnections::new(
                store.clone(),
                master_key(key)?,
                settings,
            ));
            crate::writeback::run_once(&enamel_writeback::WriteBacks::new(store, directory), max).await
        }
    }
}

async fn apikey(url: &str, cmd: ApikeyCommand) -> Result<()> {
    let store = open_migrated(url).await?;
    match cmd {
        ApikeyCommand::Create { practice, name, scopes, expires_in_days } => {
            let practice = practice_id(&practice)?;
            let scopes = enamel_domain::Scope::parse_list(&scopes).map_err(anyhow::Error::msg)?;
            let expires = expires_in_days.map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
            let (key, token) = store.create_api_key(practice, &name, &scopes, expires).await?;
            println!("{token}");
            eprintln!(
                "created key {} ({}) with scopes {}; the token is shown only once",
                key.id,
                key.name,
                enamel_domain::Scope::join(&key.scopes)
            );
        }
        ApikeyCommand::List { practice } => {
            for key in store.api_keys(practice_id(&practice)?).await? {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else if !key.is_usable(chrono::Utc::now()) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    key.id,
                    key.prefix,
                    key.name,
                    enamel_domain::Scope::join(&key.scopes),
                    state
                );
            }
        }
        ApikeyCommand::Revoke { practice, id } => {
            let id = id.parse::<uuid::Uuid>().with_context(|| format!("{id:?} is not an API key id"))?;
            let key = store.revoke_api_key(practice_id(&practice)?, id.into()).await?;
            println!("revoked {} ({})", key.id, key.name);
        }
    }
    Ok(())
}

async fn connect(url: &str) -> Result<Store> {
    match Store::connect(url).await {
        Ok(store) => Ok(store),
        // Already names the database.
        Err(e @ enamel_store::StoreError::Unreachable { .. }) => Err(e.into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot open the store at {}", redact_url(url)))),
    }
}

/// Opens the store and fails unless its schema is current.
pub(crate) async fn open_migrated(url: &str) -> Result<Store> {
    let store = connect(url).await?;
    let pending = store.pending_migrations().await?;
    if !pending.is_empty() {
        bail!(
            "the store at {} has {} pending migration(s): run `enamel migrate` first",
            redact_url(url),
            pending.len()
        );
    }
    Ok(store)
}

async fn migrate(url: &str, args: MigrateArgs) -> Result<()> {
    if args.create_database {
        if !url.starts_with("postgres") {
            bail!("--create-database is for PostgreSQL URLs; SQLite files are created on first use");
        }
        Store::create_postgres_database(url).await.context("cannot create the database")?;
    }
    let store = connect(url).await?;
    if args.down_all {
        store.migrate_down_all().await.context("reverting migrations failed")?;
        println!("reverted every migration on {}", redact_url(url));
        return Ok(());
    }
    let pending = store.pending_migrations().await?;
    store.migrate().await.context("migration failed")?;
    tracing::info!(applied = pending.len(), "migrations applied");
    println!("{} migration(s) applied; the store at {} is current", pending.len(), redact_url(url));
    Ok(())
}

async fn practice(url: &str, cmd: PracticeCommand) -> Result<()> {
    let store = open_migrated(url).await?;
    match cmd {
        PracticeCommand::Add { name, time_zone, currency } => {
            let time_zone: chrono_tz::Tz = time_zone.parse().map_err(|_| {
                anyhow::anyhow!("unknown time zone {time_zone:?}: use an IANA name such as America/New_York")
            })?;
            let currency: Currency =
                currency.parse().map_err(|_| anyhow::anyhow!("unknown currency {currency:?}: use USD or VND"))?;
            let practice = store.create_practice(NewPractice { name, time_zone, currency }).await?;
            tracing::info!(practice_id = %practice.id, "practice created");
            println!("{}", practice.id);
        }
        PracticeCommand::List => {
            for p in store.practices().await? {
                println!("{}\t{}\t{}\t{}", p.id, p.time_zone, p.currency, p.name);
            }
        }
    }
    Ok(())
}

fn master_key(text: Option<&str>) -> Result<MasterKey> {
    match text {
        Some(text) => MasterKey::parse(text),
        None => bail!(
            "{} is not set: PMS credentials are encrypted with it (make one with `openssl rand -base64 32`)",
            crate::secrets::MASTER_KEY_VAR
        ),
    }
}

fn practice_id(text: &str) -> Result<enamel_domain::PracticeId> {
    text.parse().map_err(|_| anyhow::anyhow!("--practice {text:?} is not a practice id (see `enamel practice list`)"))
}

async fn connection(url: &str, key: Option<&str>, cmd: ConnectionCommand) -> Result<()> {
    let store = open_migrated(url).await?;
    match cmd {
        ConnectionCommand::Add { practice, kind, base_url, developer_key, customer_key, mode, username, password } => {
            let practice = store.practice(practice_id(&practice)?).await?;
            let parsed = api_root(&base_url)?;
            let key = master_key(key)?;
            let filled = |v: Option<String>, flag: &str| -> Result<String> {
                v.filter(|v| !v.trim().is_empty()).ok_or_else(|| anyhow::anyhow!("--{flag} must not be empty"))
            };
            let (source, mode, credentials) = match kind {
                ConnectionKind::OpenDental => {
                    let creds = OdCredentials {
                        developer_key: filled(developer_key, "developer-key")?,
                        customer_key: filled(customer_key, "customer-key")?,
                    };
                    let mode = match mode {
                        ApiMode::Remote => "remote",
                        ApiMode::Local => "local",
                    };
                    (enamel_domain::Source::OpenDental, Some(mode.to_owned()), key.seal(practice.id, &creds)?)
                }
                ConnectionKind::Tdental => {
                    let creds = TdCredentials {
                        username: filled(username, "username")?,
                        password: filled(password, "password")?,
                    };
                    (enamel_domain::Source::Tdental, None, key.seal(practice.id, &creds)?)
                }
            };
            let new =
                enamel_store::NewConnection { kind: source, base_url: parsed, mode, credentials: Some(credentials) };
            let connection = store.add_connection(practice.id, new).await?;
            tracing::info!(practice_id = %practice.id, connection_id = %connection.id, "connection added");
            println!("{}", connection.id);
        }
        ConnectionCommand::List { practice } => {
            for c in store.connections(practice_id(&practice)?).await? {
                println!("{}\t{}\t{}\t{}", c.id, c.kind, c.mode.as_deref().unwrap_or("-"), c.base_url);
            }
        }
    }
    Ok(())
}

/// An absolute http(s) URL without a trailing slash.
fn api_root(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(trimmed.to_owned()),
        _ => bail!("--base-url {url:?} is not an http(s) URL"),
    }
}

/// Progress bars by stream.
type Bars = std::sync::Arc<std::collections::BTreeMap<String, indicatif::ProgressBar>>;

/// One progress bar per stream (with a total where it is known), and the hooks that move them.
fn progress_bars(
    bars: &indicatif::MultiProgress,
    streams: &[(&str, Option<u64>)],
) -> Result<(Bars, enamel_sync::Hooks)> {
    use indicatif::{ProgressBar, ProgressStyle};
    let with_total = ProgressStyle::with_template("{prefix:>18} {bar:30} {pos:>8}/{len:8} rows {msg}")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let without = ProgressStyle::with_template("{prefix:>18} {spinner} {pos:>8} rows {msg}")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut by_stream = std::collections::BTreeMap::new();
    for (name, total) in streams {
        let bar = match total {
            Some(total) => bars.add(ProgressBar::new(*total)).with_style(with_total.clone()),
            None => bars.add(ProgressBar::new_spinner()).with_style(without.clone()),
        };
        bar.set_prefix((*name).to_owned());
        by_stream.insert((*name).to_owned(), bar);
    }
    let by_stream = std::sync::Arc::new(by_stream);
    let progress = by_stream.clone();
    let hooks = enamel_sync::Hooks {
        fail: None,
        on_page: Some(std::sync::Arc::new(move |stream, fetched| {
            if let Some(bar) = progress.get(stream) {
                bar.set_position(fetched);
            }
        })),
    };
    Ok((by_stream, hooks))
}

/// An opened PMS client: it reads for the sync and writes for the write-back executor.
pub(crate) enum PmsHandle {
    /// Open Dental.
    OpenDental(std::sync::Arc<enamel_pms::opendental::OdClient>),
    /// TDental.
    Tdental(std::sync::Arc<enamel_pms::tdental::TdClient>),
}

impl PmsHandle {
    /// As the sync engine's client.
    pub(crate) fn client(&self) -> &dyn enamel_pms::PmsClient {
        match self {
            PmsHandle::OpenDental(c) => c.as_ref(),
            PmsHandle::Tdental(c) => c.as_ref(),
        }
    }

    /// As a shared sync client (the scheduler's).
    pub(crate) fn shared_client(&self) -> std::sync::Arc<dyn enamel_pms::PmsClient> {
        match self {
            PmsHandle::OpenDental(c) => c.clone(),
            PmsHandle::Tdental(c) => c.clone(),
        }
    }

    /// As the write-back executor's writer.
    pub(crate) fn writer(&self) -> std::sync::Arc<dyn enamel_pms::PmsWriter> {
        match self {
            PmsHandle::OpenDental(c) => c.clone(),
            PmsHandle::Tdental(c) => c.clone(),
        }
    }
}

/// The PMS client of a stored connection, its credentials opened with the master key.
pub(crate) fn client_for(
    connection: &enamel_domain::PmsConnection,
    practice: &enamel_domain::Practice,
    key: &MasterKey,
    settings: PmsSettings,
) -> Result<PmsHandle> {
    use enamel_domain::Source;
    use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
    use enamel_pms::tdental::{TdClient, TdConfig};
    let blob = connection
        .credentials
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("connection {} has no credentials", connection.id))?;
    Ok(match connection.kind {
        Source::OpenDental => {
            let creds: OdCredentials = key.open(practice.id, blob)?;
            let mode = if connection.mode.as_deref() == Some("local") { OdMode::Local } else { OdMode::Remote };
            let config =
                OdConfig::new(&connection.base_url, creds.developer_key, creds.customer_key, mode, practice.time_zone);
            PmsHandle::OpenDental(std::sync::Arc::new(OdClient::new(config)?))
        }
        Source::Tdental => {
            let creds: TdCredentials = key.open(practice.id, blob)?;
            let mut config = TdConfig::new(&connection.base_url, creds.username, creds.password);
            config.time_zone = practice.time_zone;
            config.window_back_days = i64::from(settings.window_back_days);
            config.window_ahead_days = i64::from(settings.window_ahead_days);
            PmsHandle::Tdental(std::sync::Arc::new(TdClient::new(config)?))
        }
    })
}

/// How long `enamel sync` waits for a replica syncing a stream to finish with it.
const LEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// `enamel sync`: one pass of each selected stream now, with the configuration's engine
/// tunables (lookback, sweep interval, mass-delete guard) and the command's flags.
async fn sync(
    url: &str,
    key: Option<&str>,
    settings: PmsSettings,
    engine: enamel_sync::SyncConfig,
    args: SyncArgs,
) -> Result<()> {
    use enamel_sync::{PassEnd, Scheduled, Scheduler, SyncConfig};
    use indicatif::MultiProgress;
    use serde_json::json;

    let store = open_migrated(url).await?;
    let practice = store.practice(practice_id(&args.practice)?).await?;
    let connections = store.connections(practice.id).await?;
    if connections.is_empty() {
        bail!("practice {} has no PMS connection (see `enamel connection add`)", practice.id);
    }
    let key = master_key(key)?;
    let config = SyncConfig { full: args.full, reuse_unchanged_pages: !args.reread, ..engine };
    let mut report = Vec::new();
    let mut failure = None;
    for connection in connections {
        let handle = client_for(&connection, &practice, &key, settings)?;
        let client = handle.client();
        let known: Vec<&str> = client.streams().iter().map(|s| s.name).collect();
        if let Some(unknown) = args.streams.iter().find(|s| !known.contains(&s.as_str())) {
            bail!("unknown stream {unknown:?}; streams: {}", known.join(", "));
        }
        let selected: Vec<_> = client
            .streams()
            .iter()
            .filter(|s| args.streams.is_empty() || args.streams.iter().any(|n| n == s.name))
            .collect();
        let bars = MultiProgress::with_draw_target(if args.json {
            indicatif::ProgressDrawTarget::hidden()
        } else {
            indicatif::ProgressDrawTarget::stderr()
        });
        let names: Vec<(&str, Option<u64>)> = selected.iter().map(|s| (s.name, None)).collect();
        let (by_stream, hooks) = progress_bars(&bars, &names)?;
        // Under the streams' leases, like a replica: never at once with `enamel serve`.
        let mut scheduler = Scheduler::new(store.clone(), format!("{}:cli", crate::writeback::replica_name()));
        scheduler.config = config.clone();
        scheduler.hooks = hooks;
        let scheduled = Scheduled {
            practice: practice.id,
            connection: connection.id,
            source: connection.kind,
            client: handle.shared_client(),
        };
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        // Streams that do not depend on each other run side by side, each under its lease.
        let at_once = enamel_sync::streams_at_once(&store, &scheduler.config);
        let connection_started = std::time::Instant::now();
        let (scheduler, scheduled, stopped, by_stream) = (&scheduler, &scheduled, &stopped, &by_stream);
        let ran = enamel_sync::in_dependency_order(&selected, at_once, |spec| async move {
            let started = std::time::Instant::now();
            let result = match scheduler.run_now(scheduled, spec, LEASE_WAIT, stopped).await {
                Ok(PassEnd::Completed(outcome)) => Ok(outcome),
                Ok(PassEnd::Failed(e)) => Err(e),
                Ok(other) => Err(format!("stream {}: {other:?}", spec.name)),
                Err(e) => Err(e.to_string()),
            };
            let seconds = started.elapsed().as_secs_f64();
            if let Some(bar) = by_stream.get(spec.name) {
                bar.finish_with_message(match &result {
                    Ok(_) => "done".to_owned(),
                    Err(e) => format!("failed: {e}"),
                });
            }
            result.map(|o| {
                json!({
                    "stream": o.stream, "fetched": o.counts.fetched, "inserted": o.counts.inserted, "updated": o.counts.updated,
                    "unchanged": o.counts.unchanged, "deleted": o.counts.deleted, "quarantined": o.counts.quarantined,
                    "pages_reused": o.pages_reused, "seconds": seconds,
                })
            })
        })
        .await;
        let streams = match ran {
            Ok(streams) => streams,
            Err((streams, e)) => {
                failure = Some(e);
                streams
            }
        };
        let total = |k: &str| streams.iter().map(|s| s[k].as_u64().unwrap_or(0)).sum::<u64>();
        let totals = json!({
            "fetched": total("fetched"), "inserted": total("inserted"), "updated": total("updated"), "unchanged": total("unchanged"),
            "deleted": total("deleted"), "quarantined": total("quarantined"),
            // Wall time: streams overlap, so this is less than the sum of theirs.
            "seconds": connection_started.elapsed().as_secs_f64(),
        });
        report.push(json!({"connection": connection.id, "streams": streams, "totals": totals}));
        if failure.is_some() {
            break;
        }
    }
    let confirmed = if failure.is_none() {
        let directory =
            std::sync::Arc::new(crate::connections::StoredConnections::new(store.clone(), key.clone(), settings));
        enamel_writeback::WriteBacks::new(store.clone(), directory).confirm_synced(practice.id).await?
    } else {
        0
    };
    let out =
        json!({"practice": practice.id, "connections": report, "write_backs_confirmed": confirmed, "error": failure});
    if args.json {
        println!("{out}");
    } else {
        for c in &report {
            let t = &c["totals"];
            println!(
                "connection {}: fetched {}, inserted {}, updated {}, unchanged {}, deleted {}, quarantined {} in {:.1} s",
                c["connection"].as_str().unwrap_or(""),
                t["fetched"],
                t["inserted"],
                t["updated"],
                t["unchanged"],
                t["deleted"],
                t["quarantined"],
                t["seconds"].as_f64().unwrap_or(0.0)
            );
        }
    }
    match failure {
        Some(e) => bail!("sync failed: {e}"),
        None => Ok(()),
    }
}

/// The demo practice's name: one practice per simulated office (PMS, scale and seed), so
/// that a cursor never meets another office's data.
fn demo_practice(pms: enamel_sim::PmsKind, args: &DemoArgs) -> String {
    let scale = match args.scale {
        enamel_sim::Scale::Small => "small",
        enamel_sim::Scale::Clinic => "clinic",
        enamel_sim::Scale::Tdental => "tdental",
    };
    match pms {
        enamel_sim::PmsKind::OpenDental => format!("Demo Dental (Open Dental, {scale}, seed {})", args.seed),
        enamel_sim::PmsKind::Tdental => format!("Nha khoa Demo (TDental, {scale}, seed {})", args.seed),
    }
}

/// One simulated office of the demo: its simulator, practice and what its sync did.
struct DemoOffice {
    sim: enamel_sim::SimHandle,
    practice: enamel_domain::Practice,
    key_name: &'static str,
    outcomes: Vec<enamel_sync::StreamOutcome>,
    handle: PmsHandle,
}

/// Starts a simulator of `pms`, finds or creates its demo practice and connection, and
/// syncs it with progress bars.
async fn demo_office(store: &Store, pms: enamel_sim::PmsKind, args: &DemoArgs) -> Result<DemoOffice> {
    use enamel_domain::Source;
    use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
    use enamel_pms::tdental::{TdClient, TdConfig};
    use enamel_sim::{Mode, PmsKind, SimConfig};
    use enamel_store::NewConnection;
    use enamel_sync::{SyncConfig, Target, sync_once};
    use indicatif::MultiProgress;

    let mut sim_config = SimConfig::new(pms);
    sim_config.scale = args.scale;
    sim_config.seed = args.seed;
    sim_config.mode = Mode::Local;
    let (username, password) = (sim_config.username.clone(), sim_config.password.clone());
    let (source, time_zone, currency, mode, key_name) = match pms {
        PmsKind::OpenDental => {
            (Source::OpenDental, chrono_tz::America::New_York, Currency::Usd, Some("local"), "opendental")
        }
        PmsKind::Tdental => (Source::Tdental, chrono_tz::Asia::Ho_Chi_Minh, Currency::Vnd, None, "tdental"),
    };
    let sim = enamel_sim::spawn(sim_config, 0).await.with_context(|| format!("cannot start the {source} simulator"))?;
    let expected = sim.control.counts();
    let name = demo_practice(pms, args);
    let practice = match store.practices().await?.into_iter().find(|p| p.name == name) {
        Some(p) => p,
        None => store.create_practice(NewPractice { name, time_zone, currency }).await?,
    };
    let connection = match store.connections(practice.id).await?.into_iter().find(|c| c.kind == source) {
        Some(c) => store.set_connection_endpoint(practice.id, c.id, &sim.api_url(), mode).await?,
        None => {
            let new = NewConnection {
                kind: source,
                base_url: sim.api_url(),
                mode: mode.map(str::to_owned),
                credentials: None,
            };
            store.add_connection(practice.id, new).await?
        }
    };
    let handle = match pms {
        PmsKind::OpenDental => PmsHandle::OpenDental(std::sync::Arc::new(OdClient::new(OdConfig::new(
            sim.api_url(),
            "dev-key",
            "customer-key",
            OdMode::Local,
            practice.time_zone,
        ))?)),
        PmsKind::Tdental => {
            let mut config = TdConfig::new(sim.api_url(), username, password);
            let control = sim.control.clone();
            config.clock = std::sync::Arc::new(move || control.now());
            PmsHandle::Tdental(std::sync::Arc::new(TdClient::new(config)?))
        }
    };
    let client = handle.client();
    println!("{source} simulator at {} ({:?} scale, seed {})", sim.api_url(), args.scale, args.seed);
    let bars = MultiProgress::new();
    let names: Vec<(&str, Option<u64>)> =
        client.streams().iter().map(|s| (s.name, Some(expected.get(s.name).copied().unwrap_or(0) as u64))).collect();
    let (by_stream, hooks) = progress_bars(&bars, &names)?;
    let config = SyncConfig::default();
    let target = Target {
        store,
        client,
        practice: practice.id,
        connection: connection.id,
        source,
        config: &config,
        hooks: &hooks,
    };
    let outcomes =
        sync_once(target).await.map_err(|(_, e)| e).with_context(|| format!("the {source} demo sync failed"))?;
    for bar in by_stream.values() {
        bar.finish();
    }
    Ok(DemoOffice { sim, practice, key_name, outcomes, handle })
}

async fn demo(url: &str, args: DemoArgs) -> Result<()> {
    use enamel_sim::PmsKind;

    let started = std::time::Instant::now();
    let url = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            format!("sqlite://{}?mode=rwc", dir.join("enamel.db").display())
        }
        None => url.to_owned(),
    };
    let url = url.as_str();
    let store = connect(url).await?;
    store.migrate().await.context("migration failed")?;
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };

    let mut offices = Vec::new();
    for pms in [PmsKind::OpenDental, PmsKind::Tdental] {
        let office = demo_office(&store, pms, &args).await?;
        println!();
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>9} {:>11}",
            "stream", "fetched", "inserted", "updated", "unchanged", "quarantined"
        );
        for o in &office.outcomes {
            let c = o.counts;
            println!(
                "{:<18} {:>8} {:>8} {:>8} {:>9} {:>11}",
                o.stream, c.fetched, c.inserted, c.updated, c.unchanged, c.quarantined
            );
        }
        let dangling = store.check_references(office.practice.id).await?;
        println!();
        println!(
            "practice {} ({}) in {backend} at {} — every reference resolved: {}",
            office.practice.id,
            office.practice.name,
            redact_url(url),
            if dangling.is_empty() { "yes" } else { "NO" }
        );
        if !dangling.is_empty() {
            bail!("dangling references after the demo sync: {dangling:?}");
        }
        println!();
        offices.push(office);
    }
    println!("synced in {:.1} s", started.elapsed().as_secs_f64());

    // A fresh key per run and practice (tokens are shown once); older demo keys are revoked.
    let all_scopes: Vec<enamel_domain::Scope> = <enamel_domain::Scope as strum::IntoEnumIterator>::iter().collect();
    let mut keys = Vec::new();
    for office in &offices {
        let practice = office.practice.id;
        for old in store.api_keys(practice).await? {
            if old.name == office.key_name && old.revoked_at.is_none() {
                store.revoke_api_key(practice, old.id).await?;
            }
        }
        let (_, token) = store.create_api_key(practice, office.key_name, &all_scopes, None).await?;
        keys.push((office.key_name.to_owned(), token));
    }
    if args.no_serve {
        for (name, token) in &keys {
            println!("api-key {name} {token}");
        }
        return Ok(());
    }
    // Write-backs go to the simulators; the queue's clock is the simulated office's (the
    // demo data lives around it), in UTC.
    let writers = offices.iter().map(|o| ((o.practice.id, o.practice_source()), o.handle.writer())).collect();
    let clock = offices.first().map(|o| (o.sim.control.clone(), o.practice.time_zone));
    let mut queue = enamel_writeback::WriteBacks::new(
        store.clone(),
        std::sync::Arc::new(enamel_writeback::FixedDirectory(writers)),
    );
    if let Some((control, tz)) = clock {
        queue = queue.with_clock(std::sync::Arc::new(move || {
            use chrono::TimeZone;
            tz.from_local_datetime(&control.now())
                .earliest()
                .map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc))
        }));
    }
    let sims = offices.into_iter().map(|o| o.sim).collect();
    sim_keepalive(sims, store, queue, keys, args.port).await
}

impl DemoOffice {
    fn practice_source(&self) -> enamel_domain::Source {
        match self.handle {
            PmsHandle::OpenDental(_) => enamel_domain::Source::OpenDental,
            PmsHandle::Tdental(_) => enamel_domain::Source::Tdental,
        }
    }
}

/// Serves the demo's GraphQL API (GraphiQL and introspection on) while the simulator
/// keeps running, until Ctrl-C.
async fn sim_keepalive(
    sims: Vec<enamel_sim::SimHandle>,
    store: Store,
    queue: enamel_writeback::WriteBacks,
    keys: Vec<(String, String)>,
    port: u16,
) -> Result<()> {
    let options = enamel_graphql::Options { introspection: true, ..Default::default() };
    let api = enamel_graphql::Api::with_write_backs(store.clone(), options, queue.clone());
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let executor = tokio::spawn(enamel_writeback::run_executor(
        queue,
        crate::writeback::replica_name(),
        std::time::Duration::from_secs(1),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    let config = crate::http::HttpConfig { graphiql: true, ..Default::default() };
    let router = crate::http::router(api, store, config);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let result = crate::http::serve(
        addr,
        router,
        |bound| {
            println!();
            println!("GraphiQL  http://{bound}/  (paste a key below into the Authorization header)");
            println!("graphql http://{bound}/graphql");
            for (name, token) in &keys {
                println!("api-key {name} {token}");
            }
            println!();
            println!("Example:");
            println!(
                "  curl -s http://{bound}/graphql -H 'Content-Type: application/json' -H 'Authorization: Bearer {}' \\",
                keys.first().map_or("KEY", |k| k.1.as_str())
            );
            println!("    -d '{{\"query\":\"{{ patients(first: 3) {{ edges {{ node {{ firstName lastName appointments(first: 2) {{ edges {{ node {{ startAt status }} }} }} }} }} }} }}\"}}'");
            println!();
            println!("Ctrl-C stops the demo.");
        },
        crate::service::shutdown_signal(),
    )
    .await;
    let _ = stop.send(true);
    let _ = executor.await;
    drop(sims);
    result
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn cli(url: &str, args: &[&str]) -> Cli {
        let mut argv = vec!["enamel", "--database-url", url];
        argv.extend_from_slice(args);
        Cli::parse_from(argv)
    }

    async fn run_with(url: &str, args: &[&str]) -> Result<()> {
        run(cli(url, args)).await
    }

    fn temp_url() -> (String, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("enamel-cli-{}.db", enamel_domain::PracticeId::new()));
        (format!("sqlite://{}", path.display()), path)
    }

    #[tokio::test]
    async fn migrate_then_manage_practices() -> Result<()> {
        let (url, path) = temp_url();
        // Before migrating, commands that need the schema say so.
        let early = run_with(&url, &["practice", "list"]).await;
        assert!(format!("{:#}", early.err().context("expected an error")?).contains("run `enamel migrate` first"));
        run_with(&url, &["migrate"]).await?;
        run_with(&url, &["migrate"]).await?;
        run_with(&url, &["practice", "add", "--name", "Smile", "--time-zone", "Asia/Ho_Chi_Minh", "--currency", "vnd"])
            .await?;
        let store = open_migrated(&url).await?;
        let practices = store.practices().await?;
        assert_eq!(practices.len(), 1);
        assert_eq!((practices[0].name.as_str(), practices[0].currency), ("Smile", Currency::Vnd));
        let bad_zone = run_with(&url, &["practice", "add", "--name", "X", "--time-zone", "Mars/Olympus"]).await;
        assert!(format!("{:#}", bad_zone.err().context("expected an error")?).contains("unknown time zone"));
        assert_eq!(store.practices().await?.len(), 1, "a rejected command changes nothing");
        run_with(&url, &["demo", "--no-serve"]).await?;
        run_with(&url, &["demo", "--no-serve"]).await?;
        assert_eq!(store.practices().await?.len(), 3, "the demo creates its two practices once");
        let args = DemoArgs { scale: enamel_sim::Scale::Small, seed: 1, port: 0, data_dir: None, no_serve: true };
        for pms in [enamel_sim::PmsKind::OpenDental, enamel_sim::PmsKind::Tdental] {
            let demo_name = demo_practice(pms, &args);
            let demo = store.practices().await?.into_iter().find(|p| p.name == demo_name).context("demo practice")?;
            let runs = store.sync_runs(demo.id, 100).await?;
            assert!(runs.iter().all(|r| r.status == enamel_domain::SyncRunStatus::Succeeded) && !runs.is_empty());
            let second_pass: u64 = runs.iter().take(runs.len() / 2).map(|r| r.counts.inserted + r.counts.updated).sum();
            assert_eq!(second_pass, 0, "a second demo run finds nothing new");
            assert_eq!(store.connections(demo.id).await?.len(), 1, "the demo reuses its connection");
        }
        store.close().await?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Ok(())
    }

    #[tokio::test]
    async fn connections_store_encrypted_credentials_and_sync_runs_with_them() -> Result<()> {
        use base64::Engine;
        let (url, path) = temp_url();
        run_with(&url, &["migrate"]).await?;
        let store = open_migrated(&url).await?;
        let practice = store
            .create_practice(NewPractice {
                name: "Office".into(),
                time_zone: chrono_tz::America::New_York,
                currency: Currency::Usd,
            })
            .await?;
        let pid = practice.id.to_string();
        let mut sim_config = enamel_sim::SimConfig::new(enamel_sim::PmsKind::OpenDental);
        sim_config.mode = enamel_sim::Mode::Local;
        let sim = enamel_sim::spawn(sim_config, 0).await?;
        let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
        let api = sim.api_url();
        let add = |k: Option<&str>| -> Vec<String> {
            let mut all: Vec<String> =
                ["connection", "add", "--practice", &pid, "--kind", "open-dental", "--base-url", &api]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
            all.extend(
                ["--developer-key", "dev-key", "--customer-key", "customer-key", "--mode", "local"].map(str::to_owned),
            );
            if let Some(k) = k {
                all.extend(["--master-key".to_owned(), k.to_owned()]);
            }
            all
        };
        fn as_refs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let without_key = add(None);
        let missing = run_with(&url, &as_refs(&without_key)).await.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(missing.contains("ENAMEL_MASTER_KEY is not set"), "{missing}");
        assert!(store.connections(practice.id).await?.is_empty(), "nothing stored without a key");
        run_with(&url, &as_refs(&add(Some(&key)))).await?;
        let stored = store.connections(practice.id).await?;
        let blob = stored[0].credentials.clone().context("credentials stored")?;
        assert!(!String::from_utf8_lossy(&blob).contains("customer-key"), "encrypted at rest");

        let wrong = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let bad = run_with(&url, &["sync", "--practice", &pid, "--master-key", &wrong])
            .await
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(bad.contains("do not decrypt"), "{bad}");
        let unknown = run_with(&url, &["sync", "--practice", &pid, "--master-key", &key, "--stream", "nonsense"]).await;
        assert!(unknown.err().is_some_and(|e| format!("{e:#}").contains("unknown stream")));
        run_with(
            &url,
            &[
                "sync",
                "--practice",
                &pid,
                "--master-key",
                &key,
                "--json",
                "--stream",
                "clinics",
                "--stream",
                "providers",
            ],
        )
        .await?;
        let runs = store.sync_runs(practice.id, 10).await?;
        assert_eq!(runs.len(), 2, "only the chosen streams ran");
        run_with(&url, &["sync", "--practice", &pid, "--master-key", &key, "--json"]).await?;
        // Providers ran before fee schedules and were refused; the full run re-read them.
        let providers: Vec<enamel_domain::ids::ProviderId> = store.live_ids(practice.id).await?;
        assert_eq!(providers.len(), sim.control.counts()["providers"]);
        assert!(
            store.quarantined(practice.id, 5000).await?.iter().all(|q| q.resolved_at.is_some()),
            "every refusal resolved"
        );
        let patients: Vec<enamel_domain::ids::PatientId> = store.live_ids(practice.id).await?;
        assert_eq!(patients.len(), sim.control.counts()["patients"]);

        // A write-back through the stored credentials: applied by the operators' command,
        // confirmed by the next sync, its audit trail verified.
        use enamel_domain::writeback::{Principal, Proposal, WriteBackState};
        let directory = std::sync::Arc::new(crate::connections::StoredConnections::new(
            store.clone(),
            MasterKey::parse(&key)?,
            crate::config::PmsSettings::default(),
        ));
        let queue = enamel_writeback::WriteBacks::new(store.clone(), directory);
        let proposal = Proposal::CommlogCreate {
            patient_id: patients[0],
            note: "Called back about the estimate".into(),
            mode: enamel_domain::enums::CommMode::Phone,
            direction: enamel_domain::enums::CommDirection::Sent,
            communicated_at: None,
        };
        let request = enamel_writeback::ProposeRequest {
            proposal,
            reason: "follow-up".into(),
            idempotency_key: "cli-test".into(),
            deadline: None,
        };
        let ai = Principal { id: "api_key:ai".into(), name: "ai".into() };
        let desk = Principal { id: "api_key:desk".into(), name: "desk".into() };
        let wb = queue.propose(practice.id, &ai, request).await?;
        queue.approve(practice.id, &desk, wb.id).await?;
        let keyless = run_with(&url, &["writeback", "run-once"]).await.err().map(|e| format!("{e:#}"));
        assert!(keyless.is_some_and(|e| e.contains("ENAMEL_MASTER_KEY")));
        run_with(&url, &["writeback", "run-once", "--master-key", &key]).await?;
        assert_eq!(store.write_back(Some(practice.id), wb.id).await?.state, WriteBackState::Applied);
        run_with(
            &url,
            &["sync", "--practice", &pid, "--master-key", &key, "--json", "--stream", "commlogs", "--full", "--reread"],
        )
        .await?;
        assert_eq!(store.write_back(Some(practice.id), wb.id).await?.state, WriteBackState::Confirmed);
        run_with(&url, &["audit", "verify"]).await?;
        store.close().await?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Ok(())
    }

    #[tokio::test]
    async fn tdental_connections_keep_a_login_and_sync_every_stream() -> Result<()> {
        use base64::Engine;
        let (url, path) = temp_url();
        run_with(&url, &["migrate"]).await?;
        let store = open_migrated(&url).await?;
        let sim = enamel_sim::spawn(enamel_sim::SimConfig::new(enamel_sim::PmsKind::Tdental), 0).await?;
        let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
        let api = sim.api_url();
        for (name, password) in [("Wrong password", "wrong"), ("Nha khoa", "admin")] {
            let practice = store
                .create_practice(NewPractice {
                    name: name.into(),
                    time_zone: chrono_tz::Asia::Ho_Chi_Minh,
                    currency: Currency::Vnd,
                })
                .await?;
            let pid = practice.id.to_string();
            let add = |password: &str| {
                let mut argv = vec!["enamel", "--database-url", &url, "connection", "add", "--practice", &pid];
                argv.extend(["--kind", "tdental", "--base-url", &api, "--username", "admin", "--master-key", &key]);
                if !password.is_empty() {
                    argv.extend(["--password", password]);
                }
                Cli::try_parse_from(argv)
            };
            let without = add("").err().map(|e| e.to_string()).unwrap_or_default();
            assert!(without.contains("--password"), "a TDental connection needs a password: {without}");
            run(add(password).map_err(|e| anyhow::anyhow!("{e}"))?).await?;
            let stored = store.connections(practice.id).await?;
            let blob = stored[0].credentials.clone().context("credentials stored")?;
            assert!(!String::from_utf8_lossy(&blob).contains(password), "encrypted at rest");
            let synced = run_with(&url, &["sync", "--practice", &pid, "--master-key", &key, "--json"]).await;
            let patients: Vec<enamel_domain::ids::PatientId> = store.live_ids(practice.id).await?;
            if password == "wrong" {
                let refused = synced.err().map(|e| format!("{e:#}")).unwrap_or_default();
                assert!(refused.contains("refused the login"), "{refused}");
                assert!(patients.is_empty());
            } else {
                synced?;
                assert_eq!(patients.len(), sim.control.counts()["partners"]);
            }
        }
        store.close().await?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Ok(())
    }

    #[tokio::test]
    async fn secrets_rotate_re_encrypts_every_credential_under_the_new_key() -> Result<()> {
        use base64::Engine;
        let (url, path) = temp_url();
        run_with(&url, &["migrate"]).await?;
        let store = open_migrated(&url).await?;
        let b64 = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        let (old, new, wrong) = (b64(1), b64(2), b64(3));
        let mut ids = Vec::new();
        for name in ["North", "South"] {
            let practice = store
                .create_practice(NewPractice {
                    name: name.into(),
                    time_zone: chrono_tz::America::New_York,
                    currency: Currency::Usd,
                })
                .await?;
            let pid = practice.id.to_string();
            let args = [
                "connection",
                "add",
                "--practice",
                &pid,
                "--kind",
                "tdental",
                "--base-url",
                "https://x.tdental.vn",
                "--username",
                "admin",
                "--password",
                "s3cret-pass",
                "--master-key",
                &old,
            ];
            run_with(&url, &args).await?;
            ids.push(practice.id);
        }
        // The wrong current key changes nothing.
        let refused = run_with(&url, &["secrets", "rotate", "--master-key", &wrong, "--new-master-key", &new]).await;
        assert!(refused.err().is_some_and(|e| format!("{e:#}").contains("do not decrypt")));
        run_with(&url, &["secrets", "rotate", "--master-key", &old, "--new-master-key", &new]).await?;
        let (old, new) = (MasterKey::parse(&old)?, MasterKey::parse(&new)?);
        for practice in ids {
            let stored = store.connections(practice).await?;
            let blob = stored[0].credentials.clone().context("credentials")?;
            let creds: TdCredentials = new.open(practice, &blob)?;
            assert_eq!(creds.password, "s3cret-pass");
            assert!(old.open::<TdCredentials>(practice, &blob).is_err(), "the old key no longer opens it");
        }
        store.close().await?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Ok(())
    }

    #[tokio::test]
    async fn unsupported_urls_are_refused_clearly() {
        let err = run_with("mysql://u:secret@h/db", &["migrate"]).await.err().map(|e| format!("{e:#}"));
        let err = err.unwrap_or_default();
        assert!(err.contains("is not a sqlite:// or postgres:// URL"), "{err}");
        assert!(!err.contains("secret"), "passwords never reach messages: {err}");
    }
}
