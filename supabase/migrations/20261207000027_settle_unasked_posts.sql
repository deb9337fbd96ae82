-- Posts no one asks about are settled too: where TikTok's webhooks do not come (or come
-- late), the dispatcher asks TikTok for the status of a post still on its way
-- (PROCESSING_*, SEND_TO_USER_INBOX) at most every 5 minutes, for its first day, as a
-- read of the post would. `settle_at` is when it was last asked ('infinity': no more).

alter table public.tiktok_posts add column if not exists settle_at timestamptz;
create index if not exists tiktok_posts_unsettled_idx
    on public.tiktok_posts ((coalesce(settle_at, updated_at)))
    where publish_id is not null
      and status in ('PROCESSING_UPLOAD', 'PROCESSING_DOWNLOAD', 'SEND_TO_USER_INBOX');

-- Claims up to p_limit posts on their way not asked about for p_every_seconds (a media
-- upload still being sent is the upload's): [{post, connection}], each marked asked now.
create or replace function public.claim_unsettled_tiktok_posts(p_limit integer, p_every_seconds integer)
returns jsonb
language sql
set search_path = public, pg_temp
as $$
    with due as (
        select id from tiktok_posts
        where publish_id is not null
          and status in ('PROCESSING_UPLOAD', 'PROCESSING_DOWNLOAD', 'SEND_TO_USER_INBOX')
          and coalesce(settle_at, updated_at) <= now() - make_interval(secs => greatest(p_every_seconds, 1))
          and not (source_type = 'media' and coalesce(uploaded_bytes, 0) < coalesce((upload ->> 'video_size')::bigint, 0))
        order by coalesce(settle_at, updated_at)
        limit greatest(p_limit, 0)
        for update skip locked
    ), claimed as (
        update tiktok_posts p set settle_at = now()
        from due where p.id = due.id
        returning p.*
    )
    select coalesce(jsonb_agg(jsonb_build_object('post', to_jsonb(c), 'connection', to_jsonb(s))), '[]'::jsonb)
    from claimed c
    left join social_connections s on s.id = c.connection_id;
$$;

-- No more asking for this post (a day old, its account gone, or TikTok no longer knows
-- its publish id): it stays as last known, and webhooks still move it on.
create or replace function public.stop_settling_tiktok_post(p_id uuid)
returns void
language sql
set search_path = public, pg_temp
as $$
    update tiktok_posts set settle_at = 'infinity' where id = p_id;
$$;

revoke execute on function public.claim_unsettled_tiktok_posts(integer, integer) from public, anon, authenticated;
revoke execute on function public.stop_settling_tiktok_post(uuid) from public, anon, authenticated;
grant execute on function public.claim_unsettled_tiktok_posts(integer, integer) to service_role;
grant execute on function public.stop_settling_tiktok_post(uuid) to service_role;
