//! The operators' write-back commands: `enamel writeback run-once` and `enamel audit verify`.

#![allow(clippy::print_stdout)]

use anyhow::{Result, bail};
use enamel_store::Store;
use enamel_writeback::WriteBacks;

/// This process's name in leases, audit rows and request tags (`host:pid`).
pub(crate) fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "enamel".into());
    format!("{host}:{}", std::process::id())
}

/// `enamel writeback run-once`: runs every due write-back once (at most `max`), prints
/// one line per attempt, and a summary.
pub(crate) async fn run_once(queue: &WriteBacks, max: usize) -> Result<()> {
    let executor = format!("{}:run-once", replica_name());
    let mut done = 0;
    while done < max {
        match queue.try_execute_next(&executor).await? {
            Some(e) => {
                done += 1;
                println!(
                    "write-back {} ({}): {:?} → {}{}",
                    e.write_back.id,
                    e.write_back.proposal.kind(),
                    e.outcome,
                    e.write_back.state,
                    e.write_back.last_error.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
                );
            }
            None => break,
        }
    }
    println!("{done} write-back attempt(s) made; nothing else is due");
    Ok(())
}

/// `enamel audit verify`: checks every practice's audit chain; fails naming the first
/// broken link of each broken chain.
pub(crate) async fn verify(store: &Store) -> Result<()> {
    let report = enamel_writeback::verify_audit(store).await?;
    if report.broken.is_empty() {
        println!("audit trail intact: {} chain(s), {} row(s)", report.chains, report.rows);
        return Ok(());
    }
    for b in &report.broken {
        println!("BROKEN: {b}");
    }
    bail!("{} of {} audit chain(s) broken", report.broken.len(), report.chains)
}
