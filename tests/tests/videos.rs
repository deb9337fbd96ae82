//! tiktok-videos against the local stack: pages, ids, stats, scope, refresh, rate limits
//! and bad parameters; and the fake's own video contract, which the rest relies on.

use integration_tests::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

/// Every field of a video in the answer (issue 16), present even when null.
const VIDEO_KEYS: [&str; 14] = [
    "comment_count",
    "cover_image_url",
    "created_at",
    "description",
    "duration",
    "embed_link",
    "height",
    "id",
    "like_count",
    "share_count",
    "share_url",
    "title",
    "view_count",
    "width",
];

/// The fields compared as they are: the answer's name, then TikTok's.
const SAME_FIELDS: [(&str, &str); 12] = [
    ("id", "id"),
    ("title", "title"),
    ("description", "video_description"),
    ("duration", "duration"),
    ("width", "width"),
    ("height", "height"),
    ("share_url", "share_url"),
    ("embed_link", "embed_link"),
    ("like_count", "like_count"),
    ("comment_count", "comment_count"),
    ("share_count", "share_count"),
    ("view_count", "view_count"),
];

/// The stats TikTok may give none of.
const STATS: [&str; 4] = ["like_count", "comment_count", "share_count", "view_count"];

/// Videos at the fake for this account: `count`, an hour apart.
async fn videos_at_fake(open_id: &str, count: usize) -> Vec<Value> {
    videos_at_fake_with(open_id, json!({"count": count})).await
}

