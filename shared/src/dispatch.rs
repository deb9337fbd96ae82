//! The dispatcher of scheduled posts (publish-scheduled-posts, every minute): claims due
//! posts and sends each one's init to TikTok, at most once.
//!
//! On the job runner ([`crate::jobs`]) like the keep-alive sweep: `DISPATCH_WORKERS`
//! workers claim their own batches (`FOR UPDATE SKIP LOCKED`, SCHEDULED -> PUBLISHING in
//! one statement), so overlapping runs never get the same post. The rules that keep a
//! post from going out twice:
//! 1. a post is claimed before TikTok is called;
//! 2. an init whose outcome is unknown (timeout or 5xx after it was sent) is never sent
//!    again: the post becomes UNCONFIRMED (`init_outcome_unknown`), and so does a claim
//!    whose run died (its lease lapsed without a publish id); the user decides;
//! 3. the publish id is stored as soon as TikTok answers (one more try if the database
//!    fails then), before anything else;
//! 4. a refusal is known not to have posted: TikTok's rate limit puts the post back
//!    (`next_attempt_at` after its window; the limit is the creator's, so the run goes on
//!    with the other accounts' posts), the daily caps back in an hour (at most
//!    [`MAX_ATTEMPTS`] attempts), anything else FAILED with TikTok's reason; an init that
//!    never left (no connection) goes back a minute later.
//!
//! With the time left, the runs also look for UNCONFIRMED posts among their accounts'
//! videos ([`reconcile`]) and ask TikTok about posts on their way that no one asked
//! about lately ([`settle`]).
//!
//! A `media` post's video is then streamed from S3 to TikTok by the run that initiated
//! it ([`upload`]); an upload a run cannot finish is carried on by the next.

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use tokio::time::Instant;

use crate::access::{AccessError, TokenAccess};
use crate::app::{App, Ports};
use crate::endpoints::tiktok_publish::request::{Mode, Publish};
use crate::endpoints::tiktok_publish::{send_init, settle_ledger};
use crate::endpoints::{PUBLISH_SCOPE, UPLOAD_SCOPE};
use crate::error::ApiError;
use crate::jobs::{self, Counted, Job, Limits};
use crate::store::{
    CapacityOf, CapacityStore, ClaimedPost, Dispatched, MediaStore, PostRow, ScheduleStore,
    StoreError, StoredUpload,
};
use crate::tiktok::TikTokError;

/// Posts one worker claims at a time (each is one init: a few hundred ms).
pub const BATCH: i64 = 10;
/// How long a claim holds before the next run counts it UNCONFIRMED: longer than one
/// init can take with a token refresh before it (each call is bounded by seconds).
pub const LEASE_SECONDS: i64 = 5 * 60;
/// Attempts a post gets while TikTok's daily caps refuse it (one an hour: a day).
pub const MAX_ATTEMPTS: i32 = 24;
/// Consecutive TikTok outages after which a run stops.
const OUTAGES_TO_STOP: u32 = 3;
/// TikTok's posting rate window when it names none.
const RATE_WINDOW: Duration = Duration::seconds(60);

/// Why a scheduled post failed without TikTok's word (the `fail_reason`s of ours).
pub mod reason {
    pub const ACCOUNT_DISCONNECTED: &str = "account_disconnected";
    pub const AUTH_REMOVED: &str = "auth_removed";
    pub const INIT_OUTCOME_UNKNOWN: &str = "init_outcome_unknown";
    pub const SCOPE_MISSING: &str = "scope_missing";
    pub const REQUEST_UNREADABLE: &str = "request_unreadable";
    pub const RATE_LIMITED: &str = "rate_limit_exceeded";
    pub const NOT_SENT: &str = "tiktok_unreachable";
    pub const UPLOAD_FAILED: &str = "upload_failed";
    pub const MEDIA_MISSING: &str = "media_missing";
}

mod reconcile;
mod settle;
mod upload;

/// The counters of the due posts a run claimed (its uploads, looks and status calls are
/// counted apart).
const CLAIMED: [&str; 6] = [
    "initiated",
    "held",
    "unconfirmed",
    "failed",
    "unsettled",
    "released",
];

