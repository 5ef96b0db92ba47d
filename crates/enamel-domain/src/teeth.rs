//! Teeth, in FDI (ISO 3950) notation: permanent `11`–`48`, primary `51`–`85`.
//!
//! Open Dental uses the Universal system (`1`–`32`, `A`–`T`); TDental uses FDI numbers, in
//! tooth links and, mostly, in free text such as `"37 38"`. Both are normalised here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// One tooth, as its FDI number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Tooth(u8);

impl Tooth {
    /// A tooth from its FDI number.
    pub fn fdi(n: u8) -> Result<Self, ParseError> {
        let (quadrant, position) = (n / 10, n % 10);
        let ok = match quadrant {
            1..=4 => (1..=8).contains(&position),
            5..=8 => (1..=5).contains(&position),
            _ => false,
        };
        if ok { Ok(Self(n)) } else { Err(ParseError::new("tooth", &n.to_string(), "not an FDI tooth number")) }
    }

    /// A tooth from Universal notation: `1`–`32` permanent, `A`–`T` primary.
    pub fn universal(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u8>() {
            let fdi = match n {
                1..=8 => 19 - n,
                9..=16 => 12 + n,
                17..=24 => 55 - n,
                25..=32 => 16 + n,
                _ => return Err(ParseError::new("tooth", s, "not a Universal tooth number")),
            };
            return Self::fdi(fdi);
        }
        let mut chars = t.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(ParseError::new("tooth", s, "not a Universal tooth number"));
        };
        let i = match c.to_ascii_uppercase() {
            c @ 'A'..='T' => c as u8 - b'A',
            _ => return Err(ParseError::new("tooth", s, "not a Universal tooth letter")),
        };
        let fdi = match i {
            0..=4 => 55 - i,
            5..=9 => 56 + i,
            10..=14 => 85 - i,
            _ => 66 + i,
        };
        Self::fdi(fdi)
    }

    /// The FDI number.
    pub fn number(self) -> u8 {
        self.0
    }

    /// Whether the tooth is in the upper jaw.
    pub fn is_upper(self) -> bool {
        matches!(self.0 / 10, 1 | 2 | 5 | 6)
    }
}

impl TryFrom<u8> for Tooth {
    type Error = ParseError;
    fn try_from(n: u8) -> Result<Self, ParseError> {
        Self::fdi(n)
    }
}

impl From<Tooth> for u8 {
    fn from(t: Tooth) -> u8 {
        t.0
    }
}

impl fmt::Display for Tooth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A sorted set of teeth.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ToothList(Vec<Tooth>);

impl ToothList {
    /// A list from teeth in any order, with duplicates removed.
    pub fn new(mut teeth: Vec<Tooth>) -> Self {
        teeth.sort_unstable();
        teeth.dedup();
        Self(teeth)
    }

    /// Parses a list that holds nothing but FDI numbers separated by spaces, commas,
    /// semicolons or `+` (`"37 38"`, `"16,17;26"`). Empty text is an empty list.
    pub fn parse_fdi(text: &str) -> Result<Self, ParseError> {
        let mut teeth = Vec::new();
        for token in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '+')).filter(|t| !t.is_empty()) {
            let n: u8 = token.parse().map_err(|_| ParseError::new("tooth list", text, "not a list of FDI numbers"))?;
            teeth.push(Tooth::fdi(n)?);
        }
        Ok(Self::new(teeth))
    }

    /// Finds FDI numbers inside free text (`"TRÁM MẶT NHA (16,17,26,27)"`): standalone
    /// two-digit numbers that are real teeth, skipping parts of dates, times and decimals
    /// (`28/3/23`, `9:30`, `1.5`).
    pub fn scan_free_text(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut teeth = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let joined = |c: Option<&char>| c.is_some_and(|c| matches!(c, '/' | ':' | '.' | '-'));
            let before = start.checked_sub(1).and_then(|j| chars.get(j));
            if i - start == 2 && !joined(before) && !joined(chars.get(i)) {
                let n = (chars[start] as u8 - b'0') * 10 + (chars[start + 1] as u8 - b'0');
                if let Ok(t) = Tooth::fdi(n) {
                    teeth.push(t);
                }
            }
        }
        Self::new(teeth)
    }

    /// The teeth, sorted.
    pub fn teeth(&self) -> &[Tooth] {
        &self.0
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ToothList {
    /// Comma-separated FDI numbers: `16,17,26`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

/// What part of the mouth a procedure covers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::AsRefStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ToothScope {
    /// The listed teeth (or none: not tooth-specific).
    #[default]
    Teeth,
    /// The whole mouth.
    WholeMouth,
    /// The upper jaw.
    UpperJaw,
    /// The lower jaw.
    LowerJaw,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fdi(list: &ToothList) -> Vec<u8> {
        list.teeth().iter().map(|t| t.number()).collect()
    }

    #[test]
    fn universal_numbers_map_to_fdi() {
        let cases = [("1", 18), ("8", 11), ("9", 21), ("16", 28), ("17", 38), ("24", 31), ("25", 41), ("32", 48)];
        for (u, f) in cases {
            assert_eq!(Tooth::universal(u).map(Tooth::number), Ok(f), "universal {u}");
        }
        let letters = [("A", 55), ("E", 51), ("F", 61), ("J", 65), ("K", 75), ("O", 71), ("P", 81), ("T", 85)];
        for (u, f) in letters {
            assert_eq!(Tooth::universal(u).map(Tooth::number), Ok(f), "universal {u}");
        }
        assert!(Tooth::universal("33").is_err());
        assert!(Tooth::universal("U").is_err());
    }

    #[test]
    fn fdi_lists_parse_and_print() {
        assert_eq!(ToothList::parse_fdi("38 37, 37").map(|l| l.to_string()), Ok("37,38".to_owned()));
        assert!(ToothList::parse_fdi("19").is_err());
        assert!(ToothList::parse_fdi("37 and 38").is_err());
        assert!(ToothList::parse_fdi("").is_ok_and(|l| l.is_empty()));
    }

    #[test]
    fn free_text_scan_skips_dates_and_times() {
        let l = ToothList::scan_free_text("28/3/23: TRÁM MẶT NHA VÀ MẶT BÊN (16,17,26,27) ; CVR 9:30");
        assert_eq!(fdi(&l), vec![16, 17, 26, 27]);
        assert_eq!(fdi(&ToothList::scan_free_text("nhổ răng 48 và 38")), vec![38, 48]);
        assert!(ToothList::scan_free_text("120 000 VND").is_empty());
    }
}
