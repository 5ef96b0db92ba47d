//! The HTTP surface of `enamel serve`, request by request through the router: JSON-only
//! `POST /graphql`, API keys, no GET execution, no batches, body limit, health, GraphiQL,
//! introspection. On SQLite and PostgreSQL.

mod support;

use anyhow::{Context as _, Result, ensure};
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use enamel_domain::Scope;
use enamel_graphql::Options;
use enamel_server::http::HttpConfig;
use enamel_store::Store;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use support::{app, backend_tests, key, practice};

/// A response: status, content type and body.
struct Answer {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.body).with_context(|| format!("not JSON ({}): {}", self.status, self.body))
    }

    /// The first error's `extensions.code`.
    fn code(&self) -> Result<String> {
        let body = self.json()?;
        ensure!(body.get("data").is_none_or(Value::is_null), "an error carries no data: {body}");
        body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned).context("no extensions.code")
    }
}

/// Sends one request through `router`.
async fn send(router: &axum::Router, request: Request<Body>) -> Result<Answer> {
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let retry_after = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = String::from_utf8(to_bytes(response.into_body(), usize::MAX).await?.to_vec())?;
    Ok(Answer { status, content_type, retry_after, body })
}

/// `POST /graphql` with `content_type` and `body`, with the key when given.
fn post(token: Option<&str>, content_type: &str, body: impl Into<String>) -> Result<Request<Body>> {
    let mut request =
        Request::builder().method(Method::POST).uri("/graphql").header(header::CONTENT_TYPE, content_type);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    Ok(request.body(Body::from(body.into()))?)
}

fn query(q: &str) -> String {
    json!({ "query": q }).to_string()
}

fn get(uri: &str, token: Option<&str>) -> Result<Request<Body>> {
    let mut request = Request::builder().method(Method::GET).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    Ok(request.body(Body::empty())?)
}

const VIEWER: &str = "{ viewer { name scopes practice { name } } }";

async fn post_json_with_a_valid_key_runs_the_query(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let router = app(&store, Options::default(), HttpConfig::default());
    for content_type in ["application/json", "application/json; charset=utf-8"] {
        let answer = send(&router, post(Some(&token), content_type, query(VIEWER))?).await?;
        ensure!(answer.status == StatusCode::OK, "{} {}", answer.status, answer.body);
        ensure!(answer.content_type == "application/json", "content type {}", answer.content_type);
        let body = answer.json()?;
        ensure!(
            body == json!({"data": {"viewer": {"name": "test key", "scopes": ["read"], "practice": {"name": "Smile Street"}}}}),
            "{body}"
        );
    }
    Ok(())
}

async fn missing_wrong_expired_and_revoked_keys_are_401(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let good = key(&store, p, &[Scope::Read]).await?;
    let (revoked, revoked_token) = store.create_api_key(p, "revoked", &[Scope::Read], None).await?;
    store.revoke_api_key(p, revoked.id).await?;
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    let (_, expired_token) = store.create_api_key(p, "expired", &[Scope::Read], Some(past)).await?;
    // The same prefix with another secret.
    let (prefix, _) = good.rsplit_once('_').context("token shape")?;
    let forged = format!("{prefix}_{}", "0".repeat(48));
    let router = app(&store, Options::default(), HttpConfig::default());

    let refused: [(Option<&str>, &str); 5] = [
        (None, "send an API key"),
        (Some("not-a-key"), "unknown API key"),
        (Some(&forged), "unknown API key"),
        (Some(&revoked_token), "expired or revoked"),
        (Some(&expired_token), "expired or revoked"),
    ];
    for (token, message) in refused {
        let answer = send(&router, post(token, "application/json", query(VIEWER))?).await?;
        ensure!(answer.status == StatusCode::UNAUTHORIZED, "{token:?}: {} {}", answer.status, answer.body);
        ensure!(answer.content_type == "application/json", "{token:?}: {}", answer.content_type);
        ensure!(answer.code()? == "UNAUTHENTICATED", "{token:?}: {}", answer.body);
        ensure!(
            answer.json()?["errors"][0]["message"].as_str().is_some_and(|m| m.contains(message)),
            "{}",
            answer.body
        );
    }
    // Another scheme than Bearer is no key.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Basic {good}"))
        .body(Body::from(query(VIEWER)))?;
    let answer = send(&router, request).await?;
    ensure!(answer.status == StatusCode::UNAUTHORIZED && answer.code()? == "UNAUTHENTICATED", "{}", answer.body);

    // The good key still works, and revoking it takes effect once the cache entry ages out.
    let router =
        app(&store, Options::default(), HttpConfig { auth_cache_ttl: std::time::Duration::ZERO, ..Default::default() });
    let answer = send(&router, post(Some(&good), "application/json", query(VIEWER))?).await?;
    ensure!(answer.status == StatusCode::OK, "{}", answer.body);
    let id = store.api_keys(p).await?.into_iter().find(|k| k.name == "test key").context("the key")?.id;
    store.revoke_api_key(p, id).await?;
    let answer = send(&router, post(Some(&good), "application/json", query(VIEWER))?).await?;
    ensure!(answer.status == StatusCode::UNAUTHORIZED && answer.code()? == "UNAUTHENTICATED", "{}", answer.body);
    Ok(())
}

