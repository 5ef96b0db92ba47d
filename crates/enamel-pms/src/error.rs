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
    /// Still throttled after every retry (a write is not retried: refused, nothing applied).
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
    /// A write may or may not have reached the PMS (a timeout or a connection lost after
    /// the request was sent): the outcome must be probed before anything is sent again.
    #[error("the PMS did not answer a write ({reason}); it may have been applied")]
    Uncertain {
        /// What happened.
        reason: String,
    },
    /// The PMS refused the request as invalid (a bug on our side or a real validation error).
    #[error("the PMS rejected the request ({status}): {message}")]
    Rejected {
        /// HTTP status; 0 when the adapter refused before sending anything (the PMS's API
        /// cannot do this, e.g. a TDental communication log).
        status: u16,
        /// The PMS's explanation.
        message: String,
    },
    /// The answer was not what the API documents (not JSON, not an array).
    #[error("unexpected answer from the PMS: {0}")]
    Protocol(String),
    /// No client can be made for the write: the practice has no connection to this PMS, or
    /// its credentials cannot be opened.
    #[error("no PMS client: {0}")]
    NotConfigured(String),
    /// The stream is not one this adapter has.
    #[error("unknown stream {0:?}")]
    UnknownStream(String),
}
