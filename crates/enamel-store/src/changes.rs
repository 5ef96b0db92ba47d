//! Change notifications: "a write-back (or a sync run) of practice P changed", so that
//! subscriptions re-read at once instead of at their next poll.
//!
//! On PostgreSQL the writing transaction calls `pg_notify` (delivered on commit, to every
//! replica listening, this one included) and one `LISTEN` connection per process forwards
//! them; on SQLite, the single-process embedded store, the writer announces the change in
//! process after committing. Notifications are hints: a receiver that lags, or a listener
//! that reconnects, loses some, and the subscriptions' poll catches up.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use enamel_domain::PracticeId;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::broadcast;

use crate::Result;

/// The PostgreSQL channel.
const CHANNEL: &str = "enamel_changes";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A write-back was proposed or moved.
    WriteBack,
    /// A sync run started or finished.
    SyncRun,
}

impl Topic {
    fn name(self) -> &'static str {
        match self {
            Topic::WriteBack => "write_back",
            Topic::SyncRun => "sync_run",
        }
    }

    fn parse(name: &str) -> Option<Topic> {
        [Topic::WriteBack, Topic::SyncRun].into_iter().find(|t| t.name() == name)
    }
}

/// A change of some rows of one practice, or `practice: None` when changes may have been
/// missed (the listener reconnected): everything should be re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// What changed.
    pub topic: Topic,
    /// Whose.
    pub practice: Option<PracticeId>,
}

impl Change {
    /// Whether a watcher of `topic` for `practice` should re-read.
    pub fn concerns(&self, topic: Topic, practice: PracticeId) -> bool {
        self.topic == topic && self.practice.is_none_or(|p| p == practice)
    }

    fn payload(&self) -> String {
        match self.practice {
            Some(p) => format!("{}:{p}", self.topic.name()),
            None => self.topic.name().to_owned(),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        let (topic, practice) = match payload.split_once(':') {
            Some((t, p)) => (t, Some(p.parse::<uuid::Uuid>().ok()?.into())),
            None => (payload, None),
        };
        Some(Change { topic: Topic::parse(topic)?, practice })
    }
}

/// The process's fan-out of changes.
#[derive(Debug)]
pub(crate) struct Changes {
    sender: broadcast::Sender<Change>,
    listening: OnceLock<()>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes { sender: broadcast::channel(1024).0, listening: OnceLock::new() }
    }
}

impl Changes {
    /// Announces in process (SQLite, after commit).
    pub(crate) fn announce(&self, change: Change) {
        // Nobody listening is fine.
        let _ = self.sender.send(change);
    }

    /// A receiver of every change from now on; on PostgreSQL the first call starts the
    /// process's `LISTEN` task.
    pub(crate) fn subscribe(self: &Arc<Self>, db: &DatabaseConnection) -> broadcast::Receiver<Change> {
        let receiver = self.sender.subscribe();
        if db.get_database_backend() == DbBackend::Postgres && self.listening.set(()).is_ok() {
            let pool = db.get_postgres_connection_pool().clone();
            let sender = self.sender.clone();
            tokio::spawn(listen(pool, sender));
        }
        receiver
    }
}

/// Adds the change's `pg_notify` to a PostgreSQL transaction (sent when it commits).
pub(crate) async fn notify_in<C: ConnectionTrait>(db: &C, change: Change) -> Result<()> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), change.payload().into()],
    ))
    .await?;
    Ok(())
}

/// Forwards the channel's notifications to `sender`, reconnecting with backoff; after a
/// reconnect everyone is told to re-read (notifications may have been missed meanwhile).
async fn listen(pool: sea_orm::sqlx::PgPool, sender: broadcast::Sender<Change>) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut pause = Duration::from_millis(500);
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the change listener; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "cannot LISTEN for changes; retrying");
            tokio::time::sleep(pause).await;
            continue;
        }
        pause = Duration::from_millis(500);
        for topic in [Topic::WriteBack, Topic::SyncRun] {
            let _ = sender.send(Change { topic, practice: None });
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match Change::parse(n.payload()) {
                    Some(change) => {
                        let _ = sender.send(change);
                    }
                    None => tracing::debug!(channel = n.channel(), "ignoring an unknown change notification"),
                },
                // The connection was lost (and will be re-opened): changes may be missed.
                Ok(None) => {
                    for topic in [Topic::WriteBack, Topic::SyncRun] {
                        let _ = sender.send(Change { topic, practice: None });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the change listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let p: PracticeId = uuid::Uuid::now_v7().into();
        for change in
            [Change { topic: Topic::WriteBack, practice: Some(p) }, Change { topic: Topic::SyncRun, practice: None }]
        {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("nonsense:xyz"), None);
        assert!(Change { topic: Topic::WriteBack, practice: None }.concerns(Topic::WriteBack, p));
        assert!(!Change { topic: Topic::SyncRun, practice: Some(p) }.concerns(Topic::WriteBack, p));
    }
}
