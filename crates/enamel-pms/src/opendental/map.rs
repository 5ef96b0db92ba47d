//! Open Dental rows → canonical records. Each function maps one row or says why it cannot.

use chrono_tz::Tz;
use enamel_domain::enums::*;
use enamel_domain::records::*;
use enamel_domain::{PartialDate, SourceKey, SyncRow, Tooth, ToothList, ToothScope};
use serde_json::Value;

use crate::row::JsonRow as _;

use super::wire::Wire;

type R<T> = Result<T, String>;

/// A mapped row; the client attaches the row's raw text (`SyncRow::raw`) as it came.
fn row<T>(w: &Wire<'_>, key: SourceKey, stamp_field: &str, data: T) -> SyncRow<T> {
    SyncRow { source_id: key, source_updated_at: w.stamp(stamp_field), data, raw: None }
}

pub(crate) fn clinic(v: &Value, tz: Tz) -> R<SyncRow<Location>> {
    let w = Wire::new(v, tz)?;
    let address = [w.text("Address")?, w.text("Address2")?, w.text("City")?, w.text("State")?, w.text("Zip")?]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(row(
        &w,
        w.key("ClinicNum")?,
        "",
        Location {
            name: w.text("Description")?,
            abbreviation: w.opt_text("Abbr")?,
            phone: w.opt_text("Phone")?,
            address: (!address.is_empty()).then_some(address),
            is_hidden: w.boolean("IsHidden")?,
        },
    ))
}

pub(crate) fn fee_schedule(v: &Value, tz: Tz) -> R<SyncRow<FeeSchedule>> {
    let w = Wire::new(v, tz)?;
    Ok(row(
        &w,
        w.key("FeeSchedNum")?,
        "SecDateTEdit",
        FeeSchedule { name: w.text("Description")?, kind: w.text("FeeSchedType")?, is_hidden: w.boolean("IsHidden")? },
    ))
}

pub(crate) fn definition(v: &Value, tz: Tz) -> R<SyncRow<SourceReference>> {
    let w = Wire::new(v, tz)?;
    let num = w.int("DefNum")?;
    let category =
        w.opt_text("category")?.unwrap_or_else(|| w.int_or_zero("Category").map(|c| c.to_string()).unwrap_or_default());
    Ok(SyncRow {
        source_id: SourceKey::parse(format!("definition:{num}")).map_err(|e| e.to_string())?,
        source_updated_at: None,
        data: SourceReference {
            kind: format!("definition:{category}"),
            name: w.text("ItemName")?,
            code: w.opt_text("ItemValue")?,
            is_hidden: w.boolean("isHidden")? || w.boolean("IsHidden")?,
            payload: v.clone(),
        },
        raw: None,
    })
}

pub(crate) fn provider(v: &Value, tz: Tz) -> R<SyncRow<Provider<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let hygienist = w.boolean("IsSecondary")?;
    let hidden = w.boolean("IsHidden")? || w.text("ProvStatus")? == "Deleted";
    Ok(row(
        &w,
        w.key("ProvNum")?,
        "DateTStamp",
        Provider {
            kind: if hygienist { ProviderKind::Hygienist } else { ProviderKind::Dentist },
            first_name: w.text("FName")?,
            last_name: w.text("LName")?,
            abbreviation: w.opt_text("Abbr")?,
            specialty: w.opt_text("specialty")?,
            location_id: None,
            fee_schedule_id: w.reference("FeeSched")?,
            is_hidden: hidden,
        },
    ))
}

pub(crate) fn operatory(v: &Value, tz: Tz) -> R<SyncRow<Operatory<Keyed>>> {
    let w = Wire::new(v, tz)?;
    Ok(row(
        &w,
        w.key("OperatoryNum")?,
        "",
        Operatory {
            name: w.text("OpName")?,
            abbreviation: w.opt_text("Abbrev")?,
            location_id: w.reference("ClinicNum")?,
            provider_id: w.reference("ProvDentist")?,
            hygienist_id: w.reference("ProvHygienist")?,
            is_hygiene: w.boolean("IsHygiene")?,
            is_hidden: w.boolean("IsHidden")?,
            sort_order: i32::try_from(w.int_or_zero("ItemOrder")?).unwrap_or(i32::MAX),
        },
    ))
}

