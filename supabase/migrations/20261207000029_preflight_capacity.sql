-- Pre-flight: what a media object is (its container header's facts), and a capacity
-- ledger per creator and per app, so a post TikTok would refuse for a cap is held
-- (`HELD`) until the cap frees instead of being sent to fail.
--
-- The ledger is what we send and what TikTok answers:
-- - `tiktok_post_ledger`: every init we send (reserved before it leaves, so concurrent
--   runs and requests cannot pass TikTok's 6 a minute together); kept 25 hours.
-- - posts and pending inbox shares in the last 24 hours: `tiktok_posts` itself.
-- - `tiktok_creator_caps`: the creator's daily cap as observed when TikTok answered
--   `spam_risk_too_many_posts` (the count of posts at that moment).
-- - `tiktok_app_flags`: `reached_active_user_cap` and the unaudited refusal, per app.

alter table public.tiktok_media add column if not exists facts jsonb;
alter table public.tiktok_media add column if not exists facts_error text;

drop function if exists public.mark_tiktok_media_ready(uuid);
-- The object is in S3 with its declared size (the caller checked with a HEAD), with what
-- its header says (facts) or why it could not be read. Also fills in the facts of a media
-- made ready before they were read.
create or replace function public.mark_tiktok_media_ready(
    p_id uuid,
    p_facts jsonb default null,
    p_facts_error text default null
) returns jsonb
language sql
set search_path = public, pg_temp
as $$
    update tiktok_media
    set status = 'ready', ready_at = coalesce(ready_at, now()),
        facts = coalesce(p_facts, facts),
        facts_error = case when p_facts is not null then null
                           else coalesce(p_facts_error, facts_error) end
    where id = p_id
    returning to_jsonb(tiktok_media.*);
$$;

-- HELD: due, but a known cap is full; sent when the cap's slot frees (next_attempt_at),
-- FAILED with the cap's reason after 24 hours held.
alter table public.tiktok_posts add column if not exists held_since timestamptz;
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
    'PUBLISH_COMPLETE', 'FAILED', 'SCHEDULED', 'HELD', 'PUBLISHING', 'UNCONFIRMED',
    'CANCELLED'));
alter table public.tiktok_posts add constraint tiktok_posts_publish_id_known check (
    publish_id is not null
    or status = 'INITIALIZING'
    or (scheduled_at is not null
        and status in ('SCHEDULED', 'HELD', 'PUBLISHING', 'UNCONFIRMED', 'CANCELLED', 'FAILED',
                       'PUBLISH_COMPLETE')));

create index if not exists tiktok_posts_held_due_idx
    on public.tiktok_posts (next_attempt_at, scheduled_at) where status = 'HELD';
create index if not exists tiktok_posts_held_since_idx
    on public.tiktok_posts (held_since) where status = 'HELD';
-- The creator's posts of the last 24 hours (the daily cap, pending inbox shares).
create index if not exists tiktok_posts_connection_recent_idx
    on public.tiktok_posts (connection_id, (coalesce(attempted_at, created_at)))
    where publish_id is not null;

create or replace function public.tiktok_post_status_rank(p_status text) returns integer
language sql immutable
set search_path = public, pg_temp
as $$
    select case p_status
        when 'SCHEDULED' then -1
        when 'HELD' then -1
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

create table if not exists public.tiktok_post_ledger (
    connection_id bigint not null references public.social_connections (id) on delete cascade,
    mode text not null check (mode in ('direct', 'inbox')),
    at timestamptz not null default now()
);
create index if not exists tiktok_post_ledger_connection_idx
    on public.tiktok_post_ledger (connection_id, at desc);
create index if not exists tiktok_post_ledger_at_idx on public.tiktok_post_ledger (at);
alter table public.tiktok_post_ledger enable row level security;
revoke all on public.tiktok_post_ledger from anon, authenticated;

create table if not exists public.tiktok_creator_caps (
    connection_id bigint primary key references public.social_connections (id) on delete cascade,
    daily_cap integer not null check (daily_cap >= 1),
    observed_at timestamptz not null default now()
);
alter table public.tiktok_creator_caps enable row level security;
revoke all on public.tiktok_creator_caps from anon, authenticated;

create table if not exists public.tiktok_app_flags (
    app text primary key,
    unaudited_seen_at timestamptz,
    active_user_cap_seen_at timestamptz
);
alter table public.tiktok_app_flags enable row level security;
revoke all on public.tiktok_app_flags from anon, authenticated;

