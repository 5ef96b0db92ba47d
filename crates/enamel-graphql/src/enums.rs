//! GraphQL mirrors of the canonical enums (values in SCREAMING_CASE), converted with `From`.
//! Written out (not generated at build time) so that each type and value carries its
//! documentation into the schema.

use async_graphql::Enum;

/// What a provider does.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ProviderKind")]
pub enum ProviderKind {
    /// A dentist (Open Dental provider that is not a hygienist; TDental doctor).
    Dentist,
    /// A dental hygienist.
    Hygienist,
    /// A dental assistant.
    Assistant,
    /// Front desk or other staff.
    Staff,
}

/// A patient's recorded gender.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::Gender")]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Other.
    Other,
    /// Not recorded.
    Unknown,
}

/// Where a patient stands with the practice.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::PatientStatus")]
pub enum PatientStatus {
    /// An active patient.
    Active,
    /// A non-patient (a guarantor or contact who is not treated).
    NonPatient,
    /// An inactive patient.
    Inactive,
    /// Archived.
    Archived,
    /// Deceased.
    Deceased,
    /// Marked deleted in the PMS.
    Deleted,
    /// A prospective patient.
    Prospective,
}

/// Where an appointment stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::AppointmentStatus")]
pub enum AppointmentStatus {
    /// Booked for a time.
    Scheduled,
    /// The patient has arrived (waiting or in the chair).
    Arrived,
    /// Done.
    Complete,
    /// Broken or missed (no-show, overdue).
    Broken,
    /// Cancelled.
    Cancelled,
    /// On the unscheduled list.
    Unscheduled,
    /// Planned, not yet booked.
    Planned,
    /// A note on the schedule, not a visit.
    Note,
}

/// A check-in's progress.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::CheckInState")]
pub enum CheckInState {
    /// In the waiting room.
    Waiting,
    /// Being examined or treated.
    Examination,
    /// Finished.
    Done,
}

/// A visit's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::VisitState")]
pub enum VisitState {
    /// Being recorded.
    Draft,
    /// Confirmed.
    Confirmed,
    /// Finished.
    Done,
    /// Cancelled.
    Cancelled,
}

/// A procedure's status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ProcedureStatus")]
pub enum ProcedureStatus {
    /// Treatment planned.
    Planned,
    /// Planned, on an inactive plan.
    PlannedInactive,
    /// In progress (an open treatment order line).
    InProgress,
    /// Completed.
    Completed,
    /// Existing, done here before.
    ExistingCurrent,
    /// Existing, done elsewhere.
    ExistingOther,
    /// Referred out.
    Referred,
    /// A charted condition, not a treatment.
    Condition,
    /// Cancelled.
    Cancelled,
    /// Deleted in the PMS.
    Deleted,
}

/// What a treatment plan is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::TreatmentPlanKind")]
pub enum TreatmentPlanKind {
    /// A treatment plan (proposed care).
    Plan,
    /// A treatment order being carried out (TDental sale order).
    TreatmentOrder,
    /// A priced quote.
    Quote,
}

/// A treatment plan's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::TreatmentPlanStatus")]
pub enum TreatmentPlanStatus {
    /// The active plan.
    Active,
    /// An inactive plan.
    Inactive,
    /// A saved (frozen) plan.
    Saved,
    /// A draft.
    Draft,
    /// Treatment under way.
    InProgress,
    /// Finished.
    Done,
    /// Cancelled or stopped.
    Cancelled,
}

/// Which claim this is for the patient.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ClaimType")]
pub enum ClaimType {
    /// Primary insurance.
    Primary,
    /// Secondary insurance.
    Secondary,
    /// A pre-authorisation.
    Preauth,
    /// Capitation.
    Capitation,
    /// Anything else.
    Other,
}

/// A claim's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ClaimStatus")]
pub enum ClaimStatus {
    /// Not sent.
    Unsent,
    /// Held.
    OnHold,
    /// Waiting to be sent.
    WaitingToSend,
    /// Sent.
    Sent,
    /// Received (paid or denied).
    Received,
}

/// A claim procedure's state (Open Dental ClaimProcStatus).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ClaimProcedureStatus")]
pub enum ClaimProcedureStatus {
    /// On a claim, not yet received.
    NotReceived,
    /// Received.
    Received,
    /// Pre-authorisation.
    Preauth,
    /// A benefit adjustment.
    Adjustment,
    /// A supplemental payment.
    Supplemental,
    /// On a capitation claim.
    CapClaim,
    /// An estimate, not on a claim.
    Estimate,
    /// Capitation, complete.
    CapComplete,
    /// Capitation estimate.
    CapEstimate,
    /// Insurance history.
    InsHist,
}

