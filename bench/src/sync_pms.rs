//! Sync throughput (Open Dental or TDental): the simulator runs as its own process (so this
//! process's peak memory is the sync's alone); a full sync, a full re-sync with nothing
//! changed, and one incremental cycle with nothing changed, into SQLite or PostgreSQL.
//!
//! Run with `cargo build --release -p enamel-sim && cargo run --release -p enamel-bench --bin
//! sync-pms -- --pms opendental --scale clinic --backend sqlite`.

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use enamel_domain::{Currency, Source};
use enamel_pms::PmsClient;
use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
use enamel_pms::tdental::{TdClient, TdConfig};
use enamel_store::{NewConnection, NewPractice, Store};
use enamel_sync::{Hooks, SyncConfig, Target, in_dependency_order, streams_at_once, sync_stream};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Pms {
    Opendental,
    Tdental,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Measures syncs against a simulator.
#[derive(Debug, Parser)]
struct Args {
    /// Which PMS.
    #[arg(long, value_enum, default_value_t = Pms::Opendental)]
    pms: Pms,
    /// Simulator scale.
    #[arg(long, default_value = "clinic")]
    scale: String,
    /// Store backend.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// PostgreSQL server URL (a fresh database is created and dropped).
    #[arg(long, env = "ENAMEL_TEST_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Pages of an ordinary stream per transaction, whatever their size (the sync's default,
    /// up to 4,000 rows, when absent).
    #[arg(long)]
    pages_per_unit: Option<usize>,
    /// Parents of a per-parent stream per transaction (the sync's default when absent).
    #[arg(long)]
    parents_per_unit: Option<usize>,
    /// Rows a transaction takes at most across units (the sync's default when absent; 0
    /// commits every unit alone).
    #[arg(long)]
    rows_per_transaction: Option<usize>,
    /// Streams synced at once (the sync's default when absent; 1 is one at a time).
    #[arg(long)]
    streams_at_once: Option<usize>,
    /// Also print when each stream started and finished, in seconds from the run's start.
    #[arg(long)]
    timeline: bool,
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
    let kind = match args.pms {
        Pms::Opendental => "opendental",
        Pms::Tdental => "tdental",
    };
    // TDental rows are rendered before the clock starts: the PMS is remote in production,
    // and the simulator shares the two cores being measured.
    let prerender = matches!(args.pms, Pms::Tdental).then_some("--prerender");
    let mut sim = Command::new(&sim_bin)
        .args([kind, "--scale", &args.scale, "--mode", "local", "--port", "0"].into_iter().chain(prerender))
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {} (cargo build --release -p enamel-sim)", sim_bin.display()))?;
    let mut line = String::new();
    BufReader::new(sim.stdout.take().context("stdout")?).read_line(&mut line)?;
    let base = line.trim().strip_prefix("listening on ").context("simulator did not start")?.to_owned();
    let api = match args.pms {
        Pms::Opendental => format!("{base}/api/v1"),
        Pms::Tdental => base,
    };
    // On the runtime's workers, as `enamel serve`'s scheduler runs its passes, rather than
    // on the thread that blocks on `main`.
    let sim_id = sim.id();
    let result =
        tokio::spawn(async move { run(&args, &api, sim_id).await }).await.map_err(anyhow::Error::from).and_then(|r| r);
    let _ = sim.kill();
    result
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    // `/proc` reports CPU time in USER_HZ ticks, 100 per second on Linux.
    const TICKS: f64 = 100.0;
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The command name is in parentheses and may hold spaces: fields count after it.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / TICKS)
        })
        .unwrap_or(0.0)
}

