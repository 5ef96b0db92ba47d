//! Subscriptions (DESIGN §4): the subscription root, the polling that feeds it, and the
//! WebSocket session that carries it ([`Api::websocket`]).
//!
//! Every field re-reads the store when the store announces a change of its rows (on
//! PostgreSQL through `LISTEN/NOTIFY`, so a change written by any replica or process wakes
//! every subscriber at once) and otherwise every poll interval (`Options::poll_interval`, the
//! safety net for missed notifications and for other processes on SQLite). [`watch`] turns
//! successive reads into the rows that are new or changed: a new field is a fetch closure, a
//! key, a filter and the change topic that wakes it.
//!
//! The session is transport-agnostic: the server pipes the client's text messages in and
//! sends the [`WsFrame`]s out. It speaks `graphql-transport-ws` and the legacy `graphql-ws`
//! (async-graphql's implementation), authenticates the `connection_init` payload (or the
//! upgrade request's key), re-checks the key while the socket is open, and gives every
//! operation fresh loaders.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use async_graphql::http::{ClientMessage, WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{Context, Data};
use enamel_domain::{PracticeId, SyncRun};
use enamel_store::{Change, Store, Topic};
use futures::stream::{BoxStream, Stream, StreamExt};
use tokio::sync::broadcast;

use crate::error::{ApiError, Code};
use crate::query::SyncRunInfo;
use crate::viewer::{Viewer, reader};
use crate::{Api, loader};

/// How many of the newest runs each poll of `syncRunChanged` reads. A sync of every stream
/// writes a few dozen; a poll sees every change unless more runs than this start between
/// two polls.
const RUN_WINDOW: u64 = 200;

/// How often subscriptions poll the store (schema data, from `Options::poll_interval`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollInterval(pub(crate) Duration);

/// Pushed changes.
pub struct Subscription;

#[async_graphql::Subscription]
impl Subscription {
    /// Sync runs of the caller's practice as they start and finish: first the runs still in
    /// progress, then each run when it starts and whenever its status or counts change (the
    /// run as it now is). Finished runs recorded before the subscription started are not
    /// sent: query `syncRuns` for them. Changes are read from the store every poll interval
    /// (1 s by default), so runs of another process show up too. Needs the `read` scope.
    async fn sync_run_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only runs of this stream (`patients`, `Appointments`…).")] stream: Option<String>,
    ) -> Result<BoxStream<'static, SyncRunInfo>, async_graphql::Error> {
        // (Spelled `Result`: the macro recognises a fallible stream by that name, not by `ApiResult`.)
        let practice = reader(ctx)?.practice_id();
        let store = ctx.data::<Store>()?.clone();
        let every = ctx.data::<PollInterval>()?.0;
        let fetch = move || {
            let store = store.clone();
            async move {
                let mut runs = store.sync_runs(practice, RUN_WINDOW).await?;
                // Newest first from the store; send in the order they happened.
                runs.reverse();
                Ok::<_, ApiError>(runs)
            }
        };
        let in_progress = |run: &SyncRun| run.status == enamel_domain::SyncRunStatus::Running;
        let wake = Wake::new(ctx.data::<Store>()?, Topic::SyncRun, practice);
        let runs = watch(every, wake, fetch, |run: &SyncRun| run.id, in_progress).await?;
        Ok(runs
            .filter(move |run| std::future::ready(stream.as_ref().is_none_or(|s| *s == run.stream)))
            .map(SyncRunInfo::from)
            .boxed())
    }

    /// Write-backs of the caller's practice as they change: proposed, approved, rejected,
    /// attempted, applied, confirmed… (each time with the write-back as it now is), from the
    /// moment of subscribing. Read from the store every poll interval, so changes made by
    /// other processes and replicas show up too. Needs the `read`, `propose` or `approve`
    /// scope.
    async fn write_back_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only changes into these states.")] state: Option<Vec<crate::writeback::WriteBackState>>,
    ) -> Result<BoxStream<'static, crate::writeback::WriteBack>, async_graphql::Error> {
        crate::writeback::changed(ctx, state).await
    }
}

