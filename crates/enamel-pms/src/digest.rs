//! Page digests: a fingerprint of a PMS answer that says whether it maps to the same rows
//! as an earlier one (see [`PageDigest`]).
//!
//! The digest covers the answer's bytes except the values of one volatile field (Open
//! Dental stamps every row of some lists with its clock, `serverDateTime`, which changes
//! each second without the rows changing), salted with everything else the mapping
//! depends on: the code of this crate and of the domain crate (a fingerprint of their
//! sources, taken at build time), the stream, the page size and the office's time zone.
//! A field written with other spacing is simply not left out: the digest then changes
//! with the clock, which costs a full read, never a missed change.

use enamel_domain::PageDigest;
use xxhash_rust::xxh3::Xxh3;

/// The sources of the code that maps answers to rows, fingerprinted by `build.rs`.
const MAPPING: &str = env!("ENAMEL_MAPPING_FINGERPRINT");

/// What, besides the answer's bytes, the rows mapped from it depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Salt<'a> {
    /// The stream.
    pub(crate) stream: &'a str,
    /// Rows per page asked for.
    pub(crate) limit: usize,
    /// The office's time zone.
    pub(crate) time_zone: &'a str,
    /// The PMS's address (another office answers for other rows).
    pub(crate) base_url: &'a str,
}

/// An answer to a page request, as read in the retry loop.
pub(crate) enum Answer<T> {
    /// It has the digest the caller knows: not parsed. With the first value of the
    /// volatile field, if any.
    Same { digest: PageDigest, volatile: Option<String> },
    /// Another answer, parsed.
    Body { digest: PageDigest, body: T },
}

/// Reads an answer's bytes: digested first, and parsed only when the digest is not `known`.
pub(crate) fn read_answer<T: serde::de::DeserializeOwned>(
    salt: Salt<'_>,
    bytes: &[u8],
    volatile: Option<&str>,
    known: Option<PageDigest>,
) -> Result<Answer<T>, serde_json::Error> {
    let (digest, first) = digest(salt, bytes, volatile);
    if known == Some(digest) {
        return Ok(Answer::Same { digest, volatile: first.map(str::to_owned) });
    }
    serde_json::from_slice::<T>(bytes).map(|body| Answer::Body { digest, body })
}

/// The digest of `body`, leaving out the values of `volatile` (a field name), and the
/// first such value.
pub(crate) fn digest<'b>(salt: Salt<'_>, body: &'b [u8], volatile: Option<&str>) -> (PageDigest, Option<&'b str>) {
    let mut hasher = Xxh3::new();
    for part in [MAPPING, salt.stream, salt.time_zone, salt.base_url] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(&(salt.limit as u64).to_le_bytes());
    let needle = volatile.map(|field| format!("\"{field}\":\"")).unwrap_or_default();
    let mut first = None;
    let mut from = 0;
    let found = volatile.map(|_| memchr::memmem::find_iter(body, needle.as_bytes()));
    for at in found.into_iter().flatten() {
        if at < from {
            continue;
        }
        let value_start = at + needle.len();
        let Some(len) = memchr::memchr(b'"', &body[value_start..]) else {
            break;
        };
        hasher.update(&body[from..value_start]);
        if first.is_none() {
            first = std::str::from_utf8(&body[value_start..value_start + len]).ok();
        }
        from = value_start + len;
    }
    hasher.update(&body[from..]);
    (PageDigest(hasher.digest128()), first)
}

