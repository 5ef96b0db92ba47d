//! One record per canonical entity (DESIGN §2): the mapped business fields of a row,
//! without the bookkeeping columns every synced row carries (see [`crate::row`]).
//!
//! Records that point at other records are generic over a [`RefMode`]. An adapter builds
//! `Appointment<Keyed>`, whose `patient_id` is the patient's PMS key; the store resolves
//! keys to internal ids and returns `Appointment` (= `Appointment<Linked>`), whose
//! `patient_id` is a [`PatientId`]. A field named `*_id` is always such a reference.

use std::fmt::Debug;
use std::hash::Hash;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::enums::*;
use crate::ids::*;
use crate::{Amount, PartialDate, ToothList, ToothScope};

/// How a record names the records it points at.
pub trait RefMode: Copy + Debug + PartialEq + Send + Sync + 'static {
    /// A reference to an entity whose internal id type is `I`.
    type Ref<I: EntityId>: Clone + Debug + PartialEq + Eq + Hash + Serialize + Send + Sync;
}

/// References are PMS keys: what adapters produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyed;

impl RefMode for Keyed {
    type Ref<I: EntityId> = SourceKey;
}

/// References are internal ids: what the store returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linked;

impl RefMode for Linked {
    type Ref<I: EntityId> = I;
}

/// A canonical record: ties the record type to its entity's id type.
pub trait Record: Clone + Debug + Send + Sync + 'static {
    /// The internal id type of rows of this entity.
    type Id: EntityId;
}

macro_rules! records {
    ($($record:ident => $id:ident,)*) => {$(
        impl Record for $record {
            type Id = $id;
        }
    )*};
}

macro_rules! linked_records {
    ($($record:ident => $id:ident,)*) => {$(
        impl<K: RefMode> Record for $record<K> {
            type Id = $id;
        }
    )*};
}

records! {
    Location => LocationId,
    Family => FamilyId,
    PatientTag => PatientTagId,
    ReferralSource => ReferralSourceId,
    ProcedureCode => ProcedureCodeId,
    InsuranceCarrier => InsuranceCarrierId,
    FeeSchedule => FeeScheduleId,
    InventoryItem => InventoryItemId,
    SourceReference => SourceReferenceId,
}

linked_records! {
    Provider => ProviderId,
    Operatory => OperatoryId,
    Patient => PatientId,
    PatientTagAssignment => PatientTagAssignmentId,
    PatientReferral => PatientReferralId,
    Appointment => AppointmentId,
    CheckIn => CheckInId,
    Visit => VisitId,
    VisitStep => VisitStepId,
    Procedure => ProcedureId,
    TreatmentPlan => TreatmentPlanId,
    TreatmentPlanItem => TreatmentPlanItemId,
    InsurancePlan => InsurancePlanId,
    InsuranceSubscriber => InsuranceSubscriberId,
    PatientPlan => PatientPlanId,
    Benefit => BenefitId,
    Claim => ClaimId,
    ClaimProcedure => ClaimProcedureId,
    Payment => PaymentId,
    PaymentAllocation => PaymentAllocationId,
    Adjustment => AdjustmentId,
    Fee => FeeId,
    Commlog => CommlogId,
    StockPicking => StockPickingId,
    StockMove => StockMoveId,
}

/// A clinic (Open Dental clinic, TDental company/branch).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    /// Display name.
    pub name: String,
    /// Short name.
    pub abbreviation: Option<String>,
    /// Phone number of the clinic.
    pub phone: Option<String>,
    /// Postal address, one line.
    pub address: Option<String>,
    /// Hidden in the PMS.
    pub is_hidden: bool,
}

/// A dentist, hygienist, assistant or staff member.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Provider<K: RefMode = Linked> {
    /// What the provider does.
    pub kind: ProviderKind,
    /// First name.
    pub first_name: String,
    /// Last name (or the full name where the PMS has one field).
    pub last_name: String,
    /// Short name shown on schedules.
    pub abbreviation: Option<String>,
    /// Specialty label.
    pub specialty: Option<String>,
    /// Home clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// The provider's fee schedule.
    pub fee_schedule_id: Option<K::Ref<FeeScheduleId>>,
    /// Hidden in the PMS.
    pub is_hidden: bool,
}

