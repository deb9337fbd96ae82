-- After a second review:
-- - a lost init's reservation adopts a post only from the events that come when a post
--   is made (complete, failed, inbox_delivered), not from late ones
--   (publicly_available, no_longer_publicaly_available) that can arrive hours later for
--   an old post;
-- - recording a publish id that a concurrent call recorded meanwhile answers that row
--   instead of failing.

create or replace function public.adopt_tiktok_publish(p_post tiktok_posts)
returns tiktok_posts
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_candidates text[];
    v_unknown integer;
    v_post tiktok_posts := p_post;
    v_event record;
    v_kind text := case p_post.mode when 'inbox' then 'INBOX_SHARE' else 'DIRECT_PUBLISH' end;
begin
    select array_agg(distinct e.content ->> 'publish_id') into v_candidates
    from tiktok_webhook_events e
    where e.event in ('post.publish.complete', 'post.publish.failed', 'post.publish.inbox_delivered')
      and e.user_openid = p_post.open_id
      and e.received_at >= p_post.created_at
      and e.received_at < now() - interval '2 minutes'
      and coalesce(e.content ->> 'publish_type', v_kind) = v_kind
      and coalesce(e.content ->> 'publish_id', '') <> ''
      and not exists (select 1 from tiktok_posts p where p.publish_id = e.content ->> 'publish_id');
    select count(*) into v_unknown from tiktok_posts
    where open_id = p_post.open_id and publish_id is null and status = 'INITIALIZING'
      and created_at > now() - interval '24 hours';
    if coalesce(array_length(v_candidates, 1), 0) <> 1 or v_unknown <> 1 then
        return p_post;
    end if;
    begin
        update tiktok_posts
        set publish_id = v_candidates[1],
            status = case source_type when 'upload' then 'PROCESSING_UPLOAD' else 'PROCESSING_DOWNLOAD' end
        where id = p_post.id and publish_id is null
        returning * into v_post;
    exception when unique_violation then
        -- Recorded by its own request meanwhile: not this key's.
        return p_post;
    end;
    if v_post.id is null then
        return p_post;
    end if;
    for v_event in
        select event, create_time, content from tiktok_webhook_events
        where content ->> 'publish_id' = v_candidates[1] and event like 'post.publish.%'
          and (user_openid is null or user_openid = p_post.open_id)
        order by create_time nulls first, id
    loop
        v_post := apply_tiktok_post_event(v_post, v_event.event, v_event.create_time, v_event.content);
    end loop;
    return v_post;
end $$;

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
    delete from tiktok_posts where id = any(array(
        select id from tiktok_posts
        where status = 'INITIALIZING' and created_at < now() - interval '24 hours'
        order by created_at limit 100));
    update tiktok_posts set upload = null where id = any(array(
        select id from tiktok_posts
        where upload is not null and created_at < now() - interval '24 hours'
        order by created_at limit 100));
    select * into v_post from tiktok_posts where publish_id = p_publish_id;
    if v_post.id is not null and v_post.user_id = p_user_id and v_post.open_id = p_open_id then
        if p_upload is not null and v_post.upload is null then
            update tiktok_posts set upload = p_upload where id = v_post.id returning * into v_post;
        end if;
        if p_id is not null and p_id <> v_post.id then
            delete from tiktok_posts where id = p_id and user_id = p_user_id and publish_id is null;
        end if;
        return to_jsonb(v_post);
    end if;
    v_post := null;
    if p_id is not null then
        update tiktok_posts
        set publish_id = p_publish_id, status = p_status, upload = p_upload
        where id = p_id and user_id = p_user_id and publish_id is null
        returning * into v_post;
    end if;
    if v_post.id is null then
        begin
            insert into tiktok_posts (user_id, connection_id, open_id, mode, source_type,
                                      publish_id, status, upload)
            values (p_user_id, p_connection_id, p_open_id, p_mode, p_source_type,
                    p_publish_id, p_status, p_upload)
            returning * into v_post;
        exception when unique_violation then
            -- Recorded meanwhile by a concurrent call (a retried request): that row, if
            -- it is this account's.
            select * into v_post from tiktok_posts
            where publish_id = p_publish_id and user_id = p_user_id and open_id = p_open_id;
            if v_post.id is null then
                raise;
            end if;
            return to_jsonb(v_post);
        end;
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
