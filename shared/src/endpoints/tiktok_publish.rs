//! `POST /api/v1/social-connections/tiktok/posts`: initialises a post at TikTok and
//! records it. The video bytes never pass through here: for an upload the answer holds
//! TikTok's upload URL and the chunk plan, and the browser PUTs the chunks to TikTok.
//! An `Idempotency-Key` makes retries safe: the same user and key within 24 hours
//! answer the same post without a second init; another body with the key is 409.
//! With `scheduled_at` the post is only recorded (`SCHEDULED`): TikTok is not called, and
//! the dispatcher (publish-scheduled-posts) inits it when it is due.
//!
//! Pre-flight ([`checks`]): a media video TikTok would refuse (its length against the
//! creator's longest, frame rate, size, format) and a non-SELF_ONLY post of an unaudited
//! app are refused before anything is stored or sent; an immediate post over a known
//! cap (the capacity ledger) is 429 `tiktok_post_limit` without calling TikTok. With
//! `"dry_run": true` every check runs and the answer lists the problems and the capacity,
//! storing and sending nothing.

use std::sync::atomic::{AtomicBool, Ordering};

use lambda_http::http::HeaderValue;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::prelude::*;
use crate::access::AccessError;
use crate::store::{
    Begun, Caller, Capacity, CapacityOf, CapacityStore, Connection, MediaRow, MediaStore, NewPost,
    PostRow, PostStore, RecordPost, SchedulePost, ScheduleStore, Scheduled, StoreError,
    StoredUpload,
};
use crate::tiktok::posting::{InitAnswer, PostInit};
use crate::tiktok::TikTokError;

pub mod checks;
pub mod request;
use checks::{Problem, Unchecked};
use request::{Mode, Publish, Source};

/// Longest Idempotency-Key.
const MAX_KEY_LEN: usize = 255;

#[derive(Serialize)]
struct UploadView {
    upload_url: String,
    video_size: u64,
    chunk_size: u64,
    total_chunk_count: u64,
}

#[derive(Serialize)]
struct Created {
    id: String,
    /// TikTok's, once the post was initialised (a scheduled post has none before).
    publish_id: Option<String>,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload: Option<UploadView>,
    #[serde(with = "crate::timestamp::option")]
    scheduled_at: Option<time::OffsetDateTime>,
    attempts: i32,
    #[serde(with = "crate::timestamp::option")]
    next_attempt_at: Option<time::OffsetDateTime>,
    /// What the checks could not read (photos), and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unchecked: Vec<Unchecked>,
}

/// The `Idempotency-Key` header: printable ASCII, at most 255 characters.
fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).filter(|k| {
        !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
    });
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError::invalid_request(
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        )),
    }
}