-- A creator's capacity to post now, from the ledger (read only). p_audited: the app's
-- setting (null: as TikTok last told, for 7 days). {can_post_now, blocked_by,
-- next_slot_at, inits_last_minute, pending_inbox_shares, posts_last_24h,
-- observed_daily_cap, app_audited}. Blocking codes: init_rate (6 inits a minute),
-- pending_inbox_shares (5 in 24 hours; inbox posts only), daily_cap (the observed cap),
-- app_active_user_cap (TikTok's app-wide cap, an hour after it was seen),
-- app_unaudited_user_cap (an unaudited app: 5 creators posting in 24 hours).
create or replace function public.tiktok_post_capacity(
    p_connection_id bigint,
    p_mode text,
    p_app text,
    p_audited boolean default null
) returns jsonb
language plpgsql stable
set search_path = public, pg_temp
as $$
declare
    v_now timestamptz := now();
    v_inits integer;
    v_init_slot timestamptz;
    v_pending integer;
    v_pending_slot timestamptz;
    v_posts integer;
    v_posts_slot timestamptz;
    v_cap integer;
    v_flags tiktok_app_flags;
    v_audited boolean;
    v_users integer;
    v_user_slot timestamptz;
    v_blocked text[] := '{}';
    v_slots timestamptz[] := '{}';
begin
    select count(*), min(at) + interval '60 seconds' into v_inits, v_init_slot
    from (select at from tiktok_post_ledger
          where connection_id = p_connection_id and at > v_now - interval '60 seconds'
          order by at desc limit 6) recent;
    if v_inits >= 6 then
        v_blocked := array_append(v_blocked, 'init_rate');
        v_slots := v_slots || v_init_slot;
    end if;

    select count(*) filter (where mode = 'inbox'
                            and status not in ('PUBLISH_COMPLETE', 'FAILED', 'CANCELLED')),
           min(coalesce(attempted_at, created_at)) filter (
               where mode = 'inbox' and status not in ('PUBLISH_COMPLETE', 'FAILED', 'CANCELLED')),
           count(*),
           min(coalesce(attempted_at, created_at))
    into v_pending, v_pending_slot, v_posts, v_posts_slot
    from tiktok_posts
    where connection_id = p_connection_id and publish_id is not null
      and coalesce(attempted_at, created_at) > v_now - interval '24 hours';
    if p_mode = 'inbox' and v_pending >= 5 then
        v_blocked := array_append(v_blocked, 'pending_inbox_shares');
        v_slots := v_slots || (v_pending_slot + interval '24 hours');
    end if;

    select daily_cap into v_cap from tiktok_creator_caps
    where connection_id = p_connection_id and observed_at > v_now - interval '30 days';
    if v_cap is not null and v_posts >= v_cap then
        v_blocked := array_append(v_blocked, 'daily_cap');
        v_slots := v_slots || (v_posts_slot + interval '24 hours');
    end if;

    select * into v_flags from tiktok_app_flags where app = p_app;
    if v_flags.active_user_cap_seen_at > v_now - interval '1 hour' then
        v_blocked := array_append(v_blocked, 'app_active_user_cap');
        v_slots := v_slots || (v_flags.active_user_cap_seen_at + interval '1 hour');
    end if;
    v_audited := coalesce(p_audited,
                          v_flags.unaudited_seen_at is null
                          or v_flags.unaudited_seen_at < v_now - interval '7 days');
    if not v_audited then
        select count(*), min(last_at) + interval '24 hours' into v_users, v_user_slot
        from (select connection_id, max(at) as last_at from tiktok_post_ledger
              where at > v_now - interval '24 hours' and connection_id <> p_connection_id
              group by connection_id) others;
        if v_users >= 5 and not exists (
            select 1 from tiktok_post_ledger
            where connection_id = p_connection_id and at > v_now - interval '24 hours'
        ) then
            v_blocked := array_append(v_blocked, 'app_unaudited_user_cap');
            v_slots := v_slots || v_user_slot;
        end if;
    end if;

    return jsonb_build_object(
        'can_post_now', cardinality(v_blocked) = 0,
        'blocked_by', to_jsonb(v_blocked),
        'next_slot_at', (select max(s) from unnest(v_slots) s),
        'inits_last_minute', v_inits,
        'pending_inbox_shares', v_pending,
        'posts_last_24h', v_posts,
        'observed_daily_cap', v_cap,
        'app_audited', v_audited);
end $$;

-- Reserves an init for a creator: with the creator's lock held, the capacity as above,
-- and when it can post now, the init counted in the ledger before it is sent. The same
-- answer as tiktok_post_capacity.
create or replace function public.reserve_tiktok_init(
    p_connection_id bigint,
    p_mode text,
    p_app text,
    p_audited boolean default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_capacity jsonb;
begin
    perform pg_advisory_xact_lock(hashtextextended('tiktok_post_ledger', p_connection_id));
    delete from tiktok_post_ledger
    where connection_id = p_connection_id and at < now() - interval '25 hours';
    v_capacity := tiktok_post_capacity(p_connection_id, p_mode, p_app, p_audited);
    if (v_capacity ->> 'can_post_now')::boolean then
        insert into tiktok_post_ledger (connection_id, mode) values (p_connection_id, p_mode);
        v_capacity := jsonb_set(v_capacity, '{inits_last_minute}',
                                to_jsonb((v_capacity ->> 'inits_last_minute')::integer + 1));
    end if;
    return v_capacity;
end $$;

-- An init reserved but certainly not sent (the connection failed, the refresh before it
-- failed): the creator's latest ledger entry is given back.
create or replace function public.release_tiktok_init(p_connection_id bigint)
returns void
language sql
set search_path = public, pg_temp
as $$
    delete from tiktok_post_ledger
    where ctid = (select ctid from tiktok_post_ledger where connection_id = p_connection_id
                  order by at desc limit 1);
$$;

-- What TikTok's refusal told about a cap: spam_risk_too_many_posts (the creator's daily
-- cap is the count of posts now), reached_active_user_cap and the unaudited refusal
-- (the app's). Other codes change nothing.
create or replace function public.note_tiktok_refusal(
    p_connection_id bigint,
    p_app text,
    p_code text
) returns void
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_posts integer;
begin
    if p_code = 'spam_risk_too_many_posts' then
        select count(*) into v_posts from tiktok_posts
        where connection_id = p_connection_id and publish_id is not null
          and coalesce(attempted_at, created_at) > now() - interval '24 hours';
        -- None of ours in a day: the creator's posts were another app's; no cap known.
        if v_posts >= 1 then
            insert into tiktok_creator_caps (connection_id, daily_cap, observed_at)
            values (p_connection_id, v_posts, now())
            on conflict (connection_id) do update
            set daily_cap = excluded.daily_cap, observed_at = excluded.observed_at;
        end if;
    elsif p_code = 'reached_active_user_cap' then
        insert into tiktok_app_flags (app, active_user_cap_seen_at) values (p_app, now())
        on conflict (app) do update set active_user_cap_seen_at = excluded.active_user_cap_seen_at;
    elsif p_code = 'unaudited_client_can_only_post_to_private_accounts' then
        insert into tiktok_app_flags (app, unaudited_seen_at) values (p_app, now())
        on conflict (app) do update set unaudited_seen_at = excluded.unaudited_seen_at;
    end if;
end $$;

-- Holds a claimed post until its cap frees: HELD, due at p_until, the cap in fail_reason.
-- A hold is not an attempt. Only claim p_claim's.
create or replace function public.hold_tiktok_claim(
    p_id uuid,
    p_claim uuid,
    p_reason text,
    p_until timestamptz
) returns jsonb
language sql
set search_path = public, pg_temp
as $$
    update tiktok_posts
    set status = 'HELD', fail_reason = p_reason, next_attempt_at = p_until,
        held_since = coalesce(held_since, now()), attempts = greatest(attempts - 1, 0),
        lease_until = null, claim_token = null
    where id = p_id and status = 'PUBLISHING' and claim_token = p_claim
    returning to_jsonb(tiktok_posts.*);
$$;

-- As in 20261207000028, with HELD posts due at their slot (in scheduled_at order per
-- creator when slots tie), and posts held for 24 hours FAILED with their cap's reason.
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

    update tiktok_posts
    set status = 'FAILED', next_attempt_at = null
    where status = 'HELD' and held_since < now() - interval '24 hours';

    with due as (
        select id from (
            (select id, coalesce(next_attempt_at, scheduled_at) as due_at, scheduled_at
             from tiktok_posts
             where status = 'SCHEDULED' and coalesce(next_attempt_at, scheduled_at) <= now()
             order by coalesce(next_attempt_at, scheduled_at)
             limit greatest(p_limit, 0))
            union all
            (select id, next_attempt_at, scheduled_at from tiktok_posts
             where status = 'HELD' and next_attempt_at <= now()
             order by next_attempt_at, scheduled_at
             limit greatest(p_limit, 0))
        ) candidates
        order by due_at, scheduled_at
        limit greatest(p_limit, 0)
    ), locked as (
        select p.id from tiktok_posts p join due on due.id = p.id
        where p.status in ('SCHEDULED', 'HELD')
        for update of p skip locked
    ), claimed as (
        update tiktok_posts p
        set status = 'PUBLISHING', attempts = p.attempts + 1, attempted_at = now(),
            lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1)),
            claim_token = gen_random_uuid()
        from locked
        where p.id = locked.id
        returning p.*
    )
    select coalesce(jsonb_agg(jsonb_build_object('post', to_jsonb(c), 'connection', to_jsonb(s))
                              order by coalesce(c.next_attempt_at, c.scheduled_at), c.scheduled_at),
                    '[]'::jsonb)
    into v_claimed
    from claimed c
    left join social_connections s on s.id = c.connection_id;
    return v_claimed;
