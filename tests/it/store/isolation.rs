//! Property: with two practices sharing PMS keys, no read ever returns the other
//! practice's row, whatever the interleaving of upserts and reads.

use anyhow::{Result, ensure};
use enamel_domain::ids::PatientId;
use enamel_domain::{PracticeId, Source};
use enamel_store::tables::appointment;
use enamel_store::{ChildPage, Store};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::fixtures::*;
use crate::support::backend_tests;

#[derive(Debug, Clone)]
enum Op {
    /// Upsert patient `key` (named with a marker of the practice) into practice `side`.
    Patient { side: bool, key: u32, version: u8 },
    /// Upsert an appointment of patient `patient` into practice `side`.
    Appointment { side: bool, key: u32, patient: u32 },
    /// Read everything through every read path of practice `side` and check ownership.
    Read { side: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 1..8_u32, any::<u8>()).prop_map(|(side, key, version)| Op::Patient { side, key, version }),
        (any::<bool>(), 1..12_u32, 1..8_u32).prop_map(|(side, key, patient)| Op::Appointment { side, key, patient }),
        any::<bool>().prop_map(|side| Op::Read { side }),
    ]
}

backend_tests!(no_read_crosses_practices);

async fn no_read_crosses_practices(store: Store) -> Result<()> {
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let strategy = proptest::collection::vec(op(), 1..40);
    let handle = tokio::runtime::Handle::current();
    let result = runner.run(&strategy, |ops| {
        let store = store.clone();
        let outcome = tokio::task::block_in_place(|| handle.block_on(check(store, ops)));
        outcome.map_err(|e| TestCaseError::fail(format!("{e:#}")))
    });
    result.map_err(|e| anyhow::anyhow!("{e}"))
}

async fn check(store: Store, ops: Vec<Op>) -> Result<()> {
    let a = practice(&store, "A").await;
    let b = practice(&store, "B").await;
    let of = |side: bool| if side { a } else { b };
    for op in ops {
        match op {
            Op::Patient { side, key: k, version } => {
                let mut row = patient(k);
                row.data.last_name = format!("{}-{version}", of(side));
                store.upsert(of(side), Source::OpenDental, &[row]).await?;
            }
            Op::Appointment { side, key: k, patient } => {
                // Rejected when the patient is not (yet) in this practice: never linked across.
                store.upsert(of(side), Source::OpenDental, &[appointment(k, patient, 1)]).await?;
            }
            Op::Read { side } => read_all(&store, of(side)).await?,
        }
    }
    read_all(&store, a).await?;
    read_all(&store, b).await?;
    for p in [a, b] {
        let dangling = store.check_references(p).await?;
        ensure!(dangling.is_empty(), "dangling references: {dangling:?}");
    }
    Ok(())
}

async fn read_all(store: &Store, p: PracticeId) -> Result<()> {
    let ids: Vec<PatientId> = store.live_ids(p).await?;
    let patients = store.get_many(p, &ids).await?;
    ensure!(patients.len() == ids.len());
    for row in &patients {
        ensure!(row.meta.practice_id == p, "by id: foreign row");
        ensure!(row.data.last_name.starts_with(&p.to_string()), "by id: another practice's content");
        let by_key = store.find_by_source_id::<PatientId>(p, Source::OpenDental, &row.meta.source_id).await?;
        ensure!(by_key.is_some_and(|r| r.id == row.id), "by key: wrong row");
    }
    let appts =
        store.children(p, appointment::BY_PATIENT, &ids, ChildPage::all(appointment::START_AT).first(3)).await?;
    for appt in &appts {
        ensure!(appt.meta.practice_id == p, "children: foreign row");
        ensure!(ids.contains(&appt.data.patient_id), "children: linked to a foreign patient");
    }
    // Asking with the other practice's ids finds nothing.
    let other: Vec<PatientId> = ids.iter().map(|_| PatientId::new()).collect();
    ensure!(store.get_many(p, &other).await?.is_empty());
    Ok(())
}