/// Unfinished uploads one worker takes over at a time.
const UPLOAD_BATCH: i64 = 1;
/// UNCONFIRMED posts one worker looks for at a time.
const LOOK_BATCH: i64 = 2;
/// How long an upload's claim holds: longer than the worst chunk (three reads of 90 s
/// and three PUTs of 60 s), renewed at every acknowledged chunk.
pub const UPLOAD_LEASE_SECONDS: i64 = 15 * 60;
/// A claimed post is not sent with less of its lease left than this (a run held up
/// elsewhere): it is released for the next run instead.
const LEASE_MARGIN: Duration = Duration::seconds(60);

/// One run's summary (logged as one JSON line, and the invocation's answer).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub claimed: u64,
    pub initiated: u64,
    /// Put back for later (TikTok's limits, or TikTok unreachable before sending).
    pub held: u64,
    pub unconfirmed: u64,
    pub failed: u64,
    /// Media uploads finished, failed, and left for the next run.
    pub uploaded: u64,
    pub upload_failed: u64,
    pub upload_left: u64,
    /// UNCONFIRMED posts found among their accounts' videos, and given up on.
    pub reconciled: u64,
    pub not_found_on_tiktok: u64,
    /// Seconds between a post's time and its init, over the posts this run initiated.
    pub lag_p50_seconds: Option<i64>,
    pub lag_max_seconds: Option<i64>,
    /// Posts still due when the run ended (`None` when the database could not say).
    pub remaining: Option<i64>,
    pub stopped: Option<&'static str>,
}

/// Dispatches due posts until none is left or `until` comes.
pub async fn run<P: Ports>(app: &App<P>, until: Instant) -> Result<Summary, ApiError> {
    let dispatcher = Dispatcher {
        app,
        tokens: app.tokens(),
        lags: std::sync::Mutex::new(Vec::new()),
        until,
    };
    let limits = Limits {
        workers: app.dispatch_workers,
        until,
        outages_to_stop: OUTAGES_TO_STOP,
    };
    let run = jobs::run(&dispatcher, limits).await;
    let mut lags = dispatcher
        .lags
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    lags.sort_unstable();
    // Each post's lag, for the p99 its alarm watches.
    let seconds: Vec<f64> = lags.iter().map(|s| *s as f64).collect();
    crate::metrics::Line::new(&[])
        .values("DispatchLag", crate::metrics::Unit::Seconds, &seconds)
        .emit();
    let summary = Summary {
        claimed: CLAIMED.iter().map(|c| run.count(c)).sum(),
        initiated: run.count("initiated"),
        held: run.count("held"),
        unconfirmed: run.count("unconfirmed"),
        failed: run.count("failed"),
        uploaded: run.count("uploaded"),
        upload_failed: run.count("upload_failed"),
        upload_left: run.count("upload_left"),
        reconciled: run.count("reconciled"),
        not_found_on_tiktok: run.count("not_found_on_tiktok"),
        lag_p50_seconds: lags.get(lags.len() / 2).copied(),
        lag_max_seconds: lags.last().copied(),
        remaining: run.remaining.as_ref().ok().copied(),
        stopped: run.stopped,
    };
    tracing::info!(
        claimed = summary.claimed,
        lag_p50_seconds = summary.lag_p50_seconds,
        lag_max_seconds = summary.lag_max_seconds,
        "dispatch lag"
    );
    match run.failure {
        Some(err) => Err(err.into()),
        None => run.remaining.map(|_| summary).map_err(ApiError::from),
    }
}

struct Dispatcher<'a, P: Ports> {
    app: &'a App<P>,
    tokens: TokenAccess<'a, P::Store, P::TikTok>,
    /// Seconds from each initiated post's time to its init.
    lags: std::sync::Mutex<Vec<i64>>,
    /// When the run stops starting work.
    until: Instant,
}