/// Who paid.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::PaymentKind")]
pub enum PaymentKind {
    /// The patient or guarantor.
    Patient,
    /// An insurance carrier.
    Insurance,
    /// Money paid back to the patient.
    Refund,
    /// A deposit or advance.
    Deposit,
}

/// A payment's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::PaymentStatus")]
pub enum PaymentStatus {
    /// Posted.
    Posted,
    /// A draft.
    Draft,
    /// Cancelled.
    Cancelled,
}

/// Which way a referral goes.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ReferralDirection")]
pub enum ReferralDirection {
    /// The patient was referred to us.
    From,
    /// We referred the patient out.
    To,
}

/// What kind of referral source this is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ReferralSourceKind")]
pub enum ReferralSourceKind {
    /// A referring doctor.
    Doctor,
    /// A person (a friend, a patient).
    Person,
    /// A channel or campaign (Facebook, walk-in…).
    Channel,
}

/// What kind of procedure code this is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::ProcedureCodeKind")]
pub enum ProcedureCodeKind {
    /// An ADA CDT code.
    Cdt,
    /// A clinic's own service code.
    Service,
}

/// A benefit rule's kind.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::BenefitKind")]
pub enum BenefitKind {
    /// Coverage percentage (co-insurance).
    Percentage,
    /// Deductible.
    Deductible,
    /// Annual (or lifetime) maximum.
    AnnualMaximum,
    /// Frequency limit (e.g. 2 per benefit year).
    Frequency,
    /// Fixed co-payment.
    CoPayment,
    /// Not covered.
    Exclusion,
    /// Waiting period.
    WaitingPeriod,
    /// Active coverage marker.
    ActiveCoverage,
}

/// Whom a benefit amount applies to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::CoverageLevel")]
pub enum CoverageLevel {
    /// Not applicable.
    None,
    /// Each person.
    Individual,
    /// The whole family.
    Family,
}

/// The period a benefit counts over.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::BenefitPeriod")]
pub enum BenefitPeriod {
    /// Not applicable.
    None,
    /// The plan's benefit year.
    ServiceYear,
    /// The calendar year.
    CalendarYear,
    /// Lifetime.
    Lifetime,
    /// A number of years.
    Years,
    /// A number in the last 12 months.
    NumberInLast12Months,
}

/// How a communication happened.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::CommMode")]
pub enum CommMode {
    /// Not recorded.
    None,
    /// E-mail.
    Email,
    /// Post.
    Mail,
    /// Telephone.
    Phone,
    /// In person.
    InPerson,
    /// Text message.
    Text,
    /// E-mail and text.
    EmailAndText,
    /// Phone and text.
    PhoneAndText,
}

/// Which way a communication went.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::CommDirection")]
pub enum CommDirection {
    /// Neither (a note).
    Neither,
    /// Sent to the patient.
    Sent,
    /// Received from the patient.
    Received,
}

/// What kind of good an inventory item is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::InventoryKind")]
pub enum InventoryKind {
    /// A stocked product.
    Product,
    /// A consumable.
    Consumable,
    /// A medicine.
    Medicine,
    /// Lab work.
    Lab,
}

/// Which way a stock picking moves goods.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::StockPickingKind")]
pub enum StockPickingKind {
    /// Goods in.
    Incoming,
    /// Goods out.
    Outgoing,
    /// Between locations.
    Internal,
}

/// A stock document's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::enums::StockState")]
pub enum StockState {
    /// A draft.
    Draft,
    /// Confirmed, not done.
    Confirmed,
    /// Done.
    Done,
    /// Cancelled.
    Cancelled,
}

/// Which part of the mouth a procedure concerns.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::ToothScope")]
pub enum ToothScope {
    /// The listed teeth (or none: not tooth-specific).
    Teeth,
    /// The whole mouth.
    WholeMouth,
    /// The upper jaw.
    UpperJaw,
    /// The lower jaw.
    LowerJaw,
}

/// Which PMS a row came from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::Source")]
pub enum Source {
    /// Open Dental.
    OpenDental,
    /// TDental.
    Tdental,
}
