-- The keep-alive sweep at a million connections (the scale benchmark's findings):
-- - the claim's update joined its batch back to social_connections by a hash join over
--   the whole table; it now updates the claimed ids through the primary key;
-- - the summary's count of due connections read every due row (hundreds of thousands):
--   it now counts at most 100 (the log says "100": a hundred or more remain);
-- - the bounded clean-ups in create_oauth_state and record_tiktok_post deleted by
--   `id in (subquery)`, which PostgreSQL may run as a join over the whole table: they
--   now go through the primary key (`id = any(array(...))`).

create or replace function public.claim_due_connections(
    p_limit integer,
    p_stale_before timestamptz,
    p_lease_seconds integer default 900
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_ids bigint[];
    v_claimed jsonb;
begin
    select array_agg(id) into v_ids from (
        select id from social_connections
        where provider = 'tiktok' and revoked_at is null and reauth_required_at is null
          and refresh_token is not null and refresh_token <> ''
          and refreshed_at < p_stale_before
          and (refresh_expires_at is null or refresh_expires_at > now())
          and (refresh_claimed_until is null or refresh_claimed_until < now())
        order by refreshed_at
        limit p_limit
        for update skip locked
    ) due;
    if v_ids is null then
        return '[]'::jsonb;
    end if;
    with claimed as (
        update social_connections
        set refresh_claimed_until = now() + make_interval(secs => p_lease_seconds)
        where id = any(v_ids)
        returning *
    )
    select coalesce(jsonb_agg(to_jsonb(claimed)), '[]'::jsonb) into v_claimed from claimed;
    return v_claimed;
end $$;

create or replace function public.count_due_connections(p_stale_before timestamptz)
returns bigint
language sql stable
set search_path = public, pg_temp
as $$
    select count(*) from (
        select 1 from social_connections
        where provider = 'tiktok' and revoked_at is null and reauth_required_at is null
          and refresh_token is not null and refresh_token <> ''
          and refreshed_at < p_stale_before
          and (refresh_expires_at is null or refresh_expires_at > now())
        order by refreshed_at
        limit 100
    ) due;
$$;

-- As in 20261128000007, the clean-ups through the primary key.
create or replace function public.create_oauth_state(
    p_state_hash text,
    p_intent text,
    p_redirect_uri text,
    p_scopes text,
    p_code_verifier text,
    p_firebase_uid text default null,
    p_client_address text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_expires timestamptz := now() + interval '10 minutes';
begin
    -- Expired states go (a bounded batch each time, by the expiry index).
    delete from oauth_states where id = any(array(
        select id from oauth_states where expires_at <= now() order by expires_at limit 100));
    -- At most 20 open per user and per client address: the oldest go.
    if p_firebase_uid is not null then
        delete from oauth_states where id = any(array(
            select id from oauth_states where firebase_uid = p_firebase_uid
            order by created_at desc, id desc offset 19));
    end if;
    if p_firebase_uid is null and p_client_address is not null then
        delete from oauth_states where id = any(array(
            select id from oauth_states
            where client_address = p_client_address and firebase_uid is null
            order by created_at desc, id desc offset 19));
    end if;
    insert into oauth_states (state_hash, intent, firebase_uid, redirect_uri, scopes,
                              code_verifier, client_address, expires_at)
    values (p_state_hash, p_intent, p_firebase_uid, p_redirect_uri, p_scopes,
            p_code_verifier, p_client_address, v_expires);
    return jsonb_build_object('expires_at', v_expires);
end $$;


-- As in 20261128000012, the clean-ups through the primary key.
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
    v_event record;
begin
    -- Reservations whose request died a day ago, and upload URLs past their day.
    delete from tiktok_posts where id = any(array(
        select id from tiktok_posts
        where status = 'INITIALIZING' and created_at < now() - interval '24 hours'
        order by created_at limit 100));
    update tiktok_posts set upload = null where id = any(array(
        select id from tiktok_posts
        where upload is not null and created_at < now() - interval '24 hours'
        order by created_at limit 100));
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
    for v_event in
        select event, create_time, content from tiktok_webhook_events
        where content ->> 'publish_id' = p_publish_id and event like 'post.publish.%'
          and (user_openid is null or user_openid = p_open_id)
        order by create_time nulls first, id
    loop
        v_post := apply_tiktok_post_event(v_post, v_event.event, v_event.create_time, v_event.content);
    end loop;
    return to_jsonb(v_post);
end $$;

