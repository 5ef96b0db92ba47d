//! Accounts-receivable aging: what is owed, by how long ago it was charged.

use std::ops::{Add, AddAssign};

use chrono::NaiveDate;
use serde::Serialize;

use super::ledger::LedgerEntry;
use crate::Amount;

/// Outstanding debits by age, as of a date.
///
/// Agings add up field by field, so a practice's aging is the sum of its families' agings
/// (`families.iter().sum::<Aging>()`); one family's unapplied credit is then not set off
/// against another family's debits, but `total` still nets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Aging {
    /// Debits 0 to 30 days old.
    pub days_0_30: Amount,
    /// Debits 31 to 60 days old.
    pub days_31_60: Amount,
    /// Debits 61 to 90 days old.
    pub days_61_90: Amount,
    /// Debits more than 90 days old.
    pub days_over_90: Amount,
    /// The balance: the buckets minus the unapplied credit.
    pub total: Amount,
    /// Credit left over once every debit is paid off, as a positive amount.
    pub unapplied_credit: Amount,
}

impl Aging {
    /// The sum of the four buckets (what is owed before unapplied credit).
    pub fn outstanding(&self) -> Amount {
        self.days_0_30 + self.days_31_60 + self.days_61_90 + self.days_over_90
    }

    /// The bucket a debit `days` old lands in.
    fn bucket_mut(&mut self, days: i64) -> &mut Amount {
        match days {
            ..=30 => &mut self.days_0_30,
            31..=60 => &mut self.days_31_60,
            61..=90 => &mut self.days_61_90,
            _ => &mut self.days_over_90,
        }
    }
}

/// Ages ledger entries as of `as_of`.
///
/// Entries dated after `as_of` are ignored. Positive entries are debits, aged by their own
/// date: 0–30 days (inclusive), 31–60, 61–90, over 90. Every credit (negative entry), whatever
/// its date, pays off the oldest debits first (FIFO); what remains of each debit lands in its
/// bucket, so buckets are never negative. Credit left over is `unapplied_credit`, and
/// `total` equals the ledger balance as of `as_of`. The entries need not be sorted.
pub fn aging(entries: &[LedgerEntry], as_of: NaiveDate) -> Aging {
    let counted = || entries.iter().filter(move |e| e.on <= as_of);
    let mut debits: Vec<(NaiveDate, Amount)> =
        counted().filter(|e| e.amount > Amount::ZERO).map(|e| (e.on, e.amount)).collect();
    debits.sort_by_key(|(on, _)| *on);
    let mut credit: Amount = counted().filter(|e| e.amount < Amount::ZERO).map(|e| Amount::ZERO - e.amount).sum();

    let mut out = Aging::default();
    for (on, amount) in debits {
        let applied = amount.min(credit);
        credit = credit - applied;
        let bucket = out.bucket_mut((as_of - on).num_days());
        *bucket = *bucket + (amount - applied);
    }
    out.unapplied_credit = credit;
    out.total = out.outstanding() - credit;
    out
}

impl Add for Aging {
    type Output = Aging;
    fn add(self, rhs: Aging) -> Aging {
        Aging {
            days_0_30: self.days_0_30 + rhs.days_0_30,
            days_31_60: self.days_31_60 + rhs.days_31_60,
            days_61_90: self.days_61_90 + rhs.days_61_90,
            days_over_90: self.days_over_90 + rhs.days_over_90,
            total: self.total + rhs.total,
            unapplied_credit: self.unapplied_credit + rhs.unapplied_credit,
        }
    }
}

impl AddAssign for Aging {
    fn add_assign(&mut self, rhs: Aging) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for Aging {
    fn sum<I: Iterator<Item = Aging>>(iter: I) -> Aging {
        iter.fold(Aging::default(), Add::add)
    }
}

impl<'a> std::iter::Sum<&'a Aging> for Aging {
    fn sum<I: Iterator<Item = &'a Aging>>(iter: I) -> Aging {
        iter.copied().sum()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::views::ledger::{LedgerEntryKind, LedgerSource};
    use crate::views::test_support::{day, id, usd};

    fn entry(on: NaiveDate, amount: Amount) -> LedgerEntry {
        let kind = if amount > Amount::ZERO { LedgerEntryKind::Charge } else { LedgerEntryKind::PatientPayment };
        LedgerEntry {
            on,
            kind,
            patient_id: None,
            source: LedgerSource::Adjustment(id(1)),
            amount,
            balance: Amount::ZERO,
            description: String::new(),
        }
    }

