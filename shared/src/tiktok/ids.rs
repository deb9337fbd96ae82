//! TikTok's ids as exact decimal text. TikTok sends a video id as a JSON string in the
//! Display API and as a number elsewhere; public post ids (`publicaly_available_post_id`)
//! are documented as `list<int64>` and seen as strings, single values or `null`. Ids
//! are above 2^53, so a number is read as an integer, digit for digit, never through a
//! float (a float or a fraction is no id and is dropped).

use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// One id: a non-empty string, or an integer as its decimal digits.
struct IdText;

impl<'de> Visitor<'de> for IdText {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an id as a string or an integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok((v >= 0).then(|| v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    /// A float has lost digits already: no id.
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        Ok((!v.is_empty()).then(|| v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// `#[serde(deserialize_with = "ids::one")]`: an id field that may be a string, an
/// integer or `null` (use with `#[serde(default)]` for an absent one).
pub fn one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(IdText)
}

/// A list of ids, a single id, `null` or absent, as the list of their texts.
struct IdList;

impl<'de> Visitor<'de> for IdList {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("ids: a list, a single id or null")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ids = Vec::new();
        while let Some(id) = seq.next_element::<OneId>()? {
            if let Some(id) = id.0 {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(IdText.visit_u64(v)?.into_iter().collect())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(IdText.visit_i64(v)?.into_iter().collect())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(IdText.visit_str(v)?.into_iter().collect())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    /// An object is no id (a shape TikTok has not sent): skipped, not a failed answer.
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Vec::new())
    }
}

/// One element of an id list.
struct OneId(Option<String>);

impl<'de> serde::Deserialize<'de> for OneId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdText).map(OneId)
    }
}

/// `#[serde(deserialize_with = "ids::list")]`: a list of ids (numbers or strings), a
/// single id, or `null`; duplicates dropped, order kept.
pub fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    deserializer.deserialize_any(IdList)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "super::one")]
        id: Option<String>,
        #[serde(default, deserialize_with = "super::list")]
        ids: Vec<String>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn ids_keep_every_digit() {
        // Above 2^53: a float would answer 7602997517160123000.
        assert_eq!(
            probe(r#"{"id": 7602997517160123666}"#).id.as_deref(),
            Some("7602997517160123666")
        );
        assert_eq!(
            probe(r#"{"id": "7602997517160123666"}"#).id.as_deref(),
            Some("7602997517160123666")
        );
        assert_eq!(probe(r#"{"id": null}"#).id, None);
        assert_eq!(probe("{}").id, None);
        assert_eq!(probe(r#"{"id": 1.5e3}"#).id, None, "a float is no id");
        assert_eq!(probe(r#"{"id": ""}"#).id, None);
    }

    #[test]
    fn id_lists_come_in_every_shape() {
        let big = "7602997517160123666";
        for json in [
            r#"{"ids": [7602997517160123666]}"#,
            r#"{"ids": ["7602997517160123666"]}"#,
            r#"{"ids": 7602997517160123666}"#,
            r#"{"ids": "7602997517160123666"}"#,
            r#"{"ids": [7602997517160123666, "7602997517160123666", null]}"#,
        ] {
            assert_eq!(probe(json).ids, vec![big.to_owned()], "{json}");
        }
        for json in [r#"{"ids": null}"#, "{}", r#"{"ids": []}"#, r#"{"ids": {}}"#] {
            assert!(probe(json).ids.is_empty(), "{json}");
        }
        assert_eq!(
            probe(r#"{"ids": [1, "2", 3]}"#).ids,
            vec!["1".to_owned(), "2".to_owned(), "3".to_owned()]
        );
    }
}
