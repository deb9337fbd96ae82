-- Analytics history: TikTok answers only running totals, so the sync (sync-analytics,
-- every 5 minutes) keeps them over time.
--
-- * tiktok_videos: the accounts' videos, found by /v2/video/list/ (or linked from a post
--   of ours TikTok published), with their latest totals and when each is next due.
--   A video's cadence tier (0: first 24 hours, 1: to day 7, 2: to day 30, 3: to day 90)
--   and next_sync_at are set at every sync; past the last age next_sync_at is null (never
--   again: its last snapshot stays). A claim pushes next_sync_at forward by its lease.
-- * tiktok_video_snapshots: one row per video per hour in its first 24 hours, then per
--   day; tiktok_account_snapshots: one row per connection per day. Both partitioned by
--   month; retention drops whole partitions (drop_tiktok_analytics_partitions).
-- * tiktok_analytics_accounts: per connection, when its discovery (video/list) and its
--   stats (user/info) are next due, and why there is no data when there is none.
-- * tiktok_rate_buckets: the analytics budget per TikTok endpoint, an atomic token
--   bucket shared by every worker of every run (take_tiktok_budget).
-- A same-bucket sync overwrites that bucket's row; a value TikTok did not send (null)
-- never overwrites a known one.

create table if not exists public.tiktok_videos (
    connection_id bigint not null references public.social_connections (id) on delete cascade,
    video_id text not null,
    create_time timestamptz,
    title text,
    description text,
    duration integer,
    cover_image_url text,
    share_url text,
    views bigint,
    likes bigint,
    comments bigint,
    shares bigint,
    -- Views at the last sync inside the first 24 hours (the velocity's numerator).
    views_24h bigint,
    first_seen_at timestamptz not null default now(),
    last_synced_at timestamptz,
    next_sync_at timestamptz default now(),
    tier smallint not null default 0,
    deleted_at timestamptz,
    primary key (connection_id, video_id)
);
-- The claim: due videos, youngest tier first, oldest due first within a tier.
create index if not exists tiktok_videos_due_idx
    on public.tiktok_videos (tier, next_sync_at) where next_sync_at is not null;
-- The reads: an account's videos by creation.
create index if not exists tiktok_videos_created_idx
    on public.tiktok_videos (connection_id, create_time desc);
alter table public.tiktok_videos enable row level security;
revoke all on public.tiktok_videos from anon, authenticated;

create table if not exists public.tiktok_video_snapshots (
    connection_id bigint not null references public.social_connections (id) on delete cascade,
    video_id text not null,
    bucket timestamptz not null,
    hourly boolean not null,
    views bigint,
    likes bigint,
    comments bigint,
    shares bigint,
    captured_at timestamptz not null default now(),
    primary key (connection_id, video_id, bucket)
) partition by range (bucket);
alter table public.tiktok_video_snapshots enable row level security;
revoke all on public.tiktok_video_snapshots from anon, authenticated;

create table if not exists public.tiktok_account_snapshots (
    connection_id bigint not null references public.social_connections (id) on delete cascade,
    day date not null,
    followers bigint,
    following bigint,
    likes bigint,
    videos bigint,
    captured_at timestamptz not null default now(),
    primary key (connection_id, day)
) partition by range (day);
alter table public.tiktok_account_snapshots enable row level security;
revoke all on public.tiktok_account_snapshots from anon, authenticated;

create table if not exists public.tiktok_analytics_accounts (
    connection_id bigint primary key references public.social_connections (id) on delete cascade,
    list_due_at timestamptz not null default now(),
    stats_due_at timestamptz not null default now(),
    -- The earlier of the two, or a claim's lease: what the claim orders by.
    due_at timestamptz not null default now(),
    listed_at timestamptz,
    stats_synced_at timestamptz,
    -- Why the last sync got no data (scope_missing, reauth_required, revoked).
    unavailable text
);
create index if not exists tiktok_analytics_accounts_due_idx
    on public.tiktok_analytics_accounts (due_at);
alter table public.tiktok_analytics_accounts enable row level security;
revoke all on public.tiktok_analytics_accounts from anon, authenticated;

create table if not exists public.tiktok_rate_buckets (
    endpoint text primary key,
    tokens double precision not null,
    refilled_at timestamptz not null,
    -- TikTok answered 429: nothing is spent until then.
    blocked_until timestamptz
);
alter table public.tiktok_rate_buckets enable row level security;
revoke all on public.tiktok_rate_buckets from anon, authenticated;

-- A post TikTok published is linked to its video (the first public post id), which the
-- sync then tracks: the post's answers carry the video id and its latest totals.
alter table public.tiktok_posts add column if not exists video_id text;
alter table public.tiktok_posts add column if not exists video_metrics jsonb;
create index if not exists tiktok_posts_video_idx on public.tiktok_posts (connection_id, video_id)
    where video_id is not null;

-- Every TikTok connection gets its analytics row (due at once), now and from now on.
insert into public.tiktok_analytics_accounts (connection_id)
select id from public.social_connections where provider = 'tiktok'
on conflict do nothing;

create or replace function public.tiktok_analytics_account_row() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    if new.provider = 'tiktok' then
        insert into tiktok_analytics_accounts (connection_id) values (new.id)
        on conflict do nothing;
    end if;
    return new;
end $$;
drop trigger if exists social_connections_analytics_row on public.social_connections;
create trigger social_connections_analytics_row after insert on public.social_connections
    for each row execute function public.tiktok_analytics_account_row();

-- A timestamp as every answer writes it: RFC 3339 in UTC with Z, whole seconds.
create or replace function public.tiktok_utc(p_at timestamptz) returns text
language sql immutable
as $$
    select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- The video a post became, and the video tracked from then on.
create or replace function public.tiktok_post_video_link() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_video tiktok_videos;
begin
    if new.connection_id is null or jsonb_typeof(new.public_post_ids) <> 'array'
       or jsonb_array_length(new.public_post_ids) = 0
       or new.video_id is not distinct from (new.public_post_ids ->> 0) then
        return new;
    end if;
    new.video_id := new.public_post_ids ->> 0;
    insert into tiktok_videos (connection_id, video_id, next_sync_at, tier)
    values (new.connection_id, new.video_id, now(), 0)
    on conflict (connection_id, video_id) do nothing;
    select * into v_video from tiktok_videos
    where connection_id = new.connection_id and video_id = new.video_id;
    new.video_metrics := tiktok_video_totals(v_video);
    return new;
end $$;

-- A video's latest totals as answers show them (null before its first sync).
create or replace function public.tiktok_video_totals(v public.tiktok_videos) returns jsonb
language sql immutable
as $$
    select case when v.last_synced_at is null then null else jsonb_build_object(
        'views', v.views, 'likes', v.likes, 'comments', v.comments, 'shares', v.shares,
        'synced_at', tiktok_utc(v.last_synced_at)) end
$$;

drop trigger if exists tiktok_posts_video_link on public.tiktok_posts;
create trigger tiktok_posts_video_link before insert or update of public_post_ids
    on public.tiktok_posts
    for each row execute function public.tiktok_post_video_link();

-- Posts published before this migration are linked too (their updated_at kept).
insert into public.tiktok_videos (connection_id, video_id, next_sync_at, tier)
select distinct connection_id, public_post_ids ->> 0, now(), 0 from public.tiktok_posts
where connection_id is not null and jsonb_typeof(public_post_ids) = 'array'
  and jsonb_array_length(public_post_ids) > 0
on conflict do nothing;
alter table public.tiktok_posts disable trigger tiktok_posts_touch_updated_at;
update public.tiktok_posts set video_id = public_post_ids ->> 0
where connection_id is not null and jsonb_typeof(public_post_ids) = 'array'
  and jsonb_array_length(public_post_ids) > 0;
alter table public.tiktok_posts enable trigger tiktok_posts_touch_updated_at;

-- Monthly partitions covering p_from to p_to (both tables), made when missing.
create or replace function public.ensure_tiktok_analytics_partitions(p_from timestamptz, p_to timestamptz)
returns integer
language plpgsql
-- The tables' owner makes and drops partitions, whoever asks (service_role only may).
security definer
set search_path = public, pg_temp
as $$
declare
    v_month date := date_trunc('month', p_from at time zone 'UTC')::date;
    v_next date;
    v_made integer := 0;
    v_name text;
begin
    while v_month <= (p_to at time zone 'UTC')::date loop
        v_next := (v_month + interval '1 month')::date;
        v_name := 'tiktok_video_snapshots_' || to_char(v_month, '"y"YYYY"m"MM');
        if to_regclass('public.' || v_name) is null then
            execute format('create table public.%I partition of public.tiktok_video_snapshots
                            for values from (%L) to (%L)',
                           v_name, (v_month::timestamp at time zone 'UTC'),
                           (v_next::timestamp at time zone 'UTC'));
            execute format('alter table public.%I enable row level security', v_name);
            execute format('revoke all on public.%I from anon, authenticated', v_name);
            v_made := v_made + 1;
        end if;
        v_name := 'tiktok_account_snapshots_' || to_char(v_month, '"y"YYYY"m"MM');
        if to_regclass('public.' || v_name) is null then
            execute format('create table public.%I partition of public.tiktok_account_snapshots
                            for values from (%L) to (%L)', v_name, v_month, v_next);
            execute format('alter table public.%I enable row level security', v_name);
            execute format('revoke all on public.%I from anon, authenticated', v_name);
            v_made := v_made + 1;
        end if;
        v_month := v_next;
    end loop;
    return v_made;
end $$;

-- Drops the partitions (of both tables) that end before the retention: whole months,
-- never row by row. Returns the names dropped.
create or replace function public.drop_tiktok_analytics_partitions(p_retention_days integer)
returns text[]
language plpgsql
-- The tables' owner makes and drops partitions, whoever asks (service_role only may).
security definer
set search_path = public, pg_temp
as $$
declare
    v_cutoff date := (now() at time zone 'UTC')::date - greatest(p_retention_days, 1);
    v_dropped text[] := '{}';
    v_part record;
begin
    for v_part in
        select c.relname,
               to_date(substring(c.relname from '_y(\d{4})m\d{2}$') || '-' || substring(c.relname from '_y\d{4}m(\d{2})$') || '-01', 'YYYY-MM-DD') as month
        from pg_inherits i
        join pg_class c on c.oid = i.inhrelid
        join pg_class p on p.oid = i.inhparent
        join pg_namespace n on n.oid = p.relnamespace
        where n.nspname = 'public'
          and p.relname in ('tiktok_video_snapshots', 'tiktok_account_snapshots')
          and c.relname ~ '_y\d{4}m\d{2}$'
    loop
        -- A month whose last day is before the cutoff holds nothing still kept.
        if (v_part.month + interval '1 month')::date <= v_cutoff then
            execute format('drop table public.%I', v_part.relname);
            v_dropped := array_append(v_dropped, v_part.relname::text);
        end if;
    end loop;
    return v_dropped;
end $$;

-- The sync's upkeep, once a run: next months' partitions made, old ones dropped.
create or replace function public.maintain_tiktok_analytics(p_retention_days integer)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_made integer;
begin
    v_made := ensure_tiktok_analytics_partitions(now() - interval '1 day', now() + interval '2 months');
    return jsonb_build_object('made', v_made,
                              'dropped', to_jsonb(drop_tiktok_analytics_partitions(p_retention_days)));
end $$;

select public.ensure_tiktok_analytics_partitions(now() - interval '1 month', now() + interval '2 months');

-- Whether a connection's grant holds a scope (TikTok's scope lists are comma separated).
-- A connection stored without its scope (a token the frontend handed over) may: TikTok
-- says, and a refusal marks the account (tiktok_analytics_accounts.unavailable).
create or replace function public.tiktok_has_scope(p_scope text, p_wanted text) returns boolean
language sql immutable
as $$
    select nullif(btrim(p_scope), '') is null
        or p_wanted = any(string_to_array(replace(p_scope, ' ', ''), ','))
$$;

-- Why a connection has no analytics of this kind (null: it can have them).
create or replace function public.tiktok_analytics_unavailable(c public.social_connections, p_scope text)
returns text
language sql stable
as $$
    select case
        when c.revoked_at is not null then 'revoked'
        when c.reauth_required_at is not null
             or (c.refresh_expires_at is not null and c.refresh_expires_at <= now()) then 'reauth_required'
        when not tiktok_has_scope(c.scope, p_scope) then 'scope_missing'
        else null end
$$;

-- The analytics budget of an endpoint: a token bucket holding at most a tenth of the
-- minute's requests, refilled with the other nine tenths over the minute, so that no
-- 60-second window ever holds more than p_rpm (what the bucket held at its start, at most
-- p_rpm/10, plus 60 s of refill, p_rpm*9/10). Atomic (the endpoint's row is locked):
-- every worker of every run shares it. Answers {granted, wait_ms}: how long until the
-- tokens would be there, or the 429's block ends.
create or replace function public.take_tiktok_budget(p_endpoint text, p_rpm integer, p_tokens integer default 1)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_capacity double precision := greatest(p_rpm / 10.0, 1);
    v_rate double precision := greatest(p_rpm - greatest(p_rpm / 10.0, 1), 0) / 60.0;
    v_row tiktok_rate_buckets;
    v_now timestamptz := clock_timestamp();
    v_tokens double precision;
begin
    if p_rpm < 1 or p_tokens < 1 then
        return jsonb_build_object('granted', false, 'wait_ms', 60000);
    end if;
    insert into tiktok_rate_buckets (endpoint, tokens, refilled_at)
    values (p_endpoint, v_capacity, v_now)
    on conflict (endpoint) do nothing;
    select * into v_row from tiktok_rate_buckets where endpoint = p_endpoint for update;
    -- clock_timestamp after the lock: the refill counts from when this call holds it.
    v_now := clock_timestamp();
    if v_row.blocked_until is not null and v_row.blocked_until > v_now then
        return jsonb_build_object('granted', false,
            'wait_ms', ceil(extract(epoch from v_row.blocked_until - v_now) * 1000)::bigint);
    end if;
    v_tokens := least(v_capacity,
        v_row.tokens + greatest(extract(epoch from v_now - v_row.refilled_at), 0) * v_rate);
    if v_tokens >= p_tokens then
        update tiktok_rate_buckets set tokens = v_tokens - p_tokens, refilled_at = v_now
        where endpoint = p_endpoint;
        return jsonb_build_object('granted', true, 'wait_ms', 0);
    end if;
    update tiktok_rate_buckets set tokens = v_tokens, refilled_at = v_now where endpoint = p_endpoint;
    return jsonb_build_object('granted', false,
        'wait_ms', case when v_rate = 0 then 60000
                        else ceil((p_tokens - v_tokens) / v_rate * 1000)::bigint end);
end $$;

-- TikTok answered 429: the endpoint spends nothing more for the rest of the window, and
-- the bucket starts empty after it.
create or replace function public.block_tiktok_budget(p_endpoint text, p_seconds integer default 60)
returns void
language sql
set search_path = public, pg_temp
as $$
    insert into tiktok_rate_buckets (endpoint, tokens, refilled_at, blocked_until)
    values (p_endpoint, 0, now() + make_interval(secs => p_seconds), now() + make_interval(secs => p_seconds))
    on conflict (endpoint) do update
    set tokens = 0, refilled_at = excluded.refilled_at,
        blocked_until = greatest(tiktok_rate_buckets.blocked_until, excluded.blocked_until)
$$;

do $$ begin
    create type public.tiktok_video_key as (connection_id bigint, video_id text);
exception when duplicate_object then null;
end $$;

-- The next batch of due work: up to p_accounts accounts (discovery and stats) and up to
-- p_videos due videos (youngest tier first), each video batch one connection's ids (at
-- most 20: one /v2/video/query/). A connection's other videos due within the hour ride
-- along to fill its batch. Connections that cannot be synced (revoked, reauth required,
-- without the scope) are pushed a day on and marked, never returned.
-- Each claimed row is leased for p_lease_seconds (its due time pushed on).
create or replace function public.claim_tiktok_analytics(
    p_accounts integer,
    p_videos integer,
    p_lease_seconds integer default 600
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_now timestamptz := now();
    v_lease timestamptz := now() + make_interval(secs => p_lease_seconds);
    v_accounts jsonb;
    v_videos jsonb;
    v_picked tiktok_video_key[] := '{}';
    v_tier integer;
begin
    -- Accounts: skip the ones that cannot be synced (marked, a day on).
    with due as (
        select a.connection_id from tiktok_analytics_accounts a
        where a.due_at <= v_now
        order by a.due_at
        limit p_accounts
        for update of a skip locked
    ), judged as (
        select d.connection_id, c as conn,
               tiktok_analytics_unavailable(c, 'video.list') as no_list,
               tiktok_analytics_unavailable(c, 'user.info.stats') as no_stats
        from due d join social_connections c on c.id = d.connection_id
    ), skipped as (
        update tiktok_analytics_accounts a
        set unavailable = coalesce(j.no_list, j.no_stats),
            due_at = v_now + interval '1 day',
            list_due_at = greatest(a.list_due_at, v_now + interval '1 day'),
            stats_due_at = greatest(a.stats_due_at, v_now + interval '1 day')
        from judged j
        where a.connection_id = j.connection_id and j.no_list is not null and j.no_stats is not null
        returning a.connection_id
    ), taken as (
        update tiktok_analytics_accounts a set due_at = v_lease
        from judged j
        where a.connection_id = j.connection_id and (j.no_list is null or j.no_stats is null)
        returning a.connection_id, a.list_due_at, a.stats_due_at, j.conn, j.no_list, j.no_stats
    )
    select coalesce(jsonb_agg(jsonb_build_object(
               'connection', to_jsonb(t.conn) - 'metadata',
               'list', t.no_list is null and t.list_due_at <= v_now,
               'stats', t.no_stats is null and t.stats_due_at <= v_now)), '[]'::jsonb)
    into v_accounts from taken t;

    -- Videos: each tier's oldest due first, tier 0 (the youngest) before the rest; each
    -- tier's candidates locked before its limit (a row another worker holds is passed
    -- over, not counted).
    v_tier := 0;
    -- (At most 8 tiers: the cadence setting has at most 8 steps.)
    while v_tier < 8 and cardinality(v_picked) < p_videos loop
        v_picked := v_picked || array(
            select (v.connection_id, v.video_id)::tiktok_video_key from tiktok_videos v
            where v.tier = v_tier and v.next_sync_at <= v_now
            order by v.next_sync_at
            limit p_videos - cardinality(v_picked)
            for update skip locked);
        v_tier := v_tier + 1;
    end loop;
    with due as (
        select k.connection_id, k.video_id from unnest(v_picked) k
    ), judged as (
        select d.connection_id, d.video_id, c as conn,
               tiktok_analytics_unavailable(c, 'video.list') as no_list
        from due d join social_connections c on c.id = d.connection_id
    ), skipped as (
        update tiktok_videos v set next_sync_at = v_now + interval '1 day'
        from judged j
        where v.connection_id = j.connection_id and v.video_id = j.video_id and j.no_list is not null
        returning v.connection_id
    ), riders as (
        -- The connection's videos due within the hour, unlocked ones only.
        select r.connection_id, r.video_id from (
            select distinct connection_id from judged where no_list is null) k
        cross join lateral (
            select v.connection_id, v.video_id from tiktok_videos v
            where v.connection_id = k.connection_id and v.next_sync_at <= v_now + interval '1 hour'
              and v.deleted_at is null
            order by v.next_sync_at
            limit 20
            for update skip locked
        ) r
    ), chosen as (
        select connection_id, video_id from judged where no_list is null
        union
        select connection_id, video_id from riders
    ), leased as (
        update tiktok_videos v set next_sync_at = v_lease
        from chosen ch
        where v.connection_id = ch.connection_id and v.video_id = ch.video_id
        returning v.connection_id, v.video_id, v.create_time
    ), numbered as (
        select l.*, (row_number() over (partition by l.connection_id
                                        order by l.create_time desc nulls first, l.video_id) - 1) / 20 as chunk
        from leased l
    )
    select coalesce(jsonb_agg(jsonb_build_object(
               'connection', (select to_jsonb(c) - 'metadata' from social_connections c where c.id = b.connection_id),
               'video_ids', b.ids)), '[]'::jsonb)
    into v_videos
    from (select connection_id, chunk, jsonb_agg(video_id order by create_time desc nulls first) as ids
          from numbered group by connection_id, chunk) b;

    return jsonb_build_object('accounts', v_accounts, 'videos', v_videos);
end $$;

-- Gives back claimed work not done, due again after p_after_seconds (0: a run that
-- stopped; later: a connection TikTok refused for now).
create or replace function public.release_tiktok_analytics(
    p_connection_id bigint,
    p_video_ids text[],
    p_account boolean,
    p_after_seconds integer default 0
) returns void
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_at timestamptz := now() + make_interval(secs => greatest(p_after_seconds, 0));
begin
    if p_account then
        update tiktok_analytics_accounts
        set due_at = greatest(least(list_due_at, stats_due_at), v_at)
        where connection_id = p_connection_id;
    end if;
    if coalesce(cardinality(p_video_ids), 0) > 0 then
        update tiktok_videos set next_sync_at = v_at
        where connection_id = p_connection_id and video_id = any(p_video_ids) and deleted_at is null;
    end if;
end $$;

-- The cadence: [[age seconds, every seconds], ...] by increasing age. A video younger
-- than an age is refreshed every that many seconds; past the last age, never (null).
create or replace function public.tiktok_cadence_step(p_cadence jsonb, p_age double precision)
returns table (tier smallint, every_seconds double precision)
language sql immutable
as $$
    select (s.ordinality - 1)::smallint, (s.step ->> 1)::double precision
    from jsonb_array_elements(p_cadence) with ordinality as s(step, ordinality)
    where p_age < (s.step ->> 0)::double precision
    order by s.ordinality
    limit 1
$$;

-- Records what TikTok answered for a connection's videos (a list page or a query):
-- each video's facts and totals, its snapshot in the current bucket (its hour in its
-- first 24 hours, else its day), its next sync by the cadence, and the totals of the
-- posts it came from. p_asked: the ids a query asked for; those TikTok did not answer
-- are deleted (kept, marked deleted_at, never synced again). Answers how many videos were
-- new, known before, and deleted.
create or replace function public.record_tiktok_videos(
    p_connection_id bigint,
    p_videos jsonb,
    p_cadence jsonb,
    p_asked text[] default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_now timestamptz := now();
    v_first_age double precision := (p_cadence -> 0 ->> 0)::double precision;
    v_new integer := 0;
    v_known integer := 0;
    v_deleted integer := 0;
    v_item jsonb;
    v_id text;
    v_created timestamptz;
    v_age double precision;
    v_tier smallint;
    v_every double precision;
    v_hourly boolean;
    v_bucket timestamptz;
    v_row tiktok_videos;
    v_inserted boolean;
begin
    perform ensure_tiktok_analytics_partitions(v_now, v_now);
    for v_item in select * from jsonb_array_elements(coalesce(p_videos, '[]'::jsonb)) loop
        v_id := v_item ->> 'id';
        continue when v_id is null or v_id = '';
        v_created := case when jsonb_typeof(v_item -> 'create_time') = 'number'
                          then to_timestamp((v_item ->> 'create_time')::double precision) end;
        insert into tiktok_videos as v (connection_id, video_id, create_time, title, description, duration,
                                        cover_image_url, share_url, views, likes, comments, shares,
                                        last_synced_at)
        values (p_connection_id, v_id, v_created, v_item ->> 'title', v_item ->> 'video_description',
                (v_item ->> 'duration')::integer, v_item ->> 'cover_image_url', v_item ->> 'share_url',
                (v_item ->> 'view_count')::bigint, (v_item ->> 'like_count')::bigint,
                (v_item ->> 'comment_count')::bigint, (v_item ->> 'share_count')::bigint, v_now)
        on conflict (connection_id, video_id) do update set
            create_time = coalesce(excluded.create_time, v.create_time),
            title = coalesce(excluded.title, v.title),
            description = coalesce(excluded.description, v.description),
            duration = coalesce(excluded.duration, v.duration),
            cover_image_url = coalesce(excluded.cover_image_url, v.cover_image_url),
            share_url = coalesce(excluded.share_url, v.share_url),
            views = coalesce(excluded.views, v.views),
            likes = coalesce(excluded.likes, v.likes),
            comments = coalesce(excluded.comments, v.comments),
            shares = coalesce(excluded.shares, v.shares),
            last_synced_at = v_now,
            deleted_at = null
        returning (xmax = 0) into v_inserted;
        select * into v_row from tiktok_videos where connection_id = p_connection_id and video_id = v_id;
        if v_inserted then
            v_new := v_new + 1;
        else
            v_known := v_known + 1;
        end if;
        v_age := extract(epoch from v_now - coalesce(v_row.create_time, v_now));
        v_tier := null;
        v_every := null;
        select t.tier, t.every_seconds into v_tier, v_every from tiktok_cadence_step(p_cadence, v_age) t;
        v_hourly := v_age < v_first_age;
        v_bucket := date_trunc(case when v_hourly then 'hour' else 'day' end, v_now, 'UTC');
        update tiktok_videos set
            tier = coalesce(v_tier, (jsonb_array_length(p_cadence))::smallint),
            next_sync_at = case when v_every is null then null
                                else v_now + make_interval(secs => v_every) end,
            views_24h = case when v_hourly then coalesce(v_row.views, views_24h) else views_24h end
        where connection_id = p_connection_id and video_id = v_id
        returning * into v_row;
        insert into tiktok_video_snapshots as s (connection_id, video_id, bucket, hourly,
                                                 views, likes, comments, shares, captured_at)
        values (p_connection_id, v_id, v_bucket, v_hourly,
                (v_item ->> 'view_count')::bigint, (v_item ->> 'like_count')::bigint,
                (v_item ->> 'comment_count')::bigint, (v_item ->> 'share_count')::bigint, v_now)
        on conflict (connection_id, video_id, bucket) do update set
            views = coalesce(excluded.views, s.views),
            likes = coalesce(excluded.likes, s.likes),
            comments = coalesce(excluded.comments, s.comments),
            shares = coalesce(excluded.shares, s.shares),
            captured_at = excluded.captured_at;
        update tiktok_posts set video_metrics = tiktok_video_totals(v_row)
        where connection_id = p_connection_id and video_id = v_id;
    end loop;

    if p_asked is not null then
        with gone as (
            update tiktok_videos v set deleted_at = coalesce(v.deleted_at, v_now), next_sync_at = null
            where v.connection_id = p_connection_id and v.video_id = any(p_asked)
              and not exists (select 1 from jsonb_array_elements(coalesce(p_videos, '[]'::jsonb)) x
                              where x ->> 'id' = v.video_id)
            returning 1
        )
        select count(*) into v_deleted from gone;
    end if;
    return jsonb_build_object('new', v_new, 'known', v_known, 'deleted', v_deleted);
end $$;

-- Records an account's sync: its stats of the day (null: not asked, or not answered;
-- a value TikTok did not send keeps the day's known one), whether its videos were
-- listed, and when each is next due; p_unavailable when TikTok refused (scope_missing,
-- reauth_required).
create or replace function public.record_tiktok_account(
    p_connection_id bigint,
    p_listed boolean,
    p_list_every_seconds integer,
    p_stats_every_seconds integer,
    p_stats jsonb default null,
    p_unavailable text default null
) returns void
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_now timestamptz := now();
    v_day date := (now() at time zone 'UTC')::date;
begin
    if p_stats is not null then
        perform ensure_tiktok_analytics_partitions(v_now, v_now);
        insert into tiktok_account_snapshots as s (connection_id, day, followers, following, likes, videos, captured_at)
        values (p_connection_id, v_day, (p_stats ->> 'follower_count')::bigint,
                (p_stats ->> 'following_count')::bigint, (p_stats ->> 'likes_count')::bigint,
                (p_stats ->> 'video_count')::bigint, v_now)
        on conflict (connection_id, day) do update set
            followers = coalesce(excluded.followers, s.followers),
            following = coalesce(excluded.following, s.following),
            likes = coalesce(excluded.likes, s.likes),
            videos = coalesce(excluded.videos, s.videos),
            captured_at = excluded.captured_at;
    end if;
    update tiktok_analytics_accounts set
        stats_synced_at = case when p_stats is not null then v_now else stats_synced_at end,
        stats_due_at = case when p_stats is not null or p_unavailable is not null
                            then v_now + make_interval(secs => p_stats_every_seconds) else stats_due_at end,
        listed_at = case when p_listed then v_now else listed_at end,
        list_due_at = case when p_listed or p_unavailable is not null
                           then v_now + make_interval(secs => p_list_every_seconds) else list_due_at end,
        unavailable = nullif(p_unavailable, '')
    where connection_id = p_connection_id;
    update tiktok_analytics_accounts set due_at = least(list_due_at, stats_due_at)
    where connection_id = p_connection_id;
end $$;

-- How much analytics work is due (the run summary's `remaining`, counted up to 1000).
create or replace function public.count_due_tiktok_analytics() returns bigint
language sql stable
set search_path = public, pg_temp
as $$
    select (select count(*) from generate_series(0, 7) t
            cross join lateral (select 1 from tiktok_videos
                                where tier = t and next_sync_at <= now() limit 1000) d)
         + (select count(*) from (select 1 from tiktok_analytics_accounts where due_at <= now() limit 1000) e)
$$;

-- The caller's TikTok connection for a read (account_id, else the primary, else the most
-- recently updated); null when there is none. Reads create no user.
create or replace function public.tiktok_analytics_connection(p_firebase_uid text, p_account_id text)
returns public.social_connections
language sql stable
set search_path = public, pg_temp
as $$
    select c.* from social_connections c
    join users u on u.id = c.user_id
    where u.firebase_uid = p_firebase_uid and c.provider = 'tiktok'
      and (nullif(p_account_id, '') is null or c.provider_account_id = p_account_id)
    order by coalesce(c.is_primary, false) desc, c.updated_at desc nulls last, c.id desc
    limit 1
$$;

-- GET .../analytics/account: the daily series from p_from to p_to (dates, inclusive).
-- Null when the caller has no such connection.
create or replace function public.tiktok_account_analytics(
    p_firebase_uid text,
    p_account_id text,
    p_from date,
    p_to date
) returns jsonb
language plpgsql stable
set search_path = public, pg_temp
as $$
declare
    v_conn social_connections;
    v_sync tiktok_analytics_accounts;
    v_unavailable text;
begin
    v_conn := tiktok_analytics_connection(p_firebase_uid, p_account_id);
    if v_conn.id is null then
        return null;
    end if;
    select * into v_sync from tiktok_analytics_accounts where connection_id = v_conn.id;
    v_unavailable := coalesce(tiktok_analytics_unavailable(v_conn, 'user.info.stats'), v_sync.unavailable);
    return jsonb_build_object(
        'account_id', v_conn.provider_account_id,
        'from', p_from,
        'to', p_to,
        'series', coalesce((
            select jsonb_agg(jsonb_build_object('date', s.day, 'followers', s.followers,
                                                'following', s.following, 'likes', s.likes,
                                                'videos', s.videos) order by s.day)
            from tiktok_account_snapshots s
            where s.connection_id = v_conn.id and s.day between p_from and p_to), '[]'::jsonb),
        'synced_at', tiktok_utc(v_sync.stats_synced_at),
        'next_sync_at', case when v_unavailable is null then tiktok_utc(v_sync.stats_due_at) end,
        'unavailable', v_unavailable);
end $$;

create or replace function public.tiktok_video_velocity(v public.tiktok_videos) returns double precision
language sql stable
set search_path = public, pg_temp
as $$
    select case when v.views_24h is null or v.create_time is null
                     or v.create_time > now() - interval '24 hours' then null
                else (select case when percentile_cont(0.5) within group (order by p.views_24h) > 0
                                  then round((v.views_24h / percentile_cont(0.5) within group (order by p.views_24h))::numeric, 3)::double precision end
                      from (select views_24h from tiktok_videos
                            where connection_id = v.connection_id and create_time < v.create_time
                              and views_24h is not null
                            order by create_time desc limit 20) p) end
$$;

-- A video of the analytics answers: its facts, latest totals, sync times and velocity
-- (views in the first 24 hours over the median of the account's previous 20 videos at
-- the same age; null until known).
create or replace function public.tiktok_video_view(v public.tiktok_videos) returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
    select jsonb_build_object(
        'video_id', v.video_id,
        'title', v.title,
        'description', v.description,
        'create_time', tiktok_utc(v.create_time),
        'duration', v.duration,
        'cover_image_url', v.cover_image_url,
        'share_url', v.share_url,
        'views', v.views, 'likes', v.likes, 'comments', v.comments, 'shares', v.shares,
        'views_24h', case when v.create_time <= now() - interval '24 hours' then v.views_24h end,
        'velocity', tiktok_video_velocity(v),
        'deleted_at', tiktok_utc(v.deleted_at),
        'first_seen_at', tiktok_utc(v.first_seen_at),
        'synced_at', tiktok_utc(v.last_synced_at),
        'next_sync_at', tiktok_utc(v.next_sync_at))
$$;

-- GET .../analytics/videos: the account's videos created from p_from to p_to (dates,
-- inclusive) with their latest totals, their growth in the range (views at the range's
-- last snapshot minus at its first, from 0 for a video made in it) and velocity, sorted
-- (recent, views, growth, velocity), p_limit from p_offset. Null when the caller has no
-- such connection.
create or replace function public.tiktok_videos_analytics(
    p_firebase_uid text,
    p_account_id text,
    p_from date,
    p_to date,
    p_sort text,
    p_limit integer,
    p_offset integer
) returns jsonb
language plpgsql stable
set search_path = public, pg_temp
as $$
declare
    v_conn social_connections;
    v_start timestamptz := p_from::timestamp at time zone 'UTC';
    v_end timestamptz := (p_to + 1)::timestamp at time zone 'UTC';
    v_videos jsonb;
    v_total integer;
