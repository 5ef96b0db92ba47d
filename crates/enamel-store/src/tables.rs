//! Every synced table of the canonical model (DESIGN §2), one module each.
//!
//! Each module holds the SeaORM entity, the typed parent links (`BY_*`) for reading
//! children by parent, and the sort keys. Column order: bookkeeping, references, fields.
//! The schema itself is created by the migrations crate, which never imports these.

use crate::table::synced_table;

synced_table! {
    /// Clinics and branches.
    location: "location", LocationId, Location {
        fields { name: String, abbreviation: Option<String>, phone: Option<String>, address: Option<String>, is_hidden: bool, }
        sorts { NAME = name, }
    }
}

synced_table! {
    /// Fee schedules.
    fee_schedule: "fee_schedule", FeeScheduleId, FeeSchedule {
        fields { name: String, kind: String, is_hidden: bool, }
        sorts { NAME = name, }
    }
}

synced_table! {
    /// Providers.
    provider: "provider", ProviderId, Provider<K> {
        refs {}
        opt_refs { location_id: LocationId => BY_LOCATION, fee_schedule_id: FeeScheduleId => BY_FEE_SCHEDULE, }
        fields {
            kind: String, first_name: String, last_name: String, abbreviation: Option<String>,
            specialty: Option<String>, is_hidden: bool,
        }
        sorts { LAST_NAME = last_name, }
    }
}

synced_table! {
    /// Operatories (chairs).
    operatory: "operatory", OperatoryId, Operatory<K> {
        refs {}
        opt_refs {
            location_id: LocationId => BY_LOCATION, provider_id: ProviderId => BY_PROVIDER,
            hygienist_id: ProviderId => BY_HYGIENIST,
        }
        fields { name: String, abbreviation: Option<String>, is_hygiene: bool, is_hidden: bool, sort_order: i32, }
        sorts { SORT_ORDER = sort_order, }
    }
}

synced_table! {
    /// Families.
    family: "family", FamilyId, Family {
        fields {}
        sorts {}
    }
}

synced_table! {
    /// Referral sources.
    referral_source: "referral_source", ReferralSourceId, ReferralSource {
        fields {
            name: String, kind: String, specialty: Option<String>, phone: Option<String>,
            email: Option<String>, is_hidden: bool,
        }
        sorts { NAME = name, }
    }
}

synced_table! {
    /// Patients.
    patient: "patient", PatientId, Patient<K> {
        refs {}
        opt_refs {
            family_id: FamilyId => BY_FAMILY, primary_provider_id: ProviderId => BY_PRIMARY_PROVIDER,
            location_id: LocationId => BY_LOCATION, fee_schedule_id: FeeScheduleId => BY_FEE_SCHEDULE,
            referral_source_id: ReferralSourceId => BY_REFERRAL_SOURCE,
        }
        fields {
            is_guarantor: bool, chart_number: Option<String>, first_name: String, last_name: String,
            middle_name: Option<String>, preferred_name: Option<String>, gender: String,
            birth_date: Option<String>, status: String, status_source: String,
            phone_home: Option<String>, phone_work: Option<String>, phone_mobile: Option<String>,
            email: Option<String>, address_line1: Option<String>, address_line2: Option<String>,
            city: Option<String>, region: Option<String>, postal_code: Option<String>,
            ssn: Option<String>, first_visit_on: Option<Date>, registered_at: Option<DateTimeUtc>,
            note: Option<String>,
        }
        sorts { LAST_NAME = last_name, REGISTERED_AT = registered_at, }
    }
}

synced_table! {
    /// Patient tags.
    patient_tag: "patient_tag", PatientTagId, PatientTag {
        fields { name: String, color: Option<String>, }
        sorts { NAME = name, }
    }
}

synced_table! {
    /// Tags on patients.
    patient_tag_assignment: "patient_tag_assignment", PatientTagAssignmentId, PatientTagAssignment<K> {
        refs { patient_id: PatientId => BY_PATIENT, tag_id: PatientTagId => BY_TAG, }
        opt_refs {}
        fields {}
        sorts {}
    }
}

synced_table! {
    /// Referrals of patients.
    patient_referral: "patient_referral", PatientReferralId, PatientReferral<K> {
        refs { patient_id: PatientId => BY_PATIENT, referral_source_id: ReferralSourceId => BY_REFERRAL_SOURCE, }
        opt_refs {}
        fields { direction: String, referred_on: Option<Date>, note: Option<String>, }
        sorts { REFERRED_ON = referred_on, }
    }
}

synced_table! {
    /// Procedure codes.
    procedure_code: "procedure_code", ProcedureCodeId, ProcedureCode {
        fields {
            code: String, description: String, abbreviation: Option<String>, kind: String,
            category: Option<String>, coverage_category: Option<String>, default_fee: Option<i64>,
            duration_minutes: Option<i32>, is_hidden: bool,
        }
        sorts { CODE = code, }
    }
}

