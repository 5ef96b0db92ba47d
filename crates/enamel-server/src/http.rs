//! The HTTP surface (`enamel serve`): `POST /graphql` (JSON only, one request per body),
//! subscriptions over WebSocket at `GET /graphql` (`graphql-transport-ws` or the legacy
//! `graphql-ws`), GraphiQL at `/` when enabled, `/healthz`, `/readyz` and `/metrics`
//! (Prometheus, when a recorder is installed). Every request gets an id (`X-Request-Id`,
//! kept from the caller when it is a plain token, else new), logged with its method, path,
//! status, GraphQL operation name and latency — never a variable or a value. Callers
//! authenticate with `Authorization: Bearer <API key>` (on WebSocket, in the
//! `connection_init` payload or on the upgrade request); the key binds the request to its
//! practice. This module only moves bytes and frames: `enamel_graphql` runs the protocol.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use enamel_graphql::{Api, ApiError, Code, Viewer, WsFrame, WsProtocol, error_response};
use enamel_store::Store;
use futures::{SinkExt as _, StreamExt as _};

/// How the HTTP server behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Serve GraphiQL at `/`.
    pub graphiql: bool,
    /// Largest request body (and WebSocket message).
    pub body_limit: usize,
    /// Longest a request may run (waiting for its turn included).
    pub timeout: Duration,
    /// Most GraphQL requests executed at once; others wait for a turn.
    pub max_concurrent: usize,
    /// How long an authenticated key is trusted before it is checked again (revocation
    /// takes effect within this time).
    pub auth_cache_ttl: Duration,
    /// Requests per second each credential may make (`None`: unlimited). A credential over
    /// it is answered 429 with `Retry-After`.
    pub rate_limit: Option<RateLimit>,
    /// Bearer JWTs accepted beside API keys (`None`: API keys only).
    pub jwt: Option<JwtConfig>,
    /// Renders `/metrics` (Prometheus text); `None`: 404.
    pub metrics: Option<MetricsRenderer>,
}

/// Renders the Prometheus exposition of `/metrics`: the recorder's counters and histograms
/// plus gauges read from the store at scrape time.
#[derive(Clone)]
pub struct MetricsRenderer(pub Arc<dyn Fn() -> futures::future::BoxFuture<'static, String> + Send + Sync>);

impl std::fmt::Debug for MetricsRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsRenderer")
    }
}

/// How bearer JWTs are verified: HS256 with a shared secret or RS256 with a public key,
/// only that algorithm, `exp` required (60 s leeway), `aud` checked when configured. The
/// claims carry `sub` (who), `practice` (the practice id), `scopes` (`"read,propose"` or a
/// list) and `exp`.
#[derive(Clone)]
pub struct JwtConfig {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

impl JwtConfig {
    /// HS256 with `secret` (at least 32 bytes).
    pub fn hs256(secret: &[u8], audience: Option<&str>) -> Result<Self> {
        anyhow::ensure!(secret.len() >= 32, "the JWT HS256 secret must be at least 32 bytes");
        Ok(Self::with(jsonwebtoken::DecodingKey::from_secret(secret), jsonwebtoken::Algorithm::HS256, audience))
    }

    /// RS256 with a PEM public key (`-----BEGIN PUBLIC KEY-----`).
    pub fn rs256(public_key_pem: &[u8], audience: Option<&str>) -> Result<Self> {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_key_pem)
            .context("the JWT RS256 public key is not a PEM RSA public key")?;
        Ok(Self::with(key, jsonwebtoken::Algorithm::RS256, audience))
    }

    fn with(key: jsonwebtoken::DecodingKey, algorithm: jsonwebtoken::Algorithm, audience: Option<&str>) -> Self {
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        match audience {
            Some(aud) => {
                // Required, not only checked when present.
                validation.set_required_spec_claims(&["exp", "sub", "aud"]);
                validation.set_audience(&[aud]);
            }
            None => {
                validation.set_required_spec_claims(&["exp", "sub"]);
                validation.validate_aud = false;
            }
        }
        Self { key, validation }
    }
}

