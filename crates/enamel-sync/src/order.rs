//! Streams in dependency order, several at a time.
//!
//! A stream refers to the rows of the streams it depends on (`StreamSpec::depends_on`):
//! it may start once those have finished, not before. Streams that do not depend on each
//! other run side by side: one writes while another fetches and maps, and on PostgreSQL
//! two transactions write at once (one backend per connection, each on its own core).

use std::collections::HashSet;
use std::future::Future;

use enamel_pms::StreamSpec;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

/// Runs `run` for each of `specs`, at most `at_once` at a time, each once every stream it
/// depends on among `specs` has finished (a dependency outside `specs` is taken as done:
/// the caller chose a subset). Streams start in the order given when several are ready.
///
/// After a failure no further stream starts; those running finish. Returns the results
/// of the streams that finished, in the order of `specs`, with the first error if any.
pub async fn in_dependency_order<'s, T, E, F, Fut>(
    specs: &[&'s StreamSpec],
    at_once: usize,
    mut run: F,
) -> Result<Vec<T>, (Vec<T>, E)>
where
    F: FnMut(&'s StreamSpec) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut waiting: Vec<(usize, &'s StreamSpec)> = specs.iter().copied().enumerate().collect();
    let mut unfinished: HashSet<&str> = specs.iter().map(|s| s.name).collect();
    let mut running = FuturesUnordered::new();
    let mut done: Vec<(usize, T)> = Vec::with_capacity(specs.len());
    let mut failure = None;
    loop {
        while failure.is_none() && running.len() < at_once.max(1) && !waiting.is_empty() {
            let ready = waiting.iter().position(|(_, s)| s.depends_on.iter().all(|d| !unfinished.contains(d)));
            let at = match ready {
                Some(at) => at,
                // Nothing ready and nothing running: the dependencies form a cycle. Declared
                // order breaks it rather than waiting forever.
                None if running.is_empty() => 0,
                None => break,
            };
            let (index, spec) = waiting.remove(at);
            let work = run(spec);
            running.push(async move { (index, spec.name, work.await) });
        }
        let Some((index, name, result)) = running.next().await else { break };
        unfinished.remove(name);
        match result {
            Ok(value) => done.push((index, value)),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    done.sort_by_key(|(index, _)| *index);
    let done = done.into_iter().map(|(_, value)| value).collect();
    match failure {
        None => Ok(done),
        Some(e) => Err((done, e)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use enamel_pms::Deletions;

    use super::*;

    const fn spec(name: &'static str, depends_on: &'static [&'static str]) -> StreamSpec {
        StreamSpec {
            name,
            entity: name,
            key_prefix: "",
            depends_on,
            incremental: false,
            deletions: Deletions::Reconcile,
            every: Duration::from_secs(60),
            per_parent: None,
            paged_parents: false,
        }
    }

    static SPECS: &[StreamSpec] =
        &[spec("a", &[]), spec("b", &[]), spec("c", &["a"]), spec("d", &["b", "c"]), spec("e", &[])];

    /// Runs the specs with `at_once`, each taking `ms(name)` of tokio's paused clock and
    /// failing when `fails(name)`: (the results, the error, what ran when).
    async fn drive(
        specs: &[&'static StreamSpec],
        at_once: usize,
        ms: fn(&str) -> u64,
        fails: fn(&str) -> bool,
    ) -> (Vec<&'static str>, Option<String>, Vec<String>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let started = tokio::time::Instant::now();
        let result = in_dependency_order(specs, at_once, |spec| {
            let log = log.clone();
            async move {
                let at = |what: &str| format!("{what} {} @{}", spec.name, started.elapsed().as_millis());
                log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(at("start"));
                tokio::time::sleep(Duration::from_millis(ms(spec.name))).await;
                log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(at("end"));
                if fails(spec.name) { Err(format!("{} failed", spec.name)) } else { Ok(spec.name) }
            }
        })
        .await;
        let log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        match result {
            Ok(done) => (done, None, log),
            Err((done, e)) => (done, Some(e), log),
        }
    }

    fn all() -> Vec<&'static StreamSpec> {
        SPECS.iter().collect()
    }

    #[tokio::test(start_paused = true)]
    async fn one_at_a_time_is_the_declared_order() {
        let (done, error, log) = drive(&all(), 1, |_| 10, |_| false).await;
        assert_eq!(done, ["a", "b", "c", "d", "e"]);
        assert_eq!(error, None);
        assert_eq!(log.iter().filter(|l| l.starts_with("start")).count(), 5);
        assert_eq!(log[..2], ["start a @0", "end a @10"]);
        assert_eq!(log[8..], ["start e @40", "end e @50"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_starts_only_after_what_it_depends_on() {
        // a 10, b 30, c 10, d 10, e 50, two at a time: a and b start; c after a; e after c
        // (d waits for b); d after b.
        let ms = |name: &str| match name {
            "b" => 30,
            "e" => 50,
            _ => 10,
        };
        let (done, error, log) = drive(&all(), 2, ms, |_| false).await;
        assert_eq!(done, ["a", "b", "c", "d", "e"], "results in declared order");
        assert_eq!(error, None);
        let starts: Vec<&str> = log.iter().filter(|l| l.starts_with("start")).map(String::as_str).collect();
        assert_eq!(starts, ["start a @0", "start b @0", "start c @10", "start e @20", "start d @30"]);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_failure_nothing_starts_and_what_runs_finishes() {
        let ms = |name: &str| if name == "b" { 30 } else { 10 };
        let (done, error, log) = drive(&all(), 2, ms, |name| name == "a").await;
        assert_eq!(error.as_deref(), Some("a failed"));
        assert_eq!(done, ["b"], "b was running when a failed: it finished");
        assert!(!log.iter().any(|l| l.starts_with("start c") || l.starts_with("start e")), "{log:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn dependencies_outside_the_selection_are_taken_as_done() {
        let chosen: Vec<&StreamSpec> = SPECS.iter().filter(|s| s.name == "d" || s.name == "c").collect();
        let (done, error, _) = drive(&chosen, 2, |_| 10, |_| false).await;
        assert_eq!((done, error), (vec!["c", "d"], None));
    }

    /// A stream refers to rows through the store's references: each table it refers to
    /// that the PMS has a stream for must be written by a stream it depends on (directly
    /// or not), or it could start before those rows have landed and have its rows refused.
    /// And the declared order (one stream at a time) puts each after what it depends on.
    #[test]
    fn each_stream_depends_on_the_streams_whose_rows_it_refers_to() {
        // References a PMS's mapping always leaves empty: (stream, column).
        const NEVER_SET: &[(&str, &str)] = &[
            // Open Dental links procedures and splits to plans through attachments.
            ("procedurelogs", "treatment_plan_id"),
            ("paysplits", "treatment_plan_id"),
            // TDental lists carry no customer's doctor nor an order line's appointment.
            ("partners", "primary_provider_id"),
            ("saleorderlines", "appointment_id"),
        ];
        let mut missing = Vec::new();
        for streams in [enamel_pms::opendental::STREAMS, enamel_pms::tdental::STREAMS] {
            for (i, spec) in streams.iter().enumerate() {
                for dep in spec.depends_on {
                    let at = streams.iter().position(|d| d.name == *dep);
                    assert!(at.is_some_and(|at| at < i), "{} is declared before {dep}, which it depends on", spec.name);
                }
                let mut before: HashSet<&str> = HashSet::new();
                let mut todo: Vec<&str> = spec.depends_on.to_vec();
                while let Some(name) = todo.pop() {
                    if before.insert(name) {
                        let dep = streams.iter().find(|s| s.name == name);
                        todo.extend(dep.map_or(&[][..], |d| d.depends_on));
                    }
                }
                let refs = enamel_store::tables::ALL.iter().find(|(table, _)| *table == spec.entity);
                for (column, target) in refs.map_or(&[][..], |(_, refs)| refs) {
                    let writers: Vec<&str> = streams.iter().filter(|s| s.entity == *target).map(|s| s.name).collect();
                    let covered = *target == spec.entity
                        || writers.is_empty()
                        || writers.iter().any(|w| before.contains(w))
                        || NEVER_SET.contains(&(spec.name, *column));
                    if !covered {
                        missing.push(format!("{} refers through {column} to {target}: {writers:?}", spec.name));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "streams that must depend on one of the streams named:\n{}", missing.join("\n"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cycle_runs_in_declared_order_instead_of_waiting_forever() {
        static CYCLE: &[StreamSpec] = &[spec("x", &["y"]), spec("y", &["x"])];
        let chosen: Vec<&StreamSpec> = CYCLE.iter().collect();
        let (done, error, _) = drive(&chosen, 2, |_| 10, |_| false).await;
        assert_eq!((done, error), (vec!["x", "y"], None));
    }
}