begin
    v_conn := tiktok_analytics_connection(p_firebase_uid, p_account_id);
    if v_conn.id is null then
        return null;
    end if;
    with vids as (
        select v, tiktok_video_velocity(v) as velocity,
               v.create_time as created, v.video_id
        from tiktok_videos v
        where v.connection_id = v_conn.id and v.create_time >= v_start and v.create_time < v_end
    ), grown as (
        select x.*, last_s.views as end_views, last_s.likes as end_likes,
               last_s.comments as end_comments, last_s.shares as end_shares
        from vids x
        left join lateral (
            select s.views, s.likes, s.comments, s.shares from tiktok_video_snapshots s
            where s.connection_id = v_conn.id and s.video_id = x.video_id and s.bucket < v_end
            order by s.bucket desc limit 1) last_s on true
    ), ranked as (
        select g.*, count(*) over () as total,
               row_number() over (order by
                   case p_sort when 'views' then (g.v).views
                               when 'growth' then g.end_views end desc nulls last,
                   case when p_sort = 'velocity' then g.velocity end desc nulls last,
                   g.created desc, g.video_id) as rank
        from grown g
    )
    select coalesce(jsonb_agg(tiktok_video_view(r.v) || jsonb_build_object(
               'growth', jsonb_build_object('views', r.end_views, 'likes', r.end_likes,
                                            'comments', r.end_comments, 'shares', r.end_shares))
               order by r.rank), '[]'::jsonb),
           max(r.total)
    into v_videos, v_total
    from ranked r
    where r.rank > p_offset and r.rank <= p_offset + p_limit;
    if v_total is null then
        select count(*) into v_total from tiktok_videos v
        where v.connection_id = v_conn.id and v.create_time >= v_start and v.create_time < v_end;
    end if;
    return jsonb_build_object(
        'account_id', v_conn.provider_account_id,
        'from', p_from,
        'to', p_to,
        'sort', p_sort,
        'videos', v_videos,
        'total', v_total,
        'next_cursor', case when p_offset + p_limit < v_total then (p_offset + p_limit)::text end,
        'unavailable', coalesce(tiktok_analytics_unavailable(v_conn, 'video.list'),
                                (select unavailable from tiktok_analytics_accounts where connection_id = v_conn.id)));