/// The claims of an Enamel bearer JWT.
#[derive(serde::Deserialize)]
struct JwtClaims {
    sub: String,
    practice: uuid::Uuid,
    scopes: JwtScopes,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum JwtScopes {
    Text(String),
    List(Vec<String>),
}

/// A per-credential request rate: a steady rate and a burst above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: std::num::NonZeroU32,
    /// Requests allowed at once before the rate applies.
    pub burst: std::num::NonZeroU32,
}

impl RateLimit {
    /// `per_second` sustained with a burst of twice that; `None` for 0 (unlimited).
    pub fn per_second(n: u32) -> Option<RateLimit> {
        let per_second = std::num::NonZeroU32::new(n)?;
        let burst = per_second.saturating_mul(std::num::NonZeroU32::MIN.saturating_add(1));
        Some(RateLimit { per_second, burst })
    }
}

type Limiter = governor::DefaultKeyedRateLimiter<String>;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            graphiql: false,
            body_limit: 256 * 1024,
            timeout: Duration::from_secs(30),
            max_concurrent: 16,
            auth_cache_ttl: Duration::from_secs(10),
            rate_limit: RateLimit::per_second(50),
            jwt: None,
            metrics: None,
        }
    }
}

#[derive(Clone)]
struct AppState {
    api: Api,
    store: Store,
    config: HttpConfig,
    auth_cache: Arc<Mutex<HashMap<String, (Viewer, Instant)>>>,
    limiter: Option<Arc<Limiter>>,
    /// Turns to execute a GraphQL request (`HttpConfig::max_concurrent`).
    turns: Arc<tokio::sync::Semaphore>,
}

/// The router.
pub fn router(api: Api, store: Store, config: HttpConfig) -> Router {
    let limit = config.body_limit;
    let limiter = config.rate_limit.map(|r| {
        Arc::new(governor::RateLimiter::keyed(governor::Quota::per_second(r.per_second).allow_burst(r.burst)))
    });
    let turns = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent.max(1)));
    let state = AppState { api, store, config, auth_cache: Arc::default(), limiter, turns };
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", post(graphql).get(graphql_get))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// Gives each request an id — the caller's `X-Request-Id` when it is a short plain token (so
/// a load balancer's id follows the request), else a new UUID — echoed in `X-Request-Id`;
/// runs the request inside a span carrying it and logs one line when it completes.
async fn request_id(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument as _;
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let operation = response.extensions().get::<Operation>().map_or("-", |o| o.0.as_str()).to_owned();
    span.in_scope(|| {
        tracing::info!(
            %method,
            path,
            status = response.status().as_u16(),
            operation,
            millis = started.elapsed().as_millis() as u64,
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The GraphQL operation a response answered (for the access log).
#[derive(Debug, Clone)]
struct Operation(String);

/// A metric label for an operation name: GraphQL names are `[_A-Za-z][_0-9A-Za-z]*`; others
/// (and names past 64 characters) are `invalid`, no name is `anonymous`.
fn operation_label(name: Option<&str>) -> String {
    match name {
        None | Some("") => "anonymous".to_owned(),
        Some(n)
            if n.len() <= 64
                && n.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
                && n.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) =>
        {
            n.to_owned()
        }
        Some(_) => "invalid".to_owned(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    match &state.config.metrics {
        Some(render) => {
            let text = (render.0)().await;
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

/// Binds `addr` and serves until `shutdown` resolves. Calls `on_ready` with the bound
/// address once accepting connections.
pub async fn serve(
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

fn json(status: StatusCode, body: enamel_graphql::Response) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.into_body()).into_response()
}

fn refuse(status: StatusCode, code: Code, message: &str) -> Response {
    json(status, error_response(code, message))
}

/// `GET /graphql`: a WebSocket upgrade starts a subscription session; a plain GET runs
/// nothing (queries go in a POST body, so a link or an image tag can never run one).
async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) if headers.contains_key(header::UPGRADE) => return rejection.into_response(),
        Err(_) => {
            return refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::BadUserInput,
                "send queries with POST /graphql (application/json), subscriptions over WebSocket",
            );
        }
    };
    let requested: Vec<&str> =
        headers.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter().filter_map(|v| v.to_str().ok()).collect();
    let Some(protocol) = WsProtocol::negotiate(&requested.join(",")) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            "ask for a WebSocket subprotocol: Sec-WebSocket-Protocol: graphql-transport-ws (or graphql-ws)",
        );
    };
    // A key on the upgrade request is checked now, so a bad one is a plain 401; the session
    // authenticates it again if `connection_init` carries none.
    let header_token = match bearer(&headers) {
        Some(token) => match viewer_for(&state, token).await {
            Ok(_) => Some(token.to_owned()),
            Err(e) => return e.response(),
        },
        None if headers.contains_key(header::AUTHORIZATION) => return AuthError::Missing.response(),
        None => None,
    };
    let limit = state.config.body_limit;
    upgrade
        .protocols([protocol.name()])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| websocket(state, socket, protocol, header_token))
}