/// The rows of successive polls that are new or differ from their version in the previous
/// poll. Only the last poll's rows are remembered, so memory follows the poll's size.
pub(crate) struct Changes<T, K> {
    key: fn(&T) -> K,
    seen: HashMap<K, T>,
}

impl<T: Clone + PartialEq, K: Eq + Hash> Changes<T, K> {
    /// Nothing seen yet.
    pub(crate) fn new(key: fn(&T) -> K) -> Self {
        Changes { key, seen: HashMap::new() }
    }

    /// Remembers `rows` (one poll, in the order to send) and returns those that are new or
    /// changed since the previous poll.
    pub(crate) fn diff(&mut self, rows: Vec<T>) -> Vec<T> {
        let mut seen = HashMap::with_capacity(rows.len());
        let mut changed = Vec::new();
        for row in rows {
            let key = (self.key)(&row);
            if self.seen.get(&key) != Some(&row) {
                changed.push(row.clone());
            }
            seen.insert(key, row);
        }
        self.seen = seen;
        changed
    }
}

/// What wakes a subscription before its next poll: the store's change notifications of one
/// topic for one practice.
pub(crate) struct Wake {
    changes: broadcast::Receiver<Change>,
    topic: Topic,
    practice: PracticeId,
}

impl Wake {
    /// Listens from now on (before the baseline read, so nothing falls in between).
    pub(crate) fn new(store: &Store, topic: Topic, practice: PracticeId) -> Wake {
        Wake { changes: store.changes(), topic, practice }
    }

    /// Resolves at the next change that concerns the subscription (or when some may have
    /// been missed); never when notifications have stopped (the poll goes on).
    async fn next(&mut self) {
        loop {
            match self.changes.recv().await {
                Ok(change) if change.concerns(self.topic, self.practice) => return,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }
}

/// Reads `fetch` whenever `wake` says the rows changed, and at least every `every`, and
/// yields each row that is new or changed since the previous read. The first read, made
/// before this returns (so that its error reaches the caller with its code), is the
/// baseline: of its rows only those `initial` accepts are yielded. A later read that fails
/// is logged and skipped; the next one catches up.
pub(crate) async fn watch<T, K, F, Fut>(
    every: Duration,
    wake: Wake,
    mut fetch: F,
    key: fn(&T) -> K,
    initial: impl Fn(&T) -> bool,
) -> Result<impl Stream<Item = T> + Send + 'static, ApiError>
where
    T: Clone + PartialEq + Send + 'static,
    K: Eq + Hash + Send + 'static,
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>, ApiError>> + Send,
{
    let mut changes = Changes::new(key);
    let baseline: Vec<T> = changes.diff(fetch().await?).into_iter().filter(|row| initial(row)).collect();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (ticks, wake, fetch, changes);
    let later = futures::stream::unfold(state, |(mut ticks, mut wake, mut fetch, mut changes)| async move {
        tokio::select! {
            _ = ticks.tick() => {}
            () = wake.next() => {}
        }
        let rows = match fetch().await {
            Ok(rows) => changes.diff(rows),
            Err(e) => {
                tracing::warn!(code = e.code.as_str(), "a subscription poll failed; retrying at the next one");
                Vec::new()
            }
        };
        Some((rows, (ticks, wake, fetch, changes)))
    });
    Ok(futures::stream::iter(baseline).chain(later.flat_map(futures::stream::iter)))
}

/// A GraphQL-over-WebSocket subprotocol (the `Sec-WebSocket-Protocol` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsProtocol {
    /// `graphql-transport-ws`, the current protocol (the `graphql-ws` library, GraphiQL).
    GraphqlTransportWs,
    /// `graphql-ws`, the legacy `subscriptions-transport-ws` protocol (Apollo's old client).
    GraphqlWs,
}

impl WsProtocol {
    /// Every supported protocol, preferred first.
    pub const ALL: [WsProtocol; 2] = [WsProtocol::GraphqlTransportWs, WsProtocol::GraphqlWs];