pub(crate) fn procedure_code(v: &Value, tz: Tz) -> R<SyncRow<ProcedureCode>> {
    let w = Wire::new(v, tz)?;
    let code = w.text("ProcCode")?;
    if code.is_empty() {
        return Err("ProcCode is empty".into());
    }
    let cdt = code.len() == 5 && code.starts_with('D') && code[1..].chars().all(|c| c.is_ascii_digit());
    let minutes = w.text("ProcTime")?.chars().count() as i32 * 5;
    Ok(row(
        &w,
        w.key("CodeNum")?,
        "DateTStamp",
        ProcedureCode {
            code,
            description: w.text("Descript")?,
            abbreviation: w.opt_text("AbbrDesc")?,
            kind: if cdt { ProcedureCodeKind::Cdt } else { ProcedureCodeKind::Service },
            category: w.opt_text("procCat")?,
            coverage_category: None,
            default_fee: None,
            duration_minutes: (minutes > 0).then_some(minutes),
            is_hidden: false,
        },
    ))
}

fn patient_status(s: &str) -> R<PatientStatus> {
    Ok(match s {
        "Patient" => PatientStatus::Active,
        "NonPatient" => PatientStatus::NonPatient,
        "Inactive" => PatientStatus::Inactive,
        "Archived" => PatientStatus::Archived,
        "Deleted" => PatientStatus::Deleted,
        "Deceased" => PatientStatus::Deceased,
        "Prospective" => PatientStatus::Prospective,
        other => return Err(format!("PatStatus {other:?} is not an Open Dental patient status")),
    })
}

fn gender(s: &str) -> Gender {
    match s {
        "Male" => Gender::Male,
        "Female" => Gender::Female,
        "Other" => Gender::Other,
        _ => Gender::Unknown,
    }
}

/// A patient and the family its guarantor heads.
pub(crate) fn patient(v: &Value, tz: Tz) -> R<(SyncRow<Family>, SyncRow<Patient<Keyed>>)> {
    let w = Wire::new(v, tz)?;
    let key = w.key("PatNum")?;
    let guarantor = w.reference("Guarantor")?.unwrap_or_else(|| key.clone());
    let status_source = w.text("PatStatus")?;
    let family = SyncRow { source_id: guarantor.clone(), source_updated_at: None, data: Family {}, raw: None };
    let patient = row(
        &w,
        key.clone(),
        "DateTStamp",
        Patient {
            is_guarantor: guarantor == key,
            family_id: Some(guarantor),
            chart_number: w.opt_text("ChartNumber")?,
            first_name: w.text("FName")?,
            last_name: w.text("LName")?,
            middle_name: w.opt_text("MiddleI")?,
            preferred_name: w.opt_text("Preferred")?,
            gender: gender(&w.text("Gender")?),
            birth_date: w.date("Birthdate")?.map(PartialDate::full),
            status: patient_status(&status_source)?,
            status_source,
            phone_home: w.opt_text("HmPhone")?,
            phone_work: w.opt_text("WkPhone")?,
            phone_mobile: w.opt_text("WirelessPhone")?,
            email: w.opt_text("Email")?,
            address_line1: w.opt_text("Address")?,
            address_line2: w.opt_text("Address2")?,
            city: w.opt_text("City")?,
            region: w.opt_text("State")?,
            postal_code: w.opt_text("Zip")?,
            ssn: w.opt_text("SSN")?,
            primary_provider_id: w.reference("PriProv")?,
            location_id: w.reference("ClinicNum")?,
            fee_schedule_id: w.reference("FeeSched")?,
            referral_source_id: None,
            first_visit_on: w.date("DateFirstVisit")?,
            registered_at: w
                .date("SecDateEntry")?
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| super::wire::to_utc(tz, t)),
            note: None,
        },
    );
    Ok((family, patient))
}

fn appointment_status(s: &str, arrived: bool) -> R<AppointmentStatus> {
    Ok(match s {
        "Scheduled" | "ASAP" if arrived => AppointmentStatus::Arrived,
        "Scheduled" | "ASAP" => AppointmentStatus::Scheduled,
        "Complete" => AppointmentStatus::Complete,
        "UnschedList" => AppointmentStatus::Unscheduled,
        "Broken" => AppointmentStatus::Broken,
        "Planned" => AppointmentStatus::Planned,
        "PtNote" | "PtNoteCompleted" => AppointmentStatus::Note,
        other => return Err(format!("AptStatus {other:?} is not an Open Dental appointment status")),
    })
}

