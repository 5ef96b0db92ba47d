//! One JSON request with the policy every PMS client shares: the credential's rate limiter,
//! `Retry-After` on 429, jittered capped backoff on server errors, timeouts and broken
//! connections; 401/403 and other 4xx answered at once.
//!
//! Writes go through [`send_once`] instead: one attempt, never retried here (a retried POST
//! could create twice), and a transport failure is [`PmsError::Uncertain`].

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::PmsError;
use crate::limiter::{Backoff, RateLimiter};

tokio::task_local! {
    /// The sync pass a request belongs to, sent as `X-Enamel-Sync` (see [`tagged`]).
    static SYNC_TAG: String;
}

/// Runs `work` with its PMS requests tagged `X-Enamel-Sync: <tag>`, so that the PMS's (or
/// the simulator's) request log shows which replica's pass of which stream sent each one.
/// The tag names a replica and a stream, never a parameter value.
pub async fn tagged<F: Future>(tag: String, work: F) -> F::Output {
    SYNC_TAG.scope(tag, work).await
}

/// Adds the task's sync tag, if any.
fn with_tag(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match SYNC_TAG.try_with(Clone::clone) {
        Ok(tag) => request.header("x-enamel-sync", tag),
        Err(_) => request,
    }
}

/// Counts a failed PMS exchange by reason (`enamel_pms_errors_total`).
fn count_error(reason: &'static str) {
    metrics::counter!("enamel_pms_errors_total", "reason" => reason).increment(1);
}

/// Sends the request `make` builds (again on each attempt) and reads a JSON answer (a
/// `Value`, or a `Box<RawValue>` to keep the text). `what` names the request in logs and
/// errors (a path, never a parameter value).
pub(crate) async fn json_with_retries<T: serde::de::DeserializeOwned>(
    limiter: &RateLimiter,
    backoff: &Backoff,
    what: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<T, PmsError> {
    answer_with_retries(limiter, backoff, what, make, |bytes| serde_json::from_slice::<T>(bytes)).await
}

/// [`json_with_retries`] with the caller's reading of a successful answer's bytes: an answer
/// `decode` refuses is malformed and retried like one that is not JSON.
pub(crate) async fn answer_with_retries<T, E: std::fmt::Display>(
    limiter: &RateLimiter,
    backoff: &Backoff,
    what: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
    decode: impl Fn(&[u8]) -> Result<T, E>,
) -> Result<T, PmsError> {
    let mut backoff = backoff.clone();
    let mut last_retry_after = None;
    let mut last_reason = String::new();
    for attempt in 1..=backoff.attempts {
        limiter.acquire().await;
        let retry_in = match with_tag(make()).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(&response);
                let body = response.bytes().await;
                match (status, body) {
                    (200..=299, Ok(bytes)) => match decode(&bytes) {
                        Ok(value) => return Ok(value),
                        Err(e) => {
                            count_error("malformed");
                            last_reason = format!("the answer is not JSON: {e}");
                            backoff.delay(attempt)
                        }
                    },
                    (200..=299, Err(e)) => {
                        count_error("broken");
                        last_reason = format!("the answer broke off: {e}");
                        backoff.delay(attempt)
                    }
                    (401 | 403, _) => {
                        count_error("unauthorized");
                        return Err(PmsError::Unauthorized { status });
                    }
                    (429, _) => {
                        metrics::counter!("enamel_pms_throttled_total").increment(1);
                        last_retry_after = retry_after;
                        last_reason = "throttled".into();
                        let wait = retry_after.unwrap_or_else(|| backoff.delay(attempt));
                        limiter.defer(wait).await;
                        Duration::ZERO
                    }
                    (500..=599, body) => {
                        count_error("server");
                        last_reason = format!("HTTP {status}{}", explanation(body.ok().as_deref()));
                        backoff.delay(attempt)
                    }
                    (_, body) => {
                        count_error("rejected");
                        let message = body.map(|b| message_of(&b)).unwrap_or_default();
                        return Err(PmsError::Rejected { status, message });
                    }
                }
            }
            Err(e) => {
                count_error(if e.is_timeout() { "timeout" } else { "connection" });
                last_reason = if e.is_timeout() { "timed out".to_owned() } else { format!("connection failed: {e}") };
                backoff.delay(attempt)
            }
        };
        tracing::warn!(what, attempt, reason = %last_reason, "PMS request failed; retrying");
        if attempt < backoff.attempts {
            tokio::time::sleep(retry_in).await;
        }
    }
    if last_reason == "throttled" {
        Err(PmsError::Throttled { retry_after: last_retry_after })
    } else {
        Err(PmsError::Unavailable { reason: last_reason })
    }
}

/// The answer to a write the PMS accepted (2xx).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Accepted {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The JSON answer; `Null` when there is none (204, Open Dental's action endpoints) or
    /// it could not be read.
    pub(crate) body: Value,
}

