//! Callers and what they may do: API keys and scopes (DESIGN §6).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::PracticeId;
use crate::ids::ApiKeyId;

/// What a caller may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    strum::Display,
    strum::EnumString,
    strum::AsRefStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Scope {
    /// Read the practice's data.
    Read,
    /// Read the minimised patient context meant for language models (no identifiers such
    /// as SSN, full address or phone numbers).
    Context,
    /// Propose write-backs.
    Propose,
    /// Approve or reject write-backs proposed by others.
    Approve,
    /// Administer the practice: sync requests, audit events.
    Admin,
}

impl Scope {
    /// Parses a comma-separated list (`read,context`), rejecting unknown names.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, String> {
        let mut scopes: Vec<Scope> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| format!("unknown scope {s:?} (read, context, propose, approve, admin)")))
            .collect::<Result<_, _>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err("at least one scope is needed".into());
        }
        Ok(scopes)
    }

    /// The list as stored: `read,context`.
    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(",")
    }
}

/// An API key as stored (its secret only as a hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// The practice it is bound to.
    pub practice_id: PracticeId,
    /// A label for people (`frontend`, `ai-service`).
    pub name: String,
    /// The public part of the token, shown in listings (`enm_1a2b3c4d`).
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Stops working at.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key may be used at `now`.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// Whether the key holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_parse_sorted_and_deduplicated() {
        assert_eq!(Scope::parse_list("context, read,read"), Ok(vec![Scope::Read, Scope::Context]));
        assert!(Scope::parse_list("read,write").is_err());
        assert!(Scope::parse_list(" , ").is_err());
        assert_eq!(Scope::join(&[Scope::Read, Scope::Admin]), "read,admin");
    }
}

/// One API response that returned patient data: who saw which patients, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhiAccess {
    /// The event's id (time-ordered).
    pub id: uuid::Uuid,
    /// The practice.
    pub practice_id: PracticeId,
    /// When.
    pub at: DateTime<Utc>,
    /// The credential's stable id (`api_key:<uuid>`).
    pub credential: String,
    /// The credential's label.
    pub subject: String,
    /// The GraphQL operation (its name, or `query`/`mutation` when unnamed).
    pub operation: String,
    /// The patients whose data the response returned, sorted.
    pub patient_ids: Vec<crate::ids::PatientId>,
}
