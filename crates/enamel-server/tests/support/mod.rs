//! The harness of the HTTP and WebSocket tests: a fresh store per test on each backend
//! (`tests/it/support.rs`, included), the router over it, and fixtures made through the
//! store's API.

// Each test binary uses part of the harness.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result};
use enamel_domain::ids::ConnectionId;
use enamel_domain::{Currency, PracticeId, Scope, Source};
use enamel_graphql::{Api, Options};
use enamel_server::http::{HttpConfig, router, serve};
use enamel_store::{NewConnection, NewPractice, Store};

// The fresh-store-per-backend harness is the integration tests' own, shared rather than
// copied.
#[allow(unreachable_pub)]
#[path = "../../../../tests/it/support.rs"]
mod harness;
pub(crate) use harness::{Backend, backend_tests, run};

/// A practice.
pub(crate) async fn practice(store: &Store, name: &str) -> Result<PracticeId> {
    let new = NewPractice { name: name.to_owned(), time_zone: chrono_tz::America::New_York, currency: Currency::Usd };
    Ok(store.create_practice(new).await?.id)
}

/// A practice with one (Open Dental) connection, as sync runs need.
pub(crate) async fn connected(store: &Store, name: &str) -> Result<(PracticeId, ConnectionId)> {
    let p = practice(store, name).await?;
    let new = NewConnection {
        kind: Source::OpenDental,
        base_url: "http://sim".into(),
        mode: Some("remote".into()),
        credentials: None,
    };
    Ok((p, store.add_connection(p, new).await?.id))
}

/// A new API key's token.
pub(crate) async fn key(store: &Store, practice: PracticeId, scopes: &[Scope]) -> Result<String> {
    Ok(store.create_api_key(practice, "test key", scopes, None).await?.1)
}

/// Options for tests: subscriptions poll every 50 ms.
pub(crate) fn options() -> Options {
    Options { poll_interval: Some(Duration::from_millis(50)), ..Default::default() }
}

/// The router over `store`.
pub(crate) fn app(store: &Store, options: Options, config: HttpConfig) -> axum::Router {
    router(Api::new(store.clone(), options), store.clone(), config)
}

/// A server on 127.0.0.1 (any port), stopped when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// Serves `app` until dropped.
    pub(crate) async fn start(app: axum::Router) -> Result<Server> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = tokio::sync::oneshot::channel();
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let on_ready = move |addr| {
                let _ = ready.send(addr);
            };
            if let Err(e) = serve(addr, app, on_ready, shutdown).await {
                eprintln!("test server failed: {e:#}");
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(10), bound).await.context("server start")??;
        Ok(Server { addr, stop: Some(stop) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