/// What a worker's claim hands out.
pub enum Work {
    /// A due post: its init (and, for media, its upload).
    Due(Box<ClaimedPost>),
    /// A media upload a run left unfinished: carried on after its last acknowledged chunk.
    Upload(Box<PostRow>),
    /// An UNCONFIRMED post to look for among its account's videos.
    Reconcile(Box<ClaimedPost>),
    /// A post on its way no one asked TikTok about lately.
    Settle(Box<ClaimedPost>),
}

/// How a claimed post's attempt ends, and how the run counts it.
fn counted(outcome: &Dispatched) -> Counted {
    match outcome {
        Dispatched::Initiated { .. } => Counted::healthy("initiated"),
        Dispatched::Rescheduled { reason, .. } if *reason == reason::NOT_SENT => {
            Counted::outage("held", "tiktok_unavailable")
        }
        Dispatched::Rescheduled { .. } => Counted::neutral("held"),
        Dispatched::Unconfirmed { .. } => Counted::outage("unconfirmed", "tiktok_unavailable"),
        Dispatched::Held { .. } => Counted::neutral("held"),
        Dispatched::Failed { .. } => Counted::neutral("failed"),
    }
}

impl<P: Ports> Dispatcher<'_, P> {
    /// Sends the post's init (the claim is held), and says what became of it.
    async fn attempt(&self, claimed: ClaimedPost) -> Dispatched {
        let post = &claimed.post;
        let Some(connection) = claimed.connection else {
            return failed(reason::ACCOUNT_DISCONNECTED);
        };
        if connection.revoked_at.is_some() {
            return failed(reason::AUTH_REMOVED);
        }
        let publish = post
            .request
            .clone()
            .and_then(|r| serde_json::from_value::<Publish>(r).ok());
        let Some(publish) = publish else {
            tracing::error!(post = %post.id, "a scheduled post's request does not read");
            return failed(reason::REQUEST_UNREADABLE);
        };
        let scope = match publish.mode {
            Mode::Direct => PUBLISH_SCOPE,
            Mode::Inbox => UPLOAD_SCOPE,
        };
        if scope.check(&connection).is_err() {
            return failed(reason::SCOPE_MISSING);
        }
        // Counted in the ledger before it is sent; over a known cap, held for its slot.
        let of = CapacityOf {
            connection_id: connection.id,
            mode: publish.mode.as_str(),
            app: &self.app.authorization.client_key,
            audited: self.app.app_audited,
        };
        match self.app.store.reserve_init(&of).await {
            Ok(capacity) if !capacity.can_post_now => {
                return Dispatched::Held {
                    // A second on: the slot is exact, the ledger's clock is the database's.
                    until: capacity
                        .next_slot_at
                        .unwrap_or_else(|| OffsetDateTime::now_utc() + Duration::hours(1))
                        + Duration::seconds(1),
                    reason: capacity.blocked_by.join(","),
                };
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(post = %post.id, error = %err, "capacity not reserved");
                return Dispatched::Rescheduled {
                    at: OffsetDateTime::now_utc() + Duration::minutes(1),
                    reason: reason::NOT_SENT,
                };
            }
        }
        let connection_id = connection.id;
        let init = publish.init();
        let (called, sent) = send_init(self.app, connection, &init).await;
        if let Err(err) = &called {
            settle_ledger(self.app, connection_id, sent, err).await;
        }
        let now = OffsetDateTime::now_utc();
        match called {
            Ok(answer) => {
                let upload = match (publish.source.plan(), answer.upload_url) {
                    (Some(plan), Some(url)) => Some(StoredUpload {
                        upload_url: self.app.cipher.encrypt(&url),
                        video_size: plan.video_size,
                        chunk_size: plan.chunk_size,
                        total_chunk_count: plan.total_chunk_count,
                    }),
                    (Some(_), None) => {
                        // A publish that can never get its file: TikTok publishes nothing.
                        tracing::error!(publish_id = %answer.publish_id, "TikTok answered a FILE_UPLOAD init without an upload URL");
                        return failed(reason::UPLOAD_FAILED);
                    }
                    (None, _) => None,
                };
                Dispatched::Initiated {
                    publish_id: answer.publish_id,
                    status: publish.source.first_status().to_owned(),
                    upload,
                }
            }
            Err(AccessError::TikTok(TikTokError::Unavailable(_))) if sent.lost => {
                Dispatched::Unconfirmed {
                    reason: reason::INIT_OUTCOME_UNKNOWN,
                }
            }
            Err(AccessError::TikTok(TikTokError::RateLimited { retry_after })) => {
                let wait = retry_after
                    .map(|s| Duration::seconds(s.min(3600) as i64))
                    .unwrap_or(RATE_WINDOW);
                Dispatched::Rescheduled {
                    at: now + wait,
                    reason: reason::RATE_LIMITED,
                }
            }
            Err(AccessError::TikTok(TikTokError::PostRefused(refusal))) => {
                if refusal.passes_with_time() && post.attempts < MAX_ATTEMPTS {
                    Dispatched::Rescheduled {
                        at: now + Duration::hours(1),
                        reason: refusal.code(),
                    }
                } else {
                    failed(refusal.code())
                }
            }
            Err(AccessError::TikTok(TikTokError::ScopeNotAuthorized)) => {
                failed(reason::SCOPE_MISSING)
            }
            Err(err) if err.is_reauth() => failed(reason::AUTH_REMOVED),
            // Not sent, or TikTok (or the refresh before the init) unavailable before any
            // init went out: nothing was posted; again in a minute.
            Err(
                AccessError::TikTok(TikTokError::NotSent(_) | TikTokError::Unavailable(_))
                | AccessError::RefreshInProgress
                | AccessError::Store(_),
            ) => Dispatched::Rescheduled {
                at: now + Duration::minutes(1),
                reason: reason::NOT_SENT,
            },
            Err(err) => {
                tracing::warn!(post = %post.id, error = %err, "scheduled post failed");
                failed(match err {
                    AccessError::Undecryptable => reason::AUTH_REMOVED,
                    _ => "tiktok_refused",
                })
            }
        }
    }
}

