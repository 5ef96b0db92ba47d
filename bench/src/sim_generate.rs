//! Simulator data generation: time and peak memory to generate one data set.
//!
//! Run with `cargo run --release -p enamel-bench --bin sim-generate -- opendental --scale clinic`.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use clap::Parser;
use enamel_sim::{PmsKind, Scale, SimConfig};

/// mimalloc, as in the other binaries.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Generates a simulator data set and reports rows, seconds and peak resident memory.
#[derive(Debug, Parser)]
struct Args {
    /// Which PMS.
    #[arg(value_enum)]
    pms: PmsKind,
    /// Data volume.
    #[arg(long, value_enum, default_value_t = Scale::Clinic)]
    scale: Scale,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Peak resident set size of this process, from `/proc/self/status` (`VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args = Args::parse();
    let mut config = SimConfig::new(args.pms);
    config.scale = args.scale;
    config.seed = args.seed;
    let started = Instant::now();
    let rows = enamel_sim::generate_only(&config);
    let secs = started.elapsed().as_secs_f64();
    let rss = peak_rss_mib().map_or("unknown".to_owned(), |m| format!("{m:.0} MiB"));
    println!("{:?} {:?} seed {}: {rows} rows in {secs:.2} s, peak RSS {rss}", args.pms, args.scale, args.seed);
}