synced_table! {
    /// Appointments.
    appointment: "appointment", AppointmentId, Appointment<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {
            provider_id: ProviderId => BY_PROVIDER, hygienist_id: ProviderId => BY_HYGIENIST,
            operatory_id: OperatoryId => BY_OPERATORY, location_id: LocationId => BY_LOCATION,
        }
        fields {
            start_at: DateTimeUtc, duration_minutes: i32, status: String, status_source: String,
            confirmation: Option<String>, note: Option<String>, is_new_patient: bool,
            procedure_summary: Option<String>,
        }
        sorts { START_AT = start_at, }
    }
}

synced_table! {
    /// Check-ins.
    check_in: "check_in", CheckInId, CheckIn<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {
            appointment_id: AppointmentId => BY_APPOINTMENT, location_id: LocationId => BY_LOCATION,
            provider_id: ProviderId => BY_PROVIDER,
        }
        fields {
            state: String, state_source: String, waiting_at: Option<DateTimeUtc>,
            examination_at: Option<DateTimeUtc>, done_at: Option<DateTimeUtc>, note: Option<String>,
        }
        sorts { WAITING_AT = waiting_at, }
    }
}

synced_table! {
    /// Treatment plans, orders and quotes.
    treatment_plan: "treatment_plan", TreatmentPlanId, TreatmentPlan<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs { provider_id: ProviderId => BY_PROVIDER, location_id: LocationId => BY_LOCATION, }
        fields {
            kind: String, status: String, status_source: String, name: Option<String>,
            note: Option<String>, plan_date: Option<Date>, amount_total: Option<i64>,
            amount_paid: Option<i64>, amount_residual: Option<i64>,
        }
        sorts { PLAN_DATE = plan_date, }
    }
}

synced_table! {
    /// Procedures.
    procedure: "procedure", ProcedureId, Procedure<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {
            appointment_id: AppointmentId => BY_APPOINTMENT, procedure_code_id: ProcedureCodeId => BY_PROCEDURE_CODE,
            provider_id: ProviderId => BY_PROVIDER, location_id: LocationId => BY_LOCATION,
            treatment_plan_id: TreatmentPlanId => BY_TREATMENT_PLAN,
        }
        fields {
            status: String, status_source: String, performed_on: Option<Date>, teeth: String,
            tooth_scope: String, tooth_text: Option<String>, surfaces: Option<String>, quantity: f64,
            fee: i64, discount: i64, diagnosis: Option<String>,
        }
        sorts { PERFORMED_ON = performed_on, }
    }
}

synced_table! {
    /// Visits.
    visit: "visit", VisitId, Visit<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {
            treatment_plan_id: TreatmentPlanId => BY_TREATMENT_PLAN, appointment_id: AppointmentId => BY_APPOINTMENT,
            provider_id: ProviderId => BY_PROVIDER, assistant_id: ProviderId => BY_ASSISTANT,
            location_id: LocationId => BY_LOCATION,
        }
        fields { visited_at: DateTimeUtc, state: String, state_source: String, reason: Option<String>, note: Option<String>, }
        sorts { VISITED_AT = visited_at, }
    }
}

synced_table! {
    /// Visit steps.
    visit_step: "visit_step", VisitStepId, VisitStep<K> {
        refs {}
        opt_refs {
            visit_id: VisitId => BY_VISIT, procedure_id: ProcedureId => BY_PROCEDURE,
            treatment_plan_id: TreatmentPlanId => BY_TREATMENT_PLAN,
        }
        fields { name: String, is_done: bool, sort_order: i32, created_at: Option<DateTimeUtc>, }
        sorts { SORT_ORDER = sort_order, }
    }
}

synced_table! {
    /// Treatment plan items.
    treatment_plan_item: "treatment_plan_item", TreatmentPlanItemId, TreatmentPlanItem<K> {
        refs { treatment_plan_id: TreatmentPlanId => BY_TREATMENT_PLAN, }
        opt_refs { procedure_id: ProcedureId => BY_PROCEDURE, procedure_code_id: ProcedureCodeId => BY_PROCEDURE_CODE, }
        fields {
            description: Option<String>, teeth: String, tooth_text: Option<String>, priority: Option<String>,
            sort_order: i32, fee: i64, discount: i64, insurance_estimate: Option<i64>,
            patient_portion: Option<i64>,
        }
        sorts { SORT_ORDER = sort_order, }
    }
}

synced_table! {
    /// Insurance carriers.
    insurance_carrier: "insurance_carrier", InsuranceCarrierId, InsuranceCarrier {
        fields { name: String, phone: Option<String>, address: Option<String>, electronic_id: Option<String>, is_hidden: bool, }
        sorts { NAME = name, }
    }
}

