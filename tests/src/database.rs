//! The stack's database: through PostgREST as the service role, through `psql` as the
//! superuser, and the earlier Python backend's token encryption.

use serde_json::{json, Value};

use crate::stack::{config, fixture_path, http, stack_var};

pub struct Db {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    pub fn new() -> Self {
        Db {
            base: stack_var("SUPABASE_REST_URL"),
            key: stack_var("SUPABASE_SERVICE_KEY"),
            http: http(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.base))
            .header("apikey", &self.key)
            .bearer_auth(&self.key)
    }

    /// Sends and reads the JSON answer, which must be a success.
    async fn answer(request: reqwest::RequestBuilder, what: &str) -> Value {
        let response = request.send().await.expect(what);
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{what}: {status} {body}");
        body
    }

    pub async fn rpc(&self, function: &str, args: Value) -> Value {
        let request = self
            .request(reqwest::Method::POST, &format!("rpc/{function}"))
            .json(&args);
        Self::answer(request, &format!("rpc {function}")).await
    }

    /// The `users.id` of a Firebase uid, creating the row.
    pub async fn user_id(&self, firebase_uid: &str) -> i64 {
        self.rpc("ensure_app_user", json!({"p_firebase_uid": firebase_uid}))
            .await
            .as_i64()
            .expect("user id")
    }

    pub async fn insert_connection(&self, row: Value) -> Value {
        let request = self
            .request(reqwest::Method::POST, "social_connections")
            .header("Prefer", "return=representation")
            .json(&row);
        Self::answer(request, "insert").await[0].clone()
    }

    async fn select(&self, filter: &[(&str, String)]) -> Vec<Value> {
        self.request(reqwest::Method::GET, "social_connections")
            .query(filter)
            .send()
            .await
            .expect("select")
            .json()
            .await
            .expect("rows")
    }

    pub async fn connections_of(&self, user_id: i64) -> Vec<Value> {
        self.select(&[("user_id", format!("eq.{user_id}")), ("order", "id".into())])
            .await
    }

    /// The connections of the user with this Firebase uid (creating the user row).
    pub async fn connections_of_uid(&self, firebase_uid: &str) -> Vec<Value> {
        self.connections_of(self.user_id(firebase_uid).await).await
    }

    pub async fn connection(&self, id: i64) -> Value {
        let rows = self.select(&[("id", format!("eq.{id}"))]).await;
        rows.into_iter().next().unwrap_or(Value::Null)
    }

    /// Every row of this TikTok account, whoever owns it (read with `psql`).
    pub fn tiktok_rows(&self, open_id: &str) -> Vec<Value> {
        let text = psql(&format!(
            "select coalesce(json_agg(c), '[]') from social_connections c where provider = 'tiktok' and provider_account_id = '{open_id}'"
        ));
        serde_json::from_str(&text).expect("rows")
    }
}

/// A token column of a stored row, decrypted with the stack's key.
pub fn decrypted(row: &Value, column: &str) -> String {
    let token = row[column]
        .as_str()
        .unwrap_or_else(|| panic!("{column} in {row}"));
    config()
        .cipher
        .decrypt(token)
        .expect("a token the stack's key decrypts")
}

/// The `provider_account_id`s of the primary connections among `rows`.
pub fn primary_accounts(rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .filter(|r| r["is_primary"] == true)
        .map(|r| r["provider_account_id"].clone())
        .collect()
}

/// Runs `sql` with `psql` as the superuser on `database` of the stack's PostgreSQL
/// (`None`: the stack's own): its output, or its error output when it fails.
pub fn try_psql(database: Option<&str>, sql: &str) -> Result<String, String> {
    let mut url = stack_var("STACK_PG_URL");
    if let Some(database) = database {
        url = format!("{}/{database}", url.rsplit_once('/').expect("URL").0);
    }
    let output = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            &url,
            "-c",
            sql,
        ])
        .output()
        .expect("psql");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Runs `psql` against the stack's PostgreSQL as the superuser; it must succeed.
pub fn psql(sql: &str) -> String {
    try_psql(None, sql).unwrap_or_else(|e| panic!("psql failed: {e}"))
}

/// Runs the stack's Python (with `cryptography`, as the earlier backend used).
pub fn python(args: &[&str]) -> String {
    let python = std::env::var("STACK_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::process::Command::new(python)
        .args(args)
        .output()
        .expect("python");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The earlier Python backend's Fernet (`cryptography`), through
/// `tests/fixtures/legacy_fernet.py`: `keys N`, `encrypt KEY TEXT...`,
/// `decrypt TOKEN KEYS...`; one answer a line.
pub fn legacy_fernet(args: &[&str]) -> String {
    let script = fixture_path("legacy_fernet.py");
    let script = script.to_str().expect("path");
    python(&[&[script], args].concat())
}
