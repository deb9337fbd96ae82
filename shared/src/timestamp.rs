//! Timestamps as the contract wants them: RFC 3339 in UTC with `Z` on the way out;
//! on the way in, rows without a zone (older rows) are taken as UTC.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Strict RFC 3339 (what clients must send), in UTC; `None` if it cannot be shown in UTC.
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()?
        .checked_to_offset(UtcOffset::UTC)
}

/// Lenient reading of stored values (see the module's note).
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return t.checked_to_offset(UtcOffset::UTC);
    }
    // PostgREST's timestamptz: "2026-01-01T10:00:00.123+00:00" is RFC 3339; a plain
    // `timestamp` column has no offset, and a space may stand for the `T`.
    let normalized = text.trim().replacen(' ', "T", 1);
    let without_zone = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    if let Ok(t) = PrimitiveDateTime::parse(&normalized, &without_zone) {
        return Some(t.assume_utc());
    }
    let with_short_offset = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory]"
    );
    OffsetDateTime::parse(&normalized, &with_short_offset)
        .ok()
        .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
}

pub fn format(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// serde's `serialize_with` for an `OffsetDateTime` field, as [`format`] writes it.
pub fn serialize<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*t))
}

/// As [`serialize`], keeping the fraction of a second (a paging mark compares exactly).
pub fn serialize_exact<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let t = t.to_offset(UtcOffset::UTC);
    s.serialize_str(&t.format(&Rfc3339).unwrap_or_default())
}

/// serde helpers for `Option<OffsetDateTime>` fields of rows.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => super::parse(text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("unreadable timestamp")),
        }
    }

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format(*t)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_postgrest_and_legacy_forms() {
        let expected = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        for text in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05+00:00",
            "2026-01-02T04:04:05+01:00",
            "2026-01-02T03:04:05",
            "2026-01-02 03:04:05",
            "2026-01-02T04:04:05+01",
        ] {
            assert_eq!(
                parse(text).map(|t| t.replace_nanosecond(0).unwrap()),
                Some(expected),
                "{text}"
            );
        }
        assert!(parse("2026-01-02T03:04:05.123456").is_some());
        assert!(parse("yesterday").is_none());
    }

    #[test]
    fn out_of_range_values_are_refused_not_panics() {
        assert!(parse("9999-12-31T23:59:59-01:00").is_none());
        assert!(parse("9999-12-31T23:59:59-01").is_none());
        assert!(parse("9999-12-31T23:59:59Z").is_some());
    }

    #[test]
    fn writes_utc_with_z() {
        let t = time::macros::datetime!(2026-01-02 04:04:05.5 +01:00);
        assert_eq!(format(t), "2026-01-02T03:04:05Z");
    }
}
