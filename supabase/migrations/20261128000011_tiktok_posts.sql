-- Publishing to TikTok (tiktok-publish, tiktok-post-status, the webhook's post events).
-- One row per post the backend initialised at TikTok. A request with an
-- Idempotency-Key first reserves its row (no publish_id yet), so two concurrent retries
-- cannot both initialise a post; a refused init removes the reservation again, and a
-- reservation older than a minute (its request died) may be taken over.
-- Statuses only move forward: a late status fetch or webhook never undoes a newer one.

create table if not exists public.tiktok_posts (
    id uuid primary key default gen_random_uuid(),
    user_id bigint not null references public.users (id) on delete cascade,
    -- The connection posted with; the post outlives a disconnect.
    connection_id bigint references public.social_connections (id) on delete set null,
    open_id text not null,
    publish_id text unique,
    mode text not null check (mode in ('direct', 'inbox')),
    source_type text not null check (source_type in ('upload', 'url', 'photos')),
    status text not null check (status in ('INITIALIZING', 'PROCESSING_UPLOAD',
        'PROCESSING_DOWNLOAD', 'SEND_TO_USER_INBOX', 'PUBLISH_COMPLETE', 'FAILED')),
    fail_reason text,
    public_post_ids jsonb not null default '[]'::jsonb,
    uploaded_bytes bigint,
    -- The upload plan answered at init (the upload URL Fernet-encrypted, like the tokens),
    -- so a retry with the same Idempotency-Key gets the same answer.
    upload jsonb,
    idempotency_key text,
    request_hash text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (publish_id is not null or status = 'INITIALIZING'),
    check (idempotency_key is null or request_hash is not null)
);
create unique index if not exists tiktok_posts_idempotency_idx
    on public.tiktok_posts (user_id, idempotency_key) where idempotency_key is not null;
create index if not exists tiktok_posts_user_idx on public.tiktok_posts (user_id, created_at desc);
-- A disconnect sets connection_id to null: without this index every delete of a
-- connection would scan the posts.
create index if not exists tiktok_posts_connection_idx on public.tiktok_posts (connection_id)
    where connection_id is not null;

alter table public.tiktok_posts enable row level security;
revoke all on public.tiktok_posts from anon, authenticated;

drop trigger if exists tiktok_posts_touch_updated_at on public.tiktok_posts;
create trigger tiktok_posts_touch_updated_at before update on public.tiktok_posts
    for each row execute function public.touch_updated_at();

-- Order of the statuses: a post never moves back. SEND_TO_USER_INBOX can still become
-- PUBLISH_COMPLETE (the creator posts it) or FAILED; the two final ones do not change.
create or replace function public.tiktok_post_status_rank(p_status text) returns integer
language sql immutable
set search_path = public, pg_temp
as $$
    select case p_status
        when 'INITIALIZING' then 0
        when 'PROCESSING_UPLOAD' then 1
        when 'PROCESSING_DOWNLOAD' then 1
        when 'SEND_TO_USER_INBOX' then 2
        when 'PUBLISH_COMPLETE' then 3
        when 'FAILED' then 3
        else -1 end;
$$;

-- Starts a post with an Idempotency-Key: {state: 'new', id} (a reservation to fill with
-- record_tiktok_post), {state: 'replay', post} (the same request within 24 hours),
-- {state: 'mismatch'} (the key was used for another request) or {state: 'in_progress'}
-- (the first request with the key has not finished).
create or replace function public.begin_tiktok_post(
    p_user_id bigint,
    p_idempotency_key text,
    p_request_hash text,
    p_connection_id bigint,
    p_open_id text,
    p_mode text,
    p_source_type text
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts;
    v_id uuid;
begin
    select * into v_post from tiktok_posts
    where user_id = p_user_id and idempotency_key = p_idempotency_key
    for update;
    if v_post.id is not null then
        if v_post.created_at <= now() - interval '24 hours' then
            -- The key's day is over: it is free again, the old post stays.
            update tiktok_posts set idempotency_key = null where id = v_post.id;
        elsif v_post.request_hash is distinct from p_request_hash then
            return jsonb_build_object('state', 'mismatch');
        elsif v_post.publish_id is not null then
            return jsonb_build_object('state', 'replay', 'post', to_jsonb(v_post));
        elsif v_post.created_at > now() - interval '60 seconds' then
            return jsonb_build_object('state', 'in_progress');
        else
            -- A reservation whose request died before TikTok answered.
            delete from tiktok_posts where id = v_post.id;
        end if;
    end if;
    insert into tiktok_posts (user_id, connection_id, open_id, mode, source_type, status,
                              idempotency_key, request_hash)
    values (p_user_id, p_connection_id, p_open_id, p_mode, p_source_type, 'INITIALIZING',
            p_idempotency_key, p_request_hash)
    on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing
    returning id into v_id;
    if v_id is null then
        -- A concurrent request with the same key reserved it first.
        return jsonb_build_object('state', 'in_progress');
    end if;
    return jsonb_build_object('state', 'new', 'id', v_id);
end $$;

-- Records a post TikTok initialised: fills the reservation p_id, or inserts a new row.
-- Answers the row.
create or replace function public.record_tiktok_post(
    p_user_id bigint,
    p_connection_id bigint,
    p_open_id text,
    p_mode text,
    p_source_type text,
    p_publish_id text,
    p_status text,
    p_upload jsonb default null,
    p_id uuid default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts;
begin
    if p_id is not null then
        update tiktok_posts
        set publish_id = p_publish_id, status = p_status, upload = p_upload
        where id = p_id and user_id = p_user_id and publish_id is null
        returning * into v_post;
    end if;
    if v_post.id is null then
        insert into tiktok_posts (user_id, connection_id, open_id, mode, source_type,
                                  publish_id, status, upload)
        values (p_user_id, p_connection_id, p_open_id, p_mode, p_source_type,
                p_publish_id, p_status, p_upload)
        returning * into v_post;
    end if;
    return to_jsonb(v_post);
end $$;

-- A refused init: its reservation goes (nothing is recorded for it).
create or replace function public.release_tiktok_post(p_id uuid, p_user_id bigint)
returns void
language sql
set search_path = public, pg_temp
as $$
    delete from tiktok_posts where id = p_id and user_id = p_user_id and publish_id is null;
$$;

-- The caller's post and the connection it was made with (null when the post is not
-- theirs or unknown): {post, connection}.
create or replace function public.tiktok_post_for(p_firebase_uid text, p_post_id uuid)
returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
    select jsonb_build_object('post', to_jsonb(p), 'connection', to_jsonb(c))
    from tiktok_posts p
    join users u on u.id = p.user_id
    left join social_connections c on c.id = p.connection_id
    where p.id = p_post_id and u.firebase_uid = p_firebase_uid and p.publish_id is not null;
$$;

-- Moves a post on (never back): the new status if it ranks higher, the fail reason with
-- FAILED, public post ids and uploaded bytes whenever known. Answers the row.
create or replace function public.apply_tiktok_post_status(
    p_post tiktok_posts,
    p_status text,
    p_fail_reason text,
    p_public_post_ids jsonb,
    p_uploaded_bytes bigint
) returns tiktok_posts
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts := p_post;
    v_moves boolean := tiktok_post_status_rank(p_status) > tiktok_post_status_rank(p_post.status);
begin
    update tiktok_posts
    set status = case when v_moves then p_status else status end,
        fail_reason = case when v_moves and p_status = 'FAILED' then p_fail_reason else fail_reason end,
        public_post_ids = case
            when p_public_post_ids is not null and jsonb_typeof(p_public_post_ids) = 'array'
                 and jsonb_array_length(p_public_post_ids) > 0 then p_public_post_ids
            else public_post_ids end,
        uploaded_bytes = coalesce(p_uploaded_bytes, uploaded_bytes)
    where id = p_post.id
    returning * into v_post;
    return v_post;
end $$;

-- A status TikTok answered for the caller's post: answers the row as it is now.
create or replace function public.set_tiktok_post_status(
    p_id uuid,
    p_status text,
    p_fail_reason text default null,
    p_public_post_ids jsonb default null,
    p_uploaded_bytes bigint default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_post tiktok_posts;
begin
    select * into v_post from tiktok_posts where id = p_id for update;
    if v_post.id is null then
        return null;
    end if;
    return to_jsonb(apply_tiktok_post_status(v_post, p_status, p_fail_reason,
                                             p_public_post_ids, p_uploaded_bytes));
end $$;

-- The webhook (late deliveries as in 20261128000010), now also moving posts on from
-- TikTok's post.publish.* events: {duplicate, revoked, posts}. An event for a publish_id
-- that is not ours (or another account's) changes nothing.
create or replace function public.record_tiktok_webhook(
    p_event_key text,
    p_event text,
    p_user_openid text default null,
    p_create_time bigint default null,
    p_content jsonb default '{}'::jsonb
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_id bigint;
    v_revoked integer := 0;
    v_posts integer := 0;
    v_reason smallint;
    v_post tiktok_posts;
    v_status text;
    v_ids jsonb;
begin
    insert into tiktok_webhook_events (event_key, event, user_openid, create_time, content)
    values (p_event_key, p_event, p_user_openid, p_create_time, coalesce(p_content, '{}'::jsonb))
    on conflict (event_key) do nothing
    returning id into v_id;
    if v_id is null then
        return jsonb_build_object('duplicate', true, 'revoked', 0, 'posts', 0);
    end if;
    if p_event = 'authorization.removed' and p_user_openid is not null then
        v_reason := case when (p_content ->> 'reason') ~ '^[0-5]$'
                         then (p_content ->> 'reason')::smallint else 0 end;
        update social_connections
        set revoked_at = now(), revoked_reason = v_reason,
            access_token = '', refresh_token = null, refresh_claimed_until = null
        where provider = 'tiktok' and provider_account_id = p_user_openid
          and (p_create_time is null
               -- TikTok's time is in whole seconds: a removal in the same second wins.
               or date_trunc('second', coalesce(refreshed_at, updated_at, created_at))
                  <= to_timestamp(p_create_time));
        get diagnostics v_revoked = row_count;
    elsif p_event like 'post.publish.%' and coalesce(p_content ->> 'publish_id', '') <> '' then
        select * into v_post from tiktok_posts
        where publish_id = p_content ->> 'publish_id'
          and (p_user_openid is null or open_id = p_user_openid)
        for update;
        if v_post.id is not null then
            v_status := case p_event
                when 'post.publish.failed' then 'FAILED'
                when 'post.publish.complete' then 'PUBLISH_COMPLETE'
                when 'post.publish.publicly_available' then 'PUBLISH_COMPLETE'
                when 'post.publish.inbox_delivered' then 'SEND_TO_USER_INBOX'
                else v_post.status end;
            v_ids := v_post.public_post_ids;
            if p_event = 'post.publish.publicly_available'
               and coalesce(p_content ->> 'post_id', '') <> ''
               and not v_ids ? (p_content ->> 'post_id') then
                v_ids := v_ids || jsonb_build_array(p_content ->> 'post_id');
            elsif p_event = 'post.publish.no_longer_publicaly_available' then
                v_ids := v_ids - coalesce(p_content ->> 'post_id', '');
                update tiktok_posts set public_post_ids = v_ids where id = v_post.id;
            end if;
            perform apply_tiktok_post_status(v_post, v_status, p_content ->> 'reason', v_ids, null);
            v_posts := 1;
        end if;
    end if;
    return jsonb_build_object('duplicate', false, 'revoked', v_revoked, 'posts', v_posts);
end $$;

revoke execute on function public.tiktok_post_status_rank(text) from public, anon, authenticated;
revoke execute on function public.begin_tiktok_post(bigint, text, text, bigint, text, text, text) from public, anon, authenticated;
revoke execute on function public.record_tiktok_post(bigint, bigint, text, text, text, text, text, jsonb, uuid) from public, anon, authenticated;
revoke execute on function public.release_tiktok_post(uuid, bigint) from public, anon, authenticated;
revoke execute on function public.tiktok_post_for(text, uuid) from public, anon, authenticated;
revoke execute on function public.apply_tiktok_post_status(public.tiktok_posts, text, text, jsonb, bigint) from public, anon, authenticated;
revoke execute on function public.set_tiktok_post_status(uuid, text, text, jsonb, bigint) from public, anon, authenticated;
grant execute on function public.tiktok_post_status_rank(text) to service_role;
grant execute on function public.begin_tiktok_post(bigint, text, text, bigint, text, text, text) to service_role;
grant execute on function public.record_tiktok_post(bigint, bigint, text, text, text, text, text, jsonb, uuid) to service_role;
grant execute on function public.release_tiktok_post(uuid, bigint) to service_role;
grant execute on function public.tiktok_post_for(text, uuid) to service_role;
grant execute on function public.apply_tiktok_post_status(public.tiktok_posts, text, text, jsonb, bigint) to service_role;
grant execute on function public.set_tiktok_post_status(uuid, text, text, jsonb, bigint) to service_role;
