//! The commands' implementations. Output for people goes to standard output; diagnostics
//! go through `tracing` to standard error.

#![allow(clippy::print_stdout)]

use anyhow::{Context, Result, bail};
use enamel_domain::Currency;
use enamel_store::{Backend, NewPractice, Store, redact_url};

use crate::cli::{Cli, Command, DemoArgs, MigrateArgs, PracticeCommand};

pub(crate) async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => demo(&cli.database_url, args).await,
        Command::Migrate(args) => migrate(&cli.database_url, args).await,
        Command::Practice(cmd) => practice(&cli.database_url, cmd).await,
    }
}

async fn connect(url: &str) -> Result<Store> {
    Store::connect(url).await.with_context(|| format!("cannot open the store at {}", redact_url(url)))
}

/// Opens the store and fails unless its schema is current.
async fn open_migrated(url: &str) -> Result<Store> {
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

/// The demo practice's name: one practice per simulated office (scale and seed), so that
/// a cursor never meets another office's data.
fn demo_practice(args: &DemoArgs) -> String {
    let scale = match args.scale {
        enamel_sim::Scale::Small => "small",
        enamel_sim::Scale::Clinic => "clinic",
        enamel_sim::Scale::Tdental => "tdental",
    };
    format!("Demo Dental (Open Dental, {scale}, seed {})", args.seed)
}

async fn demo(url: &str, args: DemoArgs) -> Result<()> {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use enamel_domain::Source;
    use enamel_pms::PmsClient;
    use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
    use enamel_sim::{Mode, PmsKind, SimConfig};
    use enamel_store::NewConnection;
    use enamel_sync::{Hooks, SyncConfig, sync_once};
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

    let started = std::time::Instant::now();
    let store = connect(url).await?;
    store.migrate().await.context("migration failed")?;

    let mut sim_config = SimConfig::new(PmsKind::OpenDental);
    sim_config.scale = args.scale;
    sim_config.seed = args.seed;
    sim_config.mode = Mode::Local;
    let sim = enamel_sim::spawn(sim_config, 0).await.context("cannot start the Open Dental simulator")?;
    let expected = sim.control.counts();

    let name = demo_practice(&args);
    let practice = match store.practices().await?.into_iter().find(|p| p.name == name) {
        Some(p) => p,
        None => {
            let new = NewPractice { name, time_zone: chrono_tz::America::New_York, currency: Currency::Usd };
            store.create_practice(new).await?
        }
    };
    let connection = match store.connections(practice.id).await?.into_iter().find(|c| c.kind == Source::OpenDental) {
        Some(c) => store.set_connection_endpoint(practice.id, c.id, &sim.api_url(), Some("local")).await?,
        None => {
            let new = NewConnection {
                kind: Source::OpenDental,
                base_url: sim.api_url(),
                mode: Some("local".into()),
                credentials: None,
            };
            store.add_connection(practice.id, new).await?
        }
    };
    let client =
        OdClient::new(OdConfig::new(sim.api_url(), "dev-key", "customer-key", OdMode::Local, practice.time_zone))?;

    println!("Open Dental simulator at {} ({:?} scale, seed {})", sim.api_url(), args.scale, args.seed);
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>16} {bar:30} {pos:>7}/{len:7} rows")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut by_stream = BTreeMap::new();
    for spec in client.streams() {
        let bar = bars.add(ProgressBar::new(expected.get(spec.name).copied().unwrap_or(0) as u64));
        bar.set_style(style.clone());
        bar.set_prefix(spec.name);
        by_stream.insert(spec.name.to_owned(), bar);
    }
    let by_stream = Arc::new(by_stream);
    let progress = by_stream.clone();
    let hooks = Hooks {
        fail: None,
        on_page: Some(Arc::new(move |stream, fetched| {
            if let Some(bar) = progress.get(stream) {
                bar.set_position(fetched);
            }
        })),
    };
    let outcomes =
        sync_once(&store, &client, practice.id, connection.id, Source::OpenDental, &SyncConfig::default(), &hooks)
            .await
            .map_err(|(_, e)| e)
            .context("the demo sync failed")?;
    for bar in by_stream.values() {
        bar.finish();
    }

    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!();
    println!(
        "{:<16} {:>8} {:>8} {:>8} {:>9} {:>11}",
        "stream", "fetched", "inserted", "updated", "unchanged", "quarantined"
    );
    for o in &outcomes {
        let c = o.counts;
        println!(
            "{:<16} {:>8} {:>8} {:>8} {:>9} {:>11}",
            o.stream, c.fetched, c.inserted, c.updated, c.unchanged, c.quarantined
        );
    }
    let dangling = store.check_references(practice.id).await?;
    println!();
    println!(
        "store: {backend} at {} — every reference resolved: {}",
        redact_url(url),
        if dangling.is_empty() { "yes" } else { "NO" }
    );
    println!("practice {} ({}), synced in {:.1} s", practice.id, practice.name, started.elapsed().as_secs_f64());
    if !dangling.is_empty() {
        bail!("dangling references after the demo sync: {dangling:?}");
    }
    Ok(())
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
        run_with(&url, &["demo"]).await?;
        run_with(&url, &["demo"]).await?;
        assert_eq!(store.practices().await?.len(), 2, "the demo creates its practice once");
        let demo_name = demo_practice(&DemoArgs { scale: enamel_sim::Scale::Small, seed: 1 });
        let demo = store.practices().await?.into_iter().find(|p| p.name == demo_name).context("demo practice")?;
        let runs = store.sync_runs(demo.id, 100).await?;
        assert!(runs.iter().all(|r| r.status == enamel_domain::SyncRunStatus::Succeeded) && !runs.is_empty());
        let second_pass: u64 = runs.iter().take(runs.len() / 2).map(|r| r.counts.inserted + r.counts.updated).sum();
        assert_eq!(second_pass, 0, "a second demo run finds nothing new");
        assert_eq!(store.connections(demo.id).await?.len(), 1, "the demo reuses its connection");
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
        assert!(err.contains("expected sqlite://… or postgres://…"), "{err}");
        assert!(!err.contains("secret"), "passwords never reach messages: {err}");
    }
}