/// What a key is bound to: the request as parsed (field order and spacing do not count).
fn request_hash(publish: &Publish) -> String {
    // Versioned: a change of the request's shape must not turn retries into conflicts.
    let mut canonical = b"v1:".to_vec();
    canonical.extend(serde_json::to_vec(publish).unwrap_or_default());
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The answer for a recorded post (its upload URL decrypted).
fn created<P: Ports>(app: &App<P>, post: &PostRow) -> Result<Created, ApiError> {
    let upload = match &post.upload {
        Some(stored) => Some(UploadView {
            upload_url: app.cipher.decrypt(&stored.upload_url).map_err(|_| {
                tracing::error!("stored upload URL does not decrypt: check ENCRYPTION_KEY");
                ApiError::Internal
            })?,
            video_size: stored.video_size,
            chunk_size: stored.chunk_size,
            total_chunk_count: stored.total_chunk_count,
        }),
        None => None,
    };
    // Only a recorded post is answered (an unrecorded key is `idempotency_key_in_progress`),
    // and recording sets TikTok's publish_id; a scheduled post gets it from the dispatcher.
    if post.publish_id.is_none() && post.scheduled_at.is_none() {
        tracing::error!("a recorded post has no publish_id");
        return Err(ApiError::Internal);
    }
    Ok(Created {
        id: post.id.clone(),
        publish_id: post.publish_id.clone(),
        status: post.status.clone(),
        upload,
        scheduled_at: post.scheduled_at,
        attempts: post.attempts,
        next_attempt_at: post.next_attempt_at,
        unchecked: Vec::new(),
    })
}

/// Keeps a reservation whose post may exist at TikTok for its key's day. Should that
/// fail, an unmarked reservation counts as unknown after a minute anyway.
async fn keep_unknown<P: Ports>(app: &App<P>, id: &str, user_id: i64) {
    if let Err(store) = app.store.mark_post_unknown(id, user_id).await {
        tracing::warn!(error = %store, "reservation not marked unknown");
    }
}

/// 409 `idempotency_outcome_unknown`: the key's init may have made a post at TikTok.
fn outcome_unknown() -> ApiError {
    ApiError::conflict(
        code::IDEMPOTENCY_OUTCOME_UNKNOWN,
        "TikTok did not answer this Idempotency-Key's post, and may have made it: check \
         the account before posting again, with a new Idempotency-Key",
    )
}

/// 201 with the post (and what the checks could not read); with `Idempotent-Replayed:
/// true` for a replay.
fn answered<P: Ports>(
    app: &App<P>,
    post: &PostRow,
    replayed: bool,
    unchecked: &[Unchecked],
) -> Outcome {
    let mut answer = created(app, post)?;
    answer.unchecked = unchecked.to_vec();
    let mut response = json_response(StatusCode::CREATED, &answer);
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn key_reused() -> ApiError {
    ApiError::conflict(
        code::IDEMPOTENCY_KEY_REUSED,
        "This Idempotency-Key was used for another request in the last 24 hours",
    )
}

/// Records a post for later: TikTok is not called; the dispatcher inits it when due. A
/// media source's size, type and key are stored with the request for the dispatcher.
async fn schedule<P: Ports>(
    app: &App<P>,
    publish: &Publish,
    at: time::OffsetDateTime,
    key: Option<String>,
    post: NewPost,
    media: Option<&MediaRow>,
    unchecked: &[Unchecked],
) -> Outcome {
    let mut stored = publish.clone();
    if let Some(media) = media {
        super::media_view::check_kept(media.created_at, at)?;
        stored.source =
            stored
                .source
                .with_media(media.size as u64, &media.content_type, &media.object_key);
    }
    let request = serde_json::to_value(&stored).map_err(|_| ApiError::Internal)?;
    let schedule = SchedulePost {
        post,
        request,
        scheduled_at: at,
        request_hash: key.as_ref().map(|_| request_hash(publish)),
        idempotency_key: key,
    };
    match app.store.schedule_post(&schedule).await? {
        Scheduled::New { post } => answered(app, &post, false, unchecked),
        Scheduled::Replay { post } => answered(app, &post, true, unchecked),
        Scheduled::Mismatch => Err(key_reused()),
    }
}

/// A media source: the caller's and `ready` (its facts were read when it became ready;
/// this function has no access to the bucket).
async fn ready_media<P: Ports>(
    app: &App<P>,
    caller: &Caller,
    media_id: &str,
) -> Result<MediaRow, ApiError> {
    let media = app
        .store
        .media_for(&caller.firebase_uid, media_id)
        .await?
        .ok_or_else(super::media_view::not_found)?;
    if media.status != "ready" {
        return Err(ApiError::conflict(
            code::MEDIA_NOT_READY,
            "The media is not in storage yet: PUT the file, then GET the media until it is \
             ready",
        ));
    }
    Ok(media)
}

/// The creator's longest video, from creator-info (one call; `None` when the account
/// cannot be asked: no `video.publish`, or TikTok not answering, which the dispatcher's
/// init will meet anyway).
async fn creator_max_duration<P: Ports>(app: &App<P>, connection: &Connection) -> Option<i64> {
    PUBLISH_SCOPE.check(connection).ok()?;
    let asked = app
        .tokens()
        .with_live_token(connection.clone(), |token| async move {
            app.tiktok.creator_info(&token).await
        })
        .await;
    match asked {
        Ok((info, _)) => info.max_video_post_duration_sec,
        Err(err) => {
            tracing::warn!(error = %err, "creator info unavailable: the video's length is not checked");
            None
        }
    }
}

#[derive(Serialize)]
struct DryRun {
    ok: bool,
    problems: Vec<Problem>,
    /// What could not be checked, and why (never a problem).
    unchecked: Vec<Unchecked>,
    capacity: Capacity,
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::POST)?;
    let caller = app.authenticate_writer(req).await?;
    let publish: Publish = json_body(req)?;
    publish.validate()?;
    let now = time::OffsetDateTime::now_utc();
    // A media source is always the dispatcher's (an API request cannot carry 4 GiB in its
    // 30 seconds): without a time, it is due at once.
    let scheduled = match (publish.scheduled_time(now)?, &publish.source) {
        (None, Source::Media { .. }) => Some(now),
        (at, _) => at,
    };
    let key = idempotency_key(req)?;
    let connection = named_connection(app, &caller, publish.account_id.as_deref()).await?;
    let scope = match publish.mode {
        Mode::Direct => PUBLISH_SCOPE,
        Mode::Inbox => UPLOAD_SCOPE,
    };
    scope.check(&connection)?;
    let media = match &publish.source {
        Source::Media { media_id, .. } => Some(ready_media(app, &caller, media_id).await?),
        _ => None,
    };
    let of = CapacityOf {
        connection_id: connection.id,
        mode: publish.mode.as_str(),
        app: &app.authorization.client_key,
        audited: app.app_audited,
    };
    let capacity = app.store.post_capacity(&of).await?;
    let mut problems: Vec<Problem> = checks::audit(&publish, capacity.app_audited)
        .into_iter()
        .collect();
    if let Some(media) = &media {
        let max = match media.facts {
            Some(_) => creator_max_duration(app, &connection).await,
            None => None,
        };
        problems.extend(checks::media(media, max));
    }
    let mut unchecked = Vec::new();
    if let Source::Photos { photo_urls, .. } = &publish.source {
        let (photo_problems, not_read) = checks::photos(app.photos.as_ref(), photo_urls).await;
        problems.extend(photo_problems);
        unchecked = not_read;
    }
    if publish.dry_run {
        // A scheduled post over a cap is held, not refused; an immediate one is refused.
        if scheduled.is_none() {
            if let Some(limit) = checks::over_cap(&capacity, now) {
                problems.push(Problem {
                    code: limit.code(),
                    detail: limit.to_string(),
                    field: None,
                });
            }
        }
        let answer = DryRun {
            ok: problems.is_empty(),
            problems,
            unchecked,
            capacity,
        };
        return Ok(json_response(StatusCode::OK, &answer));
    }
    if let Some(problem) = problems.first() {
        return Err(problem.refusal());
    }
    let new = NewPost {
        user_id: connection.user_id,
        connection_id: connection.id,
        open_id: connection.provider_account_id.clone(),
        mode: publish.mode.as_str().to_owned(),
        source_type: publish.source.kind().to_owned(),
    };
    if let Some(at) = scheduled {
        return schedule(app, &publish, at, key, new, media.as_ref(), &unchecked).await;
    }
    let reservation = match &key {
        Some(key) => match app
            .store
            .begin_post(&new, key, &request_hash(&publish))
            .await?
        {
            Begun::New { id } => Some(id),
            Begun::Replay { post } => return answered(app, &post, true, &unchecked),
            Begun::Mismatch => return Err(key_reused()),
            Begun::InProgress => {
                return Err(ApiError::conflict(
                    code::IDEMPOTENCY_KEY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still in progress: retry shortly",
                ))
            }
            Begun::Unknown => return Err(outcome_unknown()),
        },
        None => None,
    };
    // The init is counted before it is sent; over a known cap it is not sent at all.
    let reserved = app.store.reserve_init(&of).await;
    let refusal = match reserved {
        Ok(capacity) => checks::over_cap(&capacity, now).map(Err),
        Err(err) => Some(Err(ApiError::from(err))),
    };
    if let Some(refused) = refusal {
        if let Some(id) = &reservation {
            if let Err(store) = app.store.release_post(id, new.user_id).await {
                tracing::warn!(error = %store, "reservation not released");
            }
        }
        return refused;
    }
    let connection_id = connection.id;
    let init = publish.init();
    let (called, sent) = send_init(app, connection, &init).await;
    let answer = match called {
        Ok(answer) => answer,
        Err(err) => {
            // Nothing is recorded for a refused init, and the key is free for a retry. When
            // TikTok's answer is unknown (timeout, 5xx) it may have made the post: the
            // reservation stays for the key's day, so no retry with it can make a second
            // one (409 idempotency_outcome_unknown, unless TikTok tells of the post).
            let unknown =
                sent.lost && matches!(err, AccessError::TikTok(TikTokError::Unavailable(_)));
            settle_ledger(app, connection_id, sent, &err).await;
            if let Some(id) = &reservation {
                if unknown {
                    keep_unknown(app, id, new.user_id).await;
                } else if let Err(store) = app.store.release_post(id, new.user_id).await {
                    // Unreleased, it counts as unknown after a minute: the key is not reused.
                    tracing::warn!(error = %store, "reservation not released");
                }
            }

            return Err(scope.refused(err));
        }
    };
    let upload = match (publish.source.plan(), &answer.upload_url) {
        (Some(plan), Some(url)) => Some(StoredUpload {
            upload_url: app.cipher.encrypt(url),
            video_size: plan.video_size,
            chunk_size: plan.chunk_size,
            total_chunk_count: plan.total_chunk_count,
        }),
        (Some(_), None) => {
            tracing::error!(publish_id = %answer.publish_id, "TikTok answered an upload init without an upload URL");
            // A post exists at TikTok that cannot be uploaded: the key does not post again.
            if let Some(id) = &reservation {
                keep_unknown(app, id, new.user_id).await;
            }
            return Err(ApiError::TikTokUnavailable);
        }
        _ => None,
    };
    let record = RecordPost {
        post: new,
        publish_id: answer.publish_id.clone(),
        status: publish.source.first_status().to_owned(),
        upload,
        reservation,
    };
    // TikTok has the post now: one more try before giving up on recording it.
    let recorded = match app.store.record_post(&record).await {
        Err(StoreError::Unavailable(_)) => app.store.record_post(&record).await,
        first => first,
    };
    let post = match recorded {
        Ok(post) => post,
        Err(err) => {
            // Its id lets support find it; TikTok has the post, so the key does not post
            // again (its webhooks can still make the reservation that post).
            tracing::error!(publish_id = %answer.publish_id, error = %err, "post initialised but not recorded");
            if let Some(id) = &record.reservation {
                keep_unknown(app, id, record.post.user_id).await;
            }
            return Err(err.into());
        }
    };
    answered(app, &post, false, &unchecked)
}

/// What an init call did: whether an init reached TikTok (a refused or lost one did; one
/// that never left, or a refresh failing before it, did not), and whether the last one
/// sent lost TikTok's answer (a refresh failing before or after an init is no unknown
/// outcome: no post was asked for, or TikTok refused it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct InitSent {
    pub reached: bool,
    pub lost: bool,
}