/// An appointment and, when the patient arrived, its check-in.
type AppointmentRows = (SyncRow<Appointment<Keyed>>, Option<SyncRow<CheckIn<Keyed>>>);

/// An appointment, and its check-in when the patient arrived.
pub(crate) fn appointment(v: &Value, tz: Tz) -> R<AppointmentRows> {
    let w = Wire::new(v, tz)?;
    let key = w.key("AptNum")?;
    let start_at = w.instant("AptDateTime")?.ok_or("AptDateTime is missing")?;
    let pattern = w.text("Pattern")?;
    let status_source = w.text("AptStatus")?;
    let (arrived, seated, dismissed) =
        (w.instant("DateTimeArrived")?, w.instant("DateTimeSeated")?, w.instant("DateTimeDismissed")?);
    let patient = w.required_reference("PatNum")?;
    let (provider, location) = (w.reference("ProvNum")?, w.reference("ClinicNum")?);
    let appointment = row(
        &w,
        key.clone(),
        "DateTStamp",
        Appointment {
            patient_id: patient.clone(),
            provider_id: provider.clone(),
            hygienist_id: w.reference("ProvHyg")?,
            operatory_id: w.reference("Op")?,
            location_id: location.clone(),
            start_at,
            duration_minutes: (pattern.chars().count() as i32 * 5).max(5),
            status: appointment_status(&status_source, arrived.is_some() && dismissed.is_none())?,
            status_source,
            confirmation: w.opt_text("confirmed")?,
            note: w.opt_text("Note")?,
            is_new_patient: w.boolean("IsNewPatient")?,
            procedure_summary: w.opt_text("ProcDescript")?,
        },
    );
    let check_in = arrived.map(|waiting_at| {
        let state = if dismissed.is_some() {
            CheckInState::Done
        } else if seated.is_some() {
            CheckInState::Examination
        } else {
            CheckInState::Waiting
        };
        SyncRow {
            source_id: key,
            source_updated_at: appointment.source_updated_at,
            data: CheckIn {
                patient_id: patient,
                appointment_id: Some(appointment.source_id.clone()),
                location_id: location,
                provider_id: provider,
                state,
                state_source: state.as_ref().to_owned(),
                waiting_at: Some(waiting_at),
                examination_at: seated,
                done_at: dismissed,
                note: None,
            },
            raw: None,
        }
    });
    Ok((appointment, check_in))
}

fn procedure_status(s: &str) -> R<ProcedureStatus> {
    Ok(match s {
        "TP" => ProcedureStatus::Planned,
        "TPi" => ProcedureStatus::PlannedInactive,
        "C" => ProcedureStatus::Completed,
        "EC" => ProcedureStatus::ExistingCurrent,
        "EO" => ProcedureStatus::ExistingOther,
        "R" => ProcedureStatus::Referred,
        "D" => ProcedureStatus::Deleted,
        "Cn" => ProcedureStatus::Condition,
        other => return Err(format!("ProcStatus {other:?} is not an Open Dental procedure status")),
    })
}

/// Universal tooth numbers (`"3"`, `"A"`) and ranges (`"2,3, 13-15"`) as FDI.
fn teeth(tooth: &str, range: &str) -> R<ToothList> {
    let mut out = Vec::new();
    let mut push = |t: &str| -> R<()> {
        out.push(Tooth::universal(t).map_err(|e| e.to_string())?);
        Ok(())
    };
    if !tooth.is_empty() {
        push(tooth)?;
    }
    for part in range.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u8, u8) = (
                    a.trim().parse().map_err(|_| format!("bad ToothRange {range:?}"))?,
                    b.trim().parse().map_err(|_| format!("bad ToothRange {range:?}"))?,
                );
                for n in a.min(b)..=a.max(b) {
                    push(&n.to_string())?;
                }
            }
            None => push(part)?,
        }
    }
    Ok(ToothList::new(out))
}

