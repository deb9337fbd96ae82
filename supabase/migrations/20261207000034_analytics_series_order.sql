-- A video's series is in the order its points were captured, each at its capture time:
-- a day's point (kept at the day's start, where the next sync that day overwrites it) of
-- a video past its first 24 hours was otherwise placed before that day's last hourly
-- points, as if its views had fallen back. The due count (the run summary's `remaining`)
-- stops at 100 per kind, as the sweep's does: at a million accounts it read thousands of
-- index entries for a figure of the log line.

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
            select jsonb_agg(jsonb_build_object('at', tiktok_utc(s.captured_at),
                                                'granularity', case when s.hourly then 'hour' else 'day' end,
                                                'views', s.views, 'likes', s.likes,
                                                'comments', s.comments, 'shares', s.shares)
                             order by s.captured_at, s.bucket)
            from tiktok_video_snapshots s
            where s.connection_id = v_conn.id and s.video_id = p_video_id), '[]'::jsonb),
        'synced_at', tiktok_utc(v_video.last_synced_at),
        'next_sync_at', tiktok_utc(v_video.next_sync_at),
        'unavailable', coalesce(tiktok_analytics_unavailable(v_conn, 'video.list'),
                                (select unavailable from tiktok_analytics_accounts where connection_id = v_conn.id)));
end $$;

create or replace function public.count_due_tiktok_analytics() returns bigint
language sql stable
set search_path = public, pg_temp
as $$
    select (select count(*) from (
               select 1 from generate_series(0, 7) t
               cross join lateral (select 1 from tiktok_videos
                                   where tier = t and next_sync_at <= now() limit 100) d
               limit 100) v)
         + (select count(*) from (
               select 1 from tiktok_analytics_accounts where due_at <= now() limit 100) a)
$$;