/// A digest of a page made of several answers: the first one's digest, then each other
/// answer's bytes in order (`None`: an answer that was not there, such as a 404).
pub(crate) fn with_parts<'p>(first: PageDigest, parts: impl Iterator<Item = Option<&'p [u8]>>) -> PageDigest {
    let mut hasher = Xxh3::new();
    hasher.update(&first.0.to_le_bytes());
    for part in parts {
        match part {
            Some(bytes) => {
                hasher.update(&(bytes.len() as u64).to_le_bytes());
                hasher.update(bytes);
            }
            None => hasher.update(&u64::MAX.to_le_bytes()),
        }
    }
    PageDigest(hasher.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: Salt<'static> =
        Salt { stream: "procedurelogs", limit: 1000, time_zone: "America/New_York", base_url: "http://od/api/v1" };

    fn of(body: &str) -> PageDigest {
        digest(SALT, body.as_bytes(), Some("serverDateTime")).0
    }

    #[test]
    fn the_clock_stamped_on_rows_is_left_out() {
        let a = r#"[{"ProcNum":1,"serverDateTime":"2026-03-02 10:00:00"},{"ProcNum":2,"serverDateTime":"2026-03-02 10:00:00"}]"#;
        let b = r#"[{"ProcNum":1,"serverDateTime":"2026-03-02 10:00:07"},{"ProcNum":2,"serverDateTime":"2026-03-02 10:00:08"}]"#;
        assert_eq!(of(a), of(b));
        assert_eq!(digest(SALT, b.as_bytes(), Some("serverDateTime")).1, Some("2026-03-02 10:00:07"));
        assert_eq!(digest(SALT, b"[]", Some("serverDateTime")).1, None);
        // Without a volatile field every byte counts.
        assert_ne!(digest(SALT, a.as_bytes(), None).0, digest(SALT, b.as_bytes(), None).0);
    }

    #[test]
    fn any_other_byte_changes_it() {
        let a = r#"[{"ProcNum":1,"ProcFee":"65.00","serverDateTime":"2026-03-02 10:00:00"}]"#;
        for other in [
            r#"[{"ProcNum":1,"ProcFee":"65.01","serverDateTime":"2026-03-02 10:00:00"}]"#,
            r#"[{"ProcNum":1,"ProcFee":"65.00","serverDateTimeX":"2026-03-02 10:00:00"}]"#,
            r#"[{"ProcNum":1,"ProcFee":"65.00","serverDateTime":"2026-03-02 10:00:00"},{}]"#,
            r#"[{"ProcNum":1,"ProcFee":"65.00","serverDateTime":"2026-03-02 10:00:00"}] "#,
            // The field's name inside a text value is escaped: not a field, not left out.
            r#"[{"ProcNum":1,"ProcFee":"65.00","Note":"\"serverDateTime\":\"x"}]"#,
        ] {
            assert_ne!(of(a), of(other), "{other}");
        }
        // A value that moves into or out of the left-out field still changes the digest.
        let moved = r#"[{"ProcNum":1,"ProcFee":"65.00","serverDateTime":"2026-03-02 10:00:0"},"0"]"#;
        assert_ne!(of(a), of(moved));
    }

    #[test]
    fn every_part_of_a_page_counts() {
        let first = of(r#"[{"id":"a"},{"id":"b"}]"#);
        let parts = |p: &[Option<&'static str>]| with_parts(first, p.iter().map(|x| x.map(str::as_bytes)));
        let base = parts(&[Some(r#"{"x":1}"#), Some(r#"{"x":2}"#)]);
        assert_eq!(base, parts(&[Some(r#"{"x":1}"#), Some(r#"{"x":2}"#)]));
        for other in [
            parts(&[Some(r#"{"x":1}"#), Some(r#"{"x":3}"#)]),
            parts(&[Some(r#"{"x":2}"#), Some(r#"{"x":1}"#)]),
            parts(&[Some(r#"{"x":1}"#), None]),
            parts(&[Some(r#"{"x":1}"#), Some("")]),
            parts(&[Some(r#"{"x":1}{"x":2}"#), Some("")]),
            parts(&[Some(r#"{"x":1}"#)]),
            with_parts(of("[]"), [Some(&br#"{"x":1}"#[..]), Some(&br#"{"x":2}"#[..])].into_iter()),
        ] {
            assert_ne!(other, base);
        }
    }

    #[test]
    fn the_salt_is_part_of_it() {
        let body = br#"[{"ProcNum":1}]"#;
        let base = digest(SALT, body, Some("serverDateTime")).0;
        for salt in [
            Salt { stream: "claimprocs", ..SALT },
            Salt { limit: 100, ..SALT },
            Salt { time_zone: "America/Chicago", ..SALT },
            Salt { base_url: "http://other/api/v1", ..SALT },
        ] {
            assert_ne!(digest(salt, body, Some("serverDateTime")).0, base, "{salt:?}");
        }
    }
}
