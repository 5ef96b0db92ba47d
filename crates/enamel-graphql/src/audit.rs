//! Writes PHI access events in groups. Each response that returns patient data waits until
//! its event is written (or answers an error instead of the data), as before; but the
//! events of requests that finish while a write is under way go into the next write
//! together, one statement and one commit for all of them. Under load a commit (a WAL
//! flush on PostgreSQL, the writer's turn on SQLite) serves many responses instead of one.
//!
//! The writer is a task started on first use (and again if it ever stopped): a thin loop
//! over [`write_group`], which tests drive directly.

use std::sync::{Arc, Mutex, PoisonError};

use enamel_domain::PhiAccess;
use enamel_store::Store;
use tokio::sync::{mpsc, oneshot};

/// Most events written in one statement.
pub(crate) const MAX_GROUP: usize = 256;

/// Events waiting for the writer, at most (beyond it, requests wait to enqueue).
const QUEUE: usize = 4 * MAX_GROUP;

/// An event and who waits for it.
pub(crate) struct Pending {
    event: PhiAccess,
    written: oneshot::Sender<bool>,
}

/// The event could not be written (the writer logged why, once per group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotWritten;

/// The access log of one API (shared by its clones).
#[derive(Clone)]
pub(crate) struct AuditLog {
    store: Store,
    queue: Arc<Mutex<Option<mpsc::Sender<Pending>>>>,
}

impl AuditLog {
    pub(crate) fn new(store: Store) -> Self {
        AuditLog { store, queue: Arc::default() }
    }

    /// Writes `event`, returning once it is committed.
    pub(crate) async fn record(&self, event: PhiAccess) -> Result<(), NotWritten> {
        let queue = self.writer();
        let (written, done) = oneshot::channel();
        queue.send(Pending { event, written }).await.map_err(|_| NotWritten)?;
        match done.await {
            Ok(true) => Ok(()),
            _ => Err(NotWritten),
        }
    }
}

impl AuditLog {
    /// The running writer's queue; starts the writer when there is none or it stopped (its
    /// runtime shut down, or it panicked: the events it held answer "not written").
    fn writer(&self) -> mpsc::Sender<Pending> {
        let mut slot = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = slot.as_ref().filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        if slot.is_some() {
            tracing::warn!("the PHI access writer had stopped; starting it again");
        }
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(run(self.store.clone(), events));
        *slot = Some(queue.clone());
        queue
    }
}

/// The writer: waits for events, then writes everything queued by then (up to
/// [`MAX_GROUP`]) as one group. Ends when the API is dropped.
async fn run(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        write_group(&store, &mut group).await;
    }
}

/// Writes the group's events in one statement and tells each waiter whether its event
/// was written (all or none); empties `group`.
pub(crate) async fn write_group(store: &Store, group: &mut Vec<Pending>) {
    let events: Vec<PhiAccess> = group.iter().map(|p| p.event.clone()).collect();
    let written = match store.record_phi_accesses(&events).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, events = events.len(), "PHI access events could not be written");
            false
        }
    };
    for pending in group.drain(..) {
        // The request may have timed out and gone.
        let _ = pending.written.send(written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    fn event(practice: enamel_domain::PracticeId, n: usize) -> PhiAccess {
        PhiAccess {
            id: uuid::Uuid::now_v7(),
            practice_id: practice,
            at: chrono::Utc::now(),
            credential: format!("api_key:{n}"),
            subject: "test".to_owned(),
            operation: "query".to_owned(),
            patient_ids: vec![uuid::Uuid::now_v7().into()],
        }
    }

    async fn store_with_practice() -> TestResult<(Store, enamel_domain::PracticeId)> {
        let store = Store::connect("sqlite::memory:").await?;
        store.migrate().await?;
        let practice = store
            .create_practice(enamel_store::NewPractice {
                name: "Audit".to_owned(),
                time_zone: chrono_tz::UTC,
                currency: enamel_domain::Currency::Usd,
            })
            .await?;
        Ok((store, practice.id))
    }

    /// A group of `events` and the receivers their waiters hold.
    fn group_of(events: impl IntoIterator<Item = PhiAccess>) -> (Vec<Pending>, Vec<oneshot::Receiver<bool>>) {
        events
            .into_iter()
            .map(|event| {
                let (written, done) = oneshot::channel();
                (Pending { event, written }, done)
            })
            .unzip()
    }

    /// How many access events the practice has.
    async fn logged(store: &Store, practice: enamel_domain::PracticeId) -> TestResult<u64> {
        Ok(store.count_phi_accesses(practice, &enamel_store::PhiAccessFilter::default()).await?)
    }

    #[tokio::test]
    async fn a_group_is_written_in_one_go_and_every_waiter_hears() -> TestResult {
        let (store, practice) = store_with_practice().await?;
        let (mut group, waiting) = group_of((0..5).map(|n| event(practice, n)));
        write_group(&store, &mut group).await;
        assert!(group.is_empty());
        for done in waiting {
            assert_eq!(done.await, Ok(true));
        }
        assert_eq!(logged(&store, practice).await?, 5);
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_group_tells_every_waiter_and_writes_nothing() -> TestResult {
        let (store, practice) = store_with_practice().await?;
        let duplicate = event(practice, 0);
        // The same id twice: the statement fails on the primary key, so no event lands.
        let (mut group, waiting) = group_of([event(practice, 1), duplicate.clone(), duplicate]);
        write_group(&store, &mut group).await;
        for done in waiting {
            assert_eq!(done.await, Ok(false));
        }
        assert_eq!(logged(&store, practice).await?, 0);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_each_return_once_their_event_is_written() -> TestResult {
        let (store, practice) = store_with_practice().await?;
        let log = AuditLog::new(store.clone());
        let tasks: Vec<_> = (0..300)
            .map(|n| {
                let log = log.clone();
                tokio::spawn(async move { log.record(event(practice, n)).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await?, Ok(()));
        }
        assert_eq!(logged(&store, practice).await?, 300);
        Ok(())
    }

    #[tokio::test]
    async fn a_stopped_writer_is_started_again() -> TestResult {
        let (store, practice) = store_with_practice().await?;
        let log = AuditLog::new(store.clone());
        assert_eq!(log.record(event(practice, 1)).await, Ok(()));
        // The writer is gone: its queue's other end is dropped.
        let (closed, events) = mpsc::channel(1);
        drop(events);
        *log.queue.lock().map_err(|_| "poisoned")? = Some(closed);
        assert_eq!(log.record(event(practice, 2)).await, Ok(()));
        assert_eq!(logged(&store, practice).await?, 2);
        Ok(())
    }
}
