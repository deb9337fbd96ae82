-- After a review of 0018 and 0019:
-- - a link state is consumed only with its binding too (its state is in TikTok's
--   redirect URL, so anyone who saw that could use it up and cancel the user's link);
-- - the clean-ups of create_oauth_state go by `id = any(array(...))`, as 0013 made them;
-- - adopting a post TikTok told of for an unknown Idempotency-Key waits two minutes past
--   the event (a post published without a key records itself within its request, which
--   ends in 20 seconds), takes only an event of the same kind of post (direct or inbox),
--   of the same account, and never raises on a publish id recorded meanwhile;
-- - recording a post whose publish id is already recorded for the same account (adopted
--   meanwhile) answers that row instead of failing;
-- - webhook times stored in milliseconds before they were normalised are seconds now.

create or replace function public.create_oauth_state(
    p_state_hash text,
    p_intent text,
    p_redirect_uri text,
    p_scopes text,
    p_code_verifier text,
    p_firebase_uid text default null,
    p_client_address text default null,
    p_binding_hash text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_expires timestamptz := now() + interval '10 minutes';
    v_open integer;
begin
    delete from oauth_states where id = any(array(
        select id from oauth_states where expires_at <= now() order by expires_at limit 100));
    if p_firebase_uid is not null then
        delete from oauth_states where id = any(array(
            select id from oauth_states where firebase_uid = p_firebase_uid
            order by created_at desc, id desc offset 19));
    end if;
    if p_firebase_uid is null and p_client_address is not null then
        perform pg_advisory_xact_lock(hashtextextended('oauth_states:' || p_client_address, 0));
        select count(*) into v_open from oauth_states
        where client_address = p_client_address and firebase_uid is null and expires_at > now();
        if v_open >= 20 then
            raise sqlstate 'PT429' using message = 'too_many_pending_authorizations';
        end if;
    end if;
    insert into oauth_states (state_hash, intent, firebase_uid, redirect_uri, scopes,
                              code_verifier, client_address, binding_hash, expires_at)
    values (p_state_hash, p_intent, p_firebase_uid, p_redirect_uri, p_scopes,
            p_code_verifier, p_client_address, p_binding_hash, v_expires);
    return jsonb_build_object('expires_at', v_expires);
end $$;

-- Consumes a state exactly once, and only with its binding (sign-in and link alike); a
-- wrong or missing binding leaves it for its own browser.
create or replace function public.consume_oauth_state(
    p_state_hash text,
    p_binding_hash text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_state oauth_states;
begin
    delete from oauth_states
    where state_hash = p_state_hash and binding_hash is not null and binding_hash = p_binding_hash
    returning * into v_state;
    if v_state.id is null or v_state.expires_at <= now() then
        return null;
    end if;
    return to_jsonb(v_state) - 'binding_hash';
end $$;

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
    where e.event like 'post.publish.%' and e.user_openid = p_post.open_id
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

-- As in 20261128000012, but a publish id already recorded for the same user and account
-- (adopted by an unknown key meanwhile) answers that row.
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

update public.tiktok_webhook_events set create_time = create_time / 1000
where create_time > 100000000000;
update public.tiktok_posts set public_ids_at = public_ids_at / 1000
where public_ids_at > 100000000000;