    /// The protocol's name.
    pub const fn name(self) -> &'static str {
        match self {
            WsProtocol::GraphqlTransportWs => "graphql-transport-ws",
            WsProtocol::GraphqlWs => "graphql-ws",
        }
    }

    /// The first supported protocol of a `Sec-WebSocket-Protocol` list (`a, b`), if any.
    pub fn negotiate(requested: &str) -> Option<WsProtocol> {
        requested
            .split(',')
            .map(str::trim)
            .find_map(|name| WsProtocol::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name)))
    }

    fn engine(self) -> WebSocketProtocols {
        match self {
            WsProtocol::GraphqlTransportWs => WebSocketProtocols::GraphQLWS,
            WsProtocol::GraphqlWs => WebSocketProtocols::SubscriptionsTransportWS,
        }
    }
}

/// What a session sends the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFrame {
    /// A protocol message (JSON text).
    Text(String),
    /// Close the socket with this code and reason; the session is over.
    Close {
        /// The close code (4403: the credential was refused; 4401: an operation before
        /// `connection_init`; 4408: no `connection_init` in time).
        code: u16,
        /// Why, for the client (at most 123 bytes).
        reason: String,
    },
}

/// Close codes of `graphql-transport-ws`.
const FORBIDDEN: u16 = 4403;
const UNAUTHORIZED: u16 = 4401;
const INIT_TIMEOUT: u16 = 4408;
const INTERNAL: u16 = 1011;

impl WsFrame {
    fn close(code: u16, reason: &str) -> WsFrame {
        // A close frame carries at most 123 bytes of reason.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        WsFrame::Close { code, reason: reason[..end].to_owned() }
    }
}

/// Why the session refused the client, when it did.
#[derive(Debug, Clone)]
struct Refusal {
    close: u16,
    code: Code,
    message: String,
}

impl Refusal {
    fn of(e: &ApiError) -> Refusal {
        let close = if e.code == Code::Internal { INTERNAL } else { FORBIDDEN };
        Refusal { close, code: e.code, message: e.message.clone() }
    }
}

/// What the parts of one session share.
#[derive(Default)]
struct Session {
    viewer: Option<Viewer>,
    token: Option<String>,
    refusal: Option<Refusal>,
}

