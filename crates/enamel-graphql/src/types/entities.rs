//! The entity types. Field documentation follows the canonical model (`enamel_domain::records`).

#![allow(clippy::too_many_arguments)]

use chrono::{DateTime, NaiveDate, Utc};
use enamel_domain::enums::*;
use enamel_domain::{Amount, PartialDate, ToothList, ToothScope};

use super::entity;

entity! {
    /// A clinic (Open Dental clinic, TDental company/branch).
    Location(LocationId, enamel_domain::records::Location) {
        fields {
            /// Display name.
            name: String,
            /// Short name.
            abbreviation: Option<String>,
            /// Phone number of the clinic.
            phone: Option<String>,
            /// Postal address, one line.
            address: Option<String>,
            /// Hidden in the PMS.
            is_hidden: bool,
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// Provider rows whose `location` is this location (in last name order).
            providers: Provider via provider::BY_LOCATION by LAST_NAME asc,
            /// Operatory rows whose `location` is this location (in sort order order).
            operatories: Operatory via operatory::BY_LOCATION by SORT_ORDER asc,
            /// Patient rows whose `location` is this location (in last name order).
            patients: Patient via patient::BY_LOCATION by LAST_NAME asc,
            /// Appointment rows whose `location` is this location (newest first).
            appointments: Appointment via appointment::BY_LOCATION by START_AT desc,
            /// CheckIn rows whose `location` is this location (newest first).
            check_ins: CheckIn via check_in::BY_LOCATION by WAITING_AT desc,
            /// Visit rows whose `location` is this location (newest first).
            visits: Visit via visit::BY_LOCATION by VISITED_AT desc,
            /// Procedure rows whose `location` is this location (newest first).
            procedures: Procedure via procedure::BY_LOCATION by PERFORMED_ON desc,
            /// TreatmentPlan rows whose `location` is this location (newest first).
            treatment_plans: TreatmentPlan via treatment_plan::BY_LOCATION by PLAN_DATE desc,
            /// Claim rows whose `location` is this location (newest first).
            claims: Claim via claim::BY_LOCATION by SERVICE_DATE desc,
            /// Payment rows whose `location` is this location (newest first).
            payments: Payment via payment::BY_LOCATION by PAID_ON desc,
            /// Adjustment rows whose `location` is this location (newest first).
            adjustments: Adjustment via adjustment::BY_LOCATION by ADJUSTED_ON desc,
            /// Fee rows whose `location` is this location (in amount order).
            fees: Fee via fee::BY_LOCATION by AMOUNT asc,
            /// StockPicking rows whose `location` is this location (newest first).
            stock_pickings: StockPicking via stock_picking::BY_LOCATION by SCHEDULED_AT desc,
        }
        extra {}
    }
}

entity! {
    /// A dentist, hygienist, assistant or staff member.
    Provider(ProviderId, enamel_domain::records::Provider) {
        fields {
            /// What the provider does.
            kind: ProviderKind,
            /// First name.
            first_name: String,
            /// Last name (or the full name where the PMS has one field).
            last_name: String,
            /// Short name shown on schedules.
            abbreviation: Option<String>,
            /// Specialty label.
            specialty: Option<String>,
            /// Hidden in the PMS.
            is_hidden: bool,
        }
        refs {
        }
        opt_refs {
            /// Home clinic.
            location: location_id => Location,
            /// The provider's fee schedule.
            fee_schedule: fee_schedule_id => FeeSchedule,
        }
        lists {
            /// Operatory rows whose `provider` is this provider (in sort order order).
            operatories: Operatory via operatory::BY_PROVIDER by SORT_ORDER asc,
            /// Operatory rows whose `hygienist` is this provider (in sort order order).
            operatories_as_hygienist: Operatory via operatory::BY_HYGIENIST by SORT_ORDER asc,
            /// Patient rows whose `primary_provider` is this provider (in last name order).
            primary_patients: Patient via patient::BY_PRIMARY_PROVIDER by LAST_NAME asc,
            /// Appointment rows whose `provider` is this provider (newest first).
            appointments: Appointment via appointment::BY_PROVIDER by START_AT desc,
            /// Appointment rows whose `hygienist` is this provider (newest first).
            appointments_as_hygienist: Appointment via appointment::BY_HYGIENIST by START_AT desc,
            /// CheckIn rows whose `provider` is this provider (newest first).
            check_ins: CheckIn via check_in::BY_PROVIDER by WAITING_AT desc,
            /// Visit rows whose `provider` is this provider (newest first).
            visits: Visit via visit::BY_PROVIDER by VISITED_AT desc,
            /// Visit rows whose `assistant` is this provider (newest first).
            visits_as_assistant: Visit via visit::BY_ASSISTANT by VISITED_AT desc,
            /// Procedure rows whose `provider` is this provider (newest first).
            procedures: Procedure via procedure::BY_PROVIDER by PERFORMED_ON desc,
            /// TreatmentPlan rows whose `provider` is this provider (newest first).
            treatment_plans: TreatmentPlan via treatment_plan::BY_PROVIDER by PLAN_DATE desc,
            /// Claim rows whose `provider` is this provider (newest first).
            claims: Claim via claim::BY_PROVIDER by SERVICE_DATE desc,
            /// ClaimProcedure rows whose `provider` is this provider (newest first).
            claim_procedures: ClaimProcedure via claim_procedure::BY_PROVIDER by SERVICE_DATE desc,
            /// PaymentAllocation rows whose `provider` is this provider (newest first).
            payment_allocations: PaymentAllocation via payment_allocation::BY_PROVIDER by ALLOCATED_ON desc,
            /// Adjustment rows whose `provider` is this provider (newest first).
            adjustments: Adjustment via adjustment::BY_PROVIDER by ADJUSTED_ON desc,
            /// Fee rows whose `provider` is this provider (in amount order).
            fees: Fee via fee::BY_PROVIDER by AMOUNT asc,
        }
        extra {}
    }
}

