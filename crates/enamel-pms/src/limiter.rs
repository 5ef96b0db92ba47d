//! One rate limiter per PMS credential, and jittered capped exponential backoff.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces requests on one credential at least `interval` apart, and pushes the next one
/// back when the PMS says `Retry-After`.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter allowing one request per `interval` (zero: no spacing).
    pub fn new(interval: Duration) -> Self {
        Self { interval, next: Mutex::new(None) }
    }

    /// Waits for the credential's turn.
    pub async fn acquire(&self) {
        let mut next = self.next.lock().await;
        let now = Instant::now();
        if let Some(at) = *next
            && at > now
        {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(Instant::now() + self.interval);
    }

    /// No request before `after` from now.
    pub async fn defer(&self, after: Duration) {
        let mut next = self.next.lock().await;
        let at = Instant::now() + after;
        if next.is_none_or(|n| n < at) {
            *next = Some(at);
        }
    }
}

/// Exponential backoff with full jitter, capped.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub cap: Duration,
    /// Attempts in all (the first try included).
    pub attempts: u32,
    seed: u64,
}

impl Backoff {
    /// A policy.
    pub fn new(base: Duration, cap: Duration, attempts: u32) -> Self {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0x5eed, |d| d.as_nanos() as u64);
        Self { base, cap, attempts: attempts.max(1), seed }
    }

    /// The delay before retry number `retry` (1-based): uniform in [d/2, d] where
    /// d = min(cap, base · 2^(retry-1)).
    pub fn delay(&mut self, retry: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap);
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let fraction = (self.seed % 1000) as f64 / 1000.0;
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 6);
        for retry in 1..=8 {
            let d = b.delay(retry);
            let ceiling = Duration::from_millis(100 * (1 << (retry - 1))).min(Duration::from_secs(1));
            assert!(d <= ceiling && d >= ceiling / 2, "retry {retry}: {d:?}");
        }
    }

    #[tokio::test]
    async fn the_limiter_spaces_requests_and_honours_deferrals() {
        let limiter = RateLimiter::new(Duration::from_millis(50));
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(50));
        limiter.defer(Duration::from_millis(120)).await;
        let before = Instant::now();
        limiter.acquire().await;
        assert!(before.elapsed() >= Duration::from_millis(100));
    }
}
