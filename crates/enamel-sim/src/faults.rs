//! Fault injection: by exact count or by rate, optionally only on paths starting with a
//! prefix. Applied by a middleware in front of every PMS route (never the `/_sim` control
//! routes).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{PmsKind, Shared};

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After`.
    TooManyRequests {
        /// Seconds in the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// 500 with the PMS's error body.
    ServerError,
    /// 504 Gateway Time-out.
    GatewayTimeout,
    /// 404, as for a record deleted since it was listed.
    NotFound,
    /// No answer for this long, then a 504 (set it past the client's timeout).
    Hang {
        /// How long.
        millis: u64,
    },
    /// The normal answer, this much later.
    Slow {
        /// How long.
        millis: u64,
    },
    /// The request is handled at once (a write lands) but the answer comes this much later:
    /// past the client's timeout, the client cannot know that its write landed.
    LateAnswer {
        /// How long.
        millis: u64,
    },
    /// The connection closes in the middle of the response.
    DropConnection,
    /// The body is cut short: not valid JSON.
    MalformedJson,
    /// The first row of the answer lacks this field.
    MissingField {
        /// The field.
        field: String,
    },
    /// The first row's field has the wrong JSON type (an object where a scalar belongs).
    WrongType {
        /// The field.
        field: String,
    },
    /// Every row carries fields the PMS never documented.
    ExtraFields,
}

/// When a fault fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// The fault.
    #[serde(flatten)]
    pub fault: FaultKind,
    /// Only requests whose path starts with this (case-insensitive); all when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// Only requests with this method (`POST`); all when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Fire on the next `count` matching requests.
    #[serde(default)]
    pub count: Option<u32>,
    /// Or fire on this share (0–1) of matching requests, decided by a seeded generator.
    #[serde(default)]
    pub rate: Option<f64>,
}

impl FaultSpec {
    /// A fault for the next `count` requests.
    pub fn times(fault: FaultKind, count: u32) -> Self {
        Self { fault, path: None, method: None, count: Some(count), rate: None }
    }

    /// A fault for a share of requests.
    pub fn rate(fault: FaultKind, rate: f64) -> Self {
        Self { fault, path: None, method: None, count: None, rate: Some(rate) }
    }

    /// Restricts the fault to paths starting with `prefix`.
    pub fn on(mut self, prefix: &str) -> Self {
        self.path = Some(prefix.to_owned());
        self
    }

    /// Restricts the fault to requests with this method (writes: `POST`, `PUT`, `PATCH`).
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }
}

/// The active faults and the generator that decides rate-based ones.
#[derive(Debug)]
pub(crate) struct Faults {
    specs: Vec<FaultSpec>,
    rng: crate::rng::Rng,
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Self {
        Self { specs: Vec::new(), rng: crate::rng::Rng::new(seed, "faults") }
    }

    pub(crate) fn add(&mut self, spec: FaultSpec) {
        self.specs.push(spec);
    }

    pub(crate) fn clear(&mut self) {
        self.specs.clear();
    }

    pub(crate) fn list(&self) -> Vec<FaultSpec> {
        self.specs.clone()
    }

    /// The fault to apply to a request on `path`, if any; spends counted faults.
    fn take(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        let lower = path.to_ascii_lowercase();
        let mut chosen = None;
        for spec in &mut self.specs {
            if spec.path.as_ref().is_some_and(|p| !lower.starts_with(&p.to_ascii_lowercase())) {
                continue;
            }
            if spec.method.as_ref().is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
                continue;
            }
            if let Some(n) = spec.count.as_mut() {
                if *n > 0 {
                    *n -= 1;
                    chosen = Some(spec.fault.clone());
                    break;
                }
            } else if let Some(rate) = spec.rate
                && self.rng.chance(rate)
            {
                chosen = Some(spec.fault.clone());
                break;
            }
        }
        self.specs.retain(|s| s.count != Some(0));
        chosen
    }
}

/// The PMS's error body for a server error.
pub(crate) fn server_error_body(pms: PmsKind) -> Value {
    match pms {
        PmsKind::OpenDental => Value::String("An error has occurred.".into()),
        PmsKind::Tdental => serde_json::json!({
            "code": 500,
            "message": "TDental Server Error",
            "data": { "message": "Nullable object must have a value.", "name": "InvalidOperationException" },
        }),
    }
}

/// The middleware.
pub(crate) async fn apply(State(shared): State<std::sync::Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_sim") {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let fault = shared.faults.lock().unwrap_or_else(|e| e.into_inner()).take(&method, &path);
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    match fault {
        FaultKind::TooManyRequests { retry_after_secs } => {
            let mut response =
                (StatusCode::TOO_MANY_REQUESTS, axum::Json(Value::String("Too many requests.".into()))).into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        FaultKind::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(server_error_body(shared.pms))).into_response()
        }
        FaultKind::GatewayTimeout => (StatusCode::GATEWAY_TIMEOUT, "Gateway Time-out").into_response(),
        FaultKind::NotFound => StatusCode::NOT_FOUND.into_response(),
        FaultKind::Hang { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            (StatusCode::GATEWAY_TIMEOUT, "Gateway Time-out").into_response()
        }
        FaultKind::Slow { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(request).await
        }
        FaultKind::LateAnswer { millis } => {
            let response = next.run(request).await;
            tokio::time::sleep(Duration::from_millis(millis)).await;
            response
        }
        FaultKind::DropConnection => {
            let stream = futures::stream::iter([
                Ok::<Bytes, std::io::Error>(Bytes::from_static(b"[{\"")),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated drop")),
            ]);
            let mut response = Response::new(Body::from_stream(stream));
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        FaultKind::MalformedJson => {
            rewrite(next.run(request).await, |bytes| {
                let cut = bytes.len() / 2;
                bytes.slice(..cut)
            })
            .await
        }
        FaultKind::MissingField { field } => {
            rewrite_json(next.run(request).await, |rows| {
                if let Some(Value::Object(first)) = rows.first_mut() {
                    first.remove(&field);
                }
            })
            .await
        }
        FaultKind::WrongType { field } => {
            rewrite_json(next.run(request).await, |rows| {
                if let Some(Value::Object(first)) = rows.first_mut() {
                    first.insert(field.clone(), serde_json::json!({"unexpected": [1, 2]}));
                }
            })
            .await
        }
        FaultKind::ExtraFields => {
            rewrite_json(next.run(request).await, |rows| {
                for row in rows.iter_mut() {
                    if let Value::Object(obj) = row {
                        obj.insert("zzUndocumentedField".into(), Value::String("new in a later version".into()));
                        obj.insert("zzUndocumentedFlag".into(), Value::Bool(true));
                    }
                }
            })
            .await
        }
    }
}

async fn rewrite(response: Response, edit: impl FnOnce(Bytes) -> Bytes) -> Response {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Response::from_parts(parts, Body::from(edit(bytes))),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Edits the rows of a JSON answer: a bare array, an envelope's `items`, or one object.
async fn rewrite_json(response: Response, edit: impl FnOnce(&mut Vec<Value>)) -> Response {
    rewrite(response, |bytes| {
        let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
            return bytes;
        };
        match &mut value {
            Value::Array(rows) => edit(rows),
            Value::Object(obj) if obj.get("items").is_some_and(Value::is_array) => {
                if let Some(Value::Array(rows)) = obj.get_mut("items") {
                    edit(rows);
                }
            }
            Value::Object(_) => {
                let mut one = vec![value.take()];
                edit(&mut one);
                value = one.pop().unwrap_or(Value::Null);
            }
            _ => {}
        }
        Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
    })
    .await
}
