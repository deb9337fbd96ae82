//! The metric lines of one scripted sweep (TikTok answers its refresh with a 429) and one
//! scripted dispatcher run (TikTok's answer to the init is lost), with in-memory ports:
//! each line valid EMF, and the figures the run's alarms read. One test in this binary:
//! the lines it captures are its own.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use shared::firebase::fixed::FixedIdentity;
use shared::store::memory::MemoryStore;
use shared::store::{Connection, NewPost, SchedulePost, ScheduleStore};
use shared::testing::{self, TestApp};
use shared::tiktok::scripted::ScriptedTikTok;
use shared::tiktok::TikTokError;
use time::OffsetDateTime;
use tokio::time::Instant;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn captured() -> Vec<Value> {
    let lines = std::mem::take(&mut *LINES.lock().unwrap());
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

/// One connection, due for the sweep, allowed to post.
fn connected() -> TestApp {
    let app = testing::app(
        MemoryStore::default(),
        ScriptedTikTok::default(),
        FixedIdentity::default(),
    );
    let row: Connection = serde_json::from_value(json!({
        "id": 1, "user_id": 1, "provider": "tiktok", "provider_account_id": "open-1",
        "access_token": app.cipher.encrypt("a-open-1"),
        "refresh_token": app.cipher.encrypt("r-open-1"),
        "scope": "user.info.basic,video.publish",
        "refreshed_at": shared::timestamp::format(OffsetDateTime::now_utc() - time::Duration::hours(25)),
    }))
    .unwrap();
    app.store.put(row);
    app
}

fn in_a_minute() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn one_with<'a>(lines: &'a [Value], key: &str, value: &str) -> &'a Value {
    let found: Vec<&Value> = lines.iter().filter(|l| l[key] == value).collect();
    assert_eq!(found.len(), 1, "one line with {key}={value}: {lines:#?}");
    found[0]
}

#[tokio::test]
async fn a_sweep_stopped_by_a_429_and_a_lost_init_are_counted_as_their_alarms_read_them() {
    shared::metrics::set_sink(Box::new(|line: &str| {
        LINES.lock().unwrap().push(line.to_owned())
    }));

    // A sweep whose one refresh TikTok answers with 429.
    let app = connected();
    app.tiktok.refresh_by(|_| {
        Err(TikTokError::RateLimited {
            retry_after: Some(60),
        })
    });
    shared::sweep::run(&app, in_a_minute()).await.unwrap();
    let lines = captured();
    for line in &lines {
        shared::metrics::validate(line).unwrap();
    }
    let run = one_with(&lines, "stopped", "tiktok_rate_limited");
    assert_eq!(
        (
            &run["Runs"],
            &run["RunsStopped"],
            &run["failed"],
            &run["refreshed"]
        ),
        (&json!(1.0), &json!(1.0), &json!(1.0), &json!(0.0)),
        "{run}"
    );
    assert_eq!(
        run["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function"], ["function", "stopped"]])
    );
    let refresh = one_with(&lines, "outcome", "tiktok_rate_limited");
    assert_eq!(refresh["Refreshes"], 1.0);

    // A dispatcher run whose one init loses TikTok's answer.
    let app = connected();
    let request = json!({"account_id": "open-1", "mode": "direct",
        "source": {"type": "url", "video_url": "https://media.example.com/verified/a.mp4"},
        "post_info": {"title": "Thursday", "privacy_level": "SELF_ONLY"}});
    let post = SchedulePost {
        post: NewPost {
            user_id: 1,
            connection_id: 1,
            open_id: "open-1".into(),
            mode: "direct".into(),
            source_type: "url".into(),
        },
        request,
        scheduled_at: OffsetDateTime::now_utc() - time::Duration::seconds(5),
        idempotency_key: None,
        request_hash: None,
    };
    app.store.schedule_post(&post).await.unwrap();
    app.tiktok
        .then_posting_error(TikTokError::Unavailable("timed out".into()));
    shared::dispatch::run(&app, in_a_minute()).await.unwrap();
    let lines = captured();
    for line in &lines {
        shared::metrics::validate(line).unwrap();
    }
    let run = one_with(&lines, "stopped", "done");
    assert_eq!(
        (
            &run["Runs"],
            &run["RunsStopped"],
            &run["unconfirmed"],
            &run["initiated"]
        ),
        (&json!(1.0), &json!(0.0), &json!(1.0), &json!(0.0)),
        "{run}"
    );
    let ended = one_with(&lines, "status", "UNCONFIRMED");
    assert_eq!(ended["fail_reason"], "init_outcome_unknown");
    assert_eq!(ended["PostsEnded"], 1.0);
    // No post was initiated: no lag to report.
    assert!(lines.iter().all(|l| l.get("DispatchLag").is_none()));
    // Every line is by function, never by a user, an account or a post.
    for line in &lines {
        let text = line.to_string();
        assert!(
            !text.contains("open-1") && !text.contains("\"1\""),
            "{text}"
        );
    }
}
