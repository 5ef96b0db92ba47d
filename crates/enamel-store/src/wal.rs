//! WAL checkpoints off the writer's thread (SQLite files).
//!
//! SQLite copies the write-ahead log back into the database file (a checkpoint) from
//! whichever connection commits past `wal_autocheckpoint` pages, on that connection's
//! thread. For the one writer connection that is the page transactions' critical path: a
//! sixth of its time in a first sync. The writer's threshold is therefore raised to a
//! safety net ([`WRITER_AUTOCHECKPOINT`]), and each of its commits starts a passive
//! checkpoint on a pooled connection instead, on another thread, unless one is under way.
//! A passive checkpoint neither waits for nor blocks readers or the writer; the WAL restarts
//! from its beginning when the writer begins after a checkpoint that copied every frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// The writer's own checkpoint threshold in pages (SQLite's default is 1,000): reached only
/// when the background checkpoints fall behind or cannot run.
pub(crate) const WRITER_AUTOCHECKPOINT: &str = "10000";

/// Starts checkpoints on the pool, one at a time.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    db: DatabaseConnection,
    running: AtomicBool,
}

impl Checkpointer {
    pub(crate) fn new(db: DatabaseConnection) -> Arc<Checkpointer> {
        Arc::new(Checkpointer { db, running: AtomicBool::new(false) })
    }

    /// Starts a passive checkpoint on a pooled connection, unless one is under way (it will
    /// copy what this commit wrote, or the next nudge will).
    pub(crate) fn nudge(self: &Arc<Self>) {
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            // A checkpoint that fails (the store closing, say) is retried by the next nudge.
            if let Err(e) = this.db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::debug!(error = %e, "WAL checkpoint failed");
            }
            this.running.store(false, Ordering::Release);
        });
    }
}