pub(crate) fn procedure(v: &Value, tz: Tz) -> R<SyncRow<Procedure<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let status_source = w.text("ProcStatus")?;
    let (tooth, range, surf) = (w.text("ToothNum")?, w.text("ToothRange")?, w.text("Surf")?);
    let scope = match (tooth.is_empty() && range.is_empty(), surf.as_str()) {
        (true, "U") => ToothScope::UpperJaw,
        (true, "L") => ToothScope::LowerJaw,
        _ => ToothScope::Teeth,
    };
    let tooth_text =
        [tooth.as_str(), range.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(",");
    Ok(row(
        &w,
        w.key("ProcNum")?,
        "DateTStamp",
        Procedure {
            patient_id: w.required_reference("PatNum")?,
            appointment_id: w.reference("AptNum")?,
            procedure_code_id: w.reference("CodeNum")?,
            provider_id: w.reference("ProvNum")?,
            location_id: w.reference("ClinicNum")?,
            treatment_plan_id: None,
            status: procedure_status(&status_source)?,
            status_source,
            performed_on: w.date("ProcDate")?,
            teeth: teeth(&tooth, &range)?,
            tooth_scope: scope,
            tooth_text: (!tooth_text.is_empty()).then_some(tooth_text),
            surfaces: (!surf.is_empty() && scope == ToothScope::Teeth).then_some(surf),
            quantity: w.int_or_zero("UnitQty")?.max(1) as f64,
            fee: w.money("ProcFee")?,
            discount: w.money("Discount")?,
            diagnosis: w.opt_text("dxName")?,
        },
    ))
}

// Fees, referrals, insurance, claims, money and communications.

pub(crate) fn covcat(v: &Value, tz: Tz) -> R<SyncRow<SourceReference>> {
    let w = Wire::new(v, tz)?;
    let num = w.int("CovCatNum")?;
    Ok(SyncRow {
        source_id: SourceKey::parse(format!("covcat:{num}")).map_err(|e| e.to_string())?,
        source_updated_at: None,
        data: SourceReference {
            kind: "covcat".into(),
            name: w.text("Description")?,
            code: w.opt_text("EbenefitCat")?,
            is_hidden: w.boolean("IsHidden")?,
            payload: v.clone(),
        },
        raw: None,
    })
}

pub(crate) fn fee(v: &Value, tz: Tz) -> R<SyncRow<Fee<Keyed>>> {
    let w = Wire::new(v, tz)?;
    Ok(row(
        &w,
        w.key("FeeNum")?,
        "SecDateTEdit",
        Fee {
            fee_schedule_id: w.required_reference("FeeSched")?,
            procedure_code_id: w.required_reference("CodeNum")?,
            location_id: w.reference("ClinicNum")?,
            provider_id: w.reference("ProvNum")?,
            amount: w.money("Amount")?,
        },
    ))
}

pub(crate) fn referral(v: &Value, tz: Tz) -> R<SyncRow<ReferralSource>> {
    let w = Wire::new(v, tz)?;
    let not_person = w.boolean("NotPerson")?;
    let name = if not_person {
        w.text("BusinessName").ok().filter(|s| !s.is_empty()).unwrap_or(w.text("LName")?)
    } else {
        [w.text("FName")?, w.text("LName")?].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
    };
    Ok(row(
        &w,
        w.key("ReferralNum")?,
        "DateTStamp",
        ReferralSource {
            name,
            kind: if not_person {
                ReferralSourceKind::Channel
            } else if w.boolean("IsDoctor")? {
                ReferralSourceKind::Doctor
            } else {
                ReferralSourceKind::Person
            },
            specialty: w.opt_text("specialty")?,
            phone: w.opt_text("Telephone")?,
            email: w.opt_text("EMail")?,
            is_hidden: w.boolean("IsHidden")?,
        },
    ))
}

pub(crate) fn refattach(v: &Value, tz: Tz) -> R<SyncRow<PatientReferral<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let direction = match w.text("ReferralType")?.as_str() {
        "RefFrom" => ReferralDirection::From,
        "RefTo" => ReferralDirection::To,
        other => return Err(format!("ReferralType {other:?} is not a referral direction")),
    };
    Ok(row(
        &w,
        w.key("RefAttachNum")?,
        "DateTStamp",
        PatientReferral {
            patient_id: w.required_reference("PatNum")?,
            referral_source_id: w.required_reference("ReferralNum")?,
            direction,
            referred_on: w.date("RefDate")?,
            note: w.opt_text("Note")?,
        },
    ))
}