end $$;

create or replace function public.count_due_tiktok_posts()
returns bigint
language sql stable
set search_path = public, pg_temp
as $$
    select (select count(*) from (
                select 1 from tiktok_posts
                where status = 'SCHEDULED' and coalesce(next_attempt_at, scheduled_at) <= now()
                order by coalesce(next_attempt_at, scheduled_at)
                limit 10000) due)
         + (select count(*) from (
                select 1 from tiktok_posts
                where status = 'HELD' and next_attempt_at <= now()
                order by next_attempt_at, scheduled_at
                limit 10000) held);
$$;

-- As in 20261207000024: a HELD post is edited and cancelled as a SCHEDULED one; a new
-- time makes it SCHEDULED again (its hold starts over).
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
    if v_post.status not in ('SCHEDULED', 'HELD') then
        return jsonb_build_object('state', 'not_editable', 'post', to_jsonb(v_post));
    end if;
    update tiktok_posts
    set request = coalesce(p_request, request),
        scheduled_at = coalesce(p_scheduled_at, scheduled_at),
        next_attempt_at = case when p_scheduled_at is null then next_attempt_at end,
        status = case when p_scheduled_at is null then status else 'SCHEDULED' end,
        held_since = case when p_scheduled_at is null then held_since end,
        fail_reason = case when p_scheduled_at is null then fail_reason end
    where id = p_id
    returning * into v_post;
    return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
