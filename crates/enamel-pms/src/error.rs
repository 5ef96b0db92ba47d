//! What can go wrong talking to a PMS.

use std::time::Duration;

/// A PMS request that failed (after any retries).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PmsError {
    /// The credentials were refused.
    #[error("the PMS refused the credentials ({status})")]
    Unauthorized {
        /// HTTP status.
        status: u16,
    },
    /// The PMS refused to log in (TDental answers 200 with `succeeded:false` and a reason).
    #[error("the PMS refused the login: {message}")]
    LoginFailed {
        /// The PMS's reason, as it gave it.
        message: String,
    },
    /// Still throttled after every retry.
    #[error("the PMS kept throttling requests (last Retry-After {retry_after:?})")]
    Throttled {
        /// The last `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// Server errors, timeouts or broken connections after every retry.
    #[error("the PMS is unavailable: {reason}")]
    Unavailable {
        /// What happened last.
        reason: String,
    },
    /// The PMS refused the request as invalid (a bug on our side or a real validation error).
    #[error("the PMS rejected the request ({status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The PMS's explanation.
        message: String,
    },
    /// The answer was not what the API documents (not JSON, not an array).
    #[error("unexpected answer from the PMS: {0}")]
    Protocol(String),
    /// The stream is not one this adapter has.
    #[error("unknown stream {0:?}")]
    UnknownStream(String),
}
