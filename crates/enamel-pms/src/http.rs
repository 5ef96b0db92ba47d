//! One JSON request with the policy every PMS client shares: the credential's rate limiter,
//! `Retry-After` on 429, jittered capped backoff on server errors, timeouts and broken
//! connections; 401/403 and other 4xx answered at once.

use std::time::Duration;

use serde_json::Value;

use crate::PmsError;
use crate::limiter::{Backoff, RateLimiter};

/// Sends the request `make` builds (again on each attempt) and reads a JSON answer.
/// `what` names the request in logs and errors (a path, never a parameter value).
pub(crate) async fn json_with_retries(
    limiter: &RateLimiter,
    backoff: &Backoff,
    what: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value, PmsError> {
    let mut backoff = backoff.clone();
    let mut last_retry_after = None;
    let mut last_reason = String::new();
    for attempt in 1..=backoff.attempts {
        limiter.acquire().await;
        let retry_in = match make().send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = response.bytes().await;
                match (status, body) {
                    (200..=299, Ok(bytes)) => match serde_json::from_slice::<Value>(&bytes) {
                        Ok(value) => return Ok(value),
                        Err(e) => {
                            last_reason = format!("the answer is not JSON: {e}");
                            backoff.delay(attempt)
                        }
                    },
                    (200..=299, Err(e)) => {
                        last_reason = format!("the answer broke off: {e}");
                        backoff.delay(attempt)
                    }
                    (401 | 403, _) => return Err(PmsError::Unauthorized { status }),
                    (429, _) => {
                        last_retry_after = retry_after;
                        last_reason = "throttled".into();
                        let wait = retry_after.unwrap_or_else(|| backoff.delay(attempt));
                        limiter.defer(wait).await;
                        Duration::ZERO
                    }
                    (500..=599, body) => {
                        last_reason = format!("HTTP {status}{}", explanation(body.ok().as_deref()));
                        backoff.delay(attempt)
                    }
                    (_, body) => {
                        let message =
                            body.map(|b| String::from_utf8_lossy(&b).trim_matches('"').to_owned()).unwrap_or_default();
                        return Err(PmsError::Rejected { status, message });
                    }
                }
            }
            Err(e) => {
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

/// What a server error's body says, when it is a JSON envelope with a message (TDental:
/// `{"code":500,"message":"TDental Server Error","data":{"message":"…"}}`).
fn explanation(body: Option<&[u8]>) -> String {
    let Some(value) = body.and_then(|b| serde_json::from_slice::<Value>(b).ok()) else {
        return String::new();
    };
    let message = value
        .pointer("/data/message")
        .or_else(|| value.get("message"))
        .and_then(Value::as_str)
        .map(|m| m.chars().take(200).collect::<String>());
    message.map_or_else(String::new, |m| format!(": {m}"))
}
