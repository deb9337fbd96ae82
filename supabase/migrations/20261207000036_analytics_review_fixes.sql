-- Fixes of the analytics sync found in review.
--
-- * A video's first daily point fell on its first day's midnight hourly point (same
--   bucket, the day's start): it overwrote that hour's totals and showed as an hourly
--   point. The snapshots' key takes the granularity, so both are kept.
-- * A connection granted one of video.list and user.info.stats was claimed again at once,
--   forever: the half it cannot do kept its past due time, and the account's due time is
--   the earlier half's. That half is now pushed a day on, as a connection with neither is.
-- * An account's discovery stops at a video it knows only once a discovery has listed
--   it to its end (listed_at, 'walked' in the claim): a first discovery cut short by the
--   budget, or a video linked from a post before any discovery, stopped every later one
--   at the first page, and the older videos were never found.
-- * A connection's videos due within the hour ride along with its due ones into exactly
--   the free ids of the queries those need. They were the connection's 20 earliest, the
--   due ones themselves first, so 25 due went out as 20 and 5 ids, the second query's
--   15 free ids unused.

alter table public.tiktok_video_snapshots drop constraint if exists tiktok_video_snapshots_pkey;
alter table public.tiktok_video_snapshots add primary key (connection_id, video_id, bucket, hourly);

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
        -- The half a connection cannot do (one of the two scopes missing) is pushed a day
        -- on like a skipped account's, or its past due time would bring it back at once.
        update tiktok_analytics_accounts a set
            due_at = v_lease,
            list_due_at = case when j.no_list is not null
                               then greatest(a.list_due_at, v_now + interval '1 day') else a.list_due_at end,
            stats_due_at = case when j.no_stats is not null
                                then greatest(a.stats_due_at, v_now + interval '1 day') else a.stats_due_at end
        from judged j
        where a.connection_id = j.connection_id and (j.no_list is null or j.no_stats is null)
        returning a.connection_id, a.list_due_at, a.stats_due_at, a.listed_at, j.conn, j.no_list, j.no_stats
    )
    select coalesce(jsonb_agg(jsonb_build_object(
               'connection', to_jsonb(t.conn) - 'metadata',
               'list', t.no_list is null and t.list_due_at <= v_now,
               'stats', t.no_stats is null and t.stats_due_at <= v_now,
               'walked', t.listed_at is not null)), '[]'::jsonb)
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
        -- The connection's other videos due within the hour, unlocked ones only, as many
        -- as its last query has room for: a rider never costs a query of its own.
        select r.connection_id, r.video_id from (
            select connection_id, count(*) as n from judged where no_list is null
            group by connection_id) k
        cross join lateral (
            select v.connection_id, v.video_id from tiktok_videos v
            where v.connection_id = k.connection_id and v.next_sync_at <= v_now + interval '1 hour'
              and v.deleted_at is null
              and not exists (select 1 from judged j
                              where j.connection_id = v.connection_id and j.video_id = v.video_id)
            order by v.next_sync_at
            limit (20 - k.n % 20) % 20
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
    v_new integer := 0;
    v_known integer := 0;
    v_deleted integer := 0;
begin
    perform ensure_tiktok_analytics_partitions(v_now, v_now);
    with items as (
        -- One row per id (an id twice in an answer would be one upsert's row twice).
        select distinct on (x ->> 'id') x ->> 'id' as id, x as item,
               case when jsonb_typeof(x -> 'create_time') = 'number'
                    then to_timestamp((x ->> 'create_time')::double precision) end as created
        from jsonb_array_elements(coalesce(p_videos, '[]'::jsonb)) x
        where coalesce(x ->> 'id', '') <> ''
        order by x ->> 'id'
    ), up as (
        insert into tiktok_videos as v (connection_id, video_id, create_time, title, description, duration,
                                        cover_image_url, share_url, views, likes, comments, shares,
                                        last_synced_at, tier, next_sync_at, views_24h)
        select p_connection_id, i.id, i.created, i.item ->> 'title', i.item ->> 'video_description',
               (i.item ->> 'duration')::integer, i.item ->> 'cover_image_url', i.item ->> 'share_url',
               (i.item ->> 'view_count')::bigint, (i.item ->> 'like_count')::bigint,
               (i.item ->> 'comment_count')::bigint, (i.item ->> 'share_count')::bigint, v_now,
               s.tier, s.next_sync_at, case when s.hourly then (i.item ->> 'view_count')::bigint end
        from items i cross join lateral tiktok_video_schedule(p_cadence, i.created, v_now) s
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
            deleted_at = null,
            (tier, next_sync_at, views_24h) = (
                select s.tier, s.next_sync_at,
                       case when s.hourly then coalesce(excluded.views, v.views, v.views_24h) else v.views_24h end
                from tiktok_video_schedule(p_cadence, coalesce(excluded.create_time, v.create_time), v_now) s)
        returning v as video, (xmax = 0) as inserted
    ), snapshots as (
        insert into tiktok_video_snapshots as s (connection_id, video_id, bucket, hourly,
                                                 views, likes, comments, shares, captured_at)
        select p_connection_id, i.id, date_trunc(case when h.hourly then 'hour' else 'day' end, v_now, 'UTC'),
               h.hourly, (i.item ->> 'view_count')::bigint, (i.item ->> 'like_count')::bigint,
               (i.item ->> 'comment_count')::bigint, (i.item ->> 'share_count')::bigint, v_now
        from up u
        join items i on i.id = (u.video).video_id
        cross join lateral tiktok_video_schedule(p_cadence, (u.video).create_time, v_now) h
        on conflict (connection_id, video_id, bucket, hourly) do update set
            views = coalesce(excluded.views, s.views),
            likes = coalesce(excluded.likes, s.likes),
            comments = coalesce(excluded.comments, s.comments),
            shares = coalesce(excluded.shares, s.shares),
            captured_at = excluded.captured_at
    ), posts as (
        update tiktok_posts p set video_metrics = tiktok_video_totals(u.video)
        from up u
        where p.connection_id = p_connection_id and p.video_id = (u.video).video_id
    )
    select count(*) filter (where u.inserted), count(*) filter (where not u.inserted)
    into v_new, v_known
    from up u;

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
