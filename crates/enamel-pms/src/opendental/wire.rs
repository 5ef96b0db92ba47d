//! Lenient reading of Open Dental's wire values: integers as numbers or numeric strings,
//! booleans as `"true"`/`"True"`/`true`, `0001-01-01` as "not set", money as numbers or
//! strings, date-times in the office's time zone.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use enamel_domain::{Amount, Currency, SourceKey};
use serde_json::Value;

use crate::row::{JsonRow, kind};

/// A row being read; errors name the field.
pub(crate) struct Wire<'a> {
    pub(crate) row: &'a serde_json::Map<String, Value>,
    pub(crate) tz: Tz,
}

type R<T> = Result<T, String>;

impl<'a> JsonRow<'a> for Wire<'a> {
    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.row.get(key)
    }
}

impl<'a> Wire<'a> {
    pub(crate) fn new(value: &'a Value, tz: Tz) -> R<Self> {
        value.as_object().map(|row| Wire { row, tz }).ok_or_else(|| "row is not a JSON object".to_owned())
    }

    /// A required integer.
    pub(crate) fn int(&self, key: &str) -> R<i64> {
        match self.raw(key) {
            None | Some(Value::Null) => Err(format!("{key} is missing")),
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("{key} is not an integer: {n}")),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| format!("{key} is not an integer: {s:?}")),
            Some(other) => Err(format!("{key} has the wrong type: {}", kind(other))),
        }
    }

    /// An integer that may be absent (0 when so).
    pub(crate) fn int_or_zero(&self, key: &str) -> R<i64> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(0),
            _ => self.int(key),
        }
    }

    /// The row's own key.
    pub(crate) fn key(&self, key: &str) -> R<SourceKey> {
        let n = self.int(key)?;
        if n <= 0 {
            return Err(format!("{key} is not a valid key: {n}"));
        }
        Ok(SourceKey::from(n))
    }

    /// A reference: `0` means none.
    pub(crate) fn reference(&self, key: &str) -> R<Option<SourceKey>> {
        let n = self.int_or_zero(key)?;
        Ok((n > 0).then(|| SourceKey::from(n)))
    }

    /// A required reference.
    pub(crate) fn required_reference(&self, key: &str) -> R<SourceKey> {
        self.reference(key)?.ok_or_else(|| format!("{key} is missing"))
    }

    /// A boolean (`"true"`, `"True"`, `true`; absent is false).
    pub(crate) fn boolean(&self, key: &str) -> R<bool> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
            Some(other) => Err(format!("{key} is not a boolean: {other}")),
        }
    }

    /// A date; `0001-01-01` and empty are `None`.
    pub(crate) fn date(&self, key: &str) -> R<Option<NaiveDate>> {
        let t = self.text(key)?;
        if t.is_empty() || t.starts_with("0001-01-01") {
            return Ok(None);
        }
        NaiveDate::parse_from_str(t.get(..10).unwrap_or(&t), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{key} is not a date: {t:?}"))
    }

    /// An office-local date-time, as UTC; `0001-01-01 00:00:00` and empty are `None`.
    pub(crate) fn instant(&self, key: &str) -> R<Option<DateTime<Utc>>> {
        Ok(self.local(key)?.map(|t| to_utc(self.tz, t)))
    }

    /// An office-local date-time as sent.
    pub(crate) fn local(&self, key: &str) -> R<Option<NaiveDateTime>> {
        let t = self.text(key)?;
        if t.is_empty() || t.starts_with("0001-01-01") {
            return Ok(None);
        }
        NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S"))
            .map(Some)
            .map_err(|_| format!("{key} is not a date-time: {t:?}"))
    }

    /// Money in US dollars (number or numeric string); absent is zero.
    pub(crate) fn money(&self, key: &str) -> R<Amount> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(Amount::ZERO),
            Some(Value::Number(n)) => {
                Currency::Usd.amount_from_f64(n.as_f64().unwrap_or(f64::NAN)).map_err(|e| format!("{key}: {e}"))
            }
            Some(Value::String(s)) if s.trim().is_empty() => Ok(Amount::ZERO),
            Some(Value::String(s)) => Currency::Usd.parse_amount(s).map_err(|e| format!("{key}: {e}")),
            Some(other) => Err(format!("{key} is not an amount: {}", kind(other))),
        }
    }

    /// A stamp this row changed at (`DateTStamp`, `SecDateTEdit`), as UTC.
    pub(crate) fn stamp(&self, key: &str) -> Option<DateTime<Utc>> {
        self.instant(key).ok().flatten()
    }
}

/// Office local time to UTC. In a DST gap the clock jumps forward, so the local time is
/// read an hour later; in an overlap the earlier instant is taken.
pub(crate) fn to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
        .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_shapes_open_dental_sends() {
        let v = json!({"A": 12, "B": "12", "C": "true", "D": "False", "E": "0001-01-01", "F": "2026-03-08 02:30:00",
                       "G": "130.00", "H": 88.5, "I": 0, "J": {"x": 1}});
        let w = Wire::new(&v, chrono_tz::America::New_York).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((w.int("A"), w.int("B")), (Ok(12), Ok(12)));
        assert_eq!((w.boolean("C"), w.boolean("D")), (Ok(true), Ok(false)));
        assert_eq!(w.date("E"), Ok(None));
        // 02:30 on the spring-forward night does not exist in New York: read as 03:30 EDT.
        assert_eq!(w.instant("F").map(|t| t.map(|t| t.to_rfc3339())), Ok(Some("2026-03-08T07:30:00+00:00".to_owned())));
        assert_eq!((w.money("G"), w.money("H")), (Ok(Amount(13000)), Ok(Amount(8850))));
        assert_eq!(w.reference("I"), Ok(None));
        assert!(w.int("J").is_err_and(|e| e.contains("wrong type")));
        assert!(w.int("missing").is_err_and(|e| e.contains("missing")));
    }
}
