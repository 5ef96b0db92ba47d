//! Open Dental rows → canonical records. Each function maps one row or says why it cannot.

use chrono_tz::Tz;
use enamel_domain::enums::*;
use enamel_domain::records::*;
use enamel_domain::{PartialDate, SourceKey, SyncRow, Tooth, ToothList, ToothScope};
use serde_json::Value;

use super::wire::Wire;

type R<T> = Result<T, String>;

fn row<T>(w: &Wire<'_>, key: SourceKey, stamp_field: &str, raw: &Value, data: T) -> SyncRow<T> {
    SyncRow { source_id: key, source_updated_at: w.stamp(stamp_field), data, raw: Some(raw.clone()) }
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
        v,
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
        v,
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
        raw: Some(v.clone()),
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
        v,
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
        v,
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
        v,
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
        v,
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
        v,
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
        v,
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