fn lock(session: &Mutex<Session>) -> MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The API key in a `connection_init` payload: `{"Authorization": "Bearer <key>"}` (any
/// case), or `{"token": "<key>"}`.
fn token_in(payload: &serde_json::Value) -> Option<String> {
    let object = payload.as_object()?;
    let value = object.iter().find_map(|(name, value)| {
        let text = value.as_str()?;
        if name.eq_ignore_ascii_case("authorization") {
            let text = text.trim();
            let scheme = text.split_whitespace().next().unwrap_or_default();
            Some(if scheme.eq_ignore_ascii_case("bearer") { &text[scheme.len()..] } else { text })
        } else if name == "token" {
            Some(text)
        } else {
            None
        }
    })?;
    let token = value.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(Code::Unauthenticated, message)
}

impl Api {
    /// Runs one WebSocket session: `incoming` is the client's text messages (it ends when the
    /// client goes), the result is what to send, ending with a [`WsFrame::Close`] or when
    /// the client is gone.
    ///
    /// The credential is the API key in the `connection_init` payload, else `header_token`
    /// (the upgrade request's `Authorization: Bearer` key); `authenticate` turns a key into
    /// a viewer. Without a valid key the connection is refused (close 4403, and a
    /// `connection_error` first on `graphql-ws`) before any operation runs. The key is
    /// authenticated again every `Options::ws_recheck`, so a revoked key closes the
    /// session. Operations go through the same validation and limits as over HTTP.
    pub fn websocket<I, A, F>(
        &self,
        incoming: I,
        protocol: WsProtocol,
        header_token: Option<String>,
        authenticate: A,
    ) -> BoxStream<'static, WsFrame>
    where
        I: Stream<Item = String> + Send + 'static,
        A: Fn(String) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Viewer, ApiError>> + Send + 'static,
    {
        let session = Arc::new(Mutex::new(Session::default()));
        let authenticate = Arc::new(authenticate);

        // Every operation gets its own loaders: they batch but do not cache, since a
        // subscription lives long and must read fresh rows for each event.
        let input = incoming.map({
            let (session, store, delay) = (session.clone(), self.store.clone(), self.batch_delay);
            move |text: String| match ClientMessage::from_bytes(text.as_bytes()) {
                Ok(ClientMessage::Start { id, mut payload }) => {
                    let mut s = lock(&session);
                    if let Some(viewer) = &s.viewer {
                        let loaders = loader::loaders(store.clone(), viewer.practice_id(), delay);
                        loaders.enable_all_cache(false);
                        payload = payload.data(loaders);
                    } else {
                        s.refusal.get_or_insert(Refusal {
                            close: UNAUTHORIZED,
                            code: Code::Unauthenticated,
                            message: "send connection_init with an API key before any operation".into(),
                        });
                    }
                    Ok(ClientMessage::Start { id, payload })
                }
                other => other,
            }
        });

        let on_init = {
            let (session, authenticate) = (session.clone(), authenticate.clone());
            move |payload: serde_json::Value| async move {
                let result = match token_in(&payload).or(header_token) {
                    None => Err(unauthenticated(
                        "send an API key in connection_init: {\"Authorization\": \"Bearer <key>\"}",
                    )),
                    Some(token) => (*authenticate)(token.clone()).await.map(|viewer| (viewer, token)),
                };
                let mut s = lock(&session);
                match result {
                    Ok((viewer, token)) => {
                        tracing::debug!(practice_id = %viewer.practice_id(), "websocket session authenticated");
                        let mut data = Data::default();
                        data.insert(viewer.clone());
                        s.viewer = Some(viewer);
                        s.token = Some(token);
                        Ok(data)
                    }
                    Err(e) => {
                        s.refusal = Some(Refusal::of(&e));
                        Err(async_graphql::Error::new(e.message))
                    }
                }
            }
        };

        // Closes the session when no `connection_init` succeeded in time, or when its key
        // stops authenticating.
        let (init_timeout, recheck) = (self.ws_init_timeout, self.ws_recheck);
        let guard = {
            let session = session.clone();
            async move {
                tokio::time::sleep(init_timeout).await;
                if lock(&session).viewer.is_none() {
                    return WsFrame::close(INIT_TIMEOUT, "connection_init did not arrive in time");
                }
                loop {
                    tokio::time::sleep(recheck).await;
                    let Some(token) = lock(&session).token.clone() else { continue };
                    match (*authenticate)(token).await {
                        Ok(_) => {}
                        // The key was good a moment ago: a store hiccup does not end the session.
                        Err(e) if e.code == Code::Internal => {}
                        Err(e) => {
                            let practice_id = lock(&session).viewer.as_ref().map(|v| v.practice_id().to_string());
                            tracing::info!(practice_id, "closing a websocket session: its key no longer authenticates");
                            return WsFrame::close(FORBIDDEN, &e.message);
                        }
                    }
                }
            }
        };

        let engine = WebSocket::from_message_stream(self.ws_schema.clone(), input, protocol.engine())
            .on_connection_init(on_init);
        let mut engine = Box::pin(engine);
        let mut guard: Pin<Box<dyn Future<Output = WsFrame> + Send>> = Box::pin(guard);
        let mut done = false;
        futures::stream::poll_fn(move |cx| {
            if done {
                return Poll::Ready(None);
            }
            if let Poll::Ready(frame) = guard.as_mut().poll(cx) {
                done = true;
                return Poll::Ready(Some(frame));
            }
            let refusal = || lock(&session).refusal.clone();
            let frame = match engine.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(WsMessage::Text(text))) => match refusal() {
                    Some(r) if is_connection_error(&text) => WsFrame::Text(connection_error(&r)),
                    _ => WsFrame::Text(text),
                },
                Poll::Ready(Some(WsMessage::Close(code, reason))) => match refusal() {
                    Some(r) => WsFrame::close(r.close, &r.message),
                    None => WsFrame::close(code, &reason),
                },
                // The legacy protocol ends a refused session after `connection_error`:
                // close it with the refusal's code too.
                Poll::Ready(None) => match refusal() {
                    Some(r) => WsFrame::close(r.close, &r.message),
                    None => {
                        done = true;
                        return Poll::Ready(None);
                    }
                },
            };
            done = matches!(frame, WsFrame::Close { .. });
            Poll::Ready(Some(frame))
        })
        .boxed()
    }
}