fn failed(reason: &str) -> Dispatched {
    Dispatched::Failed {
        reason: reason.to_owned(),
    }
}

impl<P: Ports> Job for Dispatcher<'_, P> {
    type Item = Work;
    type Error = StoreError;
    const NAME: &'static str = "scheduled-post dispatcher";
    const COUNTERS: &'static [&'static str] = &[
        "initiated",
        "held",
        "unconfirmed",
        "failed",
        "unsettled",
        "uploaded",
        "upload_failed",
        "upload_left",
        "reconciled",
        "not_found_on_tiktok",
        "unconfirmed_checked",
        "unconfirmed_unable",
        "settle_checked",
        "released",
    ];

    async fn claim(&self) -> Result<Vec<Work>, StoreError> {
        let store = &self.app.store;
        // Uploads a run left unfinished first: their posts wait at TikTok.
        let uploads = store
            .claim_uploads(UPLOAD_BATCH, UPLOAD_LEASE_SECONDS)
            .await?;
        if !uploads.is_empty() {
            return Ok(uploads
                .into_iter()
                .map(|p| Work::Upload(Box::new(p)))
                .collect());
        }
        let due = store.claim_due_posts(BATCH, LEASE_SECONDS).await?;
        if !due.is_empty() {
            return Ok(due.into_iter().map(|c| Work::Due(Box::new(c))).collect());
        }
        // Last, with what time is left: UNCONFIRMED posts looked for at TikTok.
        let looks = store
            .claim_unconfirmed_posts(LOOK_BATCH, reconcile::LOOK_EVERY_SECONDS)
            .await?;
        if !looks.is_empty() {
            return Ok(looks
                .into_iter()
                .map(|c| Work::Reconcile(Box::new(c)))
                .collect());
        }
        // And posts on their way no one asked about (webhooks missing or late).
        let unasked = store
            .claim_unsettled_posts(BATCH, settle::ASK_EVERY_SECONDS)
            .await?;
        Ok(unasked
            .into_iter()
            .map(|c| Work::Settle(Box::new(c)))
            .collect())
    }

    async fn release(&self, work: Work) {
        match work {
            Work::Due(claimed) => {
                if let Some(claim) = &claimed.post.claim_token {
                    self.give_back(&claimed.post.id, claim).await;
                }
            }
            // Its lease ends now: the next run carries it on.
            Work::Upload(post) => {
                let done = post.uploaded_bytes.unwrap_or(0).max(0) as u64;
                self.leave_upload(&post, done).await;
            }
            // Looked for again at their next time anyway.
            Work::Reconcile(_) | Work::Settle(_) => {}
        }
    }

    async fn work(&self, work: Work) -> Counted {
        match work {
            Work::Due(claimed) => self.dispatch(*claimed).await,
            Work::Upload(post) => self.carry_upload(*post).await,
            Work::Reconcile(claimed) => self.reconcile(*claimed).await,
            Work::Settle(claimed) => self.settle(*claimed).await,
        }
    }

    async fn remaining(&self) -> Result<i64, StoreError> {
        self.app.store.count_due_posts().await
    }
}