async fn only_json_bodies_are_accepted(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let router = app(&store, Options::default(), HttpConfig::default());
    let form = format!("query={}", "%7Bviewer%7Bname%7D%7D");
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", form.clone()),
        ("text/plain", query(VIEWER)),
        ("multipart/form-data; boundary=x", query(VIEWER)),
        ("application/graphql", VIEWER.to_owned()),
    ] {
        let answer = send(&router, post(Some(&token), content_type, body)?).await?;
        ensure!(
            answer.status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}: {} {}",
            answer.status,
            answer.body
        );
        ensure!(answer.code()? == "BAD_USER_INPUT", "{content_type}: {}", answer.body);
    }
    // No content type at all.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(query(VIEWER)))?;
    let answer = send(&router, request).await?;
    ensure!(answer.status == StatusCode::UNSUPPORTED_MEDIA_TYPE, "{} {}", answer.status, answer.body);
    // JSON that is not a GraphQL request.
    for body in ["{", "{\"variables\": {}}", "42"] {
        let answer = send(&router, post(Some(&token), "application/json", body)?).await?;
        ensure!(answer.status == StatusCode::BAD_REQUEST, "{body}: {} {}", answer.status, answer.body);
        ensure!(answer.code()? == "BAD_USER_INPUT", "{body}: {}", answer.body);
    }
    Ok(())
}

async fn get_requests_do_not_run_queries(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let router = app(&store, Options::default(), HttpConfig::default());
    for uri in ["/graphql?query=%7Bviewer%7Bname%7D%7D", "/graphql?query={viewer{name}}", "/graphql"] {
        let answer = send(&router, get(uri, Some(&token))?).await?;
        ensure!(answer.status == StatusCode::METHOD_NOT_ALLOWED, "{uri}: {} {}", answer.status, answer.body);
        ensure!(answer.code()? == "BAD_USER_INPUT", "{uri}: {}", answer.body);
        ensure!(!answer.body.contains("test key"), "{uri}: the query ran: {}", answer.body);
    }
    // Other methods are not routed.
    let request = Request::builder().method(Method::PUT).uri("/graphql").body(Body::from(query(VIEWER)))?;
    let answer = send(&router, request).await?;
    ensure!(answer.status == StatusCode::METHOD_NOT_ALLOWED, "{} {}", answer.status, answer.body);
    Ok(())
}

async fn batched_requests_are_refused(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let router = app(&store, Options::default(), HttpConfig::default());
    let batch = json!([{ "query": VIEWER }, { "query": VIEWER }]).to_string();
    let answer = send(&router, post(Some(&token), "application/json", batch)?).await?;
    ensure!(answer.status == StatusCode::BAD_REQUEST, "{} {}", answer.status, answer.body);
    ensure!(answer.code()? == "BAD_USER_INPUT", "{}", answer.body);
    ensure!(!answer.body.contains("test key"), "the batch ran: {}", answer.body);
    Ok(())
}

async fn bodies_over_the_limit_are_413(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let config = HttpConfig { body_limit: 1024, ..Default::default() };
    let router = app(&store, Options::default(), config);
    let padded = |n: usize| json!({ "query": format!("{VIEWER}{}", " ".repeat(n)) }).to_string();
    let answer = send(&router, post(Some(&token), "application/json", padded(2000))?).await?;
    ensure!(answer.status == StatusCode::PAYLOAD_TOO_LARGE, "{} {}", answer.status, answer.body);
    ensure!(answer.code()? == "LIMIT_EXCEEDED", "{}", answer.body);
    // Just under the limit runs.
    let body = padded(900);
    ensure!(body.len() < 1024, "{}", body.len());
    let answer = send(&router, post(Some(&token), "application/json", body)?).await?;
    ensure!(
        answer.status == StatusCode::OK && answer.json()?["data"]["viewer"]["name"] == "test key",
        "{}",
        answer.body
    );
    Ok(())
}