pub(crate) fn carrier(v: &Value, tz: Tz) -> R<SyncRow<InsuranceCarrier>> {
    let w = Wire::new(v, tz)?;
    let address = [w.text("Address")?, w.text("City")?, w.text("State")?, w.text("Zip")?]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(row(
        &w,
        w.key("CarrierNum")?,
        "SecDateTEdit",
        InsuranceCarrier {
            name: w.text("CarrierName")?,
            phone: w.opt_text("Phone")?,
            address: (!address.is_empty()).then_some(address),
            electronic_id: w.opt_text("ElectID")?,
            is_hidden: w.boolean("IsHidden")?,
        },
    ))
}

pub(crate) fn insplan(v: &Value, tz: Tz) -> R<SyncRow<InsurancePlan<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let month = w.int_or_zero("MonthRenew")?;
    if !(0..=12).contains(&month) {
        return Err(format!("MonthRenew {month} is not a month"));
    }
    let plan_type = match w.text("PlanType")?.as_str() {
        "" => "percentage".to_owned(),
        "p" => "ppo".to_owned(),
        "f" => "flat_copay".to_owned(),
        "c" => "capitation".to_owned(),
        other => other.to_owned(),
    };
    Ok(row(
        &w,
        w.key("PlanNum")?,
        "SecDateTEdit",
        InsurancePlan {
            carrier_id: w.required_reference("CarrierNum")?,
            group_name: w.opt_text("GroupName")?,
            group_number: w.opt_text("GroupNum")?,
            plan_type: Some(plan_type),
            fee_schedule_id: w.reference("FeeSched")?,
            benefit_year_start_month: if month == 0 { 1 } else { month as i16 },
            note: w.opt_text("PlanNote")?,
            is_hidden: w.boolean("IsHidden")?,
        },
    ))
}

pub(crate) fn inssub(v: &Value, tz: Tz) -> R<SyncRow<InsuranceSubscriber<Keyed>>> {
    let w = Wire::new(v, tz)?;
    Ok(row(
        &w,
        w.key("InsSubNum")?,
        "SecDateTEdit",
        InsuranceSubscriber {
            plan_id: w.required_reference("PlanNum")?,
            subscriber_patient_id: w.required_reference("Subscriber")?,
            member_id: w.opt_text("SubscriberID")?,
            effective_on: w.date("DateEffective")?,
            terminated_on: w.date("DateTerm")?,
        },
    ))
}

pub(crate) fn patplan(v: &Value, tz: Tz) -> R<SyncRow<PatientPlan<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let ordinal = w.int("Ordinal")?;
    if !(1..=20).contains(&ordinal) {
        return Err(format!("Ordinal {ordinal} is not a coverage order"));
    }
    Ok(row(
        &w,
        w.key("PatPlanNum")?,
        "SecDateTEdit",
        PatientPlan {
            patient_id: w.required_reference("PatNum")?,
            subscriber_id: w.required_reference("InsSubNum")?,
            ordinal: ordinal as i16,
            relationship: w.text("Relationship")?.to_lowercase(),
            is_pending: w.boolean("IsPending")?,
        },
    ))
}

