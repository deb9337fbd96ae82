-- Review fixes of 0037 and 0038.
--
-- * 0037 let the posts' touch skip every update that changed nothing, but a status read
--   rewrites a post unchanged on purpose: its updated_at is what the unsettled-post sweep
--   orders by (coalesce(settle_at, updated_at)), and a read postpones the next look. The
--   touch again skips only an update that changes video_metrics and nothing else; the
--   sync's own same-totals rewrite (two syncs of a video in one second) is dropped before
--   it, as the no-op it is.
-- * 0038 kept riders off what another claim leased by comparing with this claim's lease
--   end, fixed at its transaction's start: a claim that began a moment later and
--   committed first leased past it, and its videos could still ride here. The comparison
--   reads the clock as each row is checked (after any wait for its lock's holder).

drop trigger if exists tiktok_posts_touch_updated_at on public.tiktok_posts;
create trigger tiktok_posts_touch_updated_at before update on public.tiktok_posts
    for each row
    when (not (old.video_metrics is distinct from new.video_metrics
               and (to_jsonb(old) - 'video_metrics' - 'updated_at') = (to_jsonb(new) - 'video_metrics' - 'updated_at')))
    execute function public.touch_updated_at();

-- An update that names video_metrics and changes nothing is not made (BEFORE triggers
-- fire by name: this one before the touch).
create or replace function public.tiktok_posts_skip_same_metrics() returns trigger
language plpgsql as $$
begin
    return null;
end $$;
revoke execute on function public.tiktok_posts_skip_same_metrics() from public, anon, authenticated;
drop trigger if exists tiktok_posts_skip_same_metrics on public.tiktok_posts;
create trigger tiktok_posts_skip_same_metrics before update of video_metrics on public.tiktok_posts
    for each row
    when (to_jsonb(old) - 'updated_at' = to_jsonb(new) - 'updated_at')
    execute function public.tiktok_posts_skip_same_metrics();

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
        -- as its last query has room for: a rider never costs a query of its own. Not one
        -- due within a lease from now (the clock's, read as each row is checked): that is
        -- where a claim puts what it leased, and another worker's leased video would be
        -- asked for twice.
        select r.connection_id, r.video_id from (
            select connection_id, count(*) as n from judged where no_list is null
            group by connection_id) k
        cross join lateral (
            select v.connection_id, v.video_id from tiktok_videos v
            where v.connection_id = k.connection_id and v.next_sync_at <= v_now + interval '1 hour'
              and (v.next_sync_at <= v_now
                   or v.next_sync_at > clock_timestamp() + make_interval(secs => p_lease_seconds))
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
