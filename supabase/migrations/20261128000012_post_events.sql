-- Posts, after review:
-- - a post.publish.* webhook can arrive before the post is recorded (a quick failure of
--   a URL pull): record_tiktok_post now applies the events already received for its
--   publish_id, found by an index on the event's publish_id;
-- - the public post ids follow TikTok's event times: a late, retried
--   publicly_available does not bring back an id a newer no_longer_publicaly_available
--   removed;
-- - reservations whose request died, and upload URLs past their day, are cleared in
--   bounded batches as new posts are made (the table never only grows secrets).

alter table public.tiktok_posts add column if not exists public_ids_at bigint;

create index if not exists tiktok_webhook_events_publish_idx
    on public.tiktok_webhook_events ((content ->> 'publish_id'))
    where event like 'post.publish.%';
create index if not exists tiktok_posts_reserved_idx on public.tiktok_posts (created_at)
    where status = 'INITIALIZING';
create index if not exists tiktok_posts_upload_idx on public.tiktok_posts (created_at)
    where upload is not null;

-- One post.publish.* event applied to one post (never moving it back). Answers the row.
create or replace function public.apply_tiktok_post_event(
    p_post tiktok_posts,
    p_event text,
    p_create_time bigint,
    p_content jsonb
) returns tiktok_posts
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_status text;
    v_ids jsonb := p_post.public_post_ids;
    v_post_id text := coalesce(p_content ->> 'post_id', '');
    v_current boolean := p_create_time is null or p_post.public_ids_at is null
                         or p_create_time >= p_post.public_ids_at;
    v_post tiktok_posts;
begin
    v_status := case p_event
        when 'post.publish.failed' then 'FAILED'
        when 'post.publish.complete' then 'PUBLISH_COMPLETE'
        when 'post.publish.publicly_available' then 'PUBLISH_COMPLETE'
        when 'post.publish.inbox_delivered' then 'SEND_TO_USER_INBOX'
        else p_post.status end;
    if v_current and v_post_id <> ''
       and p_event in ('post.publish.publicly_available', 'post.publish.no_longer_publicaly_available') then
        if p_event = 'post.publish.publicly_available' then
            if not v_ids ? v_post_id then
                v_ids := v_ids || jsonb_build_array(v_post_id);
            end if;
        else
            v_ids := v_ids - v_post_id;
        end if;
        update tiktok_posts
        set public_post_ids = v_ids,
            public_ids_at = coalesce(greatest(public_ids_at, p_create_time), p_create_time, public_ids_at)
        where id = p_post.id
        returning * into p_post;
    end if;
    v_post := apply_tiktok_post_status(p_post, v_status, p_content ->> 'reason', null, null);
    return v_post;
end $$;

-- The webhook: as in 20261128000011, the post events through apply_tiktok_post_event.
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
            perform apply_tiktok_post_event(v_post, p_event, p_create_time, p_content);
            v_posts := 1;
        end if;
    end if;
    return jsonb_build_object('duplicate', false, 'revoked', v_revoked, 'posts', v_posts);
end $$;

-- Records a post TikTok initialised (as in 20261128000011), then applies the events
-- TikTok already sent for it, and clears a bounded batch of stale rows.
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
    delete from tiktok_posts where id in (
        select id from tiktok_posts
        where status = 'INITIALIZING' and created_at < now() - interval '24 hours'
        order by created_at limit 100);
    update tiktok_posts set upload = null where id in (
        select id from tiktok_posts
        where upload is not null and created_at < now() - interval '24 hours'
        order by created_at limit 100);
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

revoke execute on function public.apply_tiktok_post_event(public.tiktok_posts, text, bigint, jsonb) from public, anon, authenticated;
grant execute on function public.apply_tiktok_post_event(public.tiktok_posts, text, bigint, jsonb) to service_role;
