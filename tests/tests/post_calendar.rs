//! The calendar against the local stack: the caller's posts listed, filtered and paged
//! (list-tiktok-posts), a scheduled post rescheduled or edited (update-tiktok-post) and
//! cancelled (cancel-tiktok-post), and an unconfirmed or failed one retried on the user's
//! word (retry-tiktok-post). Another user's post is never seen or changed.

use integration_tests::*;
use serde_json::{json, Value};

async fn list(app: &shared::LiveApp, user: &FirebaseUser, query: &[(&str, &str)]) -> Reply {
    let req = with_query(
        event(
            "list-tiktok-posts/ok.json",
            &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &user.id_token)],
        ),
        query,
    );
    send("list-tiktok-posts", app, req).await
}

fn ids(page: &Value) -> Vec<String> {
    page["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn change(
    app: &shared::LiveApp,
    user: &FirebaseUser,
    account: &TikTokAccount,
    function: &str,
    id: &str,
    body: Option<Value>,
) -> Reply {
    let file = format!("{function}/ok.json");
    let mut req = request(&file, user, account, &[("REPLACE_WITH_POST_ID", id)]);
    if let Some(body) = body {
        req = with_json_body(req, &body);
    }
    send(function, app, req).await
}

#[tokio::test]
async fn the_calendar_lists_the_callers_posts_newest_first_filtered_and_paged() {
    let app = live_app();
    let (user, first) = publisher(&app).await;
    let second = TikTokFake::new().account(ALL_SCOPES).await;
    given::connection(&user, &second)
        .through_store_token(&app)
        .await;
    let a = schedule_in(&app, &user, &first, 3 * 3600).await;
    let b = schedule_in(&app, &user, &first, 2 * 3600).await;
    let c = schedule_in(&app, &user, &second, 3600).await;
    // Another user's post is never listed.
    let (other, theirs) = publisher(&app).await;
    schedule_in(&app, &other, &theirs, 4 * 3600).await;

    let all = list(&app, &user, &[]).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(ids(&all.body), [a.clone(), b.clone(), c.clone()]);
    assert_eq!(all.body["next_cursor"], Value::Null);
    assert_eq!(all.body["posts"][0]["status"], "SCHEDULED");
    assert_eq!(all.body["posts"][0]["account_id"], first.open_id.as_str());
    assert!(
        all.body["posts"][0].get("request").is_none(),
        "no stored request"
    );

    let one_account = list(&app, &user, &[("account_id", &second.open_id)]).await;
    assert_eq!(ids(&one_account.body), [c.as_str()]);
    let cancelled = change(&app, &user, &first, "cancel-tiktok-post", &b, None).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let by_status = list(&app, &user, &[("status", "cancelled")]).await;
    assert_eq!(ids(&by_status.body), [b.as_str()]);
    let both = list(&app, &user, &[("status", "SCHEDULED,CANCELLED")]).await;
    assert_eq!(ids(&both.body).len(), 3);
    let window = list(
        &app,
        &user,
        &[("from", &from_now(90 * 60)), ("to", &from_now(150 * 60))],
    )
    .await;
    assert_eq!(ids(&window.body), [b.as_str()]);

    // Paged two at a time.
    let page = list(&app, &user, &[("limit", "2")]).await;
    assert_eq!(ids(&page.body), [a.clone(), b.clone()]);
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let next = list(&app, &user, &[("limit", "2"), ("cursor", &cursor)]).await;
    assert_eq!(ids(&next.body), [c.as_str()]);
    assert_eq!(next.body["next_cursor"], Value::Null);
    // Another user's cursor shows them nothing of this user's.
    let foreign = list(&app, &other, &[("cursor", &cursor)]).await;
    assert!(ids(&foreign.body)
        .iter()
        .all(|id| ![&a, &b, &c].contains(&id)));

    for bad in [
        vec![("limit", "0")],
        vec![("limit", "101")],
        vec![("limit", "ten")],
        vec![("status", "POSTED")],
        vec![("from", "yesterday")],
        vec![
            ("from", "2027-01-02T00:00:00Z"),
            ("to", "2027-01-01T00:00:00Z"),
        ],
        vec![("cursor", "not-a-cursor")],
        vec![("cursor", "MjAyNi0xMi0wN1QxMjowMDowMFp8eA")],
    ] {
        list(&app, &user, &bad)
            .await
            .assert_error(400, "invalid_request");
    }
    let req = event("list-tiktok-posts/no-auth.json", &[]);
    send("list-tiktok-posts", &app, req)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_scheduled_post_is_rescheduled_and_edited_until_publishing_begins() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule_in(&app, &user, &account, 3600).await;
    let later = from_now(2 * 86_400);
    let r = change(
        &app,
        &user,
        &account,
        "update-tiktok-post",
        &id,
        Some(json!({"scheduled_at": later})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scheduled_at"], later.as_str());
    assert_eq!(r.body["status"], "SCHEDULED");
    let info = json!({"post_info": {"title": "A better title", "privacy_level": "SELF_ONLY"}});
    let r = change(&app, &user, &account, "update-tiktok-post", &id, Some(info)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scheduled_at"], later.as_str(), "the time stays");

    // Checked as a new post is; nothing changes on a refusal.
    for bad in [
        json!({}),
        json!({"scheduled_at": from_now(-3600)}),
        json!({"scheduled_at": "tomorrow"}),
        json!({"post_info": {"title": "No privacy"}}),
        json!({"post_info": {"privacy_level": "EVERYONE"}}),
    ] {
        change(&app, &user, &account, "update-tiktok-post", &id, Some(bad))
            .await
            .assert_error(400, "invalid_request");
    }
    let stored = psql(&format!(
        "select request -> 'post_info' ->> 'title' from tiktok_posts where id = '{id}'"
    ));
    assert_eq!(stored.trim(), "A better title");
    // Another user's post: not found, unchanged.
    let (other, theirs) = publisher(&app).await;
    change(
        &app,
        &other,
        &theirs,
        "update-tiktok-post",
        &id,
        Some(json!({"scheduled_at": from_now(600)})),
    )
    .await
    .assert_error(404, "post_not_found");
    change(&app, &other, &theirs, "cancel-tiktok-post", &id, None)
        .await
        .assert_error(404, "post_not_found");

    // Sent with the edited title; then it can no longer be changed or cancelled.
    make_due(&id);
    settle(&app, &id).await;
    let init = fake
        .calls(&account.open_id)
        .await
        .into_iter()
        .find(|c| c["endpoint"] == "video_init")
        .expect("the init");
    assert_eq!(init["body"]["post_info"]["title"], "A better title");
    change(
        &app,
        &user,
        &account,
        "update-tiktok-post",
        &id,
        Some(json!({"scheduled_at": from_now(600)})),
    )
    .await
    .assert_error(409, "post_not_editable");
    change(&app, &user, &account, "cancel-tiktok-post", &id, None)
        .await
        .assert_error(409, "post_not_editable");
}

#[tokio::test]
async fn a_cancelled_post_is_never_sent() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule_in(&app, &user, &account, 3600).await;
    let r = change(&app, &user, &account, "cancel-tiktok-post", &id, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "CANCELLED");
    // Again: the same answer.
    let again = change(&app, &user, &account, "cancel-tiktok-post", &id, None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    psql(&format!(
        "update tiktok_posts set scheduled_at = now() - interval '1 second' where id = '{id}'"
    ));
    dispatcher_run(&app).await;
    assert_eq!(fake.count(&account.open_id, "video_init").await, 0);
    assert_eq!(
        post_status(&app, &user, &account, &id).await["status"],
        "CANCELLED"
    );
    change(
        &app,
        &user,
        &account,
        "update-tiktok-post",
        &id,
        Some(json!({"scheduled_at": from_now(600)})),
    )
    .await
    .assert_error(409, "post_not_editable");
}

#[tokio::test]
async fn an_unconfirmed_post_is_retried_only_on_the_users_word() {
    let (app, fake) = (live_app(), TikTokFake::new());
    let (user, account) = publisher(&app).await;
    let id = schedule_in(&app, &user, &account, 3600).await;
    let lost = json!([{"status": 500, "body": {"error": {"code": "internal_error", "message": "", "log_id": "x"}}}]);
    fake.script(&account.open_id, "video_init", lost).await;
    make_due(&id);
    settle(&app, &id).await;
    assert_eq!(
        post_status(&app, &user, &account, &id).await["status"],
        "UNCONFIRMED"
    );

    let unconfirmed = request(
        "retry-tiktok-post/unconfirmed.json",
        &user,
        &account,
        &[("REPLACE_WITH_POST_ID", &id)],
    );
    send("retry-tiktok-post", &app, unconfirmed)
        .await
        .assert_error(400, "invalid_request");
    let (other, theirs) = publisher(&app).await;
    change(&app, &other, &theirs, "retry-tiktok-post", &id, None)
        .await
        .assert_error(404, "post_not_found");
    let r = change(&app, &user, &account, "retry-tiktok-post", &id, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "SCHEDULED");
    assert_eq!(r.body["attempts"], 0);
    assert_eq!(r.body["fail_reason"], Value::Null);
    settle(&app, &id).await;
    let post = post_status(&app, &user, &account, &id).await;
    assert!(post["publish_id"].is_string(), "{post}");
    assert_eq!(
        fake.count(&account.open_id, "video_init").await,
        2,
        "the user's second init"
    );
    // A post on its way cannot be retried; a post made at once has nothing to send again.
    change(&app, &user, &account, "retry-tiktok-post", &id, None)
        .await
        .assert_error(409, "post_not_editable");
    let now = json!({"account_id": account.open_id, "mode": "direct",
        "source": {"type": "url", "video_url": format!("{VERIFIED_PREFIX}now.mp4")},
        "post_info": {"privacy_level": "SELF_ONLY"}});
    let made = publish(&app, &user, &account, &now, None).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let now_id = made.body["id"].as_str().unwrap().to_owned();
    psql(&format!(
        "update tiktok_posts set status = 'FAILED' where id = '{now_id}'"
    ));
    change(&app, &user, &account, "retry-tiktok-post", &now_id, None)
        .await
        .assert_error(409, "post_not_editable");
}