/// A chair or room.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Operatory<K: RefMode = Linked> {
    /// Display name.
    pub name: String,
    /// Short name.
    pub abbreviation: Option<String>,
    /// The clinic it is in.
    pub location_id: Option<K::Ref<LocationId>>,
    /// The default dentist.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The default hygienist.
    pub hygienist_id: Option<K::Ref<ProviderId>>,
    /// A hygiene chair.
    pub is_hygiene: bool,
    /// Hidden in the PMS.
    pub is_hidden: bool,
    /// Position on the schedule.
    pub sort_order: i32,
}

/// A family: a guarantor and the patients they answer for. Its members are the patients
/// with its id; the guarantor is the member with `is_guarantor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Family {}

/// A patient (Open Dental patient, TDental customer partner).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Patient<K: RefMode = Linked> {
    /// The patient's family.
    pub family_id: Option<K::Ref<FamilyId>>,
    /// Whether the patient is the family's guarantor.
    pub is_guarantor: bool,
    /// Chart number or customer reference (`T055348`).
    pub chart_number: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name (TDental keeps one name field: it lands here).
    pub last_name: String,
    /// Middle name or initial.
    pub middle_name: Option<String>,
    /// Preferred name.
    pub preferred_name: Option<String>,
    /// Recorded gender.
    pub gender: Gender,
    /// Birth date, possibly partial.
    pub birth_date: Option<PartialDate>,
    /// Canonical status.
    pub status: PatientStatus,
    /// The PMS's own status value.
    pub status_source: String,
    /// Home phone.
    pub phone_home: Option<String>,
    /// Work phone.
    pub phone_work: Option<String>,
    /// Mobile phone.
    pub phone_mobile: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Street address.
    pub address_line1: Option<String>,
    /// Second address line.
    pub address_line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State, province or district.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Social security or national id number.
    pub ssn: Option<String>,
    /// Primary provider.
    pub primary_provider_id: Option<K::Ref<ProviderId>>,
    /// Home clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// Fee schedule for this patient's charges.
    pub fee_schedule_id: Option<K::Ref<FeeScheduleId>>,
    /// Where the patient came from (TDental partner source).
    pub referral_source_id: Option<K::Ref<ReferralSourceId>>,
    /// First visit date.
    pub first_visit_on: Option<NaiveDate>,
    /// When the patient was registered.
    pub registered_at: Option<DateTime<Utc>>,
    /// Free-text note (medical history summary, comments).
    pub note: Option<String>,
}

/// A tag that can be put on patients (TDental partner category).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientTag {
    /// Display name.
    pub name: String,
    /// Colour code as the PMS gives it.
    pub color: Option<String>,
}

/// One tag on one patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct PatientTagAssignment<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The tag.
    pub tag_id: K::Ref<PatientTagId>,
}

/// Where patients come from: a referring doctor, a person or a channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferralSource {
    /// Display name.
    pub name: String,
    /// What kind of source it is.
    pub kind: ReferralSourceKind,
    /// Specialty of a referring doctor.
    pub specialty: Option<String>,
    /// Phone of the referrer.
    pub phone: Option<String>,
    /// E-mail of the referrer.
    pub email: Option<String>,
    /// Hidden in the PMS.
    pub is_hidden: bool,
}

/// One referral of one patient (Open Dental refattach).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct PatientReferral<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The source.
    pub referral_source_id: K::Ref<ReferralSourceId>,
    /// Referred in or out.
    pub direction: ReferralDirection,
    /// Date of the referral.
    pub referred_on: Option<NaiveDate>,
    /// Note.
    pub note: Option<String>,
}

