//! Internal ids of PMS keys already in the store, remembered across transactions, so that
//! references to them need no statement.
//!
//! A synced row's id never changes once the row is committed: upserts keep it, soft
//! deletes and revivals keep it, and nothing deletes synced rows. The id a key resolved to
//! (or was given) in a committed transaction is therefore the id every later look-up would
//! return. A transaction notes what it learns ([`Learnt`]) and the notes are shared only
//! when it commits, so the id of a rolled-back insert is never seen. Only tables that some
//! table refers to are remembered, and at most [`MAX_KEYS`] keys: past that the memory
//! starts again empty (a look-up that misses asks the database, as it always may).

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use enamel_domain::{PracticeId, Source, SourceKey};
use uuid::Uuid;

/// Keys remembered at most (about 50 bytes each: numbers and GUIDs are kept as such).
pub(crate) const MAX_KEYS: usize = 300_000;

/// The tables some synced table refers to.
static TARGETS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| crate::tables::ALL.iter().flat_map(|(_, refs)| refs.iter().map(|(_, target)| *target)).collect());

/// Whose keys: one table's rows of one practice from one PMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    pub(crate) practice: PracticeId,
    pub(crate) source: Source,
    pub(crate) table: &'static str,
}

impl Scope {
    /// Whether rows of this table are ever referred to (and so worth remembering).
    pub(crate) fn is_target(&self) -> bool {
        TARGETS.contains(self.table)
    }
}

/// The ids known to this store, shared by its transactions.
#[derive(Debug, Default)]
pub(crate) struct KeyIds {
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    by_scope: HashMap<Scope, HashMap<Key, Uuid>>,
    len: usize,
}

/// A PMS key in little memory: Open Dental's keys are numbers, TDental's GUIDs. Only a text
/// that is exactly the canonical form of its number or GUID is kept as one, so two texts
/// never share a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Number(u64),
    Guid(u128),
    Text(Box<str>),
}

impl Key {
    fn of(text: &str) -> Key {
        let canonical_number = !text.is_empty()
            && text.len() <= 19
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        if canonical_number && let Ok(n) = text.parse() {
            return Key::Number(n);
        }
        if text.len() == 36
            && let Ok(guid) = Uuid::try_parse(text)
            && guid.hyphenated().encode_lower(&mut [0; 36]) == text
        {
            return Key::Guid(guid.as_u128());
        }
        Key::Text(text.into())
    }
}

impl KeyIds {
    /// Adds the ids of `keys` known in `scope` to `found`; returns the keys not known.
    pub(crate) fn lookup<'k>(
        &self,
        scope: Scope,
        keys: impl IntoIterator<Item = &'k SourceKey>,
        found: &mut HashMap<SourceKey, Uuid>,
    ) -> Vec<&'k SourceKey> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let ids = known.by_scope.get(&scope);
        let mut missing = Vec::new();
        for key in keys {
            match ids.and_then(|ids| ids.get(&Key::of(key.as_str()))) {
                Some(id) => {
                    found.insert(key.clone(), *id);
                }
                None => missing.push(key),
            }
        }
        missing
    }

    /// Shares what a committed transaction learnt.
    pub(crate) fn share(&self, learnt: Learnt) {
        let notes = learnt.notes.into_inner().unwrap_or_else(|e| e.into_inner());
        if notes.is_empty() {
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        // Keys already remembered (an unchanged page's rows) do not count towards the bound.
        let new =
            notes.iter().filter(|(scope, key, _)| known.by_scope.get(scope).is_none_or(|ids| !ids.contains_key(key)));
        if known.len + new.count() > MAX_KEYS {
            *known = Known::default();
        }
        for (scope, key, id) in notes {
            if known.by_scope.entry(scope).or_default().insert(key, id).is_none() {
                known.len += 1;
            }
        }
    }

    /// How many keys are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).len
    }
}

/// Ids one transaction learnt, to share when it commits.
#[derive(Debug, Default)]
pub(crate) struct Learnt {
    notes: Mutex<Vec<(Scope, Key, Uuid)>>,
}