synced_table! {
    /// Insurance plans.
    insurance_plan: "insurance_plan", InsurancePlanId, InsurancePlan<K> {
        refs { carrier_id: InsuranceCarrierId => BY_CARRIER, }
        opt_refs { fee_schedule_id: FeeScheduleId => BY_FEE_SCHEDULE, }
        fields {
            group_name: Option<String>, group_number: Option<String>, plan_type: Option<String>,
            benefit_year_start_month: i16, note: Option<String>, is_hidden: bool,
        }
        sorts { GROUP_NAME = group_name, }
    }
}

synced_table! {
    /// Insurance subscribers.
    insurance_subscriber: "insurance_subscriber", InsuranceSubscriberId, InsuranceSubscriber<K> {
        refs { plan_id: InsurancePlanId => BY_PLAN, subscriber_patient_id: PatientId => BY_SUBSCRIBER_PATIENT, }
        opt_refs {}
        fields { member_id: Option<String>, effective_on: Option<Date>, terminated_on: Option<Date>, }
        sorts { EFFECTIVE_ON = effective_on, }
    }
}

synced_table! {
    /// Patients' plans.
    patient_plan: "patient_plan", PatientPlanId, PatientPlan<K> {
        refs { patient_id: PatientId => BY_PATIENT, subscriber_id: InsuranceSubscriberId => BY_SUBSCRIBER, }
        opt_refs {}
        fields { ordinal: i16, relationship: String, is_pending: bool, }
        sorts { ORDINAL = ordinal, }
    }
}

synced_table! {
    /// Benefits.
    benefit: "benefit", BenefitId, Benefit<K> {
        refs {}
        opt_refs {
            plan_id: InsurancePlanId => BY_PLAN, patient_plan_id: PatientPlanId => BY_PATIENT_PLAN,
            procedure_code_id: ProcedureCodeId => BY_PROCEDURE_CODE,
        }
        fields {
            coverage_category: Option<String>, kind: String, coverage_level: String, period: String,
            percent: Option<i16>, amount: Option<i64>, quantity: Option<i32>, quantity_qualifier: Option<String>,
        }
        sorts { KIND = kind, }
    }
}

synced_table! {
    /// Claims.
    claim: "claim", ClaimId, Claim<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {
            plan_id: InsurancePlanId => BY_PLAN, subscriber_id: InsuranceSubscriberId => BY_SUBSCRIBER,
            provider_id: ProviderId => BY_PROVIDER, location_id: LocationId => BY_LOCATION,
        }
        fields {
            claim_type: String, status: String, status_source: String, service_date: Option<Date>,
            sent_date: Option<Date>, received_date: Option<Date>, fee_billed: i64, insurance_estimate: i64,
            insurance_paid: i64, deductible_applied: i64, write_off: i64, note: Option<String>,
        }
        sorts { SERVICE_DATE = service_date, }
    }
}

synced_table! {
    /// Claim procedures.
    claim_procedure: "claim_procedure", ClaimProcedureId, ClaimProcedure<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {
            claim_id: ClaimId => BY_CLAIM, procedure_id: ProcedureId => BY_PROCEDURE,
            plan_id: InsurancePlanId => BY_PLAN, provider_id: ProviderId => BY_PROVIDER,
        }
        fields {
            status: String, status_source: String, fee_billed: i64, insurance_estimate: i64,
            insurance_paid: i64, deductible_applied: i64, write_off: i64, percentage: Option<i16>,
            service_date: Option<Date>, paid_date: Option<Date>,
        }
        sorts { SERVICE_DATE = service_date, }
    }
}

synced_table! {
    /// Payments.
    payment: "payment", PaymentId, Payment<K> {
        refs {}
        opt_refs { patient_id: PatientId => BY_PATIENT, location_id: LocationId => BY_LOCATION, }
        fields {
            paid_on: Date, amount: i64, method: Option<String>, kind: String, status: String,
            reference: Option<String>, note: Option<String>,
        }
        sorts { PAID_ON = paid_on, }
    }
}

synced_table! {
    /// Payment allocations.
    payment_allocation: "payment_allocation", PaymentAllocationId, PaymentAllocation<K> {
        refs {}
        opt_refs {
            payment_id: PaymentId => BY_PAYMENT, patient_id: PatientId => BY_PATIENT,
            procedure_id: ProcedureId => BY_PROCEDURE, provider_id: ProviderId => BY_PROVIDER,
            treatment_plan_id: TreatmentPlanId => BY_TREATMENT_PLAN,
        }
        fields { amount: i64, allocated_on: Option<Date>, }
        sorts { ALLOCATED_ON = allocated_on, }
    }
}