/// A procedure code: a CDT code or a clinic service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcedureCode {
    /// The code (`D0120`, `DV0049`).
    pub code: String,
    /// Description.
    pub description: String,
    /// Short description.
    pub abbreviation: Option<String>,
    /// CDT code or clinic service.
    pub kind: ProcedureCodeKind,
    /// Display category (`Exams & Xrays`, a TDental product category).
    pub category: Option<String>,
    /// Insurance coverage category (`Diagnostic`, `Preventive`, `Basic`, `Major`…).
    pub coverage_category: Option<String>,
    /// Default fee or list price.
    pub default_fee: Option<Amount>,
    /// Default duration in minutes.
    pub duration_minutes: Option<i32>,
    /// Hidden in the PMS.
    pub is_hidden: bool,
}

/// An appointment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Appointment<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The dentist.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The hygienist.
    pub hygienist_id: Option<K::Ref<ProviderId>>,
    /// The chair.
    pub operatory_id: Option<K::Ref<OperatoryId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// Start, in UTC.
    pub start_at: DateTime<Utc>,
    /// Length in minutes.
    pub duration_minutes: i32,
    /// Canonical status.
    pub status: AppointmentStatus,
    /// The PMS's own status value.
    pub status_source: String,
    /// Confirmation label (`Not Called`, `Confirmed`…).
    pub confirmation: Option<String>,
    /// Appointment note.
    pub note: Option<String>,
    /// First visit of a new patient.
    pub is_new_patient: bool,
    /// Short list of the planned procedures.
    pub procedure_summary: Option<String>,
}

/// A check-in: arrival, examination, departure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct CheckIn<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The appointment checked in, if any.
    pub appointment_id: Option<K::Ref<AppointmentId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// The doctor.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// Canonical state.
    pub state: CheckInState,
    /// The PMS's own state value.
    pub state_source: String,
    /// Arrived.
    pub waiting_at: Option<DateTime<Utc>>,
    /// Seated / examination began.
    pub examination_at: Option<DateTime<Utc>>,
    /// Dismissed / done.
    pub done_at: Option<DateTime<Utc>>,
    /// Note.
    pub note: Option<String>,
}

/// A visit: one treatment session (TDental DotKham).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Visit<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The treatment order worked on.
    pub treatment_plan_id: Option<K::Ref<TreatmentPlanId>>,
    /// The appointment it came from.
    pub appointment_id: Option<K::Ref<AppointmentId>>,
    /// The doctor.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The assistant.
    pub assistant_id: Option<K::Ref<ProviderId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// When it happened, in UTC.
    pub visited_at: DateTime<Utc>,
    /// Canonical state.
    pub state: VisitState,
    /// The PMS's own state value.
    pub state_source: String,
    /// Reason or findings (free text; may name teeth).
    pub reason: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// One step of a treatment (TDental DotKhamStep).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct VisitStep<K: RefMode = Linked> {
    /// The visit that did the step, if known.
    pub visit_id: Option<K::Ref<VisitId>>,
    /// The procedure (order line) the step belongs to.
    pub procedure_id: Option<K::Ref<ProcedureId>>,
    /// The treatment order.
    pub treatment_plan_id: Option<K::Ref<TreatmentPlanId>>,
    /// Step name.
    pub name: String,
    /// Done.
    pub is_done: bool,
    /// Position.
    pub sort_order: i32,
    /// Created, in UTC.
    pub created_at: Option<DateTime<Utc>>,
}

/// A procedure: planned, in progress, done or existing (Open Dental procedurelog, TDental
/// sale order line).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Procedure<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The appointment it is attached to.
    pub appointment_id: Option<K::Ref<AppointmentId>>,
    /// The code.
    pub procedure_code_id: Option<K::Ref<ProcedureCodeId>>,
    /// The provider.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// The treatment order it is a line of (TDental).
    pub treatment_plan_id: Option<K::Ref<TreatmentPlanId>>,
    /// Canonical status.
    pub status: ProcedureStatus,
    /// The PMS's own status value.
    pub status_source: String,
    /// Date done or planned.
    pub performed_on: Option<NaiveDate>,
    /// Teeth, FDI.
    pub teeth: ToothList,
    /// Which part of the mouth.
    pub tooth_scope: ToothScope,
    /// The PMS's own tooth text (Universal numbers, free text).
    pub tooth_text: Option<String>,
    /// Surfaces (`MOD`).
    pub surfaces: Option<String>,
    /// Quantity (units, teeth).
    pub quantity: f64,
    /// Fee charged.
    pub fee: Amount,
    /// Discount.
    pub discount: Amount,
    /// Diagnosis or description text.
    pub diagnosis: Option<String>,
}