impl Learnt {
    /// Notes keys and their ids, when their table is ever referred to.
    pub(crate) fn note<'k>(&self, scope: Scope, ids: impl IntoIterator<Item = (&'k str, Uuid)>) {
        if !scope.is_target() {
            return;
        }
        let mut notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        notes.extend(ids.into_iter().map(|(key, id)| (scope, Key::of(key), id)));
    }

    /// Takes what another note book holds (a preparation's, into its transaction's).
    pub(crate) fn absorb(&self, other: Learnt) {
        let other = other.notes.into_inner().unwrap_or_else(|e| e.into_inner());
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).extend(other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(table: &'static str) -> Scope {
        Scope { practice: PracticeId::from(Uuid::from_u128(1)), source: Source::OpenDental, table }
    }

    fn key(k: &str) -> SourceKey {
        SourceKey::parse(k).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ids_are_shared_only_when_their_transaction_commits() {
        let ids = KeyIds::default();
        let learnt = Learnt::default();
        learnt.note(scope("patient"), [("7", Uuid::from_u128(70))]);
        let (seven, eight) = (key("7"), key("8"));
        let mut found = HashMap::new();
        assert_eq!(ids.lookup(scope("patient"), [&seven, &eight], &mut found), vec![&seven, &eight]);
        ids.share(learnt);
        assert_eq!(ids.lookup(scope("patient"), [&seven, &eight], &mut found), vec![&eight]);
        assert_eq!(found.get(&seven), Some(&Uuid::from_u128(70)));
        // Another practice's or table's key of the same text is another row.
        let other = Scope { practice: PracticeId::from(Uuid::from_u128(2)), ..scope("patient") };
        assert_eq!(ids.lookup(other, [&seven], &mut HashMap::new()), vec![&seven]);
        assert_eq!(ids.lookup(scope("provider"), [&seven], &mut HashMap::new()), vec![&seven]);
    }

    #[test]
    fn numbers_and_guids_are_kept_small_and_never_confused_with_other_texts() {
        assert_eq!(Key::of("1734730"), Key::Number(1_734_730));
        assert_eq!(Key::of("0"), Key::Number(0));
        assert_eq!(Key::of("007"), Key::Text("007".into()));
        assert_eq!(Key::of("99999999999999999999"), Key::Text("99999999999999999999".into()));
        let guid = "3f2a6c1e-9b7d-4e21-a0c4-5d6e7f809112";
        assert_eq!(Key::of(guid), Key::Guid(Uuid::parse_str(guid).map(|u| u.as_u128()).unwrap_or_default()));
        let upper = guid.to_uppercase();
        assert_eq!(Key::of(&upper), Key::Text(upper.as_str().into()));
        assert_eq!(Key::of("rx:42"), Key::Text("rx:42".into()));
    }

    #[test]
    fn tables_nothing_refers_to_are_not_remembered() {
        let ids = KeyIds::default();
        let learnt = Learnt::default();
        assert!(!scope("claim_procedure").is_target());
        learnt.note(scope("claim_procedure"), [("1", Uuid::from_u128(1))]);
        learnt.note(scope("procedure"), [("1", Uuid::from_u128(2))]);
        ids.share(learnt);
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn past_the_bound_memory_starts_again() {
        let ids = KeyIds::default();
        let fill = |from: usize, n: usize| {
            let learnt = Learnt::default();
            let keys: Vec<String> = (from..from + n).map(|i| i.to_string()).collect();
            learnt.note(scope("patient"), keys.iter().map(|k| (k.as_str(), Uuid::from_u128(1))));
            ids.share(learnt);
        };
        fill(0, MAX_KEYS - 10);
        assert_eq!(ids.len(), MAX_KEYS - 10);
        // Keys it already holds are not new: noting them again keeps the memory.
        fill(0, 100);
        assert_eq!(ids.len(), MAX_KEYS - 10);
        fill(MAX_KEYS, 20);
        assert_eq!(ids.len(), 20);
        let mut found = HashMap::new();
        assert_eq!(ids.lookup(scope("patient"), [&key("0")], &mut found).len(), 1);
    }
}
