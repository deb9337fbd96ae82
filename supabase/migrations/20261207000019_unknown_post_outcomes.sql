-- An Idempotency-Key whose init TikTok may have acted on never posts twice.
--
-- When TikTok's answer to an init is lost (a timeout, a 5xx) the post may exist at
-- TikTok. Until now its reservation was taken over after a minute, so a retry a minute
-- later could post a second time. Now such a reservation is marked (outcome_unknown_at;
-- one whose request died after reserving counts the same once a minute has passed) and
-- the key answers `unknown` for its whole day: posting again takes a new key, chosen on
-- purpose. Where TikTok tells the outcome later (a post.publish.* webhook for a publish
-- id no post of ours has, from the same account, after the reservation, while it is that
-- account's only unknown reservation), the reservation becomes that post and the key
-- answers it.

alter table public.tiktok_posts add column if not exists outcome_unknown_at timestamptz;

-- The init's outcome is unknown: the reservation stays for its day.
create or replace function public.mark_tiktok_post_unknown(p_id uuid, p_user_id bigint)
returns void
language sql
set search_path = public, pg_temp
as $$
    update tiktok_posts set outcome_unknown_at = now()
    where id = p_id and user_id = p_user_id and publish_id is null;
$$;

-- An unknown reservation whose post TikTok has told of since: the post, with the events
-- received for it applied; else the reservation as it was.
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
begin
    select array_agg(distinct e.content ->> 'publish_id') into v_candidates
    from tiktok_webhook_events e
    where e.event like 'post.publish.%' and e.user_openid = p_post.open_id
      and e.received_at >= p_post.created_at
      and coalesce(e.content ->> 'publish_id', '') <> ''
      and not exists (select 1 from tiktok_posts p where p.publish_id = e.content ->> 'publish_id');
    select count(*) into v_unknown from tiktok_posts
    where open_id = p_post.open_id and publish_id is null and status = 'INITIALIZING'
      and created_at > now() - interval '24 hours';
    if coalesce(array_length(v_candidates, 1), 0) <> 1 or v_unknown <> 1 then
        return p_post;
    end if;
    update tiktok_posts
    set publish_id = v_candidates[1],
        status = case source_type when 'upload' then 'PROCESSING_UPLOAD' else 'PROCESSING_DOWNLOAD' end
    where id = p_post.id and publish_id is null
    returning * into v_post;
    for v_event in
        select event, create_time, content from tiktok_webhook_events
        where content ->> 'publish_id' = v_candidates[1] and event like 'post.publish.%'
        order by create_time nulls first, id
    loop
        v_post := apply_tiktok_post_event(v_post, v_event.event, v_event.create_time, v_event.content);
    end loop;
    return v_post;
end $$;

-- As in 20261128000011, but a reservation without a publish id is `in_progress` only
-- for its first minute and while its outcome is not known to be unknown; then it is
-- `unknown` for the key's day (or the post TikTok told of since).
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
        elsif v_post.outcome_unknown_at is null and v_post.created_at > now() - interval '60 seconds' then
            return jsonb_build_object('state', 'in_progress');
        else
            v_post := adopt_tiktok_publish(v_post);
            if v_post.publish_id is not null then
                return jsonb_build_object('state', 'replay', 'post', to_jsonb(v_post));
            end if;
            return jsonb_build_object('state', 'unknown');
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

revoke execute on function public.mark_tiktok_post_unknown(uuid, bigint) from public, anon, authenticated;
revoke execute on function public.adopt_tiktok_publish(public.tiktok_posts) from public, anon, authenticated;
grant execute on function public.mark_tiktok_post_unknown(uuid, bigint) to service_role;
grant execute on function public.adopt_tiktok_publish(public.tiktok_posts) to service_role;