/// Sends one write, once, through the credential's rate limiter. Not retried: 401/403 →
/// [`PmsError::Unauthorized`]; 429 → [`PmsError::Throttled`] (refused, nothing applied; the
/// limiter waits out `Retry-After`); 504 (a gateway gave up waiting for the PMS, which may
/// still apply it) → [`PmsError::Uncertain`]; other 5xx → [`PmsError::Unavailable`] with the
/// PMS's explanation; other 4xx → [`PmsError::Rejected`] with its message; a timeout or a
/// broken connection → [`PmsError::Uncertain`] (the request may have been processed).
/// `what` names the request in logs and errors (a path, never a parameter value).
pub(crate) async fn send_once(
    limiter: &RateLimiter,
    what: &str,
    request: reqwest::RequestBuilder,
) -> Result<Accepted, PmsError> {
    limiter.acquire().await;
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) if e.is_builder() => {
            return Err(PmsError::Protocol(format!("{what}: the request cannot be built: {e}")));
        }
        Err(e) => {
            let reason =
                if e.is_timeout() { format!("{what}: timed out") } else { format!("{what}: connection failed: {e}") };
            tracing::warn!(what, reason = %reason, "PMS write unanswered; it may have been applied");
            return Err(PmsError::Uncertain { reason });
        }
    };
    let status = response.status().as_u16();
    let retry_after = retry_after(&response);
    let body = response.bytes().await;
    match status {
        200..=299 => {
            let body = match body {
                Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Value::Null,
                Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    tracing::warn!(what, status, error = %e, "PMS accepted a write; its answer is not JSON");
                    Value::Null
                }),
                Err(e) => {
                    tracing::warn!(what, status, error = %e, "PMS accepted a write; its answer broke off");
                    Value::Null
                }
            };
            Ok(Accepted { status, body })
        }
        401 | 403 => Err(PmsError::Unauthorized { status }),
        429 => {
            if let Some(wait) = retry_after {
                limiter.defer(wait).await;
            }
            Err(PmsError::Throttled { retry_after })
        }
        504 => Err(PmsError::Uncertain { reason: format!("{what}: HTTP 504{}", explanation(body.ok().as_deref())) }),
        500..=599 => {
            Err(PmsError::Unavailable { reason: format!("{what}: HTTP {status}{}", explanation(body.ok().as_deref())) })
        }
        _ => Err(PmsError::Rejected { status, message: body.map(|b| message_of(&b)).unwrap_or_default() }),
    }
}

/// The `Retry-After` of an answer, in seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// What a server error's body says, when it is a JSON envelope with a message (TDental:
/// `{"code":500,"message":"TDental Server Error","data":{"message":"…"}}`) or a JSON string
/// (Open Dental: `"An error has occurred."`).
fn explanation(body: Option<&[u8]>) -> String {
    let Some(value) = body.and_then(|b| serde_json::from_slice::<Value>(b).ok()) else {
        return String::new();
    };
    let message = match &value {
        Value::String(s) => Some(s.as_str()),
        _ => value.pointer("/data/message").or_else(|| value.get("message")).and_then(Value::as_str),
    };
    message.map_or_else(String::new, |m| format!(": {}", m.chars().take(200).collect::<String>()))
}

/// The message of a refusal (4xx): Open Dental's JSON string (`"PatNum is invalid."`),
/// ASP.NET's validation problem (`{"errors":{"Date":["…"]}}`, as `Date: …`), an envelope's
/// message, or the text as sent; at most 500 characters.
fn message_of(body: &[u8]) -> String {
    let message = match serde_json::from_slice::<Value>(body) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(obj)) => match obj.get("errors").and_then(Value::as_object) {
            Some(errors) if !errors.is_empty() => errors
                .iter()
                .map(|(field, messages)| {
                    let said = match messages {
                        Value::Array(list) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
                        other => other.as_str().unwrap_or_default().to_owned(),
                    };
                    format!("{field}: {said}")
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => Value::Object(obj.clone())
                .pointer("/data/message")
                .or_else(|| obj.get("message"))
                .or_else(|| obj.get("title"))
                .and_then(Value::as_str)
                .map_or_else(|| String::from_utf8_lossy(body).into_owned(), str::to_owned),
        },
        _ => String::from_utf8_lossy(body).trim().trim_matches('"').to_owned(),
    };
    message.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_pms_message() {
        assert_eq!(message_of(br#""PatNum is invalid.""#), "PatNum is invalid.");
        let problem = br#"{"title":"One or more validation errors occurred.","status":400,
                          "errors":{"CompanyId":["The CompanyId field is required."]}}"#;
        assert_eq!(message_of(problem), "CompanyId: The CompanyId field is required.");
        assert_eq!(message_of(br#"{"code":500,"data":{"message":"boom"}}"#), "boom");
        assert_eq!(message_of(b"plain words"), "plain words");
        assert_eq!(explanation(Some(br#""An error has occurred.""#)), ": An error has occurred.");
        assert_eq!(explanation(Some(br#"{"data":{"message":"Nullable"}}"#)), ": Nullable");
        assert_eq!(explanation(Some(b"<html>")), "");
    }
}