entity! {
    /// A chair or room.
    Operatory(OperatoryId, enamel_domain::records::Operatory) {
        fields {
            /// Display name.
            name: String,
            /// Short name.
            abbreviation: Option<String>,
            /// A hygiene chair.
            is_hygiene: bool,
            /// Hidden in the PMS.
            is_hidden: bool,
            /// Position on the schedule.
            sort_order: i32,
        }
        refs {
        }
        opt_refs {
            /// The clinic it is in.
            location: location_id => Location,
            /// The default dentist.
            provider: provider_id => Provider,
            /// The default hygienist.
            hygienist: hygienist_id => Provider,
        }
        lists {
            /// Appointment rows whose `operatory` is this operatory (newest first).
            appointments: Appointment via appointment::BY_OPERATORY by START_AT desc,
        }
        extra {}
    }
}

entity! {
    /// A family: a guarantor and the patients they answer for. Its members are the patients
    /// with its id; the guarantor is the member with `is_guarantor`.
    Family(FamilyId, enamel_domain::records::Family) {
        fields {
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// Patient rows whose `family` is this family (in last name order).
            members: Patient via patient::BY_FAMILY by LAST_NAME asc,
        }
        extra {
            /// The guarantor: the member who answers for the family.
            async fn guarantor(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<Option<Patient>> {
                crate::viewer::reader(ctx)?;
                let members = crate::views::family_members(ctx, self.0.id).await?;
                Ok(members.iter().find(|m| m.data.is_guarantor).cloned().map(|m| crate::connection::returned::<Patient>(ctx, m)))
            }

            /// The family's ledger: every member's lines, with a running balance.
            async fn ledger(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<crate::views::LedgerView> {
                let members = crate::views::member_ids(ctx, self.0.id).await?;
                let l = crate::views::ledger_of(ctx, &members).await?;
                Ok(crate::views::ledger_view(&l, crate::viewer::currency(ctx)))
            }

            /// The family's balance.
            async fn balance(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<crate::present::Money> {
                let members = crate::views::member_ids(ctx, self.0.id).await?;
                let l = crate::views::ledger_of(ctx, &members).await?;
                Ok(crate::present::Money::of(l.balance, crate::viewer::currency(ctx)))
            }

            /// The family's A/R aging as of a date (default today).
            async fn aging(
                &self,
                ctx: &async_graphql::Context<'_>,
                as_of: Option<chrono::NaiveDate>,
            ) -> crate::error::ApiResult<crate::views::AgingView> {
                let members = crate::views::member_ids(ctx, self.0.id).await?;
                let l = crate::views::ledger_of(ctx, &members).await?;
                Ok(crate::views::aging_view(ctx, &l, as_of))
            }
        }
    }
}

entity! {
    /// A patient (Open Dental patient, TDental customer partner).
    Patient(PatientId, enamel_domain::records::Patient) {
        fields {
            /// Whether the patient is the family's guarantor.
            is_guarantor: bool,
            /// Chart number or customer reference (`T055348`).
            chart_number: Option<String>,
            /// First name.
            first_name: String,
            /// Last name (TDental keeps one name field: it lands here).
            last_name: String,
            /// Middle name or initial.
            middle_name: Option<String>,
            /// Preferred name.
            preferred_name: Option<String>,
            /// Recorded gender.
            gender: Gender,
            /// Birth date, possibly partial.
            birth_date: Option<PartialDate>,
            /// Canonical status.
            status: PatientStatus,
            /// The PMS's own status value.
            status_source: String,
            /// Home phone.
            phone_home: Option<String>,
            /// Work phone.
            phone_work: Option<String>,
            /// Mobile phone.
            phone_mobile: Option<String>,
            /// E-mail address.
            email: Option<String>,
            /// Street address.
            address_line1: Option<String>,
            /// Second address line.
            address_line2: Option<String>,
            /// City.
            city: Option<String>,
            /// State, province or district.
            region: Option<String>,
            /// Postal code.
            postal_code: Option<String>,
            /// Social security or national id number.
            ssn: Option<String>,
            /// First visit date.
            first_visit_on: Option<NaiveDate>,
            /// When the patient was registered.
            registered_at: Option<DateTime<Utc>>,
            /// Free-text note (medical history summary, comments).
            note: Option<String>,
        }
        refs {
        }
        opt_refs {
            /// The patient's family.
            family: family_id => Family,
            /// Primary provider.
            primary_provider: primary_provider_id => Provider,
            /// Home clinic.
            location: location_id => Location,
            /// Fee schedule for this patient's charges.
            fee_schedule: fee_schedule_id => FeeSchedule,
            /// Where the patient came from (TDental partner source).
            referral_source: referral_source_id => ReferralSource,
        }
        lists {
            /// PatientTagAssignment rows whose `patient` is this patient (in id order).
            patient_tag_assignments: PatientTagAssignment via patient_tag_assignment::BY_PATIENT by ID asc,
            /// PatientReferral rows whose `patient` is this patient (newest first).
            patient_referrals: PatientReferral via patient_referral::BY_PATIENT by REFERRED_ON desc,
            /// Appointment rows whose `patient` is this patient (newest first).
            appointments: Appointment via appointment::BY_PATIENT by START_AT desc,
            /// CheckIn rows whose `patient` is this patient (newest first).
            check_ins: CheckIn via check_in::BY_PATIENT by WAITING_AT desc,
            /// Visit rows whose `patient` is this patient (newest first).
            visits: Visit via visit::BY_PATIENT by VISITED_AT desc,
            /// Procedure rows whose `patient` is this patient (newest first).
            procedures: Procedure via procedure::BY_PATIENT by PERFORMED_ON desc,
            /// TreatmentPlan rows whose `patient` is this patient (newest first).
            treatment_plans: TreatmentPlan via treatment_plan::BY_PATIENT by PLAN_DATE desc,
            /// InsuranceSubscriber rows whose `subscriber_patient` is this patient (newest first).
            subscriptions: InsuranceSubscriber via insurance_subscriber::BY_SUBSCRIBER_PATIENT by EFFECTIVE_ON desc,
            /// PatientPlan rows whose `patient` is this patient (in ordinal order).
            patient_plans: PatientPlan via patient_plan::BY_PATIENT by ORDINAL asc,
            /// Claim rows whose `patient` is this patient (newest first).
            claims: Claim via claim::BY_PATIENT by SERVICE_DATE desc,
            /// ClaimProcedure rows whose `patient` is this patient (newest first).
            claim_procedures: ClaimProcedure via claim_procedure::BY_PATIENT by SERVICE_DATE desc,
            /// Payment rows whose `patient` is this patient (newest first).
            payments: Payment via payment::BY_PATIENT by PAID_ON desc,
            /// PaymentAllocation rows whose `patient` is this patient (newest first).
            payment_allocations: PaymentAllocation via payment_allocation::BY_PATIENT by ALLOCATED_ON desc,
            /// Adjustment rows whose `patient` is this patient (newest first).
            adjustments: Adjustment via adjustment::BY_PATIENT by ADJUSTED_ON desc,
            /// Commlog rows whose `patient` is this patient (newest first).
            commlogs: Commlog via commlog::BY_PATIENT by COMMUNICATED_AT desc,
        }
        extra {
            /// The patient's ledger: completed procedures, payments, insurance payments,
            /// write-offs and adjustments, in date order with a running balance.
            async fn ledger(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<crate::views::LedgerView> {
                let l = crate::views::ledger_of(ctx, &[self.0.id]).await?;
                Ok(crate::views::ledger_view(&l, crate::viewer::currency(ctx)))
            }

            /// The patient's balance: charges minus credits.
            async fn balance(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<crate::present::Money> {
                let l = crate::views::ledger_of(ctx, &[self.0.id]).await?;
                Ok(crate::present::Money::of(l.balance, crate::viewer::currency(ctx)))
            }

            /// The patient's A/R aging as of a date (default: today in the practice's zone).
            async fn aging(
                &self,
                ctx: &async_graphql::Context<'_>,
                as_of: Option<chrono::NaiveDate>,
            ) -> crate::error::ApiResult<crate::views::AgingView> {
                let l = crate::views::ledger_of(ctx, &[self.0.id]).await?;
                Ok(crate::views::aging_view(ctx, &l, as_of))
            }

            /// The patient's tags, by name.
            async fn tags(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<Vec<PatientTag>> {
                crate::views::tags(ctx, self.0.id).await
            }

            /// The next scheduled appointment.
            async fn next_appointment(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<Option<Appointment>> {
                crate::views::next_or_last(ctx, self.0.id, true).await
            }

            /// The last completed appointment.
            async fn last_visit(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<Option<Appointment>> {
                crate::views::next_or_last(ctx, self.0.id, false).await
            }

            /// The fee of a procedure code for this patient: the primary plan's fee
            /// schedule, then the patient's, then the primary provider's, else the code's
            /// default fee; the most specific fee (location, provider) of a schedule wins.
            async fn fee(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The procedure code's id.")] procedure_code: async_graphql::ID,
            ) -> crate::error::ApiResult<Option<crate::views::FeeView>> {
                crate::views::fee_of(ctx, &self.0, &procedure_code).await
            }

            /// What insurance and the patient would pay for a procedure: the patient's
            /// active plans in order, the benefit for the code's category, deductible,
            /// annual maximum used this benefit year and frequency limits.
            async fn coverage_estimate(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The procedure code's id.")] procedure_code: async_graphql::ID,
                #[graphql(desc = "The fee (`\"120.00\"`); default: the patient's fee for the code.")] fee: Option<String>,
                #[graphql(desc = "Date of service; default today.")] on: Option<chrono::NaiveDate>,
            ) -> crate::error::ApiResult<crate::views::CoverageEstimateView> {
                crate::views::coverage_estimate(ctx, &self.0, &procedure_code, fee, on).await
            }

            /// A compact, stable summary for language models (scope `read` or `context`):
            /// age band, active insurance with remaining benefits, balance and aging, last
            /// and next visit, open treatment with estimates, recent communications; as
            /// fields and as a text block. It never includes identifiers (last name, SSN,
            /// address, phone, e-mail).
            async fn context(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<crate::context::PatientContext> {
                crate::context::patient_context(ctx, &self.0).await
            }
        }
    }
}

entity! {
    /// A tag that can be put on patients (TDental partner category).
    PatientTag(PatientTagId, enamel_domain::records::PatientTag) {
        fields {
            /// Display name.
            name: String,
            /// Colour code as the PMS gives it.
            color: Option<String>,
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// PatientTagAssignment rows whose `tag` is this patient tag (in id order).
            assignments: PatientTagAssignment via patient_tag_assignment::BY_TAG by ID asc,
        }
        extra {}
    }
}

entity! {
    /// One tag on one patient.
    PatientTagAssignment(PatientTagAssignmentId, enamel_domain::records::PatientTagAssignment) {
        fields {
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
            /// The tag.
            tag: tag_id => PatientTag,
        }
        opt_refs {
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// Where patients come from: a referring doctor, a person or a channel.
    ReferralSource(ReferralSourceId, enamel_domain::records::ReferralSource) {
        fields {
            /// Display name.
            name: String,
            /// What kind of source it is.
            kind: ReferralSourceKind,
            /// Specialty of a referring doctor.
            specialty: Option<String>,
            /// Phone of the referrer.
            phone: Option<String>,
            /// E-mail of the referrer.
            email: Option<String>,
            /// Hidden in the PMS.
            is_hidden: bool,
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// Patient rows whose `referral_source` is this referral source (in last name order).
            patients: Patient via patient::BY_REFERRAL_SOURCE by LAST_NAME asc,
            /// PatientReferral rows whose `referral_source` is this referral source (newest first).
            patient_referrals: PatientReferral via patient_referral::BY_REFERRAL_SOURCE by REFERRED_ON desc,
        }
        extra {}
    }
}

entity! {
    /// One referral of one patient (Open Dental refattach).
    PatientReferral(PatientReferralId, enamel_domain::records::PatientReferral) {
        fields {
            /// Referred in or out.
            direction: ReferralDirection,
            /// Date of the referral.
            referred_on: Option<NaiveDate>,
            /// Note.
            note: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
            /// The source.
            referral_source: referral_source_id => ReferralSource,
        }
        opt_refs {
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A procedure code: a CDT code or a clinic service.
    ProcedureCode(ProcedureCodeId, enamel_domain::records::ProcedureCode) {
        fields {
            /// The code (`D0120`, `DV0049`).
            code: String,
            /// Description.
            description: String,
            /// Short description.
            abbreviation: Option<String>,
            /// CDT code or clinic service.
            kind: ProcedureCodeKind,
            /// Display category (`Exams & Xrays`, a TDental product category).
            category: Option<String>,
            /// Insurance coverage category (`Diagnostic`, `Preventive`, `Basic`, `Major`…).
            coverage_category: Option<String>,
            /// Default fee or list price.
            default_fee: Option<Amount>,
            /// Default duration in minutes.
            duration_minutes: Option<i32>,
            /// Hidden in the PMS.
            is_hidden: bool,
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// Procedure rows whose `procedure_code` is this procedure code (newest first).
            procedures: Procedure via procedure::BY_PROCEDURE_CODE by PERFORMED_ON desc,
            /// TreatmentPlanItem rows whose `procedure_code` is this procedure code (in sort order order).
            treatment_plan_items: TreatmentPlanItem via treatment_plan_item::BY_PROCEDURE_CODE by SORT_ORDER asc,
            /// Benefit rows whose `procedure_code` is this procedure code (in kind order).
            benefits: Benefit via benefit::BY_PROCEDURE_CODE by KIND asc,
            /// Fee rows whose `procedure_code` is this procedure code (in amount order).
            fees: Fee via fee::BY_PROCEDURE_CODE by AMOUNT asc,
        }
        extra {}
    }
}

entity! {
    /// An appointment.
    Appointment(AppointmentId, enamel_domain::records::Appointment) {
        fields {
            /// Start, in UTC.
            start_at: DateTime<Utc>,
            /// Length in minutes.
            duration_minutes: i32,
            /// Canonical status.
            status: AppointmentStatus,
            /// The PMS's own status value.
            status_source: String,
            /// Confirmation label (`Not Called`, `Confirmed`…).
            confirmation: Option<String>,
            /// Appointment note.
            note: Option<String>,
            /// First visit of a new patient.
            is_new_patient: bool,
            /// Short list of the planned procedures.
            procedure_summary: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The dentist.
            provider: provider_id => Provider,
            /// The hygienist.
            hygienist: hygienist_id => Provider,
            /// The chair.
            operatory: operatory_id => Operatory,
            /// The clinic.
            location: location_id => Location,
        }
        lists {
            /// CheckIn rows whose `appointment` is this appointment (newest first).
            check_ins: CheckIn via check_in::BY_APPOINTMENT by WAITING_AT desc,
            /// Visit rows whose `appointment` is this appointment (newest first).
            visits: Visit via visit::BY_APPOINTMENT by VISITED_AT desc,
            /// Procedure rows whose `appointment` is this appointment (newest first).
            procedures: Procedure via procedure::BY_APPOINTMENT by PERFORMED_ON desc,
        }
        extra {}
    }
}

entity! {
    /// A check-in: arrival, examination, departure.
    CheckIn(CheckInId, enamel_domain::records::CheckIn) {
        fields {
            /// Canonical state.
            state: CheckInState,
            /// The PMS's own state value.
            state_source: String,
            /// Arrived.
            waiting_at: Option<DateTime<Utc>>,
            /// Seated / examination began.
            examination_at: Option<DateTime<Utc>>,
            /// Dismissed / done.
            done_at: Option<DateTime<Utc>>,
            /// Note.
            note: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The appointment checked in, if any.
            appointment: appointment_id => Appointment,
            /// The clinic.
            location: location_id => Location,
            /// The doctor.
            provider: provider_id => Provider,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A visit: one treatment session (TDental DotKham).
    Visit(VisitId, enamel_domain::records::Visit) {
        fields {
            /// When it happened, in UTC.
            visited_at: DateTime<Utc>,
            /// Canonical state.
            state: VisitState,
            /// The PMS's own state value.
            state_source: String,
            /// Reason or findings (free text; may name teeth).
            reason: Option<String>,
            /// Note.
            note: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The treatment order worked on.
            treatment_plan: treatment_plan_id => TreatmentPlan,
            /// The appointment it came from.
            appointment: appointment_id => Appointment,
            /// The doctor.
            provider: provider_id => Provider,
            /// The assistant.
            assistant: assistant_id => Provider,
            /// The clinic.
            location: location_id => Location,
        }
        lists {
            /// VisitStep rows whose `visit` is this visit (in sort order order).
            steps: VisitStep via visit_step::BY_VISIT by SORT_ORDER asc,
        }
        extra {}
    }
}

entity! {
    /// One step of a treatment (TDental DotKhamStep).
    VisitStep(VisitStepId, enamel_domain::records::VisitStep) {
        fields {
            /// Step name.
            name: String,
            /// Done.
            is_done: bool,
            /// Position.
            sort_order: i32,
            /// Created, in UTC.
            created_at: Option<DateTime<Utc>>,
        }
        refs {
        }
        opt_refs {
            /// The visit that did the step, if known.
            visit: visit_id => Visit,
            /// The procedure (order line) the step belongs to.
            procedure: procedure_id => Procedure,
            /// The treatment order.
            treatment_plan: treatment_plan_id => TreatmentPlan,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A procedure: planned, in progress, done or existing (Open Dental procedurelog, TDental
    /// sale order line).
    Procedure(ProcedureId, enamel_domain::records::Procedure) {
        fields {
            /// Canonical status.
            status: ProcedureStatus,
            /// The PMS's own status value.
            status_source: String,
            /// Date done or planned.
            performed_on: Option<NaiveDate>,
            /// Teeth, FDI.
            teeth: ToothList,
            /// Which part of the mouth.
            tooth_scope: ToothScope,
            /// The PMS's own tooth text (Universal numbers, free text).
            tooth_text: Option<String>,
            /// Surfaces (`MOD`).
            surfaces: Option<String>,
            /// Quantity (units, teeth).
            quantity: f64,
            /// Fee charged.
            fee: Amount,
            /// Discount.
            discount: Amount,
            /// Diagnosis or description text.
            diagnosis: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The appointment it is attached to.
            appointment: appointment_id => Appointment,
            /// The code.
            procedure_code: procedure_code_id => ProcedureCode,
            /// The provider.
            provider: provider_id => Provider,
            /// The clinic.
            location: location_id => Location,
            /// The treatment order it is a line of (TDental).
            treatment_plan: treatment_plan_id => TreatmentPlan,
        }
        lists {
            /// VisitStep rows whose `procedure` is this procedure (in sort order order).
            visit_steps: VisitStep via visit_step::BY_PROCEDURE by SORT_ORDER asc,
            /// TreatmentPlanItem rows whose `procedure` is this procedure (in sort order order).
            treatment_plan_items: TreatmentPlanItem via treatment_plan_item::BY_PROCEDURE by SORT_ORDER asc,
            /// ClaimProcedure rows whose `procedure` is this procedure (newest first).
            claim_procedures: ClaimProcedure via claim_procedure::BY_PROCEDURE by SERVICE_DATE desc,
            /// PaymentAllocation rows whose `procedure` is this procedure (newest first).
            payment_allocations: PaymentAllocation via payment_allocation::BY_PROCEDURE by ALLOCATED_ON desc,
            /// Adjustment rows whose `procedure` is this procedure (newest first).
            adjustments: Adjustment via adjustment::BY_PROCEDURE by ADJUSTED_ON desc,
        }
        extra {}
    }
}

entity! {
    /// A treatment plan, treatment order or quote.
    TreatmentPlan(TreatmentPlanId, enamel_domain::records::TreatmentPlan) {
        fields {
            /// Plan, order or quote.
            kind: TreatmentPlanKind,
            /// Canonical status.
            status: TreatmentPlanStatus,
            /// The PMS's own status value.
            status_source: String,
            /// Heading or order number.
            name: Option<String>,
            /// Note.
            note: Option<String>,
            /// Date of the plan.
            plan_date: Option<NaiveDate>,
            /// Total as the PMS computed it.
            amount_total: Option<Amount>,
            /// Paid, as the PMS computed it.
            amount_paid: Option<Amount>,
            /// Still owed, as the PMS computed it.
            amount_residual: Option<Amount>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The responsible provider.
            provider: provider_id => Provider,
            /// The clinic.
            location: location_id => Location,
        }
        lists {
            /// Visit rows whose `treatment_plan` is this treatment plan (newest first).
            visits: Visit via visit::BY_TREATMENT_PLAN by VISITED_AT desc,
            /// VisitStep rows whose `treatment_plan` is this treatment plan (in sort order order).
            visit_steps: VisitStep via visit_step::BY_TREATMENT_PLAN by SORT_ORDER asc,
            /// Procedure rows whose `treatment_plan` is this treatment plan (newest first).
            procedures: Procedure via procedure::BY_TREATMENT_PLAN by PERFORMED_ON desc,
            /// TreatmentPlanItem rows whose `treatment_plan` is this treatment plan (in sort order order).
            items: TreatmentPlanItem via treatment_plan_item::BY_TREATMENT_PLAN by SORT_ORDER asc,
            /// PaymentAllocation rows whose `treatment_plan` is this treatment plan (newest first).
            payment_allocations: PaymentAllocation via payment_allocation::BY_TREATMENT_PLAN by ALLOCATED_ON desc,
        }
        extra {
            /// Totals: fee, insurance estimate, patient portion, paid and residual.
            async fn totals(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<crate::views::PlanTotalsView> {
                crate::views::plan_totals(ctx, self.0.id).await
            }
        }
    }
}

entity! {
    /// One line of a treatment plan.
    TreatmentPlanItem(TreatmentPlanItemId, enamel_domain::records::TreatmentPlanItem) {
        fields {
            /// Description.
            description: Option<String>,
            /// Teeth, FDI.
            teeth: ToothList,
            /// The PMS's own tooth text.
            tooth_text: Option<String>,
            /// Priority label.
            priority: Option<String>,
            /// Position in the plan.
            sort_order: i32,
            /// Fee.
            fee: Amount,
            /// Discount.
            discount: Amount,
            /// Insurance estimate as the PMS saved it.
            insurance_estimate: Option<Amount>,
            /// Patient portion as the PMS saved it.
            patient_portion: Option<Amount>,
        }
        refs {
            /// The plan.
            treatment_plan: treatment_plan_id => TreatmentPlan,
        }
        opt_refs {
            /// The procedure planned.
            procedure: procedure_id => Procedure,
            /// The code.
            procedure_code: procedure_code_id => ProcedureCode,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// An insurance carrier.
    InsuranceCarrier(InsuranceCarrierId, enamel_domain::records::InsuranceCarrier) {
        fields {
            /// Name.
            name: String,
            /// Phone.
            phone: Option<String>,
            /// Address, one line.
            address: Option<String>,
            /// Electronic payer id.
            electronic_id: Option<String>,
            /// Hidden in the PMS.
            is_hidden: bool,
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// InsurancePlan rows whose `carrier` is this insurance carrier (in group name order).
            plans: InsurancePlan via insurance_plan::BY_CARRIER by GROUP_NAME asc,
        }
        extra {}
    }
}

entity! {
    /// An insurance plan.
    InsurancePlan(InsurancePlanId, enamel_domain::records::InsurancePlan) {
        fields {
            /// Group (employer) name.
            group_name: Option<String>,
            /// Group number.
            group_number: Option<String>,
            /// Plan type label (PPO, capitation…).
            plan_type: Option<String>,
            /// First month of the benefit year (1 = January).
            benefit_year_start_month: i16,
            /// Plan note.
            note: Option<String>,
            /// Hidden in the PMS.
            is_hidden: bool,
        }
        refs {
            /// The carrier.
            carrier: carrier_id => InsuranceCarrier,
        }
        opt_refs {
            /// The plan's fee schedule.
            fee_schedule: fee_schedule_id => FeeSchedule,
        }
        lists {
            /// InsuranceSubscriber rows whose `plan` is this insurance plan (newest first).
            subscribers: InsuranceSubscriber via insurance_subscriber::BY_PLAN by EFFECTIVE_ON desc,
            /// Benefit rows whose `plan` is this insurance plan (in kind order).
            benefits: Benefit via benefit::BY_PLAN by KIND asc,
            /// Claim rows whose `plan` is this insurance plan (newest first).
            claims: Claim via claim::BY_PLAN by SERVICE_DATE desc,
            /// ClaimProcedure rows whose `plan` is this insurance plan (newest first).
            claim_procedures: ClaimProcedure via claim_procedure::BY_PLAN by SERVICE_DATE desc,
        }
        extra {}
    }
}

entity! {
    /// A subscriber's enrolment in a plan.
    InsuranceSubscriber(InsuranceSubscriberId, enamel_domain::records::InsuranceSubscriber) {
        fields {
            /// Member id on the card.
            member_id: Option<String>,
            /// Coverage starts.
            effective_on: Option<NaiveDate>,
            /// Coverage ends.
            terminated_on: Option<NaiveDate>,
        }
        refs {
            /// The plan.
            plan: plan_id => InsurancePlan,
            /// The subscriber (a patient row).
            subscriber: subscriber_patient_id => Patient,
        }
        opt_refs {
        }
        lists {
            /// PatientPlan rows whose `subscriber` is this insurance subscriber (in ordinal order).
            patient_plans: PatientPlan via patient_plan::BY_SUBSCRIBER by ORDINAL asc,
            /// Claim rows whose `subscriber` is this insurance subscriber (newest first).
            claims: Claim via claim::BY_SUBSCRIBER by SERVICE_DATE desc,
        }
        extra {}
    }
}

entity! {
    /// A patient's coverage through a subscriber, in order (1 = primary).
    PatientPlan(PatientPlanId, enamel_domain::records::PatientPlan) {
        fields {
            /// 1 primary, 2 secondary, …
            ordinal: i16,
            /// Relationship to the subscriber (`self`, `spouse`, `child`…).
            relationship: String,
            /// Pending.
            is_pending: bool,
        }
        refs {
            /// The patient covered.
            patient: patient_id => Patient,
            /// The subscriber enrolment.
            subscriber: subscriber_id => InsuranceSubscriber,
        }
        opt_refs {
        }
        lists {
            /// Benefit rows whose `patient_plan` is this patient plan (in kind order).
            benefits: Benefit via benefit::BY_PATIENT_PLAN by KIND asc,
        }
        extra {}
    }
}

entity! {
    /// One benefit rule of a plan (or of one patient's coverage).
    Benefit(BenefitId, enamel_domain::records::Benefit) {
        fields {
            /// The coverage category it applies to (`Preventive`…), if not code-specific.
            coverage_category: Option<String>,
            /// Kind of rule.
            kind: BenefitKind,
            /// Individual or family.
            coverage_level: CoverageLevel,
            /// Period counted over.
            period: BenefitPeriod,
            /// Coverage percentage.
            percent: Option<i16>,
            /// Amount (deductible, maximum, co-pay).
            amount: Option<Amount>,
            /// Quantity (frequency limit count, years).
            quantity: Option<i32>,
            /// What the quantity counts (`Months`, `Years`, `NumberOfServices`…).
            quantity_qualifier: Option<String>,
        }
        refs {
        }
        opt_refs {
            /// The plan.
            plan: plan_id => InsurancePlan,
            /// A patient-specific override.
            patient_plan: patient_plan_id => PatientPlan,
            /// A code-specific rule.
            procedure_code: procedure_code_id => ProcedureCode,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// An insurance claim.
    Claim(ClaimId, enamel_domain::records::Claim) {
        fields {
            /// Primary, secondary, pre-authorisation…
            claim_type: ClaimType,
            /// Canonical status.
            status: ClaimStatus,
            /// The PMS's own status value.
            status_source: String,
            /// Date of service.
            service_date: Option<NaiveDate>,
            /// Date sent.
            sent_date: Option<NaiveDate>,
            /// Date received.
            received_date: Option<NaiveDate>,
            /// Fee billed.
            fee_billed: Amount,
            /// Insurance payment estimate.
            insurance_estimate: Amount,
            /// Insurance paid.
            insurance_paid: Amount,
            /// Deductible applied.
            deductible_applied: Amount,
            /// Write-off.
            write_off: Amount,
            /// Note.
            note: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The plan billed.
            plan: plan_id => InsurancePlan,
            /// The subscriber enrolment billed.
            subscriber: subscriber_id => InsuranceSubscriber,
            /// The treating provider.
            provider: provider_id => Provider,
            /// The clinic.
            location: location_id => Location,
        }
        lists {
            /// ClaimProcedure rows whose `claim` is this claim (newest first).
            claim_procedures: ClaimProcedure via claim_procedure::BY_CLAIM by SERVICE_DATE desc,
        }
        extra {}
    }
}

entity! {
    /// One procedure on a claim, or an insurance estimate for a procedure.
    ClaimProcedure(ClaimProcedureId, enamel_domain::records::ClaimProcedure) {
        fields {
            /// Canonical status.
            status: ClaimProcedureStatus,
            /// The PMS's own status value.
            status_source: String,
            /// Fee billed.
            fee_billed: Amount,
            /// Insurance estimate.
            insurance_estimate: Amount,
            /// Insurance paid.
            insurance_paid: Amount,
            /// Deductible applied.
            deductible_applied: Amount,
            /// Write-off.
            write_off: Amount,
            /// Coverage percentage used.
            percentage: Option<i16>,
            /// Date of service.
            service_date: Option<NaiveDate>,
            /// Date paid.
            paid_date: Option<NaiveDate>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The claim (none for an estimate).
            claim: claim_id => Claim,
            /// The procedure.
            procedure: procedure_id => Procedure,
            /// The plan.
            plan: plan_id => InsurancePlan,
            /// The provider.
            provider: provider_id => Provider,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A payment.
    Payment(PaymentId, enamel_domain::records::Payment) {
        fields {
            /// Date paid.
            paid_on: NaiveDate,
            /// Amount (negative for refunds where the PMS signs them).
            amount: Amount,
            /// Method label (`Cash`, `Check`, a TDental journal).
            method: Option<String>,
            /// Who paid.
            kind: PaymentKind,
            /// Canonical state.
            status: PaymentStatus,
            /// Check number or payment reference.
            reference: Option<String>,
            /// Note.
            note: Option<String>,
        }
        refs {
        }
        opt_refs {
            /// The paying patient (guarantor), if known.
            patient: patient_id => Patient,
            /// The clinic.
            location: location_id => Location,
        }
        lists {
            /// PaymentAllocation rows whose `payment` is this payment (newest first).
            allocations: PaymentAllocation via payment_allocation::BY_PAYMENT by ALLOCATED_ON desc,
        }
        extra {}
    }
}

entity! {
    /// A payment's allocation (Open Dental paysplit, TDental sale order payment).
    PaymentAllocation(PaymentAllocationId, enamel_domain::records::PaymentAllocation) {
        fields {
            /// Amount allocated.
            amount: Amount,
            /// Date of the allocation.
            allocated_on: Option<NaiveDate>,
        }
        refs {
        }
        opt_refs {
            /// The payment.
            payment: payment_id => Payment,
            /// The patient credited.
            patient: patient_id => Patient,
            /// The procedure paid.
            procedure: procedure_id => Procedure,
            /// The provider credited.
            provider: provider_id => Provider,
            /// The treatment order paid.
            treatment_plan: treatment_plan_id => TreatmentPlan,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A ledger adjustment.
    Adjustment(AdjustmentId, enamel_domain::records::Adjustment) {
        fields {
            /// Date.
            adjusted_on: NaiveDate,
            /// Amount: positive adds to the balance, negative reduces it.
            amount: Amount,
            /// Type label.
            kind: Option<String>,
            /// Note.
            note: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
            /// The procedure adjusted.
            procedure: procedure_id => Procedure,
            /// The provider.
            provider: provider_id => Provider,
            /// The clinic.
            location: location_id => Location,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A fee schedule.
    FeeSchedule(FeeScheduleId, enamel_domain::records::FeeSchedule) {
        fields {
            /// Name.
            name: String,
            /// Type label (`Normal`, `CoPay`, `OutNetwork`…).
            kind: String,
            /// Hidden in the PMS.
            is_hidden: bool,
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// Provider rows whose `fee_schedule` is this fee schedule (in last name order).
            providers: Provider via provider::BY_FEE_SCHEDULE by LAST_NAME asc,
            /// Patient rows whose `fee_schedule` is this fee schedule (in last name order).
            patients: Patient via patient::BY_FEE_SCHEDULE by LAST_NAME asc,
            /// InsurancePlan rows whose `fee_schedule` is this fee schedule (in group name order).
            insurance_plans: InsurancePlan via insurance_plan::BY_FEE_SCHEDULE by GROUP_NAME asc,
            /// Fee rows whose `fee_schedule` is this fee schedule (in amount order).
            fees: Fee via fee::BY_FEE_SCHEDULE by AMOUNT asc,
        }
        extra {}
    }
}

entity! {
    /// One fee of a fee schedule.
    Fee(FeeId, enamel_domain::records::Fee) {
        fields {
            /// Amount.
            amount: Amount,
        }
        refs {
            /// The schedule.
            fee_schedule: fee_schedule_id => FeeSchedule,
            /// The code.
            procedure_code: procedure_code_id => ProcedureCode,
        }
        opt_refs {
            /// A clinic-specific fee.
            location: location_id => Location,
            /// A provider-specific fee.
            provider: provider_id => Provider,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A communication log entry or note.
    Commlog(CommlogId, enamel_domain::records::Commlog) {
        fields {
            /// When, in UTC.
            communicated_at: DateTime<Utc>,
            /// Type label (`Appointment Related`, `Misc`…).
            kind: Option<String>,
            /// How.
            mode: CommMode,
            /// Which way.
            direction: CommDirection,
            /// The note text.
            note: Option<String>,
            /// The PMS user who wrote it, by PMS key.
            author: Option<String>,
        }
        refs {
            /// The patient.
            patient: patient_id => Patient,
        }
        opt_refs {
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A stocked good (TDental product of type product/consumable/medicine/lab).
    InventoryItem(InventoryItemId, enamel_domain::records::InventoryItem) {
        fields {
            /// Item code.
            code: Option<String>,
            /// Name.
            name: String,
            /// Category label.
            category: Option<String>,
            /// Unit of measure label.
            unit: Option<String>,
            /// Kind of good.
            kind: InventoryKind,
            /// List price.
            list_price: Option<Amount>,
            /// Cost.
            cost: Option<Amount>,
            /// Active.
            is_active: bool,
        }
        refs {
        }
        opt_refs {
        }
        lists {
            /// StockMove rows whose `inventory_item` is this inventory item (newest first).
            stock_moves: StockMove via stock_move::BY_INVENTORY_ITEM by MOVED_AT desc,
        }
        extra {}
    }
}

entity! {
    /// A stock picking: goods received, delivered or moved.
    StockPicking(StockPickingId, enamel_domain::records::StockPicking) {
        fields {
            /// Document name (`WH/IN/00012`).
            name: Option<String>,
            /// Direction.
            kind: StockPickingKind,
            /// Canonical state.
            state: StockState,
            /// The PMS's own state value.
            state_source: String,
            /// Scheduled, in UTC.
            scheduled_at: Option<DateTime<Utc>>,
            /// Done, in UTC.
            done_at: Option<DateTime<Utc>>,
            /// Note.
            note: Option<String>,
        }
        refs {
        }
        opt_refs {
            /// The clinic.
            location: location_id => Location,
        }
        lists {
            /// StockMove rows whose `picking` is this stock picking (newest first).
            moves: StockMove via stock_move::BY_PICKING by MOVED_AT desc,
        }
        extra {}
    }
}

entity! {
    /// One product line of a stock picking.
    StockMove(StockMoveId, enamel_domain::records::StockMove) {
        fields {
            /// Line name.
            name: Option<String>,
            /// Quantity moved.
            quantity: f64,
            /// Unit price.
            unit_price: Option<Amount>,
            /// Canonical state.
            state: StockState,
            /// When, in UTC.
            moved_at: Option<DateTime<Utc>>,
        }
        refs {
        }
        opt_refs {
            /// The picking.
            picking: picking_id => StockPicking,
            /// The good moved.
            inventory_item: inventory_item_id => InventoryItem,
        }
        lists {
        }
        extra {}
    }
}

entity! {
    /// A typed reference row: Open Dental definitions, TDental users, roles, groups,
    /// commissions and partner titles. Keys are prefixed by kind by the adapters so that
    /// different kinds never collide.
    SourceReference(SourceReferenceId, enamel_domain::records::SourceReference) {
        fields {
            /// What it is (`definition:AdjTypes`, `application_user`, `role`…).
            kind: String,
            /// Display name.
            name: String,
            /// A code or value the PMS attaches.
            code: Option<String>,
            /// Hidden or inactive in the PMS.
            is_hidden: bool,
            /// The fields we do not model, as the PMS sent them.
            payload: serde_json::Value,
        }
        refs {
        }
        opt_refs {
        }
        lists {
        }
        extra {}
    }
}