end $$;

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
    if v_post.status not in ('SCHEDULED', 'HELD') then
        return jsonb_build_object('state', 'not_editable', 'post', to_jsonb(v_post));
    end if;
    update tiktok_posts set status = 'CANCELLED', next_attempt_at = null
    where id = p_id
    returning * into v_post;
    return jsonb_build_object('state', 'changed', 'post', to_jsonb(v_post));
end $$;

revoke execute on function public.mark_tiktok_media_ready(uuid, jsonb, text) from public, anon, authenticated;
revoke execute on function public.tiktok_post_capacity(bigint, text, text, boolean) from public, anon, authenticated;
revoke execute on function public.reserve_tiktok_init(bigint, text, text, boolean) from public, anon, authenticated;
revoke execute on function public.note_tiktok_refusal(bigint, text, text) from public, anon, authenticated;
revoke execute on function public.release_tiktok_init(bigint) from public, anon, authenticated;
grant execute on function public.release_tiktok_init(bigint) to service_role;
revoke execute on function public.hold_tiktok_claim(uuid, uuid, text, timestamptz) from public, anon, authenticated;
grant execute on function public.mark_tiktok_media_ready(uuid, jsonb, text) to service_role;
grant execute on function public.tiktok_post_capacity(bigint, text, text, boolean) to service_role;
grant execute on function public.reserve_tiktok_init(bigint, text, text, boolean) to service_role;
grant execute on function public.note_tiktok_refusal(bigint, text, text) to service_role;
grant execute on function public.hold_tiktok_claim(uuid, uuid, text, timestamptz) to service_role;
