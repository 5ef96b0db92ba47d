//! Open Dental sync throughput: the simulator runs as its own process (so this process's
//! peak memory is the sync's alone); a full sync, a full re-sync with nothing changed, and
//! one incremental cycle with nothing changed, into SQLite or PostgreSQL.
//!
//! Run with `cargo build --release -p enamel-sim && cargo run --release -p enamel-bench --bin
//! sync-opendental -- --scale clinic --backend sqlite`.

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use enamel_domain::{Currency, Source};
use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
use enamel_store::{NewConnection, NewPractice, Store};
use enamel_sync::{Hooks, SyncConfig, Target, sync_once};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Measures Open Dental syncs against the simulator.
#[derive(Debug, Parser)]
struct Args {
    /// Simulator scale.
    #[arg(long, default_value = "clinic")]
    scale: String,
    /// Store backend.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// PostgreSQL server URL (a fresh database is created and dropped).
    #[arg(long, env = "ENAMEL_TEST_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Pages of an ordinary stream per transaction (the sync's default when absent).
    #[arg(long)]
    pages_per_unit: Option<usize>,
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let sim_bin = std::env::current_exe()?.with_file_name("enamel-sim");
    let mut sim = Command::new(&sim_bin)
        .args(["opendental", "--scale", &args.scale, "--mode", "local", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {} (cargo build --release -p enamel-sim)", sim_bin.display()))?;
    let mut line = String::new();
    BufReader::new(sim.stdout.take().context("stdout")?).read_line(&mut line)?;
    let base = line.trim().strip_prefix("listening on ").context("simulator did not start")?.to_owned();
    let result = run(&args, &format!("{base}/api/v1")).await;
    let _ = sim.kill();
    result
}

async fn run(args: &Args, api: &str) -> Result<()> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (url, cleanup) = match args.backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("enamel-sync-bench-{tag}.db"));
            (format!("sqlite://{}", path.display()), Some(path))
        }
        Backend::Postgres => {
            let base = args.postgres.rsplit_once('/').map_or(args.postgres.as_str(), |(b, _)| b);
            let url = format!("{base}/enamel_sync_bench_{tag}");
            Store::create_postgres_database(&url).await?;
            (url, None)
        }
    };
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let practice = store
        .create_practice(NewPractice {
            name: "Bench".into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::Usd,
        })
        .await?;
    let connection = store
        .add_connection(
            practice.id,
            NewConnection {
                kind: Source::OpenDental,
                base_url: api.into(),
                mode: Some("local".into()),
                credentials: None,
            },
        )
        .await?;
    let client = OdClient::new(OdConfig::new(api, "dev-key", "customer-key", OdMode::Local, practice.time_zone))?;
    let defaults = SyncConfig::default();
    let tuned = SyncConfig { pages_per_unit: args.pages_per_unit.unwrap_or(defaults.pages_per_unit), ..defaults };
    for (label, config) in [
        ("full sync", tuned.clone()),
        ("full re-sync, unchanged", SyncConfig { full: true, ..tuned.clone() }),
        ("incremental cycle, unchanged", tuned.clone()),
    ] {
        let started = Instant::now();
        let outcomes = sync_once(Target {
            store: &store,
            client: &client,
            practice: practice.id,
            connection: connection.id,
            source: Source::OpenDental,
            config: &config,
            hooks: &Hooks::default(),
        })
        .await
        .map_err(|(_, e)| e)?;
        let secs = started.elapsed().as_secs_f64();
        let fetched: u64 = outcomes.iter().map(|o| o.counts.fetched).sum();
        let written: u64 = outcomes.iter().map(|o| o.counts.inserted + o.counts.updated).sum();
        let quarantined: u64 = outcomes.iter().map(|o| o.counts.quarantined).sum();
        if quarantined > 0 {
            bail!("{label}: {quarantined} rows quarantined");
        }
        println!(
            "{:<10} {label:<30} {fetched:>8} records in {secs:>6.2} s = {:>8.0} records/s, {written:>7} rows written, peak RSS {:.0} MiB",
            format!("{:?}", args.backend).to_lowercase(),
            fetched as f64 / secs,
            peak_rss_mib()
        );
    }
    store.close().await?;
    match cleanup {
        Some(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        None => Store::drop_postgres_database(&url).await?,
    }
    Ok(())
}