/// A treatment plan, treatment order or quote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct TreatmentPlan<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// Plan, order or quote.
    pub kind: TreatmentPlanKind,
    /// Canonical status.
    pub status: TreatmentPlanStatus,
    /// The PMS's own status value.
    pub status_source: String,
    /// Heading or order number.
    pub name: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Date of the plan.
    pub plan_date: Option<NaiveDate>,
    /// The responsible provider.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// Total as the PMS computed it.
    pub amount_total: Option<Amount>,
    /// Paid, as the PMS computed it.
    pub amount_paid: Option<Amount>,
    /// Still owed, as the PMS computed it.
    pub amount_residual: Option<Amount>,
}

/// One line of a treatment plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct TreatmentPlanItem<K: RefMode = Linked> {
    /// The plan.
    pub treatment_plan_id: K::Ref<TreatmentPlanId>,
    /// The procedure planned.
    pub procedure_id: Option<K::Ref<ProcedureId>>,
    /// The code.
    pub procedure_code_id: Option<K::Ref<ProcedureCodeId>>,
    /// Description.
    pub description: Option<String>,
    /// Teeth, FDI.
    pub teeth: ToothList,
    /// The PMS's own tooth text.
    pub tooth_text: Option<String>,
    /// Priority label.
    pub priority: Option<String>,
    /// Position in the plan.
    pub sort_order: i32,
    /// Fee.
    pub fee: Amount,
    /// Discount.
    pub discount: Amount,
    /// Insurance estimate as the PMS saved it.
    pub insurance_estimate: Option<Amount>,
    /// Patient portion as the PMS saved it.
    pub patient_portion: Option<Amount>,
}

/// An insurance carrier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsuranceCarrier {
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Address, one line.
    pub address: Option<String>,
    /// Electronic payer id.
    pub electronic_id: Option<String>,
    /// Hidden in the PMS.
    pub is_hidden: bool,
}

/// An insurance plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct InsurancePlan<K: RefMode = Linked> {
    /// The carrier.
    pub carrier_id: K::Ref<InsuranceCarrierId>,
    /// Group (employer) name.
    pub group_name: Option<String>,
    /// Group number.
    pub group_number: Option<String>,
    /// Plan type label (PPO, capitation…).
    pub plan_type: Option<String>,
    /// The plan's fee schedule.
    pub fee_schedule_id: Option<K::Ref<FeeScheduleId>>,
    /// First month of the benefit year (1 = January).
    pub benefit_year_start_month: i16,
    /// Plan note.
    pub note: Option<String>,
    /// Hidden in the PMS.
    pub is_hidden: bool,
}

/// A subscriber's enrolment in a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct InsuranceSubscriber<K: RefMode = Linked> {
    /// The plan.
    pub plan_id: K::Ref<InsurancePlanId>,
    /// The subscriber (a patient row).
    pub subscriber_patient_id: K::Ref<PatientId>,
    /// Member id on the card.
    pub member_id: Option<String>,
    /// Coverage starts.
    pub effective_on: Option<NaiveDate>,
    /// Coverage ends.
    pub terminated_on: Option<NaiveDate>,
}

/// A patient's coverage through a subscriber, in order (1 = primary).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct PatientPlan<K: RefMode = Linked> {
    /// The patient covered.
    pub patient_id: K::Ref<PatientId>,
    /// The subscriber enrolment.
    pub subscriber_id: K::Ref<InsuranceSubscriberId>,
    /// 1 primary, 2 secondary, …
    pub ordinal: i16,
    /// Relationship to the subscriber (`self`, `spouse`, `child`…).
    pub relationship: String,
    /// Pending.
    pub is_pending: bool,
}

