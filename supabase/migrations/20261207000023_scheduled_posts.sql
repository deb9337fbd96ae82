-- Scheduled posts: made once, published later by the dispatcher (publish-scheduled-posts),
-- exactly once.
--
-- A scheduled post is a tiktok_posts row with `scheduled_at` and the request it will
-- send (`request`: mode, source, post_info; media URLs, no secret). Its life:
--   SCHEDULED --claim--> PUBLISHING --TikTok's init--> PROCESSING_* (then as any post)
--                                   \-> SCHEDULED again (a refusal that only needs time:
--                                       `next_attempt_at`), FAILED (any other refusal,
--                                       the account gone), UNCONFIRMED (TikTok's answer
--                                       lost: it may have made the post)
--   SCHEDULED --the user cancels--> CANCELLED
-- The claim is the only way to PUBLISHING (one statement, `for update skip locked`), and
-- nothing leaves PUBLISHING for SCHEDULED without TikTok's refusal: an init is never sent
-- twice. A claim whose run died (its lease lapsed) without a publish id becomes
-- UNCONFIRMED, never SCHEDULED: the run may have sent the init. The user decides what
-- happens to an UNCONFIRMED post.

alter table public.tiktok_posts add column if not exists scheduled_at timestamptz;
alter table public.tiktok_posts add column if not exists request jsonb;
alter table public.tiktok_posts add column if not exists attempts integer not null default 0;
alter table public.tiktok_posts add column if not exists next_attempt_at timestamptz;
-- When the last claim took it (its init was sent at most a lease later).
alter table public.tiktok_posts add column if not exists attempted_at timestamptz;
alter table public.tiktok_posts add column if not exists lease_until timestamptz;

-- The statuses (and when a row may lack a publish id) widen; the old checks are found by
-- what they check, as they were created unnamed (and so are these, when the migrations
-- are applied again).
do $$
declare
    v_name text;
begin
    for v_name in
        select conname from pg_constraint
        where conrelid = 'public.tiktok_posts'::regclass and contype = 'c'
          and pg_get_constraintdef(oid) like '%status%'
    loop
        execute format('alter table public.tiktok_posts drop constraint %I', v_name);
    end loop;
end $$;
alter table public.tiktok_posts add constraint tiktok_posts_status_known check (status in (
    'INITIALIZING', 'PROCESSING_UPLOAD', 'PROCESSING_DOWNLOAD', 'SEND_TO_USER_INBOX',
    'PUBLISH_COMPLETE', 'FAILED', 'SCHEDULED', 'PUBLISHING', 'UNCONFIRMED', 'CANCELLED'));
alter table public.tiktok_posts add constraint tiktok_posts_publish_id_known check (
    publish_id is not null
    or status = 'INITIALIZING'
    or (scheduled_at is not null
        and status in ('SCHEDULED', 'PUBLISHING', 'UNCONFIRMED', 'CANCELLED', 'FAILED')));
alter table public.tiktok_posts drop constraint if exists tiktok_posts_scheduled_request;
alter table public.tiktok_posts add constraint tiktok_posts_scheduled_request check (
    scheduled_at is null or request is not null);

-- The dispatcher's claim reads due posts in due order, and the lapsed leases.
create index if not exists tiktok_posts_due_idx
    on public.tiktok_posts ((coalesce(next_attempt_at, scheduled_at)))
    where status = 'SCHEDULED';
create index if not exists tiktok_posts_publishing_idx
    on public.tiktok_posts (lease_until) where status = 'PUBLISHING';

-- CANCELLED is final; the dispatcher's statuses come before TikTok's.
create or replace function public.tiktok_post_status_rank(p_status text) returns integer
language sql immutable
set search_path = public, pg_temp
as $$
    select case p_status
        when 'SCHEDULED' then -1
        when 'PUBLISHING' then -1
        when 'UNCONFIRMED' then -1
        when 'INITIALIZING' then 0
        when 'PROCESSING_UPLOAD' then 1
        when 'PROCESSING_DOWNLOAD' then 1
        when 'SEND_TO_USER_INBOX' then 2
        when 'PUBLISH_COMPLETE' then 3
        when 'FAILED' then 3
        when 'CANCELLED' then 3
        else -1 end;
