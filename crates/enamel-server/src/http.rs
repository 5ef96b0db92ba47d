//! The HTTP surface (`enamel serve`): `POST /graphql` (JSON only, one request per body),
//! GraphiQL at `/` when enabled, `/healthz` and `/readyz`. Callers authenticate with
//! `Authorization: Bearer <API key>`; the key binds the request to its practice.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use enamel_graphql::{Api, Code, Viewer, error_response};
use enamel_store::Store;

/// How the HTTP server behaves.
#[derive(Debug, Clone)]
pub(crate) struct HttpConfig {
    /// Serve GraphiQL at `/`.
    pub(crate) graphiql: bool,
    /// Largest request body.
    pub(crate) body_limit: usize,
    /// Longest a request may run.
    pub(crate) timeout: Duration,
    /// How long an authenticated key is trusted before it is checked again (revocation
    /// takes effect within this time).
    pub(crate) auth_cache_ttl: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            graphiql: false,
            body_limit: 256 * 1024,
            timeout: Duration::from_secs(30),
            auth_cache_ttl: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
struct AppState {
    api: Api,
    store: Store,
    config: HttpConfig,
    auth_cache: Arc<Mutex<HashMap<String, (Viewer, Instant)>>>,
}

/// The router.
pub(crate) fn router(api: Api, store: Store, config: HttpConfig) -> Router {
    let limit = config.body_limit;
    let state = AppState { api, store, config, auth_cache: Arc::default() };
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", post(graphql).get(graphql_get))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Binds `addr` and serves until `shutdown` resolves. Calls `on_ready` with the bound
/// address once accepting connections.
pub(crate) async fn serve(
    addr: SocketAddr,
    router: Router,
    on_ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    on_ready(bound);
    tracing::info!(%bound, "serving GraphQL");
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await.context("the HTTP server failed")
}

async fn graphiql(State(state): State<AppState>) -> Response {
    if state.config.graphiql {
        Html(enamel_graphql::graphiql_html("/graphql")).into_response()
    } else {
        (StatusCode::NOT_FOUND, "GraphiQL is disabled; POST /graphql").into_response()
    }
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.store.pending_migrations().await {
        Ok(p) if p.is_empty() => (StatusCode::OK, "ready").into_response(),
        Ok(_) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unreachable").into_response(),
    }
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn refuse(status: StatusCode, code: Code, message: &str) -> Response {
    json(status, &error_response(code, message).0)
}

async fn graphql_get() -> Response {
    refuse(StatusCode::METHOD_NOT_ALLOWED, Code::BadUserInput, "send queries with POST /graphql (application/json)")
}

async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::BadUserInput, "the body must be application/json");
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, &format!("malformed JSON: {e}")),
    };
    if value.is_array() {
        return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, "batched requests are not accepted: send one");
    }
    let request: enamel_graphql::Request = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, &format!("not a GraphQL request: {e}"));
        }
    };
    let viewer = match authenticate(&state, &headers).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    match tokio::time::timeout(state.config.timeout, state.api.execute(request, Some(viewer))).await {
        Ok(resp) => json(StatusCode::OK, &resp.0),
        Err(_) => refuse(StatusCode::OK, Code::LimitExceeded, "the request ran out of time"),
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
    let unauthenticated = |message: &str| refuse(StatusCode::UNAUTHORIZED, Code::Unauthenticated, message);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| unauthenticated("send an API key: Authorization: Bearer <key>"))?;
    if let Ok(cache) = state.auth_cache.lock()
        && let Some((viewer, at)) = cache.get(token)
        && at.elapsed() < state.config.auth_cache_ttl
    {
        return Ok(viewer.clone());
    }
    let internal = |e: enamel_store::StoreError| {
        tracing::error!(error = %e, "authentication lookup failed");
        refuse(StatusCode::INTERNAL_SERVER_ERROR, Code::Internal, "internal error")
    };
    let key = state.store.authenticate(token).await.map_err(internal)?;
    let key = key.ok_or_else(|| unauthenticated("unknown API key"))?;
    if !key.is_usable(chrono::Utc::now()) {
        return Err(unauthenticated("this API key is expired or revoked"));
    }
    let practice = state.store.practice(key.practice_id).await.map_err(internal)?;
    let viewer = Viewer { practice, name: key.name, scopes: key.scopes };
    if let Ok(mut cache) = state.auth_cache.lock() {
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(token.to_owned(), (viewer.clone(), Instant::now()));
    }
    Ok(viewer)
}
