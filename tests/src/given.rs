//! What a test starts from: users, and their TikTok connections made each way a
//! connection comes to exist. The one place suites set these up.
//!
//! - [`user`], [`users`]: new Firebase users (email and password, at the emulator).
//! - [`connected_user`]: a new user with a new TikTok account stored through
//!   store-token; [`user_with_two_accounts`]: with two, the first primary;
//!   [`user_with_row`]: with one written straight into the table.
//! - [`connection`]`(&user, &account)`: one connection, primary, its access token good
//!   for two hours (`.not_primary()`, `.expires_in(secs)`), made
//!   `.through_store_token(&app)` as the frontend stores one, `.as_row(&db)` as the
//!   functions write one, or `.as_legacy_python_row(&db)` as the earlier Python
//!   backend wrote one.
//! - [`access_expired`], [`refresh_expired`]: time passes for a stored connection.
//! - [`signed_in_through_oauth`], [`linked_through_oauth`]: a connection made by a
//!   TikTok sign-in of someone new, or by linking while signed in.

use serde_json::{json, Value};
use shared::LiveApp;

use crate::database::{legacy_fernet, psql, Db};
use crate::events::{good_request, json_body, oauth_request, send, with_json_body};
use crate::firebase::{firebase_user, sign_in_with_custom_token, FirebaseUser};
use crate::stack::{config, from_now, stack_var, unique};
use crate::tiktok_fake::{TikTokAccount, TikTokFake, ALL_SCOPES};

/// A new Firebase user (email and password, at the emulator), with an ID token.
pub async fn user() -> FirebaseUser {
    firebase_user().await
}

/// `N` new users.
pub async fn users<const N: usize>() -> [FirebaseUser; N] {
    let mut users = Vec::with_capacity(N);
    for _ in 0..N {
        users.push(user().await);
    }
    users.try_into().unwrap_or_else(|_| unreachable!("N users"))
}

/// A user and the TikTok account they connected.
pub struct Connected {
    pub user: FirebaseUser,
    pub account: TikTokAccount,
    /// The connection's `social_connections.id`.
    pub id: i64,
}

/// A new user who connected a new TikTok account (every scope granted) through
/// store-token.
pub async fn connected_user(app: &LiveApp) -> Connected {
    let user = user().await;
    let account = TikTokFake::new().account(ALL_SCOPES).await;
    let id = connection(&user, &account).through_store_token(app).await;
    Connected { user, account, id }
}

/// A new user whose connection to a new TikTok account (`scope` granted) was written
/// as the functions write a row ([`Connection::as_row`]), its access token expiring in
/// `expires_in` seconds: (user, account, row).
pub async fn user_with_row(
    db: &Db,
    scope: &str,
    expires_in: i64,
) -> (FirebaseUser, TikTokAccount, Value) {
    let user = user().await;
    let account = TikTokFake::new().account(scope).await;
    let row = connection(&user, &account)
        .expires_in(expires_in)
        .as_row(db)
        .await;
    (user, account, row)
}

/// A new user who connected two new TikTok accounts (every scope granted) through
/// store-token, the first primary, the second not: (user, first, second).
pub async fn user_with_two_accounts(app: &LiveApp) -> (FirebaseUser, TikTokAccount, TikTokAccount) {
    let fake = TikTokFake::new();
    let user = user().await;
    let [first, second] = fake.accounts(ALL_SCOPES).await;
    connection(&user, &first).through_store_token(app).await;
    connection(&user, &second)
        .not_primary()
        .through_store_token(app)
        .await;
    (user, first, second)
}

/// A TikTok connection of `user` to `account` to make: primary, its access token good
/// for two hours.
pub fn connection<'a>(user: &'a FirebaseUser, account: &'a TikTokAccount) -> Connection<'a> {
    Connection {
        user,
        account,
        primary: true,
        expires_in: 7200,
    }
}

pub struct Connection<'a> {
    user: &'a FirebaseUser,
    account: &'a TikTokAccount,
    primary: bool,
    expires_in: i64,
}