end $$;

-- GET .../analytics/videos/{video_id}: the video and its full series (hourly, then
-- daily points). {"video": null} when the video is not the account's; null when the
-- caller has no such connection.
create or replace function public.tiktok_video_analytics(
    p_firebase_uid text,
    p_account_id text,
    p_video_id text
) returns jsonb
language plpgsql stable
set search_path = public, pg_temp
as $$
declare
    v_conn social_connections;
    v_video tiktok_videos;
begin
    v_conn := tiktok_analytics_connection(p_firebase_uid, p_account_id);
    if v_conn.id is null then
        return null;
    end if;
    select * into v_video from tiktok_videos where connection_id = v_conn.id and video_id = p_video_id;
    if v_video.video_id is null then
        return jsonb_build_object('account_id', v_conn.provider_account_id, 'video', null);
    end if;
    return jsonb_build_object(
        'account_id', v_conn.provider_account_id,
        'video', tiktok_video_view(v_video),
        'series', coalesce((
            select jsonb_agg(jsonb_build_object('at', tiktok_utc(s.bucket),
                                                'granularity', case when s.hourly then 'hour' else 'day' end,
                                                'views', s.views, 'likes', s.likes,
                                                'comments', s.comments, 'shares', s.shares)
                             order by s.bucket)
            from tiktok_video_snapshots s
            where s.connection_id = v_conn.id and s.video_id = p_video_id), '[]'::jsonb),
        'synced_at', tiktok_utc(v_video.last_synced_at),
        'next_sync_at', tiktok_utc(v_video.next_sync_at),
        'unavailable', coalesce(tiktok_analytics_unavailable(v_conn, 'video.list'),
                                (select unavailable from tiktok_analytics_accounts where connection_id = v_conn.id)));
