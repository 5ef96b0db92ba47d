//! Mapped rows as an adapter would produce them.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use enamel_domain::enums::*;
use enamel_domain::records::*;
use enamel_domain::{Amount, Currency, PartialDate, PracticeId, SourceKey, SyncRow, ToothList, ToothScope};
use enamel_store::{NewPractice, Store};

pub fn key(s: impl std::fmt::Display) -> SourceKey {
    SourceKey::parse(s.to_string()).unwrap()
}

pub async fn practice(store: &Store, name: &str) -> PracticeId {
    store
        .create_practice(NewPractice {
            name: name.to_owned(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::Usd,
        })
        .await
        .unwrap()
        .id
}

pub fn patient(n: u32) -> SyncRow<Patient<Keyed>> {
    SyncRow::new(
        key(n),
        Patient {
            family_id: None,
            is_guarantor: true,
            chart_number: Some(format!("C{n:05}")),
            first_name: format!("First{n}"),
            last_name: format!("Last{n}"),
            middle_name: None,
            preferred_name: None,
            gender: Gender::Female,
            birth_date: PartialDate::new(Some(1980 + (n % 30) as i16), None, None).ok(),
            status: PatientStatus::Active,
            status_source: "Patient".to_owned(),
            phone_home: None,
            phone_work: None,
            phone_mobile: Some(format!("555-{n:04}")),
            email: None,
            address_line1: None,
            address_line2: None,
            city: Some("Portland".to_owned()),
            region: Some("OR".to_owned()),
            postal_code: None,
            ssn: None,
            primary_provider_id: None,
            location_id: None,
            fee_schedule_id: None,
            referral_source_id: None,
            first_visit_on: NaiveDate::from_ymd_opt(2020, 1, 1),
            registered_at: None,
            note: None,
        },
    )
}

pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap()
}

pub fn appointment(n: u32, patient: u32, hours_from_base: i64) -> SyncRow<Appointment<Keyed>> {
    SyncRow::new(
        key(n),
        Appointment {
            patient_id: key(patient),
            provider_id: None,
            hygienist_id: None,
            operatory_id: None,
            location_id: None,
            start_at: base_time() + Duration::hours(hours_from_base),
            duration_minutes: 30,
            status: AppointmentStatus::Scheduled,
            status_source: "Scheduled".to_owned(),
            confirmation: None,
            note: None,
            is_new_patient: false,
            procedure_summary: Some("PerEx".to_owned()),
        },
    )
}

pub fn procedure(n: u32, patient: u32, appointment: Option<u32>) -> SyncRow<Procedure<Keyed>> {
    SyncRow::new(
        key(n),
        Procedure {
            patient_id: key(patient),
            appointment_id: appointment.map(key),
            procedure_code_id: None,
            provider_id: None,
            location_id: None,
            treatment_plan_id: None,
            status: ProcedureStatus::Completed,
            status_source: "C".to_owned(),
            performed_on: NaiveDate::from_ymd_opt(2026, 3, 2),
            teeth: ToothList::parse_fdi("16 17").unwrap(),
            tooth_scope: ToothScope::Teeth,
            tooth_text: Some("3,2".to_owned()),
            surfaces: Some("MOD".to_owned()),
            quantity: 1.0,
            fee: Amount(12_500 + i64::from(n % 100)),
            discount: Amount::ZERO,
            diagnosis: None,
        },
    )
}