async fn run(args: &Args, api: &str, sim_pid: u32) -> Result<()> {
    let sim_pid = sim_pid.to_string();
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
    let (source, time_zone, currency) = match args.pms {
        Pms::Opendental => (Source::OpenDental, chrono_tz::America::New_York, Currency::Usd),
        Pms::Tdental => (Source::Tdental, chrono_tz::Asia::Ho_Chi_Minh, Currency::Vnd),
    };
    let practice = store.create_practice(NewPractice { name: "Bench".into(), time_zone, currency }).await?;
    let connection = store
        .add_connection(
            practice.id,
            NewConnection { kind: source, base_url: api.into(), mode: Some("local".into()), credentials: None },
        )
        .await?;
    let client: Box<dyn PmsClient> = match args.pms {
        Pms::Opendental => {
            Box::new(OdClient::new(OdConfig::new(api, "dev-key", "customer-key", OdMode::Local, practice.time_zone))?)
        }
        Pms::Tdental => {
            // The simulator's clock stands still at its start unless told to move.
            let mut config = TdConfig::new(api, "admin", "admin");
            config.clock = std::sync::Arc::new(enamel_sim::start_time);
            Box::new(TdClient::new(config)?)
        }
    };
    let defaults = SyncConfig::default();
    let tuned = SyncConfig {
        pages_per_unit: args.pages_per_unit.unwrap_or(defaults.pages_per_unit),
        // Pages asked for are pages taken, whatever their size.
        rows_per_unit: if args.pages_per_unit.is_some() { usize::MAX } else { defaults.rows_per_unit },
        parents_per_unit: args.parents_per_unit.unwrap_or(defaults.parents_per_unit),
        rows_per_transaction: args.rows_per_transaction.unwrap_or(defaults.rows_per_transaction),
        streams_at_once: args.streams_at_once,
        ..defaults
    };
    for (label, config) in [
        ("full sync", tuned.clone()),
        ("full re-sync, unchanged", SyncConfig { full: true, ..tuned.clone() }),
        ("incremental cycle, unchanged", tuned.clone()),
    ] {
        let started = Instant::now();
        let peak_before = peak_rss_mib();
        let (own_cpu, sim_cpu) = (cpu_seconds("self"), cpu_seconds(&sim_pid));
        let target = Target {
            store: &store,
            client: client.as_ref(),
            practice: practice.id,
            connection: connection.id,
            source,
            config: &config,
            hooks: &Hooks::default(),
        };
        let specs: Vec<_> = client.streams().iter().collect();
        // The process's peak RSS as each stream finished, in finishing order: the streams
        // during which it rose (exact one stream at a time, shared when streams overlap).
        let peaks = std::sync::Mutex::new(Vec::new());
        let peaks_ref = &peaks;
        let timed = in_dependency_order(&specs, streams_at_once(&store, &config), |spec| async move {
            let stream_started = Instant::now();
            let outcome = sync_stream(target, spec).await?;
            peaks_ref.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((spec.name, peak_rss_mib()));
            let span = (stream_started - started).as_secs_f64();
            anyhow::Ok((outcome, (stream_started.elapsed().as_secs_f64(), spec.name, span)))
        })
        .await
        .map_err(|(_, e)| e)?;
        let (outcomes, mut slowest): (Vec<_>, Vec<_>) = timed.into_iter().unzip();
        let peaks = peaks.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rises: Vec<(f64, &str)> = peaks
            .iter()
            .scan(peak_before, |last, &(name, peak)| {
                let rise = peak - *last;
                *last = peak;
                Some((rise, name))
            })
            .filter(|(rise, _)| *rise >= 1.0)
            .collect();
        rises.sort_by(|a, b| b.0.total_cmp(&a.0));
        let secs = started.elapsed().as_secs_f64();
        let (own_cpu, sim_cpu) = (cpu_seconds("self") - own_cpu, cpu_seconds(&sim_pid) - sim_cpu);
        if args.timeline {
            let mut spans = slowest.clone();
            spans.sort_by(|a, b| a.2.total_cmp(&b.2));
            for (took, name, from) in spans {
                println!("{:<10} {from:>6.2} → {:>6.2} s  {name}", "", from + took);
            }
        }
        slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
        let fetched: u64 = outcomes.iter().map(|o| o.counts.fetched).sum();
        let written: u64 = outcomes.iter().map(|o| o.counts.inserted + o.counts.updated).sum();
        let quarantined: u64 = outcomes.iter().map(|o| o.counts.quarantined).sum();
        // The TDental tenant has a few impossible rows (appointments in year 1224) on purpose.
        let impossible =
            store.quarantined(practice.id, 10_000).await?.iter().filter(|q| q.reason.contains("impossible")).count();
        if quarantined > impossible as u64 {
            bail!("{label}: {quarantined} rows quarantined");
        }
        println!(
            "{:<10} {label:<30} {fetched:>8} records in {secs:>6.2} s = {:>8.0} records/s, {written:>7} rows written, peak RSS {:.0} MiB",
            format!("{:?}", args.backend).to_lowercase(),
            fetched as f64 / secs,
            peak_rss_mib()
        );
        let top: Vec<String> = slowest.iter().take(5).map(|(s, n, _)| format!("{n} {s:.1} s")).collect();
        println!("{:<10} slowest streams: {}", "", top.join(", "));
        if !rises.is_empty() {
            let top: Vec<String> = rises.iter().take(5).map(|(r, n)| format!("{n} +{r:.0} MiB")).collect();
            println!("{:<10} peak RSS rose during: {}", "", top.join(", "));
        }
        println!("{:<10} CPU: sync {own_cpu:.2} s, simulator {sim_cpu:.2} s", "");
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