impl Connection<'_> {
    /// Not the user's primary TikTok account.
    pub fn not_primary(mut self) -> Self {
        self.primary = false;
        self
    }

    /// The access token expires `secs` from now (negative: it has expired).
    pub fn expires_in(mut self, secs: i64) -> Self {
        self.expires_in = secs;
        self
    }

    /// Stored as the frontend stores one: store-token's `events/store-token/ok.json`
    /// (label "Main account") for this user and account. Returns the connection's id.
    pub async fn through_store_token(self, app: &LiveApp) -> i64 {
        self.store_token(app, 201).await
    }

    /// As [`Connection::through_store_token`], for an account the user already has
    /// (a reconnect: store-token answers 200).
    pub async fn through_store_token_again(self, app: &LiveApp) -> i64 {
        self.store_token(app, 200).await
    }

    async fn store_token(self, app: &LiveApp, expected: u16) -> i64 {
        let mut req = good_request("store-token", self.user, self.account);
        if !self.primary || self.expires_in != 7200 {
            let mut body = json_body(&req);
            body["is_primary"] = json!(self.primary);
            body["expires_at"] = json!(from_now(self.expires_in));
            req = with_json_body(req, &body);
        }
        let r = send("store-token", app, req).await;
        assert_eq!(r.status, expected, "{}", r.body);
        r.body["id"].as_i64().expect("connection id")
    }

    /// Written straight into `social_connections` as the functions write a row: tokens
    /// encrypted with the stack's key, the refresh token good for 180 days, the scope.
    /// Returns the row.
    pub async fn as_row(self, db: &Db) -> Value {
        let cipher = config().cipher;
        db.insert_connection(json!({
            "user_id": db.user_id(&self.user.uid).await,
            "provider": "tiktok",
            "provider_account_id": self.account.open_id,
            "access_token": cipher.encrypt(&self.account.access_token),
            "refresh_token": cipher.encrypt(&self.account.refresh_token),
            "expires_at": from_now(self.expires_in),
            "refresh_expires_at": from_now(86400 * 180),
            "scope": self.account.scope,
            "is_primary": self.primary,
            "metadata": {}
        }))
        .await
    }

    /// Written as the earlier Python backend wrote a row: tokens encrypted by Python's
    /// `cryptography` Fernet, no scope, no refresh expiry, a timestamp without zone.
    /// Returns the row.
    pub async fn as_legacy_python_row(self, db: &Db) -> Value {
        let key = stack_var("ENCRYPTION_KEY");
        let tokens = legacy_fernet(&[
            "encrypt",
            &key,
            &self.account.access_token,
            &self.account.refresh_token,
        ]);
        let mut lines = tokens.lines();
        let (access, refresh) = (
            lines.next().expect("access"),
            lines.next().expect("refresh"),
        );
        let naive_expiry = from_now(self.expires_in).trim_end_matches('Z').to_owned();
        db.insert_connection(json!({
            "user_id": db.user_id(&self.user.uid).await, "provider": "tiktok",
            "provider_account_id": self.account.open_id, "access_token": access, "refresh_token": refresh,
            "expires_at": naive_expiry, "is_primary": self.primary
        }))
        .await
    }
}

/// Time passes: the connection's access token expired `secs_ago` seconds ago (its
/// refresh token still good).
pub fn access_expired(id: i64, secs_ago: i64) {
    expire("expires_at", id, secs_ago);
}

/// Time passes: the connection's refresh token expired `secs_ago` seconds ago.
pub fn refresh_expired(id: i64, secs_ago: i64) {
    expire("refresh_expires_at", id, secs_ago);
}

fn expire(column: &str, id: i64, secs_ago: i64) {
    psql(&format!(
        "update social_connections set {column} = now() - interval '{secs_ago} seconds' where id = {id}"
    ));
}

/// Someone new to the app signed in with this TikTok account (oauth-tiktok, giving a
/// new email), then exchanged the custom token at Firebase: the user as signed in,
/// and oauth-tiktok's answer.
pub async fn signed_in_through_oauth(
    app: &LiveApp,
    account: &TikTokAccount,
) -> (FirebaseUser, crate::events::Reply) {
    let email = format!("{}@example.com", unique("signed-in"));
    let r = send(
        "oauth-tiktok",
        app,
        oauth_request(account, Some(&email), None),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id_token = sign_in_with_custom_token(r.body["firebase_token"].as_str().expect("token"))
        .await
        .expect("custom token sign-in");
    let user = FirebaseUser {
        uid: r.body["firebase_uid"].as_str().expect("uid").to_owned(),
        id_token,
        email,
    };
    (user, r)
}

/// A signed-in user linked this TikTok account through oauth-tiktok.
pub async fn linked_through_oauth(app: &LiveApp, user: &FirebaseUser, account: &TikTokAccount) {
    let r = send(
        "oauth-tiktok",
        app,
        oauth_request(account, None, Some(&user.id_token)),
    )
    .await;
    assert_eq!(r.status, 200, "linked: {}", r.body);
}
