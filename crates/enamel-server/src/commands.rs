//! The commands' implementations. Output for people goes to standard output; diagnostics
//! go through `tracing` to standard error.

#![allow(clippy::print_stdout)]

use anyhow::{Context, Result, bail};
use enamel_domain::{Currency, Practice};
use enamel_store::{Backend, NewPractice, Store, redact_url};

use crate::cli::{Cli, Command, MigrateArgs, PracticeCommand};

pub(crate) async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo => demo(&cli.database_url).await,
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

/// The demo practices: one per PMS, created once.
const DEMO_PRACTICES: [(&str, chrono_tz::Tz, Currency); 2] = [
    ("Demo Dental (Open Dental)", chrono_tz::America::New_York, Currency::Usd),
    ("Nha Khoa Demo (TDental)", chrono_tz::Asia::Ho_Chi_Minh, Currency::Vnd),
];

async fn demo(url: &str) -> Result<()> {
    let store = connect(url).await?;
    store.migrate().await.context("migration failed")?;
    let existing = store.practices().await?;
    let mut practices: Vec<Practice> = Vec::new();
    for (name, time_zone, currency) in DEMO_PRACTICES {
        let practice = match existing.iter().find(|p| p.name == name) {
            Some(p) => p.clone(),
            None => store.create_practice(NewPractice { name: name.to_owned(), time_zone, currency }).await?,
        };
        practices.push(practice);
    }
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("Enamel store ready: {backend} at {}", redact_url(url));
    println!("schema: {} objects, migrations current", store.schema_description().await?.len());
    println!("demo practices:");
    for p in &practices {
        let connections = store.connections(p.id).await?.len();
        let runs = store.sync_runs(p.id, 1).await?;
        let last =
            runs.first().map_or("never synced".to_owned(), |r| format!("last sync {} ({})", r.started_at, r.status));
        println!(
            "  {}  {:<28} {:<18} {}  {} connection(s), {last}",
            p.id, p.name, p.time_zone, p.currency, connections
        );
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
        assert_eq!(store.practices().await?.len(), 3, "the demo creates its two practices once");
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
