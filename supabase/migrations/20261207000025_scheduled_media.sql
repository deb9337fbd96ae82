-- Media stored once (S3) for scheduled posts, and the dispatcher's server-side upload.
--
-- A media row is made when the browser asks to upload (status `pending`, its object key
-- `media/<user id>/<media id>`), and becomes `ready` once the object exists in S3 with
-- the declared size (a HEAD, never the client's word). A post with a `media` source
-- keeps its media id; the dispatcher inits a FILE_UPLOAD for it, stores the publish id
-- and the (encrypted) upload URL before sending a byte, then streams the object to
-- TikTok chunk by chunk. Each acknowledged chunk is recorded, with the lease renewed,
-- so a run that ends mid-upload leaves the rest to the next, which resumes from the
-- last acknowledged chunk and never inits again. (And, at the end, reconciling
-- UNCONFIRMED posts with the account's videos.)

create table if not exists public.tiktok_media (
    id uuid primary key default gen_random_uuid(),
    user_id bigint not null references public.users (id) on delete cascade,
    content_type text not null check (content_type in ('video/mp4', 'video/quicktime', 'video/webm')),
    size bigint not null check (size between 1 and 4294967296),
    object_key text not null unique,
    status text not null default 'pending' check (status in ('pending', 'ready')),
    created_at timestamptz not null default now(),
    ready_at timestamptz
);
create index if not exists tiktok_media_user_idx on public.tiktok_media (user_id, created_at desc);
alter table public.tiktok_media enable row level security;
revoke all on public.tiktok_media from anon, authenticated;

-- When the dispatcher next looks for an UNCONFIRMED post among the account's videos
-- (see the end of this file).
alter table public.tiktok_posts add column if not exists reconcile_at timestamptz;
alter table public.tiktok_posts add column if not exists media_id uuid
    references public.tiktok_media (id) on delete set null;
do $$
declare
    v_name text;
begin
    for v_name in
        select conname from pg_constraint
        where conrelid = 'public.tiktok_posts'::regclass and contype = 'c'
          and pg_get_constraintdef(oid) like '%source_type%'
    loop
        execute format('alter table public.tiktok_posts drop constraint %I', v_name);
    end loop;
end $$;
alter table public.tiktok_posts add constraint tiktok_posts_source_known
    check (source_type in ('upload', 'url', 'photos', 'media'));
-- Uploads the dispatcher has to carry on (lease lapsed or never taken).
create index if not exists tiktok_posts_media_upload_idx
    on public.tiktok_posts (lease_until nulls first)
    where status = 'PROCESSING_UPLOAD' and source_type = 'media';

-- A new media object of the caller's: {id, object_key, content_type, size, status,
-- created_at}.
create or replace function public.create_tiktok_media(
    p_firebase_uid text,
    p_content_type text,
    p_size bigint
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_user bigint := ensure_app_user(p_firebase_uid);
    v_id uuid := gen_random_uuid();
    v_media tiktok_media;
begin
    insert into tiktok_media (id, user_id, content_type, size, object_key)
    values (v_id, v_user, p_content_type, p_size, 'media/' || v_user || '/' || v_id)
    returning * into v_media;
    return to_jsonb(v_media);
end $$;

-- The caller's media (null: unknown, or another user's).
create or replace function public.tiktok_media_for(p_firebase_uid text, p_id uuid)
returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
    select to_jsonb(m) from tiktok_media m
    join users u on u.id = m.user_id
    where m.id = p_id and u.firebase_uid = p_firebase_uid;
$$;

-- The object is in S3 with its declared size (the caller checked with a HEAD).
create or replace function public.mark_tiktok_media_ready(p_id uuid)
returns jsonb
language sql
set search_path = public, pg_temp
as $$
    update tiktok_media set status = 'ready', ready_at = coalesce(ready_at, now())
    where id = p_id
    returning to_jsonb(tiktok_media.*);
$$;

-- As in 20261207000023, keeping a media source's media id on the post.
create or replace function public.schedule_tiktok_post(
    p_user_id bigint,
    p_connection_id bigint,
    p_open_id text,
    p_mode text,
    p_source_type text,
    p_request jsonb,
    p_scheduled_at timestamptz,
    p_idempotency_key text default null,
    p_request_hash text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts;
begin
    if p_idempotency_key is not null then
        select * into v_post from tiktok_posts
        where user_id = p_user_id and idempotency_key = p_idempotency_key
        for update;
        if v_post.id is not null and v_post.created_at <= now() - interval '24 hours' then
            update tiktok_posts set idempotency_key = null where id = v_post.id;
        elsif v_post.id is not null then
            if v_post.request_hash is distinct from p_request_hash then
                return jsonb_build_object('state', 'mismatch');
            end if;
            return jsonb_build_object('state', 'replay', 'post', to_jsonb(v_post));
        end if;
    end if;
    insert into tiktok_posts (user_id, connection_id, open_id, mode, source_type, status,
                              scheduled_at, request, media_id, idempotency_key, request_hash)
    values (p_user_id, p_connection_id, p_open_id, p_mode, p_source_type, 'SCHEDULED',
            p_scheduled_at, p_request, nullif(p_request #>> '{source,media_id}', '')::uuid,
            p_idempotency_key,
            case when p_idempotency_key is null then null else p_request_hash end)
    on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing
    returning * into v_post;
    if v_post.id is null then
        -- A concurrent request with the same key scheduled first: answer as it does.
        select * into v_post from tiktok_posts
        where user_id = p_user_id and idempotency_key = p_idempotency_key;
        if v_post.request_hash is distinct from p_request_hash then
            return jsonb_build_object('state', 'mismatch');
        end if;
        return jsonb_build_object('state', 'replay', 'post', to_jsonb(v_post));
    end if;
    return jsonb_build_object('state', 'new', 'post', to_jsonb(v_post));
end $$;

-- As in 20261207000023, with the upload plan of an initiated FILE_UPLOAD (its URL
-- encrypted): stored with the publish id, before any byte is sent, and the claim's lease
-- kept for the upload that follows.
drop function if exists public.settle_tiktok_dispatch(uuid, integer, text, text, text, text, timestamptz);
create or replace function public.settle_tiktok_dispatch(
    p_id uuid,
    p_attempt integer,
    p_outcome text,
    p_publish_id text default null,
    p_status text default null,
    p_fail_reason text default null,
    p_next_attempt_at timestamptz default null,
    p_upload jsonb default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts;
begin
    if p_outcome not in ('initiated', 'rescheduled', 'failed', 'unconfirmed')
       or (p_outcome = 'initiated' and (p_publish_id is null or p_status is null))
       or (p_outcome = 'rescheduled' and p_next_attempt_at is null) then
        raise exception 'settle_tiktok_dispatch: bad outcome %', p_outcome using errcode = '22023';
    end if;
    update tiktok_posts
    set status = case p_outcome
            when 'initiated' then p_status
            when 'rescheduled' then 'SCHEDULED'
            when 'failed' then 'FAILED'
            else 'UNCONFIRMED' end,
        publish_id = case when p_outcome = 'initiated' then p_publish_id else publish_id end,
        fail_reason = case when p_outcome = 'initiated' then null else p_fail_reason end,
        next_attempt_at = case when p_outcome = 'rescheduled' then p_next_attempt_at else next_attempt_at end,
        upload = case when p_outcome = 'initiated' then coalesce(p_upload, upload) else upload end,
        uploaded_bytes = case when p_outcome = 'initiated' and p_upload is not null then 0 else uploaded_bytes end,
        -- An upload to carry out keeps the claim's lease; anything else is done with it.
        lease_until = case when p_outcome = 'initiated' and p_upload is not null then lease_until end,
        -- A new unknown outcome is looked for afresh.
        reconcile_at = case when p_outcome = 'unconfirmed' then null else reconcile_at end
    where id = p_id and status = 'PUBLISHING' and attempts = p_attempt
    returning * into v_post;
    if not found then
        return null;
    end if;
    return to_jsonb(v_post);
end $$;

-- Claims up to p_limit media uploads whose run ended before they were done (their lease
-- lapsed): each leased again for this run. Answers the posts.
create or replace function public.claim_tiktok_uploads(p_limit integer, p_lease_seconds integer)
returns jsonb
language sql
set search_path = public, pg_temp
as $$
    with due as (
        select id from tiktok_posts
        where status = 'PROCESSING_UPLOAD' and source_type = 'media'
          and (lease_until is null or lease_until < now())
          and upload is not null
          and coalesce(uploaded_bytes, 0) < (upload ->> 'video_size')::bigint
        order by lease_until nulls first
        limit greatest(p_limit, 0)
        for update skip locked
    ), claimed as (
        update tiktok_posts p
        set lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1))
        from due where p.id = due.id
        returning p.*
    )
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) from claimed c;
$$;

-- A chunk TikTok acknowledged: the bytes uploaded so far, and the lease renewed. Answers
-- false when the upload is no longer this post's to carry on (another status).
create or replace function public.record_tiktok_upload_progress(
    p_id uuid,
    p_uploaded_bytes bigint,
    p_lease_seconds integer
) returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
begin
    update tiktok_posts
    set uploaded_bytes = greatest(coalesce(uploaded_bytes, 0), p_uploaded_bytes),
        lease_until = case
            when p_uploaded_bytes >= (upload ->> 'video_size')::bigint then null
            else now() + make_interval(secs => greatest(p_lease_seconds, 1)) end
    where id = p_id and status = 'PROCESSING_UPLOAD';
    return found;
end $$;

-- An upload that cannot finish (its URL expired, chunks refused): FAILED with the reason.
-- TikTok publishes nothing without the whole file.
create or replace function public.fail_tiktok_upload(p_id uuid, p_fail_reason text)
returns void
language sql
set search_path = public, pg_temp
as $$
    update tiktok_posts set status = 'FAILED', fail_reason = p_fail_reason, lease_until = null
    where id = p_id and status = 'PROCESSING_UPLOAD';
$$;

revoke execute on function public.create_tiktok_media(text, text, bigint) from public, anon, authenticated;
revoke execute on function public.tiktok_media_for(text, uuid) from public, anon, authenticated;
revoke execute on function public.mark_tiktok_media_ready(uuid) from public, anon, authenticated;
revoke execute on function public.settle_tiktok_dispatch(uuid, integer, text, text, text, text, timestamptz, jsonb) from public, anon, authenticated;
revoke execute on function public.claim_tiktok_uploads(integer, integer) from public, anon, authenticated;
revoke execute on function public.record_tiktok_upload_progress(uuid, bigint, integer) from public, anon, authenticated;
revoke execute on function public.fail_tiktok_upload(uuid, text) from public, anon, authenticated;
grant execute on function public.create_tiktok_media(text, text, bigint) to service_role;
grant execute on function public.tiktok_media_for(text, uuid) to service_role;
grant execute on function public.mark_tiktok_media_ready(uuid) to service_role;
grant execute on function public.settle_tiktok_dispatch(uuid, integer, text, text, text, text, timestamptz, jsonb) to service_role;
grant execute on function public.claim_tiktok_uploads(integer, integer) to service_role;
grant execute on function public.record_tiktok_upload_progress(uuid, bigint, integer) to service_role;
grant execute on function public.fail_tiktok_upload(uuid, text) to service_role;

-- Reconciling UNCONFIRMED posts: where the account granted video.list, the dispatcher
-- looks for the post among the account's videos made within 30 minutes after the
-- attempt, with the same title. Each post is looked for at most every 5 minutes
-- (`reconcile_at`), for 24 hours after its attempt; found, it is PUBLISH_COMPLETE with
-- its public id; not found by then, it stays UNCONFIRMED with `not_found_on_tiktok`.
-- A post found that way has no publish id (TikTok's answer with it was lost).
alter table public.tiktok_posts drop constraint if exists tiktok_posts_publish_id_known;
alter table public.tiktok_posts add constraint tiktok_posts_publish_id_known check (
    publish_id is not null
    or status = 'INITIALIZING'
    or (scheduled_at is not null
        and status in ('SCHEDULED', 'PUBLISHING', 'UNCONFIRMED', 'CANCELLED', 'FAILED',
                       'PUBLISH_COMPLETE')));
create index if not exists tiktok_posts_unconfirmed_idx
    on public.tiktok_posts ((coalesce(reconcile_at, attempted_at)))
    where status = 'UNCONFIRMED' and fail_reason = 'init_outcome_unknown';

-- Claims up to p_limit UNCONFIRMED posts due a look (each not again for p_every_seconds):
-- [{post, connection}].
create or replace function public.claim_unconfirmed_tiktok_posts(p_limit integer, p_every_seconds integer)
returns jsonb
language sql
set search_path = public, pg_temp
as $$
    with due as (
        select id from tiktok_posts
        where status = 'UNCONFIRMED' and fail_reason = 'init_outcome_unknown'
          and attempted_at is not null
          and coalesce(reconcile_at, attempted_at) <= now()
        order by coalesce(reconcile_at, attempted_at)
        limit greatest(p_limit, 0)
        for update skip locked
    ), claimed as (
        update tiktok_posts p
        set reconcile_at = now() + make_interval(secs => greatest(p_every_seconds, 1))
        from due where p.id = due.id
        returning p.*
    )
    select coalesce(jsonb_agg(jsonb_build_object('post', to_jsonb(c), 'connection', to_jsonb(s))), '[]'::jsonb)
    from claimed c
    left join social_connections s on s.id = c.connection_id;
$$;

-- What a look found: 'found' (PUBLISH_COMPLETE with the video's id), 'not_found' (no
-- more looks: `not_found_on_tiktok`), or 'unable' (no more looks: the account cannot be
-- asked; it stays as it is). Only an UNCONFIRMED post changes. Answers the row.
create or replace function public.resolve_unconfirmed_tiktok_post(
    p_id uuid,
    p_outcome text,
    p_video_id text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts;
begin
    if p_outcome not in ('found', 'not_found', 'unable') or (p_outcome = 'found' and p_video_id is null) then
        raise exception 'resolve_unconfirmed_tiktok_post: bad outcome %', p_outcome using errcode = '22023';
    end if;
    update tiktok_posts
    set status = case p_outcome when 'found' then 'PUBLISH_COMPLETE' else status end,
        public_post_ids = case p_outcome when 'found' then jsonb_build_array(p_video_id) else public_post_ids end,
        fail_reason = case p_outcome
            when 'found' then null
            when 'not_found' then 'not_found_on_tiktok'
            else fail_reason end,
        reconcile_at = case p_outcome when 'found' then null else 'infinity'::timestamptz end
    where id = p_id and status = 'UNCONFIRMED'
    returning * into v_post;
    if not found then
        return null;
    end if;
    return to_jsonb(v_post);
end $$;

-- As in 20261207000024, and a retried post is looked for afresh if it is lost again.
create or replace function public.retry_scheduled_tiktok_post(p_firebase_uid text, p_id uuid)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts := tiktok_post_of_caller(p_firebase_uid, p_id);
begin
    if v_post.id is null then
        return jsonb_build_object('state', 'not_found');
    end if;
    if v_post.status not in ('UNCONFIRMED', 'FAILED') or v_post.request is null then
        return jsonb_build_object('state', 'not_editable', 'post', to_jsonb(v_post));
    end if;
    update tiktok_posts
    set status = 'SCHEDULED', publish_id = null, fail_reason = null,
        public_post_ids = '[]'::jsonb, uploaded_bytes = null, attempts = 0,
        next_attempt_at = now(), lease_until = null, reconcile_at = null
    where id = p_id
    returning * into v_post;
    return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
end $$;

revoke execute on function public.claim_unconfirmed_tiktok_posts(integer, integer) from public, anon, authenticated;
revoke execute on function public.resolve_unconfirmed_tiktok_post(uuid, text, text) from public, anon, authenticated;
grant execute on function public.claim_unconfirmed_tiktok_posts(integer, integer) to service_role;
grant execute on function public.resolve_unconfirmed_tiktok_post(uuid, text, text) to service_role;