async fn each_key_is_rate_limited_with_retry_after(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let busy = key(&store, p, &[Scope::Read]).await?;
    let calm = key(&store, p, &[Scope::Read]).await?;
    let config = HttpConfig { rate_limit: enamel_server::http::RateLimit::per_second(1), ..Default::default() };
    let router = app(&store, Options::default(), config);
    let query = || json!({ "query": VIEWER }).to_string();
    // A burst of two, then the rate: the third request at once is refused.
    for _ in 0..2 {
        let answer = send(&router, post(Some(&busy), "application/json", query())?).await?;
        ensure!(answer.status == StatusCode::OK, "{} {}", answer.status, answer.body);
    }
    let refused = send(&router, post(Some(&busy), "application/json", query())?).await?;
    ensure!(refused.status == StatusCode::TOO_MANY_REQUESTS, "{} {}", refused.status, refused.body);
    ensure!(refused.code()? == "LIMIT_EXCEEDED", "{}", refused.body);
    let wait: u64 = refused.retry_after.as_deref().unwrap_or_default().parse()?;
    ensure!((1..=2).contains(&wait), "Retry-After {wait}");
    // Another key is not slowed by it.
    let answer = send(&router, post(Some(&calm), "application/json", query())?).await?;
    ensure!(answer.status == StatusCode::OK, "{} {}", answer.status, answer.body);
    // After the wait, the busy key is served again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let answer = send(&router, post(Some(&busy), "application/json", query())?).await?;
    ensure!(answer.status == StatusCode::OK, "{} {}", answer.status, answer.body);
    Ok(())
}

/// The rest of graphql-cop's checks: directive overloading is refused, and no answer
/// carries tracing (Apollo's `extensions.tracing`) or any other extension.
async fn directive_overloading_is_refused_and_nothing_is_traced(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let router = app(&store, Options::default(), HttpConfig::default());
    let overloaded = format!("{{ viewer {{ name {} }} }}", "@include(if: true)".repeat(40));
    let answer = send(&router, post(Some(&token), "application/json", query(&overloaded))?).await?;
    ensure!(answer.code()? == "LIMIT_EXCEEDED", "{}", answer.body);
    ensure!(answer.body.contains("directives"), "{}", answer.body);
    let unknown = format!("{{ __typename {} }}", "@aa".repeat(40));
    let answer = send(&router, post(Some(&token), "application/json", query(&unknown))?).await?;
    ensure!(answer.code()? == "LIMIT_EXCEEDED", "{}", answer.body);
    // A few directives are fine.
    let answer =
        send(&router, post(Some(&token), "application/json", query("{ viewer { name @include(if: true) } }"))?).await?;
    ensure!(answer.json()?["data"]["viewer"]["name"] == "test key", "{}", answer.body);
    ensure!(answer.json()?.get("extensions").is_none(), "extensions in the answer: {}", answer.body);
    let traced = send(&router, post(Some(&token), "application/json", query("{ __typename }"))?).await?;
    ensure!(!traced.body.contains("tracing") && traced.json()?.get("extensions").is_none(), "{}", traced.body);
    Ok(())
}

/// A JWT with these claims, signed by `key` with `alg`.
fn jwt(alg: jsonwebtoken::Algorithm, key: &jsonwebtoken::EncodingKey, claims: Value) -> Result<String> {
    Ok(jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, key)?)
}

