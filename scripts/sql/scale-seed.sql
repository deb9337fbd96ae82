-- The scale benchmark's data set (scripts/scale_bench.py), in proportion to
-- :connections: users with 1-3 accounts mostly, 2% of them with 50; 90% of the
-- connections TikTok; one post per TikTok connection and half as many webhook events.
-- Deterministic names, so the benchmark's requests can address rows:
--   user g: firebase_uid 'uid-g', email 'user-g@example.com';
--   its k-th connection (k from 1): provider_account_id 'tk-g-k' (TikTok) or 'yt-g-k';
--   the post of connection c: publish_id 'v_pub_c'.
-- Triggers are off while seeding (the rows keep their rules by construction).

\set ON_ERROR_STOP on
set session_replication_role = replica;

insert into users (id, firebase_uid, email, email_verified, full_name, auth_provider, created_at)
select g, 'uid-' || g, 'user-' || g || '@example.com', g % 3 = 0, 'User ' || g,
       case when g % 2 = 0 then 'tiktok.com' else 'password' end,
       now() - (g % 1000) * interval '1 hour'
from generate_series(1, :users) g;
select setval(pg_get_serial_sequence('users', 'id'), :users);

-- Heavy users (every 50th) connect 50 accounts; the rest 1-3, a tenth of them 4 more.
insert into social_connections (
    id, user_id, provider, provider_account_id, access_token, refresh_token, expires_at,
    refresh_expires_at, scope, account_label, is_primary, sign_in_enabled, metadata,
    refreshed_at, created_at, updated_at)
select row_number() over (order by g, k), g,
       case when k % 10 = 0 then 'youtube' else 'tiktok' end,
       case when k % 10 = 0 then 'yt-' else 'tk-' end || g || '-' || k,
       'gAAAAAB' || md5(g || '-' || k || 'a') || repeat('x', 120),
       'gAAAAAB' || md5(g || '-' || k || 'r') || repeat('y', 120),
       now() + interval '2 hours',
       now() + ((g + k) % 200) * interval '1 day',
       'user.info.basic,user.info.profile,user.info.stats,video.list,video.publish,video.upload',
       'Account ' || k, k = 1, k = 1,
       jsonb_build_object('profile', jsonb_build_object('display_name', 'Creator ' || g || '-' || k)),
       now() - ((g * 7 + k) % 48) * interval '1 hour',
       now() - ((g + k) % 500) * interval '1 hour',
       now() - ((g + k) % 100) * interval '1 hour'
from generate_series(1, :users) g
cross join lateral generate_series(1,
    case when g % 50 = 0 then 50 else 1 + g % 3 + case when g % 10 = 9 then 4 else 0 end end) k
limit :connections;
select setval(pg_get_serial_sequence('social_connections', 'id'),
              (select max(id) from social_connections));

insert into tiktok_posts (user_id, connection_id, open_id, publish_id, mode, source_type,
                          status, public_post_ids, created_at)
select user_id, id, provider_account_id, 'v_pub_' || id,
       case when id % 5 = 0 then 'inbox' else 'direct' end,
       case when id % 3 = 0 then 'url' else 'upload' end,
       case id % 7 when 0 then 'FAILED' when 1 then 'PROCESSING_UPLOAD' else 'PUBLISH_COMPLETE' end,
       case when id % 7 > 1 then jsonb_build_array((7300000000000000000 + id)::text) else '[]'::jsonb end,
       now() - (id % 720) * interval '1 hour'
from social_connections where provider = 'tiktok';

