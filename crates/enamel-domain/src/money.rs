//! Money: an integer count of minor units plus the practice currency.
//!
//! Rows store [`Amount`]s (minor units); the currency is a property of the practice, so a
//! [`Money`] is assembled at the edge where both are known.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A practice currency.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::AsRefStr,
    strum::EnumIter,
)]
#[strum(serialize_all = "UPPERCASE", ascii_case_insensitive)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// US dollars: 2 minor digits (cents).
    Usd,
    /// Vietnamese đồng: no minor unit.
    Vnd,
}

impl Currency {
    /// How many decimal digits the minor unit has.
    pub const fn minor_digits(self) -> u32 {
        match self {
            Currency::Usd => 2,
            Currency::Vnd => 0,
        }
    }

    /// Parses a decimal amount (`"123.45"`, `"-5"`, `"1,250.00"` is rejected) into minor
    /// units. More fractional digits than the currency has are rounded half away from zero.
    pub fn parse_amount(self, text: &str) -> Result<Amount, ParseError> {
        let t = text.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(ParseError::new("amount", text, "no digits"));
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("amount", text, "not a plain decimal number"));
        }
        let scale = 10_i128.pow(self.minor_digits());
        let int_part: i128 =
            if int.is_empty() { 0 } else { int.parse().map_err(|_| ParseError::new("amount", text, "too large"))? };
        let keep = self.minor_digits() as usize;
        let mut frac_minor: i128 = 0;
        for (i, b) in frac.bytes().take(keep).enumerate() {
            frac_minor += i128::from(b - b'0') * 10_i128.pow((keep - 1 - i) as u32);
        }
        let round_up = frac.as_bytes().get(keep).is_some_and(|b| *b >= b'5');
        let minor = int_part
            .checked_mul(scale)
            .and_then(|v| v.checked_add(frac_minor + i128::from(round_up)))
            .ok_or_else(|| ParseError::new("amount", text, "too large"))?;
        let minor = if neg { -minor } else { minor };
        i64::try_from(minor).map(Amount).map_err(|_| ParseError::new("amount", text, "too large"))
    }

    /// Converts a JSON number (PMSs send `88.0`) into minor units, rounding to the nearest
    /// minor unit.
    pub fn amount_from_f64(self, value: f64) -> Result<Amount, ParseError> {
        if !value.is_finite() {
            return Err(ParseError::new("amount", &value.to_string(), "not finite"));
        }
        // Going through the shortest decimal text avoids binary artefacts (0.29 * 100).
        self.parse_amount(&value.to_string())
    }
}

/// An amount in minor units of the practice currency (cents for USD, đồng for VND).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(pub i64);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// The number of minor units.
    pub const fn minor(self) -> i64 {
        self.0
    }

    /// Attaches the currency.
    pub const fn with(self, currency: Currency) -> Money {
        Money { amount: self, currency }
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0.saturating_add(rhs.0))
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0.saturating_sub(rhs.0))
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, |a, b| a + b)
    }
}

/// An amount with its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units.
    pub amount: Amount,
    /// The currency.
    pub currency: Currency,
}

impl fmt::Display for Money {
    /// The decimal amount without a currency sign: `"123.45"`, `"-0.05"`, `"150000"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        if digits == 0 {
            return write!(f, "{}", self.amount.0);
        }
        let scale = 10_i128.pow(digits);
        let v = i128::from(self.amount.0);
        let sign = if v < 0 { "-" } else { "" };
        let v = v.abs();
        write!(f, "{sign}{}.{:0width$}", v / scale, v % scale, width = digits as usize)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_decimal_text_into_minor_units() {
        let usd = Currency::Usd;
        assert_eq!(usd.parse_amount("123.45"), Ok(Amount(12345)));
        assert_eq!(usd.parse_amount("88"), Ok(Amount(8800)));
        assert_eq!(usd.parse_amount("-0.5"), Ok(Amount(-50)));
        assert_eq!(usd.parse_amount("0.005"), Ok(Amount(1)));
        assert_eq!(usd.parse_amount(".25"), Ok(Amount(25)));
        assert!(usd.parse_amount("1,250.00").is_err());
        assert!(usd.parse_amount("").is_err());
        assert!(usd.parse_amount("abc").is_err());
        assert_eq!(Currency::Vnd.parse_amount("150000.0"), Ok(Amount(150000)));
        assert_eq!(Currency::Usd.amount_from_f64(0.29), Ok(Amount(29)));
    }

    #[test]
    fn displays_with_the_currency_digits() {
        assert_eq!(Amount(12345).with(Currency::Usd).to_string(), "123.45");
        assert_eq!(Amount(-5).with(Currency::Usd).to_string(), "-0.05");
        assert_eq!(Amount(150000).with(Currency::Vnd).to_string(), "150000");
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(minor in -10_000_000_000_i64..10_000_000_000, vnd: bool) {
            let currency = if vnd { Currency::Vnd } else { Currency::Usd };
            let text = Amount(minor).with(currency).to_string();
            prop_assert_eq!(currency.parse_amount(&text), Ok(Amount(minor)));
        }
    }
}