end $$;

revoke execute on function public.ensure_tiktok_analytics_partitions(timestamptz, timestamptz) from public, anon, authenticated;
revoke execute on function public.drop_tiktok_analytics_partitions(integer) from public, anon, authenticated;
revoke execute on function public.maintain_tiktok_analytics(integer) from public, anon, authenticated;
revoke execute on function public.take_tiktok_budget(text, integer, integer) from public, anon, authenticated;
revoke execute on function public.block_tiktok_budget(text, integer) from public, anon, authenticated;
revoke execute on function public.claim_tiktok_analytics(integer, integer, integer) from public, anon, authenticated;
revoke execute on function public.release_tiktok_analytics(bigint, text[], boolean, integer) from public, anon, authenticated;
revoke execute on function public.record_tiktok_videos(bigint, jsonb, jsonb, text[]) from public, anon, authenticated;
revoke execute on function public.record_tiktok_account(bigint, boolean, integer, integer, jsonb, text) from public, anon, authenticated;
revoke execute on function public.count_due_tiktok_analytics() from public, anon, authenticated;
revoke execute on function public.tiktok_analytics_connection(text, text) from public, anon, authenticated;
revoke execute on function public.tiktok_account_analytics(text, text, date, date) from public, anon, authenticated;
revoke execute on function public.tiktok_videos_analytics(text, text, date, date, text, integer, integer) from public, anon, authenticated;
revoke execute on function public.tiktok_video_analytics(text, text, text) from public, anon, authenticated;
grant execute on function public.ensure_tiktok_analytics_partitions(timestamptz, timestamptz) to service_role;
grant execute on function public.drop_tiktok_analytics_partitions(integer) to service_role;
grant execute on function public.maintain_tiktok_analytics(integer) to service_role;
grant execute on function public.take_tiktok_budget(text, integer, integer) to service_role;
grant execute on function public.block_tiktok_budget(text, integer) to service_role;
grant execute on function public.claim_tiktok_analytics(integer, integer, integer) to service_role;
grant execute on function public.release_tiktok_analytics(bigint, text[], boolean, integer) to service_role;
grant execute on function public.record_tiktok_videos(bigint, jsonb, jsonb, text[]) to service_role;
grant execute on function public.record_tiktok_account(bigint, boolean, integer, integer, jsonb, text) to service_role;
grant execute on function public.count_due_tiktok_analytics() to service_role;
grant execute on function public.tiktok_account_analytics(text, text, date, date) to service_role;
grant execute on function public.tiktok_videos_analytics(text, text, date, date, text, integer, integer) to service_role;
grant execute on function public.tiktok_video_analytics(text, text, text) to service_role;
