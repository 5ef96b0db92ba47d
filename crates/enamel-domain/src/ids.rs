//! Typed ids. Internal ids are UUIDs (v7, so they sort by creation); PMS keys are text.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ParseError;

/// An internal id of one canonical entity.
pub trait EntityId:
    Copy
    + Eq
    + Ord
    + std::hash::Hash
    + fmt::Debug
    + fmt::Display
    + Serialize
    + Send
    + Sync
    + 'static
    + From<Uuid>
    + Into<Uuid>
{
    /// The canonical entity (table) this id belongs to.
    const ENTITY: &'static str;

    /// The underlying UUID.
    fn uuid(self) -> Uuid {
        self.into()
    }
}

macro_rules! entity_ids {
    ($($(#[$doc:meta])* $name:ident => $entity:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Uuid::parse_str(s).map(Self).map_err(|_| ParseError::new(stringify!($name), s, "not a UUID"))
            }
        }

        impl EntityId for $name {
            const ENTITY: &'static str = $entity;
        }
    )*};
}

entity_ids! {
    /// A practice (a tenant): every row belongs to exactly one.
    PracticeId => "practice";
    /// A configured connection to one PMS for one practice.
    ConnectionId => "pms_connection";
    /// A clinic or branch.
    LocationId => "location";
    /// A dentist, hygienist, assistant or staff member.
    ProviderId => "provider";
    /// A chair or room.
    OperatoryId => "operatory";
    /// A patient.
    PatientId => "patient";
    /// A family: a guarantor and the patients they answer for.
    FamilyId => "family";
    /// A tag that can be put on patients.
    PatientTagId => "patient_tag";
    /// One tag put on one patient.
    PatientTagAssignmentId => "patient_tag_assignment";
    /// Where patients come from (a referring doctor, a campaign, a person).
    ReferralSourceId => "referral_source";
    /// One referral of one patient.
    PatientReferralId => "patient_referral";
    /// A procedure code (CDT code or clinic service).
    ProcedureCodeId => "procedure_code";
    /// An appointment.
    AppointmentId => "appointment";
    /// A check-in (arrival, seating, dismissal).
    CheckInId => "check_in";
    /// A visit (treatment session).
    VisitId => "visit";
    /// One step of a visit's treatment.
    VisitStepId => "visit_step";
    /// A procedure (planned, done, existing…).
    ProcedureId => "procedure";
    /// A treatment plan, treatment order or quote.
    TreatmentPlanId => "treatment_plan";
    /// One line of a treatment plan.
    TreatmentPlanItemId => "treatment_plan_item";
    /// An insurance carrier.
    InsuranceCarrierId => "insurance_carrier";
    /// An insurance plan.
    InsurancePlanId => "insurance_plan";
    /// A subscriber's enrolment in a plan.
    InsuranceSubscriberId => "insurance_subscriber";
    /// A patient's coverage under a subscriber, with its order.
    PatientPlanId => "patient_plan";
    /// One benefit rule of a plan.
    BenefitId => "benefit";
    /// An insurance claim.
    ClaimId => "claim";
    /// One procedure on a claim (or an insurance estimate).
    ClaimProcedureId => "claim_procedure";
    /// A payment.
    PaymentId => "payment";
    /// A payment's allocation to a patient, procedure or order.
    PaymentAllocationId => "payment_allocation";
    /// A ledger adjustment.
    AdjustmentId => "adjustment";
    /// A fee schedule.
    FeeScheduleId => "fee_schedule";
    /// One fee of a fee schedule.
    FeeId => "fee";
    /// A communication log entry.
    CommlogId => "commlog";
    /// A stocked good.
    InventoryItemId => "inventory_item";
    /// A stock picking (receipt, delivery, internal move).
    StockPickingId => "stock_picking";
    /// One product line of a stock picking.
    StockMoveId => "stock_move";
    /// A typed reference row (definitions, users, roles…).
    SourceReferenceId => "source_reference";
    /// One recorded run of one sync stream.
    SyncRunId => "sync_run";
    /// An API key: a caller's credential, bound to one practice.
    ApiKeyId => "api_key";
    /// A proposed change to a PMS record, behind human approval.
    WriteBackId => "write_back";
}

/// Which PMS a row came from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::AsRefStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Source {
    /// Open Dental, over its REST API.
    OpenDental,
    /// TDental (TMT Dental), the Vietnamese clinic SaaS.
    Tdental,
}

/// A record's key in its PMS, as text (`"1734730"`, a GUID…). Never empty, no surrounding
/// white space.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceKey(String);

impl SourceKey {
    /// Parses a PMS key: trimmed, non-empty, at most 128 characters.
    pub fn parse(s: impl AsRef<str>) -> Result<Self, ParseError> {
        let raw = s.as_ref();
        let t = raw.trim();
        if t.is_empty() {
            return Err(ParseError::new("source key", raw, "empty"));
        }
        if t.chars().count() > 128 {
            return Err(ParseError::new("source key", raw, "longer than 128 characters"));
        }
        Ok(Self(t.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceKey({:?})", self.0)
    }
}

impl TryFrom<String> for SourceKey {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl From<SourceKey> for String {
    fn from(k: SourceKey) -> String {
        k.0
    }
}

impl From<i64> for SourceKey {
    fn from(n: i64) -> Self {
        Self(n.to_string())
    }
}

impl From<Uuid> for SourceKey {
    fn from(id: Uuid) -> Self {
        Self(id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_keys_are_trimmed_and_never_empty() {
        assert_eq!(SourceKey::parse(" 42 ").map(|k| k.to_string()), Ok("42".to_owned()));
        assert!(SourceKey::parse("   ").is_err());
        assert!(SourceKey::parse("x".repeat(129)).is_err());
        assert_eq!(SourceKey::from(7_i64).as_str(), "7");
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = PatientId::new();
        assert_eq!(id.to_string().parse::<PatientId>(), Ok(id));
        assert!("nope".parse::<PatientId>().is_err());
    }

    #[test]
    fn sources_have_stable_names() {
        assert_eq!(Source::OpenDental.as_ref(), "open_dental");
        assert_eq!("tdental".parse::<Source>(), Ok(Source::Tdental));
    }
}
