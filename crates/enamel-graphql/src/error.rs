//! The one table of error codes (DESIGN §4), mapped once here at the GraphQL edge: every
//! error a caller sees carries a stable `extensions.code`.

use async_graphql::ErrorExtensions;
use enamel_store::StoreError;

/// A stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// No or an invalid credential.
    Unauthenticated,
    /// The credential lacks the scope.
    Forbidden,
    /// No such object in the caller's practice.
    NotFound,
    /// An argument is invalid.
    BadUserInput,
    /// The change conflicts with the current state.
    Conflict,
    /// The PMS could not be reached.
    PmsUnavailable,
    /// A depth, complexity, alias, size or page limit was exceeded.
    LimitExceeded,
    /// Something broke on our side (details are in the server log, by request id).
    Internal,
}

impl Code {
    /// The code as callers see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Conflict => "CONFLICT",
            Code::PmsUnavailable => "PMS_UNAVAILABLE",
            Code::LimitExceeded => "LIMIT_EXCEEDED",
            Code::Internal => "INTERNAL",
        }
    }
}

/// An error with its code and a message fit for the caller.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display` type
/// into an error without a code, and every error here must keep its code.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The code.
    pub code: Code,
    /// What went wrong, for the caller.
    pub message: String,
}

impl ApiError {
    /// An error with this code.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    /// `BAD_USER_INPUT`.
    pub fn bad_input(message: impl Into<String>) -> Self {
        ApiError::new(Code::BadUserInput, message)
    }

    /// `NOT_FOUND`.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(Code::NotFound, format!("{what} not found"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, .. } => ApiError::not_found(entity),
            StoreError::Invalid(reason) => ApiError::bad_input(reason),
            other => {
                // The detail may name tables and values: log it, tell the caller less.
                tracing::error!(error = %other, "store error while serving GraphQL");
                ApiError::new(Code::Internal, "internal error")
            }
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code.as_str();
        async_graphql::Error::new(e.message).extend_with(|_, ext| ext.set("code", code))
    }
}

/// Result of a resolver.
pub type ApiResult<T> = std::result::Result<T, async_graphql::Error>;