const JWT_SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";
const RSA_PRIVATE: &[u8] = include_bytes!("keys/jwt-test-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("keys/jwt-test-public.pem");

async fn bearer_jwts_carry_practice_scopes_subject_and_expiry(store: Store) -> Result<()> {
    use enamel_server::http::JwtConfig;
    use jsonwebtoken::{Algorithm, EncodingKey};
    let p = practice(&store, "Smile Street").await?;
    let now = chrono::Utc::now().timestamp();
    let viewer_query = || query("{ viewer { name scopes practice { name } } }");
    let claims =
        |exp: i64, scopes: Value| json!({"sub": "nurse-7", "practice": p.to_string(), "scopes": scopes, "exp": exp});
    let hs = EncodingKey::from_secret(JWT_SECRET);

    let config = HttpConfig { jwt: Some(JwtConfig::hs256(JWT_SECRET, None)?), ..Default::default() };
    let router = app(&store, Options::default(), config);
    for scopes in [json!("read,propose"), json!(["read", "propose"])] {
        let token = jwt(Algorithm::HS256, &hs, claims(now + 600, scopes))?;
        let answer = send(&router, post(Some(&token), "application/json", viewer_query())?).await?;
        let viewer = &answer.json()?["data"]["viewer"];
        ensure!(viewer["name"] == "nurse-7" && viewer["scopes"] == json!(["read", "propose"]), "{}", answer.body);
        ensure!(viewer["practice"]["name"] == "Smile Street", "{}", answer.body);
    }
    // Refused: expired, another secret, an unknown practice, unknown scopes, no expiry.
    let other = EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!");
    let refused = [
        (jwt(Algorithm::HS256, &hs, claims(now - 600, json!("read")))?, "expired"),
        (jwt(Algorithm::HS256, &other, claims(now + 600, json!("read")))?, "invalid token"),
        (
            jwt(
                Algorithm::HS256,
                &hs,
                json!({"sub": "x", "practice": uuid::Uuid::new_v4().to_string(), "scopes": "read", "exp": now + 600}),
            )?,
            "invalid token",
        ),
        (jwt(Algorithm::HS256, &hs, claims(now + 600, json!("read,superuser")))?, "invalid token"),
        (
            jwt(Algorithm::HS256, &hs, json!({"sub": "x", "practice": p.to_string(), "scopes": "read"}))?,
            "invalid token",
        ),
    ];
    for (token, why) in &refused {
        let answer = send(&router, post(Some(token), "application/json", viewer_query())?).await?;
        ensure!(answer.status == StatusCode::UNAUTHORIZED, "{why}: {} {}", answer.status, answer.body);
        ensure!(answer.code()? == "UNAUTHENTICATED" && answer.body.contains(why), "{why}: {}", answer.body);
    }
    // The audience, when configured, must match.
    let config = HttpConfig { jwt: Some(JwtConfig::hs256(JWT_SECRET, Some("enamel"))?), ..Default::default() };
    let with_aud = app(&store, Options::default(), config);
    let mut c = claims(now + 600, json!("read"));
    let answer =
        send(&with_aud, post(Some(&jwt(Algorithm::HS256, &hs, c.clone())?), "application/json", viewer_query())?)
            .await?;
    ensure!(answer.status == StatusCode::UNAUTHORIZED, "no audience: {}", answer.body);
    c["aud"] = json!("enamel");
    let answer =
        send(&with_aud, post(Some(&jwt(Algorithm::HS256, &hs, c)?), "application/json", viewer_query())?).await?;
    ensure!(answer.status == StatusCode::OK, "{}", answer.body);
    // Without JWT configuration a JWT is just an unknown key.
    let plain = app(&store, Options::default(), HttpConfig::default());
    let token = jwt(Algorithm::HS256, &hs, claims(now + 600, json!("read")))?;
    let answer = send(&plain, post(Some(&token), "application/json", viewer_query())?).await?;
    ensure!(answer.status == StatusCode::UNAUTHORIZED, "{}", answer.body);

    // RS256: the private key signs, the server holds the public key; an HS256 token made
    // with the public key as its secret (algorithm confusion) is refused.
    let config = HttpConfig { jwt: Some(JwtConfig::rs256(RSA_PUBLIC, None)?), ..Default::default() };
    let rs = app(&store, Options::default(), config);
    let token = jwt(Algorithm::RS256, &EncodingKey::from_rsa_pem(RSA_PRIVATE)?, claims(now + 600, json!("read")))?;
    let answer = send(&rs, post(Some(&token), "application/json", viewer_query())?).await?;
    ensure!(answer.json()?["data"]["viewer"]["name"] == "nurse-7", "{}", answer.body);
    let confused = jwt(Algorithm::HS256, &EncodingKey::from_secret(RSA_PUBLIC), claims(now + 600, json!("read")))?;
    let answer = send(&rs, post(Some(&confused), "application/json", viewer_query())?).await?;
    ensure!(answer.status == StatusCode::UNAUTHORIZED, "{}", answer.body);
    ensure!(JwtConfig::hs256(b"short", None).is_err() && JwtConfig::rs256(b"not a key", None).is_err());
    Ok(())
}

async fn health_endpoints_need_no_key(store: Store) -> Result<()> {
    let router = app(&store, Options::default(), HttpConfig::default());
    let answer = send(&router, get("/healthz", None)?).await?;
    ensure!(answer.status == StatusCode::OK && answer.body == "ok", "{} {}", answer.status, answer.body);
    let answer = send(&router, get("/readyz", None)?).await?;
    ensure!(answer.status == StatusCode::OK && answer.body == "ready", "{} {}", answer.status, answer.body);
    Ok(())
}

async fn every_answer_carries_a_request_id_and_metrics_are_off_without_a_renderer(store: Store) -> Result<()> {
    let router = app(&store, Options::default(), HttpConfig::default());
    let id_of = |response: &axum::response::Response| {
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    // A new id per request.
    let first = router.clone().oneshot(get("/healthz", None)?).await?;
    let second = router.clone().oneshot(post(None, "application/json", query(VIEWER))?).await?;
    let (a, b) = (id_of(&first).context("an id")?, id_of(&second).context("an id on a refusal too")?);
    ensure!(a != b && a.parse::<uuid::Uuid>().is_ok(), "{a} {b}");
    // The caller's (a load balancer's) id is kept when it is a plain token, replaced otherwise.
    for (sent, kept) in [("lb-7f3a.9", true), ("has space", false), ("", false)] {
        let request = Request::builder().uri("/healthz").header("x-request-id", sent).body(Body::empty())?;
        let answered = id_of(&router.clone().oneshot(request).await?).context("an id")?;
        ensure!((answered == sent) == kept, "sent {sent:?}, answered {answered:?}");
    }
    let metrics = send(&router, get("/metrics", None)?).await?;
    ensure!(metrics.status == StatusCode::NOT_FOUND, "{}", metrics.status);
    Ok(())
}

async fn graphiql_is_served_only_when_enabled(store: Store) -> Result<()> {
    let off = app(&store, Options::default(), HttpConfig::default());
    let answer = send(&off, get("/", None)?).await?;
    ensure!(answer.status == StatusCode::NOT_FOUND, "{} {}", answer.status, answer.body);
    ensure!(!answer.body.contains("<html"), "{}", answer.body);

    let on = app(&store, Options::default(), HttpConfig { graphiql: true, ..Default::default() });
    let answer = send(&on, get("/", None)?).await?;
    ensure!(answer.status == StatusCode::OK, "{} {}", answer.status, answer.body);
    ensure!(answer.content_type.starts_with("text/html"), "{}", answer.content_type);
    ensure!(answer.body.contains("GraphiQL") && answer.body.contains("createUrl('/graphql')"), "no endpoint");
    // Subscriptions go over WebSocket to the same path (the page turns it into ws://).
    ensure!(answer.body.contains("subscriptionUrl: createUrl('/graphql', true)"), "no subscription endpoint");
    Ok(())
}

async fn introspection_and_suggestions_are_off_by_default(store: Store) -> Result<()> {
    let p = practice(&store, "Smile Street").await?;
    let token = key(&store, p, &[Scope::Read]).await?;
    let introspect = query("{ __schema { queryType { name } } }");
    let type_query = query("{ __type(name: \"Patient\") { name } }");
    let typo = query("{ viewr { name } }");

    let closed = app(&store, Options::default(), HttpConfig::default());
    for body in [&introspect, &type_query] {
        let answer = send(&closed, post(Some(&token), "application/json", body.clone())?).await?;
        ensure!(answer.code()? == "FORBIDDEN", "introspection ran: {}", answer.body);
    }
    let answer = send(&closed, post(Some(&token), "application/json", query("{ __typename }"))?).await?;
    ensure!(answer.json()? == json!({"data": {"__typename": "Query"}}), "{}", answer.body);
    let answer = send(&closed, post(Some(&token), "application/json", typo.clone())?).await?;
    ensure!(answer.json()?["errors"].is_array() && !answer.body.contains("viewer"), "a suggestion: {}", answer.body);

    let open = app(&store, Options { introspection: true, ..Default::default() }, HttpConfig::default());
    let answer = send(&open, post(Some(&token), "application/json", introspect)?).await?;
    ensure!(answer.json()?["data"]["__schema"]["queryType"]["name"] == "Query", "{}", answer.body);
    let answer = send(&open, post(Some(&token), "application/json", typo)?).await?;
    ensure!(answer.body.contains("viewer"), "no suggestion with introspection on: {}", answer.body);
    Ok(())
}

backend_tests!(
    post_json_with_a_valid_key_runs_the_query,
    missing_wrong_expired_and_revoked_keys_are_401,
    only_json_bodies_are_accepted,
    get_requests_do_not_run_queries,
    batched_requests_are_refused,
    bodies_over_the_limit_are_413,
    each_key_is_rate_limited_with_retry_after,
    directive_overloading_is_refused_and_nothing_is_traced,
    bearer_jwts_carry_practice_scopes_subject_and_expiry,
    health_endpoints_need_no_key,
    every_answer_carries_a_request_id_and_metrics_are_off_without_a_renderer,
    graphiql_is_served_only_when_enabled,
    introspection_and_suggestions_are_off_by_default,
);