impl<P: Ports> Dispatcher<'_, P> {
    /// Puts a claimed post whose init was not sent back to SCHEDULED.
    async fn give_back(&self, id: &str, claim: &str) {
        if let Err(err) = self.app.store.release_claim(id, claim).await {
            tracing::warn!(post = %id, error = %err, "a claim not released; it lapses to UNCONFIRMED");
        }
    }

    /// A due post's init, and its outcome recorded.
    async fn dispatch(&self, claimed: ClaimedPost) -> Counted {
        let id = claimed.post.id.clone();
        let Some(claim) = claimed.post.claim_token.clone() else {
            tracing::error!(post = %id, "a claimed post without its claim token");
            return Counted::neutral("unsettled");
        };
        // Held up (a slow batch): too little lease left to be sure no other run takes it
        // over meanwhile. Nothing was sent: back to the queue.
        let lease_left = claimed
            .post
            .lease_until
            .map(|until| until - OffsetDateTime::now_utc());
        if lease_left.is_some_and(|left| left < LEASE_MARGIN) {
            self.give_back(&id, &claim).await;
            return Counted::neutral("released");
        }
        let due = claimed
            .post
            .next_attempt_at
            .or(claimed.post.scheduled_at)
            .unwrap_or_else(OffsetDateTime::now_utc);
        let outcome = self.attempt(claimed).await;
        let store = &self.app.store;
        // What TikTok answered is recorded before anything else; one more try when the
        // database fails then. Unrecorded, the claim lapses to UNCONFIRMED: never twice.
        let settled = match store.settle_dispatch(&id, &claim, &outcome).await {
            Err(StoreError::Unavailable(_)) => store.settle_dispatch(&id, &claim, &outcome).await,
            first => first,
        };
        match settled {
            Ok(Some(_)) => {
                // Posts that end here, by status and reason (TikTok's codes, ours).
                let ended = match &outcome {
                    Dispatched::Failed { reason } => Some(("FAILED", reason.as_str())),
                    Dispatched::Unconfirmed { reason } => Some(("UNCONFIRMED", *reason)),
                    _ => None,
                };
                if let Some((status, reason)) = ended {
                    crate::metrics::Line::new(&[("status", status), ("fail_reason", reason)])
                        .count("PostsEnded", 1)
                        .emit();
                }
                if let Dispatched::Initiated { .. } = &outcome {
                    let lag = (OffsetDateTime::now_utc() - due).whole_seconds().max(0);
                    self.lags
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(lag);
                }
                // A media post's upload is claimed on its own next (its lease ended at
                // the settle), by this run's next claim or another run's.
                counted(&outcome)
            }
            Ok(None) => {
                tracing::warn!(post = %id, "a claim lapsed before its outcome was recorded");
                Counted::neutral("unsettled")
            }
            Err(err) => {
                tracing::error!(post = %id, error = %err, ?outcome, "a dispatched post's outcome was not recorded");
                Counted::outage("unsettled", "database_unavailable")
            }
        }
    }
}