pub(crate) fn benefit(v: &Value, tz: Tz) -> R<SyncRow<Benefit<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let percent = w.int_or_zero("Percent")?;
    let amount = w.money("MonetaryAmt")?;
    let quantity = w.int_or_zero("Quantity")?;
    let kind = match w.text("BenefitType")?.as_str() {
        "CoInsurance" => BenefitKind::Percentage,
        "Deductible" => BenefitKind::Deductible,
        "Limitations" if quantity > 0 => BenefitKind::Frequency,
        "Limitations" if amount.minor() >= 0 => BenefitKind::AnnualMaximum,
        "Limitations" => BenefitKind::Frequency,
        "CoPayment" => BenefitKind::CoPayment,
        "Exclusions" => BenefitKind::Exclusion,
        "WaitingPeriod" => BenefitKind::WaitingPeriod,
        "ActiveCoverage" => BenefitKind::ActiveCoverage,
        other => return Err(format!("BenefitType {other:?} is not an Open Dental benefit type")),
    };
    let level = match w.text("CoverageLevel")?.as_str() {
        "Individual" => CoverageLevel::Individual,
        "Family" => CoverageLevel::Family,
        _ => CoverageLevel::None,
    };
    let period = match w.text("TimePeriod")?.as_str() {
        "ServiceYear" => BenefitPeriod::ServiceYear,
        "CalendarYear" => BenefitPeriod::CalendarYear,
        "Lifetime" => BenefitPeriod::Lifetime,
        "Years" => BenefitPeriod::Years,
        "NumberInLast12Months" => BenefitPeriod::NumberInLast12Months,
        _ => BenefitPeriod::None,
    };
    let covcat = w.int_or_zero("CovCatNum")?;
    Ok(row(
        &w,
        w.key("BenefitNum")?,
        "SecDateTEdit",
        Benefit {
            plan_id: w.reference("PlanNum")?,
            patient_plan_id: w.reference("PatPlanNum")?,
            procedure_code_id: w.reference("CodeNum")?,
            coverage_category: (covcat > 0).then(|| format!("covcat:{covcat}")),
            kind,
            coverage_level: level,
            period,
            percent: (percent >= 0 && kind == BenefitKind::Percentage).then_some(percent as i16),
            amount: (amount.minor() >= 0
                && matches!(kind, BenefitKind::Deductible | BenefitKind::AnnualMaximum | BenefitKind::CoPayment))
            .then_some(amount),
            quantity: (quantity > 0).then_some(quantity as i32),
            quantity_qualifier: w.opt_text("QuantityQualifier")?.filter(|q| q != "None"),
        },
    ))
}

pub(crate) fn claim(v: &Value, tz: Tz) -> R<SyncRow<Claim<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let status_source = w.text("ClaimStatus")?;
    let status = match status_source.as_str() {
        "U" => ClaimStatus::Unsent,
        "H" | "I" => ClaimStatus::OnHold,
        "W" => ClaimStatus::WaitingToSend,
        "S" => ClaimStatus::Sent,
        "R" => ClaimStatus::Received,
        other => return Err(format!("ClaimStatus {other:?} is not an Open Dental claim status")),
    };
    let claim_type = match w.text("ClaimType")?.as_str() {
        "P" => ClaimType::Primary,
        "S" => ClaimType::Secondary,
        "PreAuth" => ClaimType::Preauth,
        "Cap" => ClaimType::Capitation,
        _ => ClaimType::Other,
    };
    Ok(row(
        &w,
        w.key("ClaimNum")?,
        "SecDateTEdit",
        Claim {
            patient_id: w.required_reference("PatNum")?,
            plan_id: w.reference("PlanNum")?,
            subscriber_id: w.reference("InsSubNum")?,
            provider_id: w.reference("ProvTreat")?,
            location_id: w.reference("ClinicNum")?,
            claim_type,
            status,
            status_source,
            service_date: w.date("DateService")?,
            sent_date: w.date("DateSent")?,
            received_date: w.date("DateReceived")?,
            fee_billed: w.money("ClaimFee")?,
            insurance_estimate: w.money("InsPayEst")?,
            insurance_paid: w.money("InsPayAmt")?,
            deductible_applied: w.money("DedApplied")?,
            write_off: w.money("WriteOff")?,
            note: w.opt_text("ClaimNote")?,
        },
    ))
}