$$;

-- Schedules a post: {state: 'new' | 'replay', post} or {state: 'mismatch'} (the
-- Idempotency-Key was used for another request in the last 24 hours). Without a key,
-- always new.
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
                              scheduled_at, request, idempotency_key, request_hash)
    values (p_user_id, p_connection_id, p_open_id, p_mode, p_source_type, 'SCHEDULED',
            p_scheduled_at, p_request, p_idempotency_key,
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

-- Claims up to p_limit due posts for one dispatcher worker: each moves SCHEDULED ->
-- PUBLISHING with its attempt counted and a lease, in one statement (two runs never get
-- the same post). First, claims whose lease lapsed without a publish id become
-- UNCONFIRMED: their run may have sent the init. Answers [{post, connection}] (the
-- connection null once disconnected).
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
            lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1))
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

-- What became of a claimed post's attempt (p_attempt: the attempt the claim counted, so
-- a late answer of a lapsed claim changes nothing):
--   'initiated'   TikTok took the init: its publish id and first status;
--   'rescheduled' TikTok refused for a reason that only needs time: SCHEDULED again at
--                 p_next_attempt_at, the reason kept;
--   'failed'      FAILED with p_fail_reason (TikTok made no post);
--   'unconfirmed' TikTok's answer was lost: UNCONFIRMED with p_fail_reason.
-- Answers the row, or null when the claim is no longer this attempt's.
create or replace function public.settle_tiktok_dispatch(
    p_id uuid,
    p_attempt integer,
    p_outcome text,
    p_publish_id text default null,
    p_status text default null,
    p_fail_reason text default null,
    p_next_attempt_at timestamptz default null
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
        lease_until = null
    where id = p_id and status = 'PUBLISHING' and attempts = p_attempt
    returning * into v_post;
    if not found then
        return null;
    end if;
    return to_jsonb(v_post);
end $$;

-- Posts due now or overdue (the dispatcher's summary: what a run left).
create or replace function public.count_due_tiktok_posts()
returns bigint
language sql stable
set search_path = public, pg_temp
as $$
    select count(*) from (
        select 1 from tiktok_posts
        where status = 'SCHEDULED' and coalesce(next_attempt_at, scheduled_at) <= now()
        limit 10000
    ) due;
$$;

-- The caller's post: as before, and scheduled posts before their init too.
create or replace function public.tiktok_post_for(p_firebase_uid text, p_post_id uuid)
returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
    select jsonb_build_object('post', to_jsonb(p), 'connection', to_jsonb(c))
    from tiktok_posts p
    join users u on u.id = p.user_id
    left join social_connections c on c.id = p.connection_id
    where p.id = p_post_id and u.firebase_uid = p_firebase_uid
      and (p.publish_id is not null or p.scheduled_at is not null);
$$;

revoke execute on function public.schedule_tiktok_post(bigint, bigint, text, text, text, jsonb, timestamptz, text, text) from public, anon, authenticated;
revoke execute on function public.claim_due_tiktok_posts(integer, integer) from public, anon, authenticated;
revoke execute on function public.settle_tiktok_dispatch(uuid, integer, text, text, text, text, timestamptz) from public, anon, authenticated;
revoke execute on function public.count_due_tiktok_posts() from public, anon, authenticated;
grant execute on function public.schedule_tiktok_post(bigint, bigint, text, text, text, jsonb, timestamptz, text, text) to service_role;
grant execute on function public.claim_due_tiktok_posts(integer, integer) to service_role;
grant execute on function public.settle_tiktok_dispatch(uuid, integer, text, text, text, text, timestamptz) to service_role;
grant execute on function public.count_due_tiktok_posts() to service_role;