/// Videos at the fake for this account as `made` says (`count`, `newest`, and `omit` /
/// `null`: the fields TikTok gives none of, left out or null).
async fn videos_at_fake_with(open_id: &str, made: Value) -> Vec<Value> {
    let mut body = made;
    body["open_id"] = json!(open_id);
    let response = http()
        .post(format!("{}/_fake/videos", stack_var("STACK_TIKTOK_URL")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let answer: Value = response.json().await.unwrap();
    answer["videos"].as_array().unwrap().clone()
}

async fn videos(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    query: &[(&str, &str)],
) -> Reply {
    let req = with_query(good_request("tiktok-videos", user, account), query);
    send("tiktok-videos", app, req).await
}

fn ids_of(answer: &Value) -> Vec<String> {
    answer["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every token the account has had at the fake: the grant the test started from and
/// what the fake holds now (after a refresh, the rotated pair).
async fn tokens_of(fake: &TikTokFake, account: &TikTokAccount) -> Vec<String> {
    let state = fake.account_state(&account.open_id).await;
    let mut tokens = vec![account.access_token.clone(), account.refresh_token.clone()];
    tokens.extend(state["refresh_token"].as_str().map(str::to_owned));
    tokens.extend(
        state["valid_access_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned()),
    );
    tokens
}

/// No token in the answer: neither its body nor its headers.
#[track_caller]
fn assert_no_token(r: &Reply, tokens: &[String]) {
    let body = r.body.to_string();
    let headers = format!("{:?}", r.headers);
    for token in tokens {
        assert!(
            !body.contains(token.as_str()) && !headers.contains(token.as_str()),
            "a token in the answer: {body}"
        );
    }
}

/// The video as answered is the video the fake holds: every field but the cover URL
/// (a query renews it), `created_at` RFC 3339 of `create_time`. A field the fake holds
/// none of is null.
#[track_caller]
fn assert_same_video(answered: &Value, held: &Value) {
    let mut keys: Vec<&str> = answered
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, VIDEO_KEYS, "{answered}");
    for (ours, tiktoks) in SAME_FIELDS {
        assert_eq!(answered[ours], held[tiktoks], "{ours} of {answered}");
    }
    let created = answered["created_at"].as_str().expect("created_at");
    let created = time::OffsetDateTime::parse(created, &Rfc3339)
        .unwrap_or_else(|e| panic!("created_at {created} is not RFC 3339: {e}"));
    assert_eq!(
        created.unix_timestamp(),
        held["create_time"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn forty_five_videos_page_twenty_twenty_five_and_ids_find_theirs() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let tokens = tokens_of(&fake, &account).await;
    let made = videos_at_fake(&account.open_id, 45).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for expected in [20, 20, 5] {
        let mut query = vec![];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let r = videos(&app, &user, &account, &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_no_token(&r, &tokens);
        let page = r.body["videos"].as_array().unwrap();
        assert_eq!(page.len(), expected);
        assert_eq!(r.body["has_more"], expected != 5, "{}", r.body["has_more"]);
        cursor = Some(r.body["cursor"].as_i64().unwrap().to_string());
        seen.extend(page.iter().cloned());
    }
    let made_ids: Vec<String> = made
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids_of(&json!({ "videos": seen })),
        made_ids,
        "every video once, newest first"
    );
    // Stats and timestamps as the fake holds them; a list page's cover URL as held.
    for (video, held) in seen.iter().zip(&made) {
        assert_same_video(video, held);
        assert_eq!(video["cover_image_url"], held["cover_image_url"]);
    }

    // max_count reaches TikTok: one video, more to come.
    let first = videos(&app, &user, &account, &[("max_count", "1")]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ids_of(&first.body), [made_ids[0].clone()]);
    assert_eq!(first.body["has_more"], true);

    // ids: exactly those videos, their cover URLs renewed.
    let ids = format!("{},{}", made_ids[3], made_ids[40]);
    let r = videos(&app, &user, &account, &[("ids", &ids)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_no_token(&r, &tokens);
    let mut got = ids_of(&r.body);
    got.sort();
    let mut wanted = vec![made_ids[3].clone(), made_ids[40].clone()];
    wanted.sort();
    assert_eq!(got, wanted);
    assert!(r.body.get("cursor").is_none() && r.body.get("has_more").is_none());
    for video in r.body["videos"].as_array().unwrap() {
        let held = made.iter().find(|m| m["id"] == video["id"]).unwrap();
        assert_same_video(video, held);
        let renewed = format!("{}?renewed=", held["cover_image_url"].as_str().unwrap());
        assert!(
            video["cover_image_url"]
                .as_str()
                .unwrap()
                .starts_with(&renewed),
            "a renewed cover URL: {}",
            video["cover_image_url"]
        );
    }
    // One TikTok call per page or query, the token fresh: no refresh.
    assert_eq!(fake.count(&account.open_id, "video_query").await, 1);
    assert_eq!(fake.count(&account.open_id, "video_list").await, 4);
    assert_eq!(fake.count(&account.open_id, "token").await, 0);
}

#[tokio::test]
async fn stats_tiktok_gives_none_of_are_null() {
    let app = live_app();
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // TikTok may leave a stat out of a video, or answer it null: both are "none".
    let absent = videos_at_fake_with(
        &account.open_id,
        json!({"count": 1, "newest": now, "omit": STATS}),
    )
    .await;
    let null = videos_at_fake_with(
        &account.open_id,
        json!({"count": 1, "newest": now - 3600, "null": STATS}),
    )
    .await;
    let without_stats = [&absent[0], &null[0]];
    assert!(absent[0].get("like_count").is_none() && null[0]["like_count"].is_null());

    let page = videos(&app, &user, &account, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let ids = format!(
        "{},{}",
        absent[0]["id"].as_str().unwrap(),
        null[0]["id"].as_str().unwrap()
    );
    let query = videos(&app, &user, &account, &[("ids", &ids)]).await;
    assert_eq!(query.status, 200, "{}", query.body);
    for r in [&page, &query] {
        let answered = r.body["videos"].as_array().unwrap();
        assert_eq!(answered.len(), 2, "{}", r.body);
        for held in without_stats {
            let video = answered.iter().find(|v| v["id"] == held["id"]).unwrap();
            assert_same_video(video, held);
            for stat in STATS {
                assert!(video[stat].is_null(), "{stat} of {video}");
            }
        }
    }
}

#[tokio::test]
async fn without_video_access_it_says_so_without_calling_tiktok() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let user = given::user().await;
    let account = fake.account(BASIC_SCOPE).await;
    // Written with the scope TikTok granted (no video.list), its access token expired a
    // minute ago: a refresh is due, but the missing scope is known first.
    given::connection(&user, &account)
        .expires_in(-60)
        .as_row(&db)
        .await;
    let tokens = tokens_of(&fake, &account).await;
    for query in [vec![], vec![("ids", "7300000000000000001")]] {
        let r = videos(&app, &user, &account, &query).await;
        r.assert_error(409, "tiktok_scope_missing");
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("reconnect TikTok")
                && detail.contains("videos")
                && detail.contains("video.list"),
            "says to reconnect granting video access: {detail}"
        );
        assert_no_token(&r, &tokens);
    }
    // Nothing at all: no refresh, no list, no query.
    let calls = fake.calls(&account.open_id).await;
    assert!(calls.is_empty(), "no TikTok call: {calls:?}");

    // The stored scope unknown: TikTok's scope_not_authorized says the same, with no
    // refresh for it.
    let other = fake.account(BASIC_SCOPE).await;
    given::connection(&user, &other)
        .not_primary()
        .through_store_token(&app)
        .await;
    let r = videos(&app, &user, &other, &[("account_id", &other.open_id)]).await;
    r.assert_error(409, "tiktok_scope_missing");
    assert_no_token(&r, &tokens_of(&fake, &other).await);
    assert_eq!(fake.count(&other.open_id, "video_list").await, 1);
    assert_eq!(fake.count(&other.open_id, "token").await, 0);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_first_and_429_passes_retry_after() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    let given::Connected { user, account, id } = given::connected_user(&app).await;
    videos_at_fake(&account.open_id, 3).await;
    given::access_expired(id, 60);
    let r = videos(&app, &user, &account, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "refreshed first"
    );
    assert_eq!(
        fake.count(&account.open_id, "video_list").await,
        1,
        "called once, with the new token"
    );
    let row = db.connection(id).await;
    let stored = config()
        .cipher
        .decrypt(row["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_ne!(stored, account.refresh_token, "the rotated pair stored");
    // Neither the old pair nor the rotated one in the answer.
    let tokens = tokens_of(&fake, &account).await;
    assert!(
        tokens.contains(&stored),
        "the rotated tokens are checked too"
    );
    assert_no_token(&r, &tokens);

    let limited =
        json!({"error": {"code": "rate_limit_exceeded", "message": "slow down", "log_id": "l"}});
    fake.script(
        &account.open_id,
        "video_list",
        json!([{"status": 429, "body": limited, "headers": {"Retry-After": "17"}}]),
    )
    .await;
    let r = videos(&app, &user, &account, &[]).await;
    r.assert_error(429, "tiktok_rate_limited");
    assert_eq!(r.headers["retry-after"], "17");
    assert_no_token(&r, &tokens);
}

#[tokio::test]
async fn a_token_tiktok_rejects_is_refreshed_once_and_the_call_made_again() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    videos_at_fake(&account.open_id, 2).await;
    // The stored expiry still two hours away: only TikTok's 401 says the token is dead.
    fake.expire_access(&account.open_id).await;
    let r = videos(&app, &user, &account, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["videos"].as_array().unwrap().len(), 2);
    assert_eq!(
        fake.count(&account.open_id, "token").await,
        1,
        "one refresh"
    );
    assert_eq!(
        fake.count(&account.open_id, "video_list").await,
        2,
        "the refused call, then the same with the new token"
    );
    let state = fake.account_state(&account.open_id).await;
    assert_ne!(state["refresh_token"], account.refresh_token.as_str());
    let tokens = tokens_of(&fake, &account).await;
    assert_no_token(&r, &tokens);

    // Refused again right after the refresh: no second refresh, the user reconnects.
    let invalid = json!({"data": {}, "error": {"code": "access_token_invalid",
                                               "message": "The access token is invalid.", "log_id": "l"}});
    fake.script(
        &account.open_id,
        "video_list",
        json!([{"status": 401, "body": invalid}, {"status": 401, "body": invalid}]),
    )
    .await;
    let r = videos(&app, &user, &account, &[]).await;
    r.assert_error(409, "tiktok_reauth_required");
    assert_eq!(fake.count(&account.open_id, "token").await, 2, "one more");
    assert_eq!(fake.count(&account.open_id, "video_list").await, 4);
    assert_no_token(&r, &tokens_of(&fake, &account).await);
}

#[tokio::test]
async fn a_short_page_with_more_to_come_is_passed_on_as_tiktok_gives_it() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    let made = videos_at_fake(&account.open_id, 3).await;
    // TikTok may answer fewer videos than asked for and still have more.
    let cursor = made[2]["create_time"].as_i64().unwrap() * 1000;
    let page = json!({
        "data": {"videos": made, "cursor": cursor, "has_more": true},
        "error": {"code": "ok", "message": "", "log_id": "l"}
    });
    fake.script(
        &account.open_id,
        "video_list",
        json!([{"status": 200, "body": page}]),
    )
    .await;
    let r = videos(&app, &user, &account, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let made_ids: Vec<String> = made
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids_of(&r.body), made_ids);
    assert_eq!(r.body["has_more"], true);
    assert_eq!(r.body["cursor"], cursor);
    assert_eq!(
        fake.count(&account.open_id, "video_list").await,
        1,
        "not filled up with another call"
    );

    // The next page: the cursor goes to TikTok as it came.
    let next = cursor.to_string();
    let r = videos(&app, &user, &account, &[("cursor", &next)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["videos"], json!([]));
    assert_eq!(r.body["has_more"], false);
    let sent: Vec<Value> = fake
        .calls(&account.open_id)
        .await
        .into_iter()
        .filter(|c| c["endpoint"] == "video_list")
        .map(|c| c["body"].clone())
        .collect();
    assert_eq!(sent[0]["max_count"], 20, "the default page size");
    assert_eq!(sent[1]["cursor"], cursor);
}

#[tokio::test]
async fn bad_parameters_are_refused_before_any_tiktok_call() {
    let (app, db, fake) = (live_app(), Db::new(), TikTokFake::new());
    // Written straight as a row: the fake has had no call for this account.
    let (user, account, _) = given::user_with_row(&db, ALL_SCOPES, 7200).await;
    let tokens = tokens_of(&fake, &account).await;
    let ids = |n: u64| {
        (0..n)
            .map(|i| (7_300_000_000_000_000_000 + i).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (twenty_one, too_long) = (ids(21), "7".repeat(65));
    let cases: [&[(&str, &str)]; 14] = [
        &[("ids", &twenty_one)],
        &[("ids", "7300000000000000001,7300-000000000002")],
        &[("ids", "7300000000000000001;drop")],
        &[("ids", &too_long)],
        &[("ids", ",,")],
        &[("ids", "7300000000000000001"), ("cursor", "1700000000000")],
        &[("ids", "7300000000000000001"), ("max_count", "5")],
        &[("max_count", "ten")],
        &[("max_count", "0")],
        &[("max_count", "21")],
        &[("max_count", "1.5")],
        &[("max_count", "-1")],
        &[("cursor", "-1")],
        &[("cursor", "soon")],
    ];
    for query in cases {
        let r = videos(&app, &user, &account, query).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("invalid_request")),
            "{query:?}: {}",
            r.body
        );
        assert_no_token(&r, &tokens);
    }
    let calls = fake.calls(&account.open_id).await;
    assert!(calls.is_empty(), "no TikTok call: {calls:?}");

    // Twenty ids are as many as one query takes.
    let r = videos(&app, &user, &account, &[("ids", &ids(20))]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(fake.count(&account.open_id, "video_query").await, 1);
}

#[tokio::test]
async fn another_users_account_is_not_found() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let given::Connected { account, .. } = given::connected_user(&app).await;
    let stranger = given::user().await;
    let r = videos(
        &app,
        &stranger,
        &account,
        &[("account_id", &account.open_id)],
    )
    .await;
    r.assert_error(404, "tiktok_not_connected");
    assert_no_token(&r, &tokens_of(&fake, &account).await);
    assert_eq!(fake.count(&account.open_id, "video_list").await, 0);
}

/// The fake's `/v2/video/list/` with this account's token and `body`: (status, error code).
async fn list_at_fake(account: &TikTokAccount, body: &Value) -> (u16, Value) {
    let response = http()
        .post(format!(
            "{}/v2/video/list/?fields=id,create_time",
            stack_var("STACK_TIKTOK_URL")
        ))
        .bearer_auth(&account.access_token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();
    (status, answer)
}

#[tokio::test]
async fn the_fake_refuses_a_bad_cursor_or_max_count_as_tiktok_does() {
    let fake = TikTokFake::new();
    let account = fake.account(ALL_SCOPES).await;
    videos_at_fake(&account.open_id, 2).await;
    // JSON's true is no count, though Python's bool is an int.
    for body in [
        json!({"max_count": true}),
        json!({"max_count": 1.5}),
        json!({"max_count": "5"}),
        json!({"max_count": 0}),
        json!({"max_count": 21}),
        json!({"cursor": -1}),
        json!({"cursor": true}),
        json!({"cursor": 1.5}),
        json!({"cursor": "1700000000000"}),
    ] {
        let (status, answer) = list_at_fake(&account, &body).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (400, &json!("invalid_params")),
            "{body}: {answer}"
        );
    }
    // What TikTok takes, the fake answers.
    let (status, answer) = list_at_fake(&account, &json!({"max_count": 1})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["videos"].as_array().unwrap().len(), 1);
    assert_eq!(answer["data"]["has_more"], true);
    let (status, answer) = list_at_fake(&account, &json!({"cursor": 0})).await;
    assert_eq!((status, &answer["data"]["videos"]), (200, &json!([])));

    // A video without its id or time cannot be paged: the control call refuses it.
    let response = http()
        .post(format!("{}/_fake/videos", stack_var("STACK_TIKTOK_URL")))
        .json(&json!({"open_id": account.open_id, "omit": ["create_time"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test]
async fn ids_tiktok_sends_as_numbers_keep_every_digit_and_an_empty_list_answers_cursor_0() {
    let app = live_app();
    let given::Connected { user, account, .. } = given::connected_user(&app).await;
    // No videos yet: TikTok answers cursor 0 and no more.
    let r = videos(&app, &user, &account, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["videos"], &r.body["cursor"], &r.body["has_more"]),
        (&json!([]), &json!(0), &json!(false)),
        "{}",
        r.body
    );
    // Ids as JSON numbers above 2^53 (as TikTok's other APIs send them): answered as
    // strings, digit for digit, and found again by `ids`.
    let made =
        videos_at_fake_with(&account.open_id, json!({"count": 3, "id_type": "number"})).await;
    let numbers: Vec<u64> = made
        .iter()
        .map(|v| v["id"].as_u64().expect("a number"))
        .collect();
    assert!(numbers.iter().all(|n| *n > 1 << 53));
    let r = videos(&app, &user, &account, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut want: Vec<String> = numbers.iter().map(u64::to_string).collect();
    let mut got = ids_of(&r.body);
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let r = videos(&app, &user, &account, &[("ids", &want.join(","))]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut found = ids_of(&r.body);
    found.sort();
    assert_eq!(found, want);
}
