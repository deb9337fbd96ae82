//! What the database itself guarantees, tested in SQL against PostgreSQL: the
//! migrations on top of the earlier backend's tables, row-level security, and the
//! uniqueness and single-primary rules.

use integration_tests::*;
use serde_json::json;

fn apply_file(db: &str, path: &std::path::Path) {
    let sql = std::fs::read_to_string(path).unwrap();
    try_psql(Some(db), &sql).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn migrations() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(workspace_path("supabase/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

#[test]
fn migrations_apply_on_the_seed_tables_keeping_every_row() {
    let db = unique("seed").replace('-', "_");
    psql(&format!("create database {db}"));
    apply_file(&db, &fixture_path("seed_schema.sql"));
    for _ in 0..2 {
        // Twice: applying again changes nothing and does not fail.
        for migration in migrations() {
            apply_file(&db, &migration);
        }
    }
    let q = |sql: &str| try_psql(Some(&db), sql).unwrap();
    assert_eq!(q("select count(*) from social_connections"), "4");
    assert_eq!(q("select count(*) from migration_archive where table_name = 'social_connections' and reason like 'duplicate%'"), "2");
    // Nothing lost: every original row is either live or archived.
    assert_eq!(
        q("select count(*) from (select access_token from social_connections union all \
           select row_data->>'access_token' from migration_archive where table_name = 'social_connections' and reason like 'duplicate%') t"),
        "6"
    );
    assert_eq!(
        q("select user_id from social_connections where provider_account_id = 'open-shared'"),
        "2"
    );
    assert_eq!(
        q("select access_token from social_connections where provider_account_id = 'chan-1'"),
        "gAAAA-c2"
    );
    assert_eq!(q("select provider_account_id from social_connections where user_id = 3 and provider = 'tiktok' and is_primary"), "open-c2");
    assert_eq!(q("select count(*) from users where email_verified"), "1");
    assert_eq!(
        q("select firebase_uid from users where email_verified"),
        "uid-b"
    );
    // New columns exist and the rules now hold.
    q("select refresh_expires_at, scope from social_connections limit 1");
    let dup = try_psql(Some(&db), "insert into social_connections (user_id, provider, provider_account_id) values (1, 'tiktok', 'open-shared')");
    assert!(
        dup.unwrap_err().contains("duplicate key"),
        "one TikTok account, one user"
    );
    psql(&format!("drop database {db}"));
}

#[tokio::test]
async fn row_level_security_keeps_anon_and_authenticated_out() {
    let db = Db::new();
    let user_id = db.user_id(&unique("rls")).await;
    db.insert_connection(json!({"user_id": user_id, "provider": "tiktok", "provider_account_id": unique("open"), "access_token": "x"})).await;

    for role in ["anon", "authenticated"] {
        let as_role = |sql: &str| try_psql(Some("postgres"), &format!("set role {role}; {sql}"));
        // No grant at all for the API roles...
        let denied = as_role("select count(*) from social_connections");
        assert!(
            denied.unwrap_err().contains("permission denied"),
            "{role} has no grant"
        );
        // ...and even with one (as Supabase's defaults give), RLS shows no row.
        let seen = psql(&format!(
            "begin; grant select on social_connections, users to {role}; set local role {role}; \
             select (select count(*) from social_connections) || ',' || (select count(*) from users); rollback;"
        ));
        assert_eq!(seen, "0,0", "{role} sees no rows");
        let err = as_role("select swap_connection_tokens(1, 'a', 'b', 'c', now())");
        assert!(
            err.unwrap_err().contains("permission denied"),
            "{role} cannot run the SQL functions"
        );
    }
    // Through PostgREST without the service key: nothing.
    let base = stack_var("SUPABASE_REST_URL");
    let response = http()
        .get(format!("{base}/social_connections"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(status == 401 || status == 403, "{status} {body}");
    assert_eq!(body["code"], "42501", "no row, no grant");
    let status = http()
        .post(format!("{base}/rpc/tiktok_connection_for"))
        .json(&json!({"p_firebase_uid": "x"}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status == 401 || status == 403, "{status}");
}

#[tokio::test]
async fn one_primary_per_user_and_provider_even_under_concurrent_writers() {
    let db = Db::new();
    let user_id = db.user_id(&unique("primary")).await;
    let base = stack_var("SUPABASE_REST_URL");
    let key = stack_var("SUPABASE_SERVICE_KEY");
    let attempts: Vec<_> = (0..8)
        .map(|_| {
        let (base, key) = (base.clone(), key.clone());
        async move {
            http()
                .post(format!("{base}/social_connections"))
                .header("apikey", &key)
                .bearer_auth(&key)
                .json(&json!({"user_id": user_id, "provider": "tiktok", "provider_account_id": unique("open"), "is_primary": true}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    })
        .collect();
    let statuses = join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let primaries = db
        .connections_of(user_id)
        .await
        .iter()
        .filter(|r| r["is_primary"] == true)
        .count();
    assert_eq!(primaries, 1);
}

#[tokio::test]
async fn one_owner_per_tiktok_account_even_under_concurrent_writers() {
    // Two users store the same (proved) TikTok account at the same moment.
    let app = live_app();
    let fake = TikTokFake::new();
    let account = fake.account(BASIC_SCOPE).await;
    let [a, b] = given::users().await;
    let (ra, rb) = tokio::join!(
        send_good("store-token", &app, &a, &account),
        send_good("store-token", &app, &b, &account),
    );
    let mut statuses = vec![ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, vec![201, 409], "one wins, the other is refused");
    let owners = psql(&format!(
        "select count(distinct user_id) from social_connections where provider = 'tiktok' and provider_account_id = '{}'",
        account.open_id
    ));
    assert_eq!(owners, "1");
}

#[tokio::test]
async fn what_a_later_migration_forgets_to_revoke_is_closed_to_the_api_roles() {
    // Made as the migrations are (the role that ran them), after them, with no revoke.
    let name = unique("later").replace('-', "_");
    psql(&format!(
        "create function public.{name}() returns int language sql as 'select 1'; \
         create table public.{name}_t (id int); insert into public.{name}_t values (1);"
    ));
    for role in ["anon", "authenticated"] {
        let as_role = |sql: &str| try_psql(None, &format!("set role {role}; {sql}"));
        for sql in [
            format!("select public.{name}()"),
            format!("select * from public.{name}_t"),
        ] {
            let err = as_role(&sql).expect_err(&format!("{role}: {sql}"));
            assert!(err.contains("permission denied"), "{role}: {sql}: {err}");
        }
    }
    // The service role still reaches it, as the functions' PostgREST key must.
    let ok = try_psql(
        None,
        &format!("set role service_role; select public.{name}()"),
    );
    assert_eq!(ok.as_deref().map(str::trim), Ok("1"));
    psql(&format!(
        "drop function public.{name}(); drop table public.{name}_t;"
    ));
}