/// One benefit rule of a plan (or of one patient's coverage).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Benefit<K: RefMode = Linked> {
    /// The plan.
    pub plan_id: Option<K::Ref<InsurancePlanId>>,
    /// A patient-specific override.
    pub patient_plan_id: Option<K::Ref<PatientPlanId>>,
    /// A code-specific rule.
    pub procedure_code_id: Option<K::Ref<ProcedureCodeId>>,
    /// The coverage category it applies to (`Preventive`…), if not code-specific.
    pub coverage_category: Option<String>,
    /// Kind of rule.
    pub kind: BenefitKind,
    /// Individual or family.
    pub coverage_level: CoverageLevel,
    /// Period counted over.
    pub period: BenefitPeriod,
    /// Coverage percentage.
    pub percent: Option<i16>,
    /// Amount (deductible, maximum, co-pay).
    pub amount: Option<Amount>,
    /// Quantity (frequency limit count, years).
    pub quantity: Option<i32>,
    /// What the quantity counts (`Months`, `Years`, `NumberOfServices`…).
    pub quantity_qualifier: Option<String>,
}

/// An insurance claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Claim<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The plan billed.
    pub plan_id: Option<K::Ref<InsurancePlanId>>,
    /// The subscriber enrolment billed.
    pub subscriber_id: Option<K::Ref<InsuranceSubscriberId>>,
    /// The treating provider.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// Primary, secondary, pre-authorisation…
    pub claim_type: ClaimType,
    /// Canonical status.
    pub status: ClaimStatus,
    /// The PMS's own status value.
    pub status_source: String,
    /// Date of service.
    pub service_date: Option<NaiveDate>,
    /// Date sent.
    pub sent_date: Option<NaiveDate>,
    /// Date received.
    pub received_date: Option<NaiveDate>,
    /// Fee billed.
    pub fee_billed: Amount,
    /// Insurance payment estimate.
    pub insurance_estimate: Amount,
    /// Insurance paid.
    pub insurance_paid: Amount,
    /// Deductible applied.
    pub deductible_applied: Amount,
    /// Write-off.
    pub write_off: Amount,
    /// Note.
    pub note: Option<String>,
}

/// One procedure on a claim, or an insurance estimate for a procedure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct ClaimProcedure<K: RefMode = Linked> {
    /// The claim (none for an estimate).
    pub claim_id: Option<K::Ref<ClaimId>>,
    /// The procedure.
    pub procedure_id: Option<K::Ref<ProcedureId>>,
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The plan.
    pub plan_id: Option<K::Ref<InsurancePlanId>>,
    /// The provider.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// Canonical status.
    pub status: ClaimProcedureStatus,
    /// The PMS's own status value.
    pub status_source: String,
    /// Fee billed.
    pub fee_billed: Amount,
    /// Insurance estimate.
    pub insurance_estimate: Amount,
    /// Insurance paid.
    pub insurance_paid: Amount,
    /// Deductible applied.
    pub deductible_applied: Amount,
    /// Write-off.
    pub write_off: Amount,
    /// Coverage percentage used.
    pub percentage: Option<i16>,
    /// Date of service.
    pub service_date: Option<NaiveDate>,
    /// Date paid.
    pub paid_date: Option<NaiveDate>,
}

/// A payment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Payment<K: RefMode = Linked> {
    /// The paying patient (guarantor), if known.
    pub patient_id: Option<K::Ref<PatientId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// Date paid.
    pub paid_on: NaiveDate,
    /// Amount (negative for refunds where the PMS signs them).
    pub amount: Amount,
    /// Method label (`Cash`, `Check`, a TDental journal).
    pub method: Option<String>,
    /// Who paid.
    pub kind: PaymentKind,
    /// Canonical state.
    pub status: PaymentStatus,
    /// Check number or payment reference.
    pub reference: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// A payment's allocation (Open Dental paysplit, TDental sale order payment).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct PaymentAllocation<K: RefMode = Linked> {
    /// The payment.
    pub payment_id: Option<K::Ref<PaymentId>>,
    /// The patient credited.
    pub patient_id: Option<K::Ref<PatientId>>,
    /// The procedure paid.
    pub procedure_id: Option<K::Ref<ProcedureId>>,
    /// The provider credited.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The treatment order paid.
    pub treatment_plan_id: Option<K::Ref<TreatmentPlanId>>,
    /// Amount allocated.
    pub amount: Amount,
    /// Date of the allocation.
    pub allocated_on: Option<NaiveDate>,
}