/// Sends an init with the connection's live token (one refresh and retry on an expired
/// token), and says what was sent.
pub(crate) async fn send_init<P: Ports>(
    app: &App<P>,
    connection: Connection,
    init: &PostInit,
) -> (Result<InitAnswer, AccessError>, InitSent) {
    let (reached, lost) = (AtomicBool::new(false), AtomicBool::new(false));
    let called = app
        .tokens()
        .with_live_token(connection, |token| {
            let (reached, lost) = (&reached, &lost);
            async move {
                let answer = app.tiktok.init_post(&token, init).await;
                lost.store(
                    matches!(answer, Err(TikTokError::Unavailable(_))),
                    Ordering::SeqCst,
                );
                if !matches!(answer, Err(TikTokError::NotSent(_))) {
                    reached.store(true, Ordering::SeqCst);
                }
                answer
            }
        })
        .await
        .map(|(answer, _)| answer);
    let sent = InitSent {
        reached: reached.into_inner(),
        lost: lost.into_inner(),
    };
    (called, sent)
}

/// The ledger after a failed init: an init that never reached TikTok is given back; a
/// refusal's word on a cap is kept (best effort both: the ledger errs on the safe side,
/// and TikTok will tell again).
pub(crate) async fn settle_ledger<P: Ports>(
    app: &App<P>,
    connection_id: i64,
    sent: InitSent,
    err: &AccessError,
) {
    if !sent.reached {
        if let Err(store) = app.store.release_init(connection_id).await {
            tracing::warn!(error = %store, "an unsent init not given back to the ledger");
        }
    }
    if let AccessError::TikTok(TikTokError::PostRefused(refusal)) = err {
        let noted = app
            .store
            .note_refusal(connection_id, &app.authorization.client_key, refusal.code())
            .await;
        if let Err(store) = noted {
            tracing::warn!(error = %store, "refusal not kept in the capacity ledger");
        }
    }
}
