//! `GET /api/v1/social-connections/tiktok/posts?account_id=&status=&from=&to=&cursor=&limit=`:
//! the caller's posts, newest first by their time (`scheduled_at`, else `created_at`):
//! the frontend's calendar. `status` takes one status or several, comma-separated;
//! `from`/`to` (RFC 3339) bound the time, `to` excluded; `limit` 1-100 (default 50);
//! `next_cursor` pages on (null on the last page).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use time::OffsetDateTime;

use super::post_view::PostView;
use super::prelude::*;
use crate::http::query_param;
use crate::store::{CalendarStore, PageMark, PostQuery, PostRow};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 100;
/// Every status a post can have.
const STATUSES: [&str; 11] = [
    "SCHEDULED",
    "HELD",
    "PUBLISHING",
    "UNCONFIRMED",
    "CANCELLED",
    "INITIALIZING",
    "PROCESSING_UPLOAD",
    "PROCESSING_DOWNLOAD",
    "SEND_TO_USER_INBOX",
    "PUBLISH_COMPLETE",
    "FAILED",
];

#[derive(Serialize)]
struct Page {
    posts: Vec<PostView>,
    next_cursor: Option<String>,
}

fn invalid(detail: &str) -> ApiError {
    ApiError::invalid_request(detail)
}

fn time_param(req: &Request, name: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    query_param(req, name)
        .map(|text| {
            crate::timestamp::parse_rfc3339(&text)
                .ok_or_else(|| invalid(&format!("{name} must be an RFC 3339 date-time")))
        })
        .transpose()
}

/// A cursor this endpoint gave: the last post's time (exact) and id.
fn cursor(post: &PostRow) -> Option<String> {
    let at = post.scheduled_at.or(post.created_at)?;
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(URL_SAFE_NO_PAD.encode(format!("{at}|{}", post.id)))
}

fn read_cursor(text: &str) -> Result<PageMark, ApiError> {
    let refused = || invalid("cursor must be a next_cursor this endpoint answered");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let (at, id) = text.split_once('|').ok_or_else(refused)?;
    let at = crate::timestamp::parse_rfc3339(at).ok_or_else(refused)?;
    if !super::is_uuid(id) {
        return Err(refused());
    }
    Ok(PageMark {
        at,
        id: id.to_owned(),
    })
}

fn query(req: &Request, firebase_uid: &str) -> Result<PostQuery, ApiError> {
    let open_id = query_param(req, "account_id");
    if let Some(id) = &open_id {
        valid_account_id(id, "account_id")?;
    }
    let statuses = match query_param(req, "status") {
        None => None,
        Some(list) => {
            let statuses: Vec<String> = list
                .split(',')
                .map(|s| s.trim().to_ascii_uppercase())
                .filter(|s| !s.is_empty())
                .collect();
            if statuses.is_empty() || statuses.iter().any(|s| !STATUSES.contains(&s.as_str())) {
                return Err(invalid(
                    "status must be post statuses, comma-separated (SCHEDULED, PUBLISH_COMPLETE, ...)",
                ));
            }
            Some(statuses)
        }
    };
    let (from, to) = (time_param(req, "from")?, time_param(req, "to")?);
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(invalid("from must be before to"));
        }
    }
    let limit = match query_param(req, "limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid("limit must be 1 to 100"))?,
    };
    let before = query_param(req, "cursor")
        .map(|c| read_cursor(&c))
        .transpose()?;
    Ok(PostQuery {
        firebase_uid: firebase_uid.to_owned(),
        open_id,
        statuses,
        from,
        to,
        before,
        limit,
    })
}

/// The use case: parse, authorise, act, answer.
pub async fn run<P: Ports>(app: &App<P>, req: &Request) -> Outcome {
    require_method(req, &Method::GET)?;
    let caller = app.authenticate(req).await?;
    let mut query = query(req, &caller.firebase_uid)?;
    let limit = query.limit as usize;
    // One more than the page: whether there is a next one.
    query.limit += 1;
    let mut posts = app.store.list_posts(&query).await?;
    let next_cursor = if posts.len() > limit {
        posts.truncate(limit);
        posts.last().and_then(cursor)
    } else {
        None
    };
    let page = Page {
        posts: posts.into_iter().map(PostView::from).collect(),
        next_cursor,
    };
    Ok(json_response(StatusCode::OK, &page))
}