    #[test]
    fn debits_land_in_buckets_by_age_with_inclusive_bounds() {
        let as_of = day(2025, 6, 30);
        // A debit `d` days old is worth d + 1 cents, so each bucket's sum names its members.
        let ages = [0, 30, 31, 60, 61, 90, 91, 400];
        let entries: Vec<_> =
            ages.iter().map(|d| entry(as_of - chrono::Days::new(*d), Amount(*d as i64 + 1))).collect();
        let aging = aging(&entries, as_of);
        assert_eq!(aging.days_0_30, Amount(1 + 31));
        assert_eq!(aging.days_31_60, Amount(32 + 61));
        assert_eq!(aging.days_61_90, Amount(62 + 91));
        assert_eq!(aging.days_over_90, Amount(92 + 401));
        assert_eq!(aging.unapplied_credit, Amount::ZERO);
        assert_eq!(aging.total, aging.outstanding());
    }

    #[test]
    fn credits_pay_the_oldest_debits_first_whatever_their_date() {
        let as_of = day(2025, 6, 30);
        let entries = [
            entry(day(2025, 6, 20), usd("100.00")),  // 10 days
            entry(day(2025, 2, 1), usd("300.00")),   // > 90 days
            entry(day(2025, 4, 20), usd("200.00")),  // 71 days
            entry(day(2025, 6, 25), usd("-350.00")), // a recent payment
        ];
        let aging = aging(&entries, as_of);
        assert_eq!(aging.days_over_90, Amount::ZERO);
        assert_eq!(aging.days_61_90, usd("150.00"));
        assert_eq!(aging.days_31_60, Amount::ZERO);
        assert_eq!(aging.days_0_30, usd("100.00"));
        assert_eq!((aging.unapplied_credit, aging.total), (Amount::ZERO, usd("250.00")));
    }

    #[test]
    fn leftover_credit_is_unapplied_and_buckets_stay_non_negative() {
        let entries = [entry(day(2025, 1, 1), usd("50.00")), entry(day(2025, 1, 2), usd("-80.00"))];
        let aging = aging(&entries, day(2025, 1, 31));
        assert_eq!(aging.outstanding(), Amount::ZERO);
        assert_eq!(aging.unapplied_credit, usd("30.00"));
        assert_eq!(aging.total, usd("-30.00"));
    }

    #[test]
    fn entries_after_the_as_of_date_are_ignored() {
        let entries = [
            entry(day(2025, 1, 1), usd("50.00")),
            entry(day(2025, 3, 1), usd("-50.00")),
            entry(day(2025, 3, 1), usd("70.00")),
        ];
        let before = aging(&entries, day(2025, 2, 28));
        assert_eq!((before.days_31_60, before.total), (usd("50.00"), usd("50.00")));
        let after = aging(&entries, day(2025, 3, 1));
        assert_eq!((after.days_0_30, after.days_31_60, after.total), (usd("70.00"), Amount::ZERO, usd("70.00")));
    }

    #[test]
    fn agings_add_up_field_by_field() {
        let a = aging(&[entry(day(2025, 1, 1), usd("40.00"))], day(2025, 1, 10));
        let b = aging(&[entry(day(2024, 1, 1), usd("10.00")), entry(day(2025, 1, 1), usd("-25.00"))], day(2025, 1, 10));
        let sum: Aging = [a, b].iter().sum();
        assert_eq!(sum, a + b);
        assert_eq!(sum.days_0_30, usd("40.00"));
        assert_eq!(sum.unapplied_credit, usd("15.00"));
        assert_eq!(sum.total, usd("25.00"));
        let mut acc = Aging::default();
        acc += a;
        acc += b;
        assert_eq!(acc, [a, b].into_iter().sum::<Aging>());
    }

    proptest! {
        #[test]
        fn total_is_the_balance_and_buckets_are_never_negative(
            rows in proptest::collection::vec((0_u64..200, -50_000_i64..50_000), 0..30),
            as_of_offset in 0_u64..200,
        ) {
            let start = day(2025, 1, 1);
            let entries: Vec<_> = rows.iter().map(|(d, a)| entry(start + chrono::Days::new(*d), Amount(*a))).collect();
            let as_of = start + chrono::Days::new(as_of_offset);
            let aging = aging(&entries, as_of);
            let balance: Amount = entries.iter().filter(|e| e.on <= as_of).map(|e| e.amount).sum();
            prop_assert_eq!(aging.total, balance);
            for bucket in [aging.days_0_30, aging.days_31_60, aging.days_61_90, aging.days_over_90, aging.unapplied_credit] {
                prop_assert!(bucket >= Amount::ZERO);
            }
            prop_assert!(aging.outstanding() == Amount::ZERO || aging.unapplied_credit == Amount::ZERO);
        }
    }
}