synced_table! {
    /// Adjustments.
    adjustment: "adjustment", AdjustmentId, Adjustment<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {
            procedure_id: ProcedureId => BY_PROCEDURE, provider_id: ProviderId => BY_PROVIDER,
            location_id: LocationId => BY_LOCATION,
        }
        fields { adjusted_on: Date, amount: i64, kind: Option<String>, note: Option<String>, }
        sorts { ADJUSTED_ON = adjusted_on, }
    }
}

synced_table! {
    /// Fees.
    fee: "fee", FeeId, Fee<K> {
        refs { fee_schedule_id: FeeScheduleId => BY_FEE_SCHEDULE, procedure_code_id: ProcedureCodeId => BY_PROCEDURE_CODE, }
        opt_refs { location_id: LocationId => BY_LOCATION, provider_id: ProviderId => BY_PROVIDER, }
        fields { amount: i64, }
        sorts { AMOUNT = amount, }
    }
}

synced_table! {
    /// Communication logs.
    commlog: "commlog", CommlogId, Commlog<K> {
        refs { patient_id: PatientId => BY_PATIENT, }
        opt_refs {}
        fields {
            communicated_at: DateTimeUtc, kind: Option<String>, mode: String, direction: String,
            note: Option<String>, author: Option<String>,
        }
        sorts { COMMUNICATED_AT = communicated_at, }
    }
}

synced_table! {
    /// Inventory items.
    inventory_item: "inventory_item", InventoryItemId, InventoryItem {
        fields {
            code: Option<String>, name: String, category: Option<String>, unit: Option<String>, kind: String,
            list_price: Option<i64>, cost: Option<i64>, is_active: bool,
        }
        sorts { NAME = name, }
    }
}

synced_table! {
    /// Stock pickings.
    stock_picking: "stock_picking", StockPickingId, StockPicking<K> {
        refs {}
        opt_refs { location_id: LocationId => BY_LOCATION, }
        fields {
            name: Option<String>, kind: String, state: String, state_source: String,
            scheduled_at: Option<DateTimeUtc>, done_at: Option<DateTimeUtc>, note: Option<String>,
        }
        sorts { SCHEDULED_AT = scheduled_at, }
    }
}

synced_table! {
    /// Stock moves.
    stock_move: "stock_move", StockMoveId, StockMove<K> {
        refs {}
        opt_refs { picking_id: StockPickingId => BY_PICKING, inventory_item_id: InventoryItemId => BY_INVENTORY_ITEM, }
        fields { name: Option<String>, quantity: f64, unit_price: Option<i64>, state: String, moved_at: Option<DateTimeUtc>, }
        sorts { MOVED_AT = moved_at, }
    }
}

synced_table! {
    /// Source references.
    source_reference: "source_reference", SourceReferenceId, SourceReference {
        fields { kind: String, name: String, code: Option<String>, is_hidden: bool, payload: Json, }
        sorts { NAME = name, }
    }
}

/// Every synced table with its references: (table, [(column, referenced table)]). The
/// integrity check walks them; the sync's tests check that each stream comes after the
/// streams whose rows it refers to.
pub const ALL: &[(&str, &[(&str, &str)])] = &[
    location::REFERENCES,
    fee_schedule::REFERENCES,
    provider::REFERENCES,
    operatory::REFERENCES,
    family::REFERENCES,
    referral_source::REFERENCES,
    patient::REFERENCES,
    patient_tag::REFERENCES,
    patient_tag_assignment::REFERENCES,
    patient_referral::REFERENCES,
    procedure_code::REFERENCES,
    appointment::REFERENCES,
    check_in::REFERENCES,
    treatment_plan::REFERENCES,
    procedure::REFERENCES,
    visit::REFERENCES,
    visit_step::REFERENCES,
    treatment_plan_item::REFERENCES,
    insurance_carrier::REFERENCES,
    insurance_plan::REFERENCES,
    insurance_subscriber::REFERENCES,
    patient_plan::REFERENCES,
    benefit::REFERENCES,
    claim::REFERENCES,
    claim_procedure::REFERENCES,
    payment::REFERENCES,
    payment_allocation::REFERENCES,
    adjustment::REFERENCES,
    fee::REFERENCES,
    commlog::REFERENCES,
    inventory_item::REFERENCES,
    stock_picking::REFERENCES,
    stock_move::REFERENCES,
    source_reference::REFERENCES,
];

/// The synced table of this name, if there is one (its name may then go into statements).
pub fn synced(table: &str) -> Option<&'static str> {
    ALL.iter().map(|(name, _)| *name).find(|name| *name == table)
}

/// The tables rows of `table` refer to (none for a table that is not synced).
pub fn refers_to(table: &str) -> impl Iterator<Item = &'static str> {
    ALL.iter().filter(move |(name, _)| *name == table).flat_map(|(_, refs)| refs.iter().map(|(_, target)| *target))
}
