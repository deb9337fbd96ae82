//! The analytics sync's settings ([`crate::analytics`]): its budget, cadence, retention
//! and workers.

use std::time::Duration;

/// `ANALYTICS_*`: how the sync spends TikTok's budget and what it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `ANALYTICS_RPM` (default 300, 2 to 600): requests a minute each of
    /// `/v2/user/info/`, `/v2/video/list/` and `/v2/video/query/` the sync may send, over
    /// every worker and run (TikTok allows 600, shared with the interactive endpoints).
    /// At least 2: below 10 the bucket holds one request and refills `rpm - 1` a minute,
    /// which at 1 would be nothing, ever.
    pub rpm: u32,
    /// `ANALYTICS_RETENTION_DAYS` (default 400, 31 to 3650): snapshots older than this are
    /// dropped, a month's partition at a time.
    pub retention_days: u32,
    /// `ANALYTICS_CADENCE` (default `24h:1h,7d:6h,30d:1d,90d:7d`).
    pub cadence: Cadence,
    /// `ANALYTICS_WORKERS` (default 4, 1 to 32): items one run works on at once.
    pub workers: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rpm: 300,
            retention_days: 400,
            cadence: Cadence::parse(Cadence::DEFAULT).expect("the default cadence"),
            workers: 4,
        }
    }
}

/// How often a video is refreshed by its age: `(younger than, every)` steps by
/// increasing age; past the last one, never.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence(Vec<(Duration, Duration)>);

impl Cadence {
    pub const DEFAULT: &'static str = "24h:1h,7d:6h,30d:1d,90d:7d";
    /// The claim knows this many tiers.
    const MAX_STEPS: usize = 8;

    /// `AGE:EVERY,...` with units `m`, `h`, `d` (e.g. `24h:1h,7d:6h`): ages increasing,
    /// each `EVERY` at least a minute, at most 8 steps.
    pub fn parse(text: &str) -> Result<Cadence, String> {
        let steps = text
            .split(',')
            .map(|step| {
                let (age, every) = step
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| format!("{step:?} is not AGE:EVERY"))?;
                Ok((span(age)?, span(every)?))
            })
            .collect::<Result<Vec<_>, String>>()?;
        if steps.is_empty() || steps.len() > Self::MAX_STEPS {
            return Err(format!("1 to {} steps", Self::MAX_STEPS));
        }
        if steps.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err("ages must increase".into());
        }
        if steps
            .iter()
            .any(|(_, every)| *every < Duration::from_secs(60))
        {
            return Err("a video is refreshed at most once a minute".into());
        }
        Ok(Cadence(steps))
    }

    /// The age under which a video's snapshots are hourly (the first step's).
    pub fn first_age(&self) -> Duration {
        self.0[0].0
    }

    /// The oldest age refreshed at all (the last step's).
    pub fn last_age(&self) -> Duration {
        self.0[self.0.len() - 1].0
    }

    /// As the SQL reads it: `[[age seconds, every seconds], ...]`.
    pub fn to_json(&self) -> serde_json::Value {
        self.0
            .iter()
            .map(|(age, every)| serde_json::json!([age.as_secs(), every.as_secs()]))
            .collect()
    }
}

fn span(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a positive count of m, h or d"))?;
    let unit = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is m, h or d")),
    };
    Ok(Duration::from_secs(n * unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cadence_is_the_documented_one() {
        let cadence = Cadence::parse(Cadence::DEFAULT).unwrap();
        assert_eq!(
            cadence.to_json(),
            serde_json::json!([
                [86400, 3600],
                [604800, 21600],
                [2592000, 86400],
                [7776000, 604800]
            ])
        );
        assert_eq!(cadence.first_age(), Duration::from_secs(86400));
        assert_eq!(cadence.last_age(), Duration::from_secs(90 * 86400));
    }

    #[test]
    fn malformed_cadences_are_refused() {
        for bad in [
            "",
            "24h",
            "24h:1h,7d",
            "7d:6h,24h:1h",
            "24h:30s",
            "24h:0h",
            "24x:1h",
            "1h:1m,2h:1m,3h:1m,4h:1m,5h:1m,6h:1m,7h:1m,8h:1m,9h:1m",
        ] {
            assert!(Cadence::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Cadence::parse(" 1d:1h , 30d:1d ").is_ok());
    }
}
