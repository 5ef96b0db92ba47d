//! The store's errors.

use sea_orm::DbErr;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    /// The database URL is not one we support.
    #[error("unsupported database URL {url:?}: expected sqlite://… or postgres://…")]
    UnsupportedUrl {
        /// The URL, with any password removed.
        url: String,
    },
    /// The database server could not be reached (or refused the login).
    #[error("cannot reach the database at {url}: {reason}")]
    Unreachable {
        /// The URL, with any password removed.
        url: String,
        /// Why.
        reason: String,
    },
    /// A stored value does not parse into its domain type (the database was edited by hand
    /// or by an incompatible version).
    #[error("corrupt value in {table}.{column} of row {row}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The row id.
        row: uuid::Uuid,
        /// Why it does not parse.
        reason: String,
    },
    /// The row does not exist in this practice.
    #[error("{entity} {id} not found")]
    NotFound {
        /// The entity.
        entity: &'static str,
        /// The id looked for.
        id: String,
    },
    /// A write-back is not in a state that allows the change (another caller or executor
    /// moved it first, or the state machine forbids it).
    #[error("write-back {id} is {state}: it cannot become {wanted}")]
    StateConflict {
        /// The write-back.
        id: String,
        /// Its current state.
        state: String,
        /// The state asked for.
        wanted: String,
    },
    /// An idempotency key was used before with a different request.
    #[error("idempotency key {key:?} was already used for a different request")]
    KeyReused {
        /// The key.
        key: String,
    },
    /// The caller passed something the store cannot accept.
    #[error("invalid input: {0}")]
    Invalid(String),
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Removes the password from a database URL, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("sqlite://enamel.db"), "sqlite://enamel.db");
    }
}
