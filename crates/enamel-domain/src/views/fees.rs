//! Fee lookup: what a procedure code costs under a list of candidate fee schedules.

use serde::Serialize;

use super::is_live;
use crate::ids::{FeeScheduleId, LocationId, ProcedureCodeId, ProviderId};
use crate::records::Fee;
use crate::{Amount, Stored};

/// Where a quoted fee came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeBasis {
    /// A fee of a fee schedule.
    Schedule,
    /// The procedure code's default fee.
    CodeDefault,
}

/// A fee, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeeQuote {
    /// The fee.
    pub amount: Amount,
    /// The schedule it came from (none for the code's default fee).
    pub fee_schedule_id: Option<FeeScheduleId>,
    /// Schedule fee or code default.
    pub basis: FeeBasis,
}

/// The fee of `code`, looked up in `schedules` in priority order (typically the insurance
/// plan's schedule, the patient's, the provider's, then the practice default).
///
/// Within a schedule the most specific fee wins: one for both this location and this
/// provider, then one for this provider, then one for this location, then the generic
/// one (no location, no provider). A fee for another location or provider (or for any
/// location or provider when `location` / `provider` is `None`) does not apply. Among
/// equally specific fees the first in `fees` wins. The first schedule with an applicable
/// fee gives the quote; failing all, the code's `default_fee`. Soft-deleted fees are
/// ignored.
pub fn fee_for(
    code: ProcedureCodeId,
    schedules: &[FeeScheduleId],
    fees: &[Stored<Fee>],
    location: Option<LocationId>,
    provider: Option<ProviderId>,
    default_fee: Option<Amount>,
) -> Option<FeeQuote> {
    schedules
        .iter()
        .find_map(|&schedule| {
            best_fee(fees, code, schedule, location, provider).map(|amount| FeeQuote {
                amount,
                fee_schedule_id: Some(schedule),
                basis: FeeBasis::Schedule,
            })
        })
        .or_else(|| default_fee.map(|amount| FeeQuote { amount, fee_schedule_id: None, basis: FeeBasis::CodeDefault }))
}

/// The most specific applicable fee of one schedule.
fn best_fee(
    fees: &[Stored<Fee>],
    code: ProcedureCodeId,
    schedule: FeeScheduleId,
    location: Option<LocationId>,
    provider: Option<ProviderId>,
) -> Option<Amount> {
    let mut best: Option<(u8, Amount)> = None;
    let candidates = fees
        .iter()
        .filter(|f| is_live(&f.meta) && f.data.fee_schedule_id == schedule && f.data.procedure_code_id == code);
    for fee in candidates {
        if let Some(rank) = specificity(&fee.data, location, provider)
            && best.is_none_or(|(best_rank, _)| rank > best_rank)
        {
            best = Some((rank, fee.data.amount));
        }
    }
    best.map(|(_, amount)| amount)
}