/// Pipes one WebSocket: client text messages into the API's session, its frames out.
async fn websocket(state: AppState, socket: WebSocket, protocol: WsProtocol, header_token: Option<String>) {
    let (mut sink, source) = socket.split();
    let incoming = source
        .take_while(|m| std::future::ready(matches!(m, Ok(m) if !matches!(m, Message::Close(_)))))
        .filter_map(|m| {
            std::future::ready(match m {
                Ok(Message::Text(text)) => Some(text.as_str().to_owned()),
                _ => None,
            })
        });
    let auth_state = state.clone();
    let authenticate = move |token: String| {
        let state = auth_state.clone();
        async move { viewer_for(&state, &token).await.map_err(AuthError::api_error) }
    };
    let mut outgoing = state.api.websocket(incoming, protocol, header_token, authenticate);
    let close = loop {
        match outgoing.next().await {
            Some(WsFrame::Text(text)) => {
                if sink.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
            Some(WsFrame::Close { code, reason }) => {
                tracing::debug!(code, protocol = protocol.name(), "closing a websocket session");
                break Some(CloseFrame { code, reason: reason.into() });
            }
            None => break None,
        }
    };
    // The client may already be gone.
    let _ = sink.send(Message::Close(close)).await;
    let _ = sink.close().await;
}

async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::BadUserInput, "the body must be application/json");
    }
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = format!("the body is larger than {} bytes", state.config.body_limit);
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, Code::LimitExceeded, &message);
        }
        Err(e) => return refuse(e.status(), Code::BadUserInput, "the body could not be read"),
    };
    // Parsed once, straight into the request; a batch (a JSON array) is refused by its
    // first byte, and serde tells malformed JSON from JSON of the wrong shape.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, "batched requests are not accepted: send one");
    }
    let request: enamel_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) if e.is_data() => {
            return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, &format!("not a GraphQL request: {e}"));
        }
        Err(e) => return refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, &format!("malformed JSON: {e}")),
    };
    let viewer = match authenticate(&state, &headers).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if let Some(resp) = throttled(&state, &viewer) {
        return resp;
    }
    let operation = operation_label(request.operation_name.as_deref());
    let started = Instant::now();
    // Executions are CPU work: past a few per core more at once only hold more memory, so
    // requests beyond `max_concurrent` wait for a turn (the timeout covers the wait).
    let run = async {
        let _turn = state.turns.acquire().await;
        state.api.execute(request, Some(viewer)).await
    };
    let (mut response, outcome) = match tokio::time::timeout(state.config.timeout, run).await {
        Ok(resp) => {
            let outcome = if resp.has_errors() { "error" } else { "ok" };
            (json(StatusCode::OK, resp), outcome)
        }
        Err(_) => (refuse(StatusCode::OK, Code::LimitExceeded, "the request ran out of time"), "timeout"),
    };
    metrics::counter!("enamel_graphql_requests_total", "operation" => operation.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("enamel_graphql_request_seconds", "operation" => operation.clone())
        .record(started.elapsed().as_secs_f64());
    response.extensions_mut().insert(Operation(operation));
    response
}

