//! The write-back queue wired to stored connections: the PMS clients that apply
//! write-backs (credentials opened with the master key), the executor task of
//! `enamel serve`, and the operators' commands `enamel writeback run-once` and
//! `enamel audit verify`.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use enamel_domain::{PracticeId, Source};
use enamel_pms::{PmsError, PmsWriter};
use enamel_store::Store;
use enamel_writeback::{PmsDirectory, WriteBacks};
use futures::future::BoxFuture;

use crate::secrets::MasterKey;

/// How long an opened PMS client is reused before the connection is read again (an
/// endpoint or credential change takes effect within this).
const CLIENT_TTL: Duration = Duration::from_secs(300);

/// Opened writers by (practice, PMS), with when they were opened.
type Opened = HashMap<(PracticeId, Source), (Instant, Arc<dyn PmsWriter>)>;

/// PMS writers for the practices' stored connections.
pub(crate) struct StoredConnections {
    store: Store,
    key: MasterKey,
    clients: Mutex<Opened>,
}

impl StoredConnections {
    pub(crate) fn new(store: Store, key: MasterKey) -> Self {
        Self { store, key, clients: Mutex::new(HashMap::new()) }
    }

    async fn open(&self, practice: PracticeId, source: Source) -> Result<Arc<dyn PmsWriter>, PmsError> {
        let unavailable = |what: String| PmsError::NotConfigured(what);
        let p = self.store.practice(practice).await.map_err(|e| unavailable(e.to_string()))?;
        let connections = self.store.connections(practice).await.map_err(|e| unavailable(e.to_string()))?;
        let connection = connections
            .into_iter()
            .find(|c| c.kind == source)
            .ok_or_else(|| unavailable(format!("practice {practice} has no {source} connection")))?;
        let handle = crate::commands::client_for(&connection, &p, &self.key)
            .map_err(|e| unavailable(format!("connection {}: {e}", connection.id)))?;
        Ok(handle.writer())
    }
}

impl PmsDirectory for StoredConnections {
    fn writer(&self, practice: PracticeId, source: Source) -> BoxFuture<'_, Result<Arc<dyn PmsWriter>, PmsError>> {
        Box::pin(async move {
            let cached = self.clients.lock().ok().and_then(|c| {
                c.get(&(practice, source)).filter(|(at, _)| at.elapsed() < CLIENT_TTL).map(|(_, w)| w.clone())
            });
            if let Some(w) = cached {
                return Ok(w);
            }
            let w = self.open(practice, source).await?;
            if let Ok(mut c) = self.clients.lock() {
                c.insert((practice, source), (Instant::now(), w.clone()));
            }
            Ok(w)
        })
    }
}

/// A name for this process's executor in leases and audit rows.
pub(crate) fn executor_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "enamel".into());
    format!("{host}:{}", std::process::id())
}

/// `enamel writeback run-once`: runs every due write-back once (at most `max`), prints
/// one line per attempt, and a summary.
pub(crate) async fn run_once(queue: &WriteBacks, max: usize) -> Result<()> {
    let executor = format!("{}:run-once", executor_name());
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
