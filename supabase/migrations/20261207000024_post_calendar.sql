-- The calendar's reads and changes of scheduled posts: list the caller's posts (newest
-- first, by their time: scheduled_at, else created_at), reschedule or edit a post still
-- SCHEDULED, cancel it, and retry one that is UNCONFIRMED or FAILED (the user's decision,
-- never the API's). Every function checks the post is the caller's.

create index if not exists tiktok_posts_calendar_idx
    on public.tiktok_posts (user_id, (coalesce(scheduled_at, created_at)) desc, id desc);

-- A page of the caller's posts (reservations without a publish id are not posts yet),
-- newest first; after (p_before_at, p_before_id) when paging on. Filters: one TikTok
-- account, statuses, a time range [p_from, p_to).
create or replace function public.list_tiktok_posts(
    p_firebase_uid text,
    p_open_id text default null,
    p_statuses text[] default null,
    p_from timestamptz default null,
    p_to timestamptz default null,
    p_before_at timestamptz default null,
    p_before_id uuid default null,
    p_limit integer default 50
) returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
    select coalesce(jsonb_agg(to_jsonb(page) - 'request' - 'upload' - 'idempotency_key'
                              - 'request_hash' - 'lease_until'
                              order by coalesce(page.scheduled_at, page.created_at) desc, page.id desc),
                    '[]'::jsonb)
    from (
        select p.* from tiktok_posts p
        join users u on u.id = p.user_id
        where u.firebase_uid = p_firebase_uid
          and (p.publish_id is not null or p.scheduled_at is not null)
          and (p_open_id is null or p.open_id = p_open_id)
          and (p_statuses is null or p.status = any (p_statuses))
          and (p_from is null or coalesce(p.scheduled_at, p.created_at) >= p_from)
          and (p_to is null or coalesce(p.scheduled_at, p.created_at) < p_to)
          and (p_before_at is null
               or (coalesce(p.scheduled_at, p.created_at), p.id) < (p_before_at, p_before_id))
        order by coalesce(p.scheduled_at, p.created_at) desc, p.id desc
        limit least(greatest(p_limit, 1), 101)
    ) page;
$$;

-- The caller's post, locked for a change: null when it is not theirs (or not a post).
create or replace function public.tiktok_post_of_caller(p_firebase_uid text, p_id uuid)
returns tiktok_posts
language sql
set search_path = public, pg_temp
as $$
    select p.* from tiktok_posts p
    join users u on u.id = p.user_id
    where p.id = p_id and u.firebase_uid = p_firebase_uid
      and (p.publish_id is not null or p.scheduled_at is not null)
    for update of p;
$$;

-- Changes a SCHEDULED post's request and time: {state: 'changed', post},
-- {state: 'not_editable', post} (publishing has begun, or it is not a scheduled post),
-- or {state: 'not_found'}. A new time starts the wait over (next_attempt_at cleared).
create or replace function public.change_scheduled_tiktok_post(
    p_firebase_uid text,
    p_id uuid,
    p_request jsonb,
    p_scheduled_at timestamptz default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts := tiktok_post_of_caller(p_firebase_uid, p_id);
begin
    if v_post.id is null then
        return jsonb_build_object('state', 'not_found');
    end if;
    if v_post.status <> 'SCHEDULED' then
        return jsonb_build_object('state', 'not_editable', 'post', to_jsonb(v_post));
    end if;
    update tiktok_posts
    set request = coalesce(p_request, request),
        scheduled_at = coalesce(p_scheduled_at, scheduled_at),
        next_attempt_at = case when p_scheduled_at is null then next_attempt_at end
    where id = p_id
    returning * into v_post;
    return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
end $$;

-- Cancels a SCHEDULED post (a CANCELLED one answers as it is): {state: 'changed' |
-- 'not_editable' | 'not_found', post}.
create or replace function public.cancel_scheduled_tiktok_post(p_firebase_uid text, p_id uuid)
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
    if v_post.status = 'CANCELLED' then
        return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
    end if;
    if v_post.status <> 'SCHEDULED' then
        return jsonb_build_object('state', 'not_editable', 'post', to_jsonb(v_post));
    end if;
    update tiktok_posts set status = 'CANCELLED', next_attempt_at = null
    where id = p_id
    returning * into v_post;
    return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
end $$;

-- A new attempt of an UNCONFIRMED or FAILED scheduled post, due now: SCHEDULED again,
-- with what the last attempt left (publish id, fail reason, TikTok's ids) cleared and its
-- attempts counted from 0. {state: 'changed' | 'not_editable' | 'not_found', post}.
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
        next_attempt_at = now(), lease_until = null
    where id = p_id
    returning * into v_post;
    return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
end $$;

revoke execute on function public.list_tiktok_posts(text, text, text[], timestamptz, timestamptz, timestamptz, uuid, integer) from public, anon, authenticated;
revoke execute on function public.tiktok_post_of_caller(text, uuid) from public, anon, authenticated;
revoke execute on function public.change_scheduled_tiktok_post(text, uuid, jsonb, timestamptz) from public, anon, authenticated;
revoke execute on function public.cancel_scheduled_tiktok_post(text, uuid) from public, anon, authenticated;
revoke execute on function public.retry_scheduled_tiktok_post(text, uuid) from public, anon, authenticated;
grant execute on function public.list_tiktok_posts(text, text, text[], timestamptz, timestamptz, timestamptz, uuid, integer) to service_role;
grant execute on function public.change_scheduled_tiktok_post(text, uuid, jsonb, timestamptz) to service_role;
grant execute on function public.cancel_scheduled_tiktok_post(text, uuid) to service_role;
grant execute on function public.retry_scheduled_tiktok_post(text, uuid) to service_role;