fn is_connection_error(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v["type"] == "connection_error")
}

/// `connection_error` (legacy protocol) with the refusal's code, as errors elsewhere carry.
fn connection_error(r: &Refusal) -> String {
    serde_json::json!({
        "type": "connection_error",
        "payload": {"message": r.message, "extensions": {"code": r.code.as_str()}},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_yield_new_and_changed_rows_only() {
        let mut changes = Changes::new(|row: &(u8, &str)| row.0);
        assert_eq!(changes.diff(vec![(1, "running"), (2, "done")]), vec![(1, "running"), (2, "done")]);
        assert_eq!(changes.diff(vec![(1, "running"), (2, "done")]), vec![]);
        assert_eq!(changes.diff(vec![(1, "done"), (2, "done"), (3, "running")]), vec![(1, "done"), (3, "running")]);
        assert_eq!(changes.diff(vec![(3, "running")]), vec![]);
        // A row that left the window and is seen again counts as new.
        assert_eq!(changes.diff(vec![(1, "done"), (3, "running")]), vec![(1, "done")]);
    }

    #[test]
    fn tokens_come_from_authorization_or_token() {
        let token = |v: serde_json::Value| token_in(&v);
        assert_eq!(token(serde_json::json!({"Authorization": "Bearer enm_a_b"})).as_deref(), Some("enm_a_b"));
        assert_eq!(token(serde_json::json!({"authorization": "bearer enm_a_b "})).as_deref(), Some("enm_a_b"));
        assert_eq!(token(serde_json::json!({"token": "enm_a_b"})).as_deref(), Some("enm_a_b"));
        assert_eq!(token(serde_json::json!({"Authorization": "enm_a_b"})).as_deref(), Some("enm_a_b"));
        assert_eq!(token(serde_json::json!({"Authorization": "Bearer  "})), None);
        assert_eq!(token(serde_json::json!({"other": "enm_a_b"})), None);
        assert_eq!(token(serde_json::Value::Null), None);
    }

    #[test]
    fn protocols_are_negotiated_from_the_header() {
        assert_eq!(WsProtocol::negotiate("graphql-transport-ws"), Some(WsProtocol::GraphqlTransportWs));
        assert_eq!(WsProtocol::negotiate("foo, graphql-ws"), Some(WsProtocol::GraphqlWs));
        assert_eq!(WsProtocol::negotiate("graphql-ws, graphql-transport-ws"), Some(WsProtocol::GraphqlWs));
        assert_eq!(WsProtocol::negotiate("mqtt"), None);
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        let WsFrame::Close { reason, .. } = WsFrame::close(FORBIDDEN, &"é".repeat(100)) else { unreachable!() };
        assert!(reason.len() <= 123 && reason.chars().all(|c| c == 'é'));
    }
}