/// A ledger adjustment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Adjustment<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// The procedure adjusted.
    pub procedure_id: Option<K::Ref<ProcedureId>>,
    /// The provider.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// Date.
    pub adjusted_on: NaiveDate,
    /// Amount: positive adds to the balance, negative reduces it.
    pub amount: Amount,
    /// Type label.
    pub kind: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// A fee schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeeSchedule {
    /// Name.
    pub name: String,
    /// Type label (`Normal`, `CoPay`, `OutNetwork`…).
    pub kind: String,
    /// Hidden in the PMS.
    pub is_hidden: bool,
}

/// One fee of a fee schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Fee<K: RefMode = Linked> {
    /// The schedule.
    pub fee_schedule_id: K::Ref<FeeScheduleId>,
    /// The code.
    pub procedure_code_id: K::Ref<ProcedureCodeId>,
    /// A clinic-specific fee.
    pub location_id: Option<K::Ref<LocationId>>,
    /// A provider-specific fee.
    pub provider_id: Option<K::Ref<ProviderId>>,
    /// Amount.
    pub amount: Amount,
}

/// A communication log entry or note.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct Commlog<K: RefMode = Linked> {
    /// The patient.
    pub patient_id: K::Ref<PatientId>,
    /// When, in UTC.
    pub communicated_at: DateTime<Utc>,
    /// Type label (`Appointment Related`, `Misc`…).
    pub kind: Option<String>,
    /// How.
    pub mode: CommMode,
    /// Which way.
    pub direction: CommDirection,
    /// The note text.
    pub note: Option<String>,
    /// The PMS user who wrote it, by PMS key.
    pub author: Option<String>,
}

/// A stocked good (TDental product of type product/consumable/medicine/lab).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryItem {
    /// Item code.
    pub code: Option<String>,
    /// Name.
    pub name: String,
    /// Category label.
    pub category: Option<String>,
    /// Unit of measure label.
    pub unit: Option<String>,
    /// Kind of good.
    pub kind: InventoryKind,
    /// List price.
    pub list_price: Option<Amount>,
    /// Cost.
    pub cost: Option<Amount>,
    /// Active.
    pub is_active: bool,
}

/// A stock picking: goods received, delivered or moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct StockPicking<K: RefMode = Linked> {
    /// Document name (`WH/IN/00012`).
    pub name: Option<String>,
    /// Direction.
    pub kind: StockPickingKind,
    /// Canonical state.
    pub state: StockState,
    /// The PMS's own state value.
    pub state_source: String,
    /// The clinic.
    pub location_id: Option<K::Ref<LocationId>>,
    /// Scheduled, in UTC.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Done, in UTC.
    pub done_at: Option<DateTime<Utc>>,
    /// Note.
    pub note: Option<String>,
}

/// One product line of a stock picking.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "")]
pub struct StockMove<K: RefMode = Linked> {
    /// The picking.
    pub picking_id: Option<K::Ref<StockPickingId>>,
    /// The good moved.
    pub inventory_item_id: Option<K::Ref<InventoryItemId>>,
    /// Line name.
    pub name: Option<String>,
    /// Quantity moved.
    pub quantity: f64,
    /// Unit price.
    pub unit_price: Option<Amount>,
    /// Canonical state.
    pub state: StockState,
    /// When, in UTC.
    pub moved_at: Option<DateTime<Utc>>,
}

/// A typed reference row: Open Dental definitions, TDental users, roles, groups,
/// commissions and partner titles. Keys are prefixed by kind by the adapters so that
/// different kinds never collide.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReference {
    /// What it is (`definition:AdjTypes`, `application_user`, `role`…).
    pub kind: String,
    /// Display name.
    pub name: String,
    /// A code or value the PMS attaches.
    pub code: Option<String>,
    /// Hidden or inactive in the PMS.
    pub is_hidden: bool,
    /// The fields we do not model, as the PMS sent them.
    pub payload: serde_json::Value,
}