pub(crate) fn claimproc(v: &Value, tz: Tz) -> R<SyncRow<ClaimProcedure<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let status_source = w.text("Status")?;
    let status = match status_source.as_str() {
        "NotReceived" => ClaimProcedureStatus::NotReceived,
        "Received" => ClaimProcedureStatus::Received,
        "Preauth" => ClaimProcedureStatus::Preauth,
        "Adjustment" => ClaimProcedureStatus::Adjustment,
        "Supplemental" => ClaimProcedureStatus::Supplemental,
        "CapClaim" => ClaimProcedureStatus::CapClaim,
        "Estimate" => ClaimProcedureStatus::Estimate,
        "CapComplete" => ClaimProcedureStatus::CapComplete,
        "CapEstimate" => ClaimProcedureStatus::CapEstimate,
        "InsHist" => ClaimProcedureStatus::InsHist,
        other => return Err(format!("Status {other:?} is not an Open Dental claim procedure status")),
    };
    let percentage = w.int_or_zero("Percentage")?;
    Ok(row(
        &w,
        w.key("ClaimProcNum")?,
        "SecDateTEdit",
        ClaimProcedure {
            claim_id: w.reference("ClaimNum")?,
            procedure_id: w.reference("ProcNum")?,
            patient_id: w.required_reference("PatNum")?,
            plan_id: w.reference("PlanNum")?,
            provider_id: w.reference("ProvNum")?,
            status,
            status_source,
            fee_billed: w.money("FeeBilled")?,
            insurance_estimate: w.money("InsPayEst")?,
            insurance_paid: w.money("InsPayAmt")?,
            deductible_applied: w.money("DedApplied")?,
            write_off: w.money("WriteOff")?,
            percentage: (percentage >= 0).then_some(percentage as i16),
            service_date: w.date("ProcDate")?,
            paid_date: w.date("DateCP")?,
        },
    ))
}

pub(crate) fn payment(v: &Value, tz: Tz) -> R<SyncRow<Payment<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let amount = w.money("PayAmt")?;
    Ok(row(
        &w,
        w.key("PayNum")?,
        "SecDateTEdit",
        Payment {
            patient_id: w.reference("PatNum")?,
            location_id: w.reference("ClinicNum")?,
            paid_on: w.date("PayDate")?.ok_or("PayDate is missing")?,
            amount,
            method: w.opt_text("payType")?,
            kind: if amount.minor() < 0 { PaymentKind::Refund } else { PaymentKind::Patient },
            status: PaymentStatus::Posted,
            reference: w.opt_text("CheckNum")?,
            note: w.opt_text("PayNote")?,
        },
    ))
}

pub(crate) fn paysplit(v: &Value, tz: Tz) -> R<SyncRow<PaymentAllocation<Keyed>>> {
    let w = Wire::new(v, tz)?;
    Ok(row(
        &w,
        w.key("SplitNum")?,
        "SecDateTEdit",
        PaymentAllocation {
            payment_id: Some(w.required_reference("PayNum")?),
            patient_id: w.reference("PatNum")?,
            procedure_id: w.reference("ProcNum")?,
            provider_id: w.reference("ProvNum")?,
            treatment_plan_id: None,
            amount: w.money("SplitAmt")?,
            allocated_on: w.date("DatePay")?,
        },
    ))
}

pub(crate) fn commlog(v: &Value, tz: Tz) -> R<SyncRow<Commlog<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let mode = match w.text("Mode_")?.as_str() {
        "Email" => CommMode::Email,
        "Mail" => CommMode::Mail,
        "Phone" => CommMode::Phone,
        "In Person" | "InPerson" => CommMode::InPerson,
        "Text" => CommMode::Text,
        "Email and Text" | "EmailAndText" => CommMode::EmailAndText,
        "Phone and Text" | "PhoneAndText" => CommMode::PhoneAndText,
        _ => CommMode::None,
    };
    let direction = match w.text("SentOrReceived")?.as_str() {
        "Sent" => CommDirection::Sent,
        "Received" => CommDirection::Received,
        _ => CommDirection::Neither,
    };
    let author = w.int_or_zero("UserNum")?;
    Ok(row(
        &w,
        w.key("CommlogNum")?,
        "DateTStamp",
        Commlog {
            patient_id: w.required_reference("PatNum")?,
            communicated_at: w.instant("CommDateTime")?.ok_or("CommDateTime is missing")?,
            kind: w.opt_text("commType")?,
            mode,
            direction,
            note: w.opt_text("Note")?,
            author: (author > 0).then(|| author.to_string()),
        },
    ))
}