/// A 429 with `Retry-After` when the credential is over its rate.
fn throttled(state: &AppState, viewer: &Viewer) -> Option<Response> {
    use governor::clock::Clock as _;
    let limiter = state.limiter.as_ref()?;
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    let not_until = limiter.check_key(&viewer.credential).err()?;
    let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let message = format!("too many requests for this credential: retry in {seconds} s");
    let mut resp = refuse(StatusCode::TOO_MANY_REQUESTS, Code::LimitExceeded, &message);
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    Some(resp)
}

/// Why a credential was refused.
#[derive(Debug, Clone, Copy)]
enum AuthError {
    Missing,
    Unknown,
    Unusable,
    Internal,
}

impl AuthError {
    fn message(self) -> &'static str {
        match self {
            AuthError::Missing => "send an API key: Authorization: Bearer <key>",
            AuthError::Unknown => "unknown API key or invalid token",
            AuthError::Unusable => "this API key or token is expired or revoked",
            AuthError::Internal => "internal error",
        }
    }

    fn code(self) -> Code {
        if matches!(self, AuthError::Internal) { Code::Internal } else { Code::Unauthenticated }
    }

    fn response(self) -> Response {
        let status = if matches!(self, AuthError::Internal) {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::UNAUTHORIZED
        };
        refuse(status, self.code(), self.message())
    }

    fn api_error(self) -> ApiError {
        ApiError::new(self.code(), self.message())
    }
}

/// The key of an `Authorization: Bearer <key>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
    let token = bearer(headers).ok_or(AuthError::Missing).map_err(AuthError::response)?;
    viewer_for(state, token).await.map_err(AuthError::response)
}

/// The viewer a JWT stands for: verified signature, unexpired, a known practice, known
/// scopes. Not cached (verification is local; only the practice is read).
async fn jwt_viewer(state: &AppState, jwt: &JwtConfig, token: &str) -> Result<Viewer, AuthError> {
    let claims = match jsonwebtoken::decode::<JwtClaims>(token, &jwt.key, &jwt.validation) {
        Ok(data) => data.claims,
        Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
            return Err(AuthError::Unusable);
        }
        Err(e) => {
            tracing::debug!(reason = ?e.kind(), "a bearer JWT was refused");
            return Err(AuthError::Unknown);
        }
    };
    let scopes = match claims.scopes {
        JwtScopes::Text(text) => text,
        JwtScopes::List(list) => list.join(","),
    };
    let scopes = enamel_domain::Scope::parse_list(&scopes).map_err(|_| AuthError::Unknown)?;
    let practice = match state.store.practice(claims.practice.into()).await {
        Ok(p) => p,
        Err(enamel_store::StoreError::NotFound { .. }) => return Err(AuthError::Unknown),
        Err(e) => {
            tracing::error!(error = %e, "authentication lookup failed");
            return Err(AuthError::Internal);
        }
    };
    Ok(Viewer { practice, credential: format!("jwt:{}", claims.sub), name: claims.sub, scopes })
}

/// The viewer an API key (or, when configured, a JWT) stands for; API keys are cached for
/// `auth_cache_ttl`.
async fn viewer_for(state: &AppState, token: &str) -> Result<Viewer, AuthError> {
    if let Some(jwt) = &state.config.jwt
        && !token.starts_with("enm_")
        && token.matches('.').count() == 2
    {
        return jwt_viewer(state, jwt, token).await;
    }
    if let Ok(cache) = state.auth_cache.lock()
        && let Some((viewer, at)) = cache.get(token)
        && at.elapsed() < state.config.auth_cache_ttl
    {
        return Ok(viewer.clone());
    }
    let internal = |e: enamel_store::StoreError| {
        tracing::error!(error = %e, "authentication lookup failed");
        AuthError::Internal
    };
    let key = state.store.authenticate(token).await.map_err(internal)?;
    let key = key.ok_or(AuthError::Unknown)?;
    if !key.is_usable(chrono::Utc::now()) {
        return Err(AuthError::Unusable);
    }
    let practice = state.store.practice(key.practice_id).await.map_err(internal)?;
    let viewer = Viewer { practice, credential: format!("api_key:{}", key.id), name: key.name, scopes: key.scopes };
    if let Ok(mut cache) = state.auth_cache.lock() {
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(token.to_owned(), (viewer.clone(), Instant::now()));
    }
    Ok(viewer)
}
