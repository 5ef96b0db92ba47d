//! `enamel-sim`: serves a simulated PMS until interrupted.
//!
//! `enamel-sim opendental --scale small --seed 1 --port 0 [--mode remote|local]` or
//! `enamel-sim tdental --scale tdental --port 0 [--username admin --password admin]
//! [--prerender]` prints `listening on http://127.0.0.1:PORT` once ready.

#![allow(clippy::print_stdout)]

use clap::Parser;
use enamel_sim::{Mode, PmsKind, Scale, SimConfig};

/// mimalloc, as in the other binaries: each answer builds and drops a tree of JSON values
/// per row, and glibc malloc spent a sixth of the TDental simulator's time (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves a simulated PMS (Open Dental or TDental) on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "enamel-sim", version, about)]
struct Args {
    /// Which PMS.
    #[arg(value_enum)]
    pms: PmsKind,
    /// Data volume.
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    scale: Scale,
    /// Generator seed: same seed, same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on (`0.0.0.0` in a container).
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Open Dental API mode.
    #[arg(long, value_enum, default_value_t = Mode::Remote)]
    mode: Mode,
    /// Open Dental developer key.
    #[arg(long, default_value = "dev-key")]
    developer_key: String,
    /// Open Dental customer key.
    #[arg(long, default_value = "customer-key")]
    customer_key: String,
    /// Open Dental: the key holds Read All only (Remote throttle 1 request per 5 s).
    #[arg(long)]
    read_only_key: bool,
    /// TDental user name.
    #[arg(long, default_value = "admin")]
    username: String,
    /// TDental password.
    #[arg(long, default_value = "admin")]
    password: String,
    /// TDental: render every row before serving, rather than on first request
    /// (benchmarks: the simulator then costs the measured machine little more than a
    /// remote PMS would).
    #[arg(long)]
    prerender: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = SimConfig {
        pms: args.pms,
        scale: args.scale,
        seed: args.seed,
        mode: args.mode,
        developer_key: args.developer_key,
        customer_key: args.customer_key,
        read_only_key: args.read_only_key,
        throttle: None,
        username: args.username,
        password: args.password,
    };
    let sim = enamel_sim::spawn_on(config, std::net::SocketAddr::new(args.host, args.port)).await?;
    if args.prerender {
        let control = sim.control.clone();
        tokio::task::spawn_blocking(move || control.prerender()).await?;
    }
    println!("listening on {}", sim.base_url);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
