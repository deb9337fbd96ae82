-- After a review of the dispatcher: every write of a claim's outcome is tied to that
-- claim, not to the attempt count.
-- - A claim carries a token (`claim_token`, new at each claim of a due post or of an
--   unfinished upload); the settle, the release, an upload's progress and its failure
--   change the row only for that token. A run that outlived its lease, or an uploader
--   of an attempt the user retried since, changes nothing.
-- - A claim whose run stops before its init (its deadline, outages) is released back to
--   SCHEDULED at once instead of lapsing to UNCONFIRMED; nothing was sent for it.
-- - An initiated FILE_UPLOAD leaves its lease at once: the upload is claimed on its own
--   (one a claim, a lease as long as the function's timeout, renewed per chunk), never
--   behind other posts of a batch whose leases it would outlast.
-- - TikTok's events that came before the publish id was stored are applied at the settle.
-- - An old post's upload plan is cleared a day after its attempt, not its making (a post
--   scheduled days ahead keeps it while it uploads).
-- - A reservation of an immediate post adopts no event while one of the account's
--   scheduled posts has an unknown outcome (the event may be that post's).

alter table public.tiktok_posts add column if not exists claim_token uuid;

create or replace function public.claim_due_tiktok_posts(p_limit integer, p_lease_seconds integer)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_claimed jsonb;
begin
    update tiktok_posts
    set status = 'UNCONFIRMED', fail_reason = 'init_outcome_unknown', lease_until = null
    where status = 'PUBLISHING' and lease_until < now() and publish_id is null;

    with due as (
        select id from tiktok_posts
        where status = 'SCHEDULED' and coalesce(next_attempt_at, scheduled_at) <= now()
        order by coalesce(next_attempt_at, scheduled_at)
        limit greatest(p_limit, 0)
        for update skip locked
    ), claimed as (
        update tiktok_posts p
        set status = 'PUBLISHING', attempts = p.attempts + 1, attempted_at = now(),
            lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
            claim_token = gen_random_uuid()
        from due
        where p.id = due.id
        returning p.*
    )
    select coalesce(jsonb_agg(jsonb_build_object('post', to_jsonb(c), 'connection', to_jsonb(s))
                              order by coalesce(c.next_attempt_at, c.scheduled_at)), '[]'::jsonb)
    into v_claimed
    from claimed c
    left join social_connections s on s.id = c.connection_id;
    return v_claimed;
end $$;

create or replace function public.claim_tiktok_uploads(p_limit integer, p_lease_seconds integer)
returns jsonb
language sql
set search_path = public, pg_temp
as $$
    with due as (
        select id from tiktok_posts
        where status = 'PROCESSING_UPLOAD' and source_type = 'media'
          and coalesce(lease_until, '-infinity'::timestamptz) < now()
          and upload is not null
          and coalesce(uploaded_bytes, 0) < (upload ->> 'video_size')::bigint
        order by coalesce(lease_until, '-infinity'::timestamptz)
        limit greatest(p_limit, 0)
        for update skip locked
    ), claimed as (
        update tiktok_posts p
        set lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
            claim_token = gen_random_uuid()
        from due where p.id = due.id
        returning p.*
    )
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) from claimed c;
$$;

drop function if exists public.settle_tiktok_dispatch(uuid, integer, text, text, text, text, timestamptz, jsonb);
create or replace function public.settle_tiktok_dispatch(
    p_id uuid,
    p_claim uuid,
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
    v_event record;
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
        lease_until = null,
        claim_token = null,
        reconcile_at = case when p_outcome = 'unconfirmed' then null else reconcile_at end
    where id = p_id and status = 'PUBLISHING' and claim_token = p_claim
    returning * into v_post;
    if not found then
        return null;
    end if;
    if p_outcome = 'initiated' then
        for v_event in
            select event, create_time, content from tiktok_webhook_events
            where content ->> 'publish_id' = p_publish_id and event like 'post.publish.%'
              and (user_openid is null or user_openid = v_post.open_id)
            order by create_time nulls first, id
        loop
            v_post := apply_tiktok_post_event(v_post, v_event.event, v_event.create_time, v_event.content);
        end loop;
    end if;
    return to_jsonb(v_post);
end $$;

-- A claim its run stopped before sending the init: SCHEDULED again as it was (nothing
-- was sent). Only that claim's.
create or replace function public.release_tiktok_claim(p_id uuid, p_claim uuid)
returns void
language sql
set search_path = public, pg_temp
as $$
    update tiktok_posts
    set status = 'SCHEDULED', attempts = greatest(attempts - 1, 0), lease_until = null,
        claim_token = null
    where id = p_id and status = 'PUBLISHING' and claim_token = p_claim and publish_id is null;
$$;

drop function if exists public.record_tiktok_upload_progress(uuid, bigint, integer);
create or replace function public.record_tiktok_upload_progress(
    p_id uuid,
    p_claim uuid,
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
    where id = p_id and status = 'PROCESSING_UPLOAD' and claim_token = p_claim;
    return found;
end $$;

drop function if exists public.fail_tiktok_upload(uuid, text);
create or replace function public.fail_tiktok_upload(p_id uuid, p_claim uuid, p_fail_reason text)
returns void
language sql
set search_path = public, pg_temp
as $$
    update tiktok_posts set status = 'FAILED', fail_reason = p_fail_reason, lease_until = null,
        claim_token = null
    where id = p_id and status = 'PROCESSING_UPLOAD' and claim_token = p_claim;
$$;

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
        next_attempt_at = now(), lease_until = null, reconcile_at = null, claim_token = null,
        upload = null, settle_at = null
    where id = p_id
    returning * into v_post;
    return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
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
          and coalesce(attempted_at, created_at) < now() - interval '24 hours'
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
    -- A scheduled post whose init was lost is another post TikTok may have made: with one
    -- about, no event is this reservation's for sure.
    select count(*) into v_unknown from tiktok_posts
    where open_id = p_post.open_id and publish_id is null
      and ((status = 'INITIALIZING' and created_at > now() - interval '24 hours')
           or (status = 'UNCONFIRMED' and attempted_at > now() - interval '24 hours'));
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

revoke execute on function public.settle_tiktok_dispatch(uuid, uuid, text, text, text, text, timestamptz, jsonb) from public, anon, authenticated;
revoke execute on function public.release_tiktok_claim(uuid, uuid) from public, anon, authenticated;
revoke execute on function public.record_tiktok_upload_progress(uuid, uuid, bigint, integer) from public, anon, authenticated;
revoke execute on function public.fail_tiktok_upload(uuid, uuid, text) from public, anon, authenticated;
grant execute on function public.settle_tiktok_dispatch(uuid, uuid, text, text, text, text, timestamptz, jsonb) to service_role;
grant execute on function public.release_tiktok_claim(uuid, uuid) to service_role;
grant execute on function public.record_tiktok_upload_progress(uuid, uuid, bigint, integer) to service_role;
grant execute on function public.fail_tiktok_upload(uuid, uuid, text) to service_role;

-- The count of due posts read in the due index's order: without it the planner, taking a
-- third of a large table for due, may scan the table for the first 10,000.
create or replace function public.count_due_tiktok_posts()
returns bigint
language sql stable
set search_path = public, pg_temp
as $$
    select count(*) from (
        select 1 from tiktok_posts
        where status = 'SCHEDULED' and coalesce(next_attempt_at, scheduled_at) <= now()
        order by coalesce(next_attempt_at, scheduled_at)
        limit 10000
    ) due;
$$;