pub(crate) fn treatplan(v: &Value, tz: Tz) -> R<SyncRow<TreatmentPlan<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let status_source = w.text("TPStatus")?;
    let status = match status_source.as_str() {
        "Active" => TreatmentPlanStatus::Active,
        "Inactive" => TreatmentPlanStatus::Inactive,
        "Saved" => TreatmentPlanStatus::Saved,
        other => return Err(format!("TPStatus {other:?} is not an Open Dental treatment plan status")),
    };
    Ok(row(
        &w,
        w.key("TreatPlanNum")?,
        "SecDateTEdit",
        TreatmentPlan {
            patient_id: w.required_reference("PatNum")?,
            kind: TreatmentPlanKind::Plan,
            status,
            status_source,
            name: w.opt_text("Heading")?,
            note: w.opt_text("Note")?,
            plan_date: w.date("DateTP")?,
            provider_id: None,
            location_id: None,
            amount_total: None,
            amount_paid: None,
            amount_residual: None,
        },
    ))
}

pub(crate) fn adjustment(v: &Value, tz: Tz) -> R<SyncRow<Adjustment<Keyed>>> {
    let w = Wire::new(v, tz)?;
    Ok(row(
        &w,
        w.key("AdjNum")?,
        "SecDateTEdit",
        Adjustment {
            patient_id: w.required_reference("PatNum")?,
            procedure_id: w.reference("ProcNum")?,
            provider_id: w.reference("ProvNum")?,
            location_id: w.reference("ClinicNum")?,
            adjusted_on: w.date("AdjDate")?.ok_or("AdjDate is missing")?,
            amount: w.money("AdjAmt")?,
            kind: w.opt_text("adjType")?,
            note: w.opt_text("AdjNote")?,
        },
    ))
}

fn prefixed(prefix: &str, n: i64) -> R<SourceKey> {
    SourceKey::parse(format!("{prefix}{n}")).map_err(|e| e.to_string())
}

/// A procedure attached to a live (active or inactive) treatment plan.
pub(crate) fn treatplanattach(v: &Value, tz: Tz) -> R<SyncRow<TreatmentPlanItem<Keyed>>> {
    let w = Wire::new(v, tz)?;
    Ok(SyncRow {
        source_id: prefixed("attach:", w.int("TreatPlanAttachNum")?)?,
        source_updated_at: None,
        data: TreatmentPlanItem {
            treatment_plan_id: w.required_reference("TreatPlanNum")?,
            procedure_id: w.reference("ProcNum")?,
            procedure_code_id: None,
            description: None,
            teeth: ToothList::default(),
            tooth_text: None,
            priority: w.opt_text("priority")?,
            sort_order: 0,
            fee: enamel_domain::Amount::ZERO,
            discount: enamel_domain::Amount::ZERO,
            insurance_estimate: None,
            patient_portion: None,
        },
        raw: None,
    })
}

/// A frozen line of a saved treatment plan, with the estimates it was presented with.
pub(crate) fn proctp(v: &Value, tz: Tz) -> R<SyncRow<TreatmentPlanItem<Keyed>>> {
    let w = Wire::new(v, tz)?;
    let tooth = w.text("ToothNumTP")?;
    let insurance = w.money("PriInsAmt")? + w.money("SecInsAmt")?;
    Ok(SyncRow {
        source_id: prefixed("proctp:", w.int("ProcTPNum")?)?,
        source_updated_at: w.stamp("SecDateTEdit"),
        data: TreatmentPlanItem {
            treatment_plan_id: w.required_reference("TreatPlanNum")?,
            procedure_id: w.reference("ProcNumOrig")?,
            procedure_code_id: None,
            description: w.opt_text("Descript")?,
            teeth: if tooth.is_empty() { ToothList::default() } else { teeth(&tooth, "")? },
            tooth_text: (!tooth.is_empty()).then_some(tooth),
            priority: w.opt_text("priority")?,
            sort_order: i32::try_from(w.int_or_zero("ItemOrder")?).unwrap_or(i32::MAX),
            fee: w.money("FeeAmt")?,
            discount: w.money("Discount")?,
            insurance_estimate: Some(insurance),
            patient_portion: Some(w.money("PatAmt")?),
        },
        raw: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_teeth_and_ranges_become_fdi() {
        assert_eq!(teeth("3", "").map(|t| t.to_string()), Ok("16".to_owned()));
        assert_eq!(teeth("", "2,3, 13-15").map(|t| t.to_string()), Ok("16,17,25,26,27".to_owned()));
        assert!(teeth("", "2-x").is_err());
    }
}