-- One scheduled post per TikTok connection (the calendar), over the next year: the
-- first 20 connections' are due now and the next 20's UNCONFIRMED (the same at every
-- size, so the dispatcher's claims do the same work), every 20th cancelled.
insert into tiktok_posts (user_id, connection_id, open_id, mode, source_type, status,
                          fail_reason, scheduled_at, attempted_at, attempts, request, created_at)
select user_id, id, provider_account_id, 'direct', 'url',
       case when id <= 20 then 'SCHEDULED' when id <= 40 then 'UNCONFIRMED'
            when id % 20 = 0 then 'CANCELLED' else 'SCHEDULED' end,
       case when id > 20 and id <= 40 then 'init_outcome_unknown' end,
       case when id <= 40 then now() - interval '1 minute'
            else now() + (1 + id % 525600) * interval '1 minute' end,
       case when id > 20 and id <= 40 then now() - interval '1 minute' end,
       case when id > 20 and id <= 40 then 1 else 0 end,
       jsonb_build_object('mode', 'direct', 'source', jsonb_build_object('type', 'url',
           'video_url', 'https://media.example.com/verified/' || id || '.mp4'),
           'post_info', jsonb_build_object('title', 'Post ' || id, 'privacy_level', 'SELF_ONLY')),
       now() - (id % 720) * interval '1 hour'
from social_connections where provider = 'tiktok';

insert into tiktok_webhook_events (event_key, event, user_openid, create_time, content, received_at)
select md5('event-' || id), 'post.publish.complete', provider_account_id,
       extract(epoch from now())::bigint - id % 86400,
       jsonb_build_object('publish_id', 'v_pub_' || id),
       now() - (id % 72) * interval '1 hour'
from social_connections where provider = 'tiktok' and id % 2 = 0;

-- Authorizations in progress: one user in thirty has one open.
insert into oauth_states (state_hash, intent, firebase_uid, redirect_uri, scopes, code_verifier,
                          client_address, created_at, expires_at)
select md5('state-' || g), case when g % 2 = 0 then 'link' else 'sign_in' end,
       case when g % 2 = 0 then 'uid-' || g end, 'https://app.example.com/connect/tiktok',
       'user.info.basic', 'gAAAAB' || md5('v' || g), '10.' || (g % 250) || '.' || (g / 250 % 250) || '.1',
       now() - (g % 600) * interval '1 second', now() + interval '10 minutes' - (g % 600) * interval '1 second'
from generate_series(1, :users / 30) g;

-- Analytics. Every TikTok connection has its sync row (due over the next hour and day)
-- and 30 tracked videos, one each 4 days back (video v of connection c is v * 96 +
-- c % 96 hours old: its cadence tier and next sync as the sync leaves them; one in a
-- hundred due now). Connection c's video v is '74' || c * 100 + v.
insert into tiktok_analytics_accounts (connection_id, list_due_at, stats_due_at, due_at, listed_at, stats_synced_at)
select id, now() + (id % 3600) * interval '1 second', now() + (id % 86400) * interval '1 second',
       now() + (id % 3600) * interval '1 second', now() - interval '1 hour', now() - interval '1 day'
from social_connections where provider = 'tiktok';

insert into tiktok_videos (connection_id, video_id, create_time, title, description, duration,
                           share_url, views, likes, comments, shares, views_24h, first_seen_at,
                           last_synced_at, next_sync_at, tier)
select c.id, '74' || (c.id * 100 + v), now() - age, 'Video ' || v, 'About video ' || v, 15 + v,
       'https://www.tiktok.com/@x/video/74' || (c.id * 100 + v),
       1000 * (v + 1) + c.id % 977, 50 * (v + 1), 5 * v, v,
       case when age >= interval '24 hours' then 500 + (c.id * 31 + v * 17) % 1500 end,
       now() - age, now() - interval '10 minutes',
       case when (c.id + v) % 100 = 0 then now() - interval '1 minute'
            when age < interval '24 hours' then now() + interval '50 minutes'
            when age < interval '7 days' then now() + interval '5 hours'
            when age < interval '30 days' then now() + interval '20 hours'
            when age < interval '90 days' then now() + interval '6 days' end,
       case when age < interval '24 hours' then 0 when age < interval '7 days' then 1
            when age < interval '30 days' then 2 when age < interval '90 days' then 3 else 4 end
from social_connections c
cross join generate_series(0, 29) v
cross join lateral (select (v * 96 + c.id % 96) * interval '1 hour' as age) a
where c.provider = 'tiktok';

-- Their history for one connection in a hundred (the reads ask these): a point an hour in
-- each video's first day, then a day, up to 90 days; and 90 days of the account's stats.
select ensure_tiktok_analytics_partitions(now() - interval '130 days', now());
insert into tiktok_video_snapshots (connection_id, video_id, bucket, hourly, views, likes, comments, shares, captured_at)
select v.connection_id, v.video_id, b.bucket, b.hourly,
       (v.views * least(1, extract(epoch from b.bucket - v.create_time) / 8640000 + 0.1))::bigint,
       v.likes / 2, v.comments / 2, v.shares / 2, b.bucket
from tiktok_videos v
cross join lateral (
    select date_trunc('hour', v.create_time) + h * interval '1 hour' as bucket, true as hourly
    from generate_series(1, 24) h
    union all
    select date_trunc('day', v.create_time) + d * interval '1 day', false
    from generate_series(1, least(90, extract(day from now() - v.create_time)::int)) d
) b
where v.connection_id % 100 = 0 and b.bucket <= now()
-- A first day's last hour can be the next day's start.
on conflict do nothing;

insert into tiktok_account_snapshots (connection_id, day, followers, following, likes, videos, captured_at)
select c.id, current_date - d, 10000 + c.id % 1000 - d * 7, 100, 50000 - d * 40, 30 - d / 4, now() - d * interval '1 day'
from social_connections c cross join generate_series(0, 89) d
where c.provider = 'tiktok' and c.id % 100 = 0;

set session_replication_role = origin;
vacuum analyze;
