//! Canonical enumerations. Each is stored and exchanged as its snake_case name; records
//! that carry a PMS status also keep the PMS's own value beside it (`status_source`).

use serde::{Deserialize, Serialize};

macro_rules! canonical_enums {
    ($($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident,)* })*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize,
            strum::Display, strum::EnumString, strum::AsRefStr, strum::EnumIter,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }
    )*};
}

canonical_enums! {
    /// What a provider does.
    ProviderKind {
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
    Gender {
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
    PatientStatus {
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
    AppointmentStatus {
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
    CheckInState {
        /// In the waiting room.
        Waiting,
        /// Being examined or treated.
        Examination,
        /// Finished.
        Done,
    }

    /// A visit's state.
    VisitState {
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
    ProcedureStatus {
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
    TreatmentPlanKind {
        /// A treatment plan (proposed care).
        Plan,
        /// A treatment order being carried out (TDental sale order).
        TreatmentOrder,
        /// A priced quote.
        Quote,
    }

    /// A treatment plan's state.
    TreatmentPlanStatus {
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
    ClaimType {
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
    ClaimStatus {
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
    ClaimProcedureStatus {
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
    PaymentKind {
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
    PaymentStatus {
        /// Posted.
        Posted,
        /// A draft.
        Draft,
        /// Cancelled.
        Cancelled,
    }

    /// Which way a referral goes.
    ReferralDirection {
        /// The patient was referred to us.
        From,
        /// We referred the patient out.
        To,
    }

    /// What kind of referral source this is.
    ReferralSourceKind {
        /// A referring doctor.
        Doctor,
        /// A person (a friend, a patient).
        Person,
        /// A channel or campaign (Facebook, walk-in…).
        Channel,
    }

    /// What kind of procedure code this is.
    ProcedureCodeKind {
        /// An ADA CDT code.
        Cdt,
        /// A clinic's own service code.
        Service,
    }

    /// A benefit rule's kind.
    BenefitKind {
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
    CoverageLevel {
        /// Not applicable.
        None,
        /// Each person.
        Individual,
        /// The whole family.
        Family,
    }

    /// The period a benefit counts over.
    BenefitPeriod {
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
    CommMode {
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
    CommDirection {
        /// Neither (a note).
        Neither,
        /// Sent to the patient.
        Sent,
        /// Received from the patient.
        Received,
    }

    /// What kind of good an inventory item is.
    InventoryKind {
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
    StockPickingKind {
        /// Goods in.
        Incoming,
        /// Goods out.
        Outgoing,
        /// Between locations.
        Internal,
    }

    /// A stock document's state.
    StockState {
        /// A draft.
        Draft,
        /// Confirmed, not done.
        Confirmed,
        /// Done.
        Done,
        /// Cancelled.
        Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_and_parse_back() {
        assert_eq!(ProcedureStatus::ExistingCurrent.as_ref(), "existing_current");
        assert_eq!("number_in_last12_months".parse::<BenefitPeriod>(), Ok(BenefitPeriod::NumberInLast12Months));
        assert!("nonsense".parse::<Gender>().is_err());
    }
}
