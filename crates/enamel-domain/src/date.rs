//! Partial dates: TDental records birth dates such as `--/--/2003` (year only).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A calendar date of which any part may be unknown. A known day needs a known month, and
/// the known parts must be able to form a real date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct PartialDate {
    year: Option<i16>,
    month: Option<u8>,
    day: Option<u8>,
}

impl PartialDate {
    /// Builds a partial date, checking that the known parts can form a real date.
    pub fn new(year: Option<i16>, month: Option<u8>, day: Option<u8>) -> Result<Self, ParseError> {
        let shown = format!("{year:?}-{month:?}-{day:?}");
        if let Some(y) = year
            && !(1..=9999).contains(&y)
        {
            return Err(ParseError::new("partial date", &shown, "year out of range"));
        }
        if let Some(m) = month
            && !(1..=12).contains(&m)
        {
            return Err(ParseError::new("partial date", &shown, "month out of range"));
        }
        if let Some(d) = day {
            let Some(m) = month else {
                return Err(ParseError::new("partial date", &shown, "a day needs a month"));
            };
            // 2000 is a leap year, so 29 February is allowed when the year is unknown.
            let y = year.map_or(2000, i32::from);
            if NaiveDate::from_ymd_opt(y, u32::from(m), u32::from(d)).is_none() {
                return Err(ParseError::new("partial date", &shown, "no such day"));
            }
        }
        Ok(Self { year, month, day })
    }

    /// A complete date.
    pub fn full(date: NaiveDate) -> Self {
        Self {
            year: i16::try_from(date.year()).ok(),
            month: u8::try_from(date.month()).ok(),
            day: u8::try_from(date.day()).ok(),
        }
    }

    /// Parses `YYYY-MM-DD`, `DD/MM/YYYY`, and either with `--` or `-` for unknown parts
    /// (`--/--/2003`, `15/06/--`). An all-unknown text is an error; callers map empty input
    /// to `None` themselves.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let t = text.trim();
        let part = |s: &str| -> Result<Option<u32>, ParseError> {
            let s = s.trim();
            if s.chars().all(|c| c == '-') {
                Ok(None)
            } else {
                s.parse().map(Some).map_err(|_| ParseError::new("partial date", text, "not a number"))
            }
        };
        let (y, m, d) = if let [d, m, y] = t.split('/').collect::<Vec<_>>()[..] {
            (part(y)?, part(m)?, part(d)?)
        } else if t.len() >= 8 && t.as_bytes().get(4) == Some(&b'-') {
            let (y, rest) = t.split_at(4);
            let rest = &rest[1..];
            let (m, d) =
                rest.split_once('-').ok_or_else(|| ParseError::new("partial date", text, "expected YYYY-MM-DD"))?;
            (part(y)?, part(m)?, part(d.get(..2).unwrap_or(d))?)
        } else {
            return Err(ParseError::new("partial date", text, "expected YYYY-MM-DD or DD/MM/YYYY"));
        };
        if y.is_none() && m.is_none() && d.is_none() {
            return Err(ParseError::new("partial date", text, "every part is unknown"));
        }
        let narrow = |v: Option<u32>| v.map(|v| u8::try_from(v).unwrap_or(u8::MAX));
        Self::new(y.map(|y| i16::try_from(y).unwrap_or(i16::MAX)), narrow(m), narrow(d))
    }

    /// The year, if known.
    pub fn year(self) -> Option<i16> {
        self.year
    }

    /// The month (1–12), if known.
    pub fn month(self) -> Option<u8> {
        self.month
    }

    /// The day of the month, if known.
    pub fn day(self) -> Option<u8> {
        self.day
    }

    /// The date, when every part is known.
    pub fn to_date(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(i32::from(self.year?), u32::from(self.month?), u32::from(self.day?))
    }
}

impl fmt::Display for PartialDate {
    /// ISO-like with dashes for unknown parts: `2003-06-15`, `2003------`, `-----06-15`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(y) => write!(f, "{y:04}")?,
            None => f.write_str("----")?,
        }
        match self.month {
            Some(m) => write!(f, "-{m:02}")?,
            None => f.write_str("---")?,
        }
        match self.day {
            Some(d) => write!(f, "-{d:02}"),
            None => f.write_str("---"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_pms_send() {
        let year_only = PartialDate::parse("--/--/2003").unwrap_or_default();
        assert_eq!((year_only.year(), year_only.month(), year_only.day()), (Some(2003), None, None));
        let full = PartialDate::parse("1984-02-29").unwrap_or_default();
        assert_eq!(full.to_date(), NaiveDate::from_ymd_opt(1984, 2, 29));
        let no_year = PartialDate::parse("29/02/--").unwrap_or_default();
        assert_eq!((no_year.year(), no_year.month(), no_year.day()), (None, Some(2), Some(29)));
        assert_eq!(PartialDate::parse("2001-02-03T00:00:00").map(|d| d.to_string()), Ok("2001-02-03".to_owned()));
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(PartialDate::parse("--/--/----").is_err());
        assert!(PartialDate::parse("31/02/2003").is_err());
        assert!(PartialDate::parse("1983-02-29").is_err());
        assert!(PartialDate::new(Some(2000), None, Some(3)).is_err());
        assert!(PartialDate::parse("yesterday").is_err());
        assert!(PartialDate::parse("01/13/2003").is_err());
    }

    #[test]
    fn displays_unknown_parts_as_dashes() {
        assert_eq!(PartialDate::new(Some(2003), None, None).map(|d| d.to_string()), Ok("2003------".to_owned()));
    }

    #[test]
    fn display_parses_back() {
        for (y, m, d) in [
            (Some(2003), None, None),
            (None, Some(6), Some(15)),
            (Some(1990), Some(1), None),
            (Some(1990), Some(1), Some(31)),
        ] {
            let date = PartialDate::new(y, m, d).unwrap_or_default();
            assert_eq!(PartialDate::parse(&date.to_string()), Ok(date), "{date}");
        }
    }
}
