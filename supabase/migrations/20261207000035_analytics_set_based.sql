-- The sync's write and the single-video read, cheaper as the tables grow.
--
-- * record_tiktok_videos records a whole answer (up to 20 videos) in four statements
--   instead of five per video: one upsert of the videos with their cadence, one of their
--   snapshots, one update of the posts they came from, and the deletions. Same results:
--   a value TikTok did not send never overwrites a known one, the bucket is the video's
--   hour in its first 24 hours (by its create time after the merge), else its day.
-- * tiktok_video_analytics reads the video's series only from the partitions that can
--   hold it: a video's snapshots are never older than its creation, nor than the day it
--   was first seen (the sync writes them at or after that), so the months before are
--   pruned instead of probed (one index probe per month of retention, 14 by default).

-- A video's cadence at p_now: its tier, when it is next due (null: never again), and
-- whether its snapshots are hourly (its first age step) or daily.
create or replace function public.tiktok_video_schedule(p_cadence jsonb, p_created timestamptz, p_now timestamptz)
returns table (tier smallint, next_sync_at timestamptz, hourly boolean)
language sql immutable
as $$
    select coalesce(s.tier, jsonb_array_length(p_cadence)::smallint),
           p_now + make_interval(secs => s.every_seconds),
           coalesce(a.age < (p_cadence -> 0 ->> 0)::double precision, false)
    from (select extract(epoch from p_now - coalesce(p_created, p_now))::double precision as age) a
    left join lateral tiktok_cadence_step(p_cadence, a.age) s on true
$$;

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
        on conflict (connection_id, video_id, bucket) do update set
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
    v_since timestamptz;
begin
    v_conn := tiktok_analytics_connection(p_firebase_uid, p_account_id);
    if v_conn.id is null then
        return null;
    end if;
    select * into v_video from tiktok_videos where connection_id = v_conn.id and video_id = p_video_id;
    if v_video.video_id is null then
        return jsonb_build_object('account_id', v_conn.provider_account_id, 'video', null);
    end if;
    -- A day's margin: a bucket is truncated in UTC, whatever the session's time zone.
    v_since := date_trunc('day', least(coalesce(v_video.create_time, v_video.first_seen_at),
                                       v_video.first_seen_at)) - interval '1 day';
    return jsonb_build_object(
        'account_id', v_conn.provider_account_id,
        'video', tiktok_video_view(v_video),
        'series', coalesce((
            select jsonb_agg(jsonb_build_object('at', tiktok_utc(s.captured_at),
                                                'granularity', case when s.hourly then 'hour' else 'day' end,
                                                'views', s.views, 'likes', s.likes,
                                                'comments', s.comments, 'shares', s.shares)
                             order by s.captured_at, s.bucket)
            from tiktok_video_snapshots s
            where s.connection_id = v_conn.id and s.video_id = p_video_id and s.bucket >= v_since), '[]'::jsonb),
        'synced_at', tiktok_utc(v_video.last_synced_at),
        'next_sync_at', tiktok_utc(v_video.next_sync_at),
        'unavailable', coalesce(tiktok_analytics_unavailable(v_conn, 'video.list'),
                                (select unavailable from tiktok_analytics_accounts where connection_id = v_conn.id)));
end $$;

revoke execute on function public.tiktok_video_schedule(jsonb, timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function public.tiktok_video_schedule(jsonb, timestamptz, timestamptz) to service_role;