/// How specifically a fee targets this location and provider (higher wins), or `None`
/// when it is for another location or provider: 3 both, 2 provider, 1 location, 0 generic.
fn specificity(fee: &Fee, location: Option<LocationId>, provider: Option<ProviderId>) -> Option<u8> {
    let by_location = match fee.location_id {
        None => 0,
        Some(l) if Some(l) == location => 1,
        Some(_) => return None,
    };
    let by_provider = match fee.provider_id {
        None => 0,
        Some(p) if Some(p) == provider => 2,
        Some(_) => return None,
    };
    Some(by_location + by_provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::test_support::{deleted, id, stored, usd};

    const CODE: u128 = 100;
    const PLAN_SCHEDULE: u128 = 1;
    const DEFAULT_SCHEDULE: u128 = 2;
    const HERE: u128 = 10;
    const THERE: u128 = 11;
    const DR_A: u128 = 20;
    const DR_B: u128 = 21;

    fn fee(schedule: u128, location: Option<u128>, provider: Option<u128>, amount: &str) -> Stored<Fee> {
        stored(Fee {
            fee_schedule_id: id(schedule),
            procedure_code_id: id(CODE),
            location_id: location.map(id),
            provider_id: provider.map(id),
            amount: usd(amount),
        })
    }

    fn quote(fees: &[Stored<Fee>], location: Option<u128>, provider: Option<u128>) -> Option<FeeQuote> {
        fee_for(
            id(CODE),
            &[id(PLAN_SCHEDULE), id(DEFAULT_SCHEDULE)],
            fees,
            location.map(id),
            provider.map(id),
            Some(usd("99.00")),
        )
    }

    fn from_schedule(schedule: u128, amount: &str) -> Option<FeeQuote> {
        Some(FeeQuote { amount: usd(amount), fee_schedule_id: Some(id(schedule)), basis: FeeBasis::Schedule })
    }

    #[test]
    fn the_most_specific_fee_of_a_schedule_wins() {
        let fees = [
            fee(DEFAULT_SCHEDULE, None, None, "100.00"),
            fee(DEFAULT_SCHEDULE, Some(HERE), None, "110.00"),
            fee(DEFAULT_SCHEDULE, None, Some(DR_A), "120.00"),
            fee(DEFAULT_SCHEDULE, Some(HERE), Some(DR_A), "130.00"),
        ];
        assert_eq!(quote(&fees, Some(HERE), Some(DR_A)), from_schedule(DEFAULT_SCHEDULE, "130.00"));
        assert_eq!(quote(&fees, Some(THERE), Some(DR_A)), from_schedule(DEFAULT_SCHEDULE, "120.00"));
        assert_eq!(quote(&fees, Some(HERE), Some(DR_B)), from_schedule(DEFAULT_SCHEDULE, "110.00"));
        assert_eq!(quote(&fees, Some(THERE), Some(DR_B)), from_schedule(DEFAULT_SCHEDULE, "100.00"));
        assert_eq!(quote(&fees, None, None), from_schedule(DEFAULT_SCHEDULE, "100.00"));
    }

    #[test]
    fn fees_for_another_location_or_provider_do_not_apply() {
        let fees = [fee(PLAN_SCHEDULE, Some(THERE), None, "50.00"), fee(PLAN_SCHEDULE, None, Some(DR_B), "60.00")];
        let code_default = Some(FeeQuote { amount: usd("99.00"), fee_schedule_id: None, basis: FeeBasis::CodeDefault });
        assert_eq!(quote(&fees, Some(HERE), Some(DR_A)), code_default);
        assert_eq!(quote(&fees, None, None), code_default);
        assert_eq!(quote(&fees, Some(THERE), None), from_schedule(PLAN_SCHEDULE, "50.00"));
    }

    #[test]
    fn the_first_schedule_with_an_applicable_fee_wins() {
        let fees = [
            fee(DEFAULT_SCHEDULE, Some(HERE), Some(DR_A), "130.00"),
            fee(PLAN_SCHEDULE, None, None, "80.00"),
            fee(PLAN_SCHEDULE, Some(THERE), None, "85.00"),
        ];
        assert_eq!(quote(&fees, Some(HERE), Some(DR_A)), from_schedule(PLAN_SCHEDULE, "80.00"));
        let only_default = fee_for(id(CODE), &[id(DEFAULT_SCHEDULE)], &fees, Some(id(HERE)), Some(id(DR_A)), None);
        assert_eq!(only_default, from_schedule(DEFAULT_SCHEDULE, "130.00"));
    }

    #[test]
    fn falls_back_to_the_code_default_or_nothing() {
        let other_code = stored(Fee {
            fee_schedule_id: id(PLAN_SCHEDULE),
            procedure_code_id: id(CODE + 1),
            location_id: None,
            provider_id: None,
            amount: usd("1.00"),
        });
        let fees = [other_code, deleted(fee(PLAN_SCHEDULE, None, None, "2.00"))];
        assert_eq!(
            quote(&fees, None, None),
            Some(FeeQuote { amount: usd("99.00"), fee_schedule_id: None, basis: FeeBasis::CodeDefault })
        );
        assert_eq!(fee_for(id(CODE), &[id(PLAN_SCHEDULE)], &fees, None, None, None), None);
        assert_eq!(fee_for(id(CODE), &[], &[], None, None, None), None);
    }

    #[test]
    fn equally_specific_fees_resolve_to_the_first() {
        let fees = [fee(PLAN_SCHEDULE, None, None, "70.00"), fee(PLAN_SCHEDULE, None, None, "75.00")];
        assert_eq!(quote(&fees, None, None), from_schedule(PLAN_SCHEDULE, "70.00"));
    }
}
