-- As in 20261207000031, with a held post's 24 hours checked when its slot comes, in the
-- claim itself: a post held since over 24 hours is FAILED (its cap's reason kept) instead
-- of claimed. The separate update of every HELD row over 24 hours read the whole index
-- of HELD posts at each claim (the scale benchmark's finding).
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

    with scheduled as (
        select id, coalesce(next_attempt_at, scheduled_at) as due_at, scheduled_at
        from tiktok_posts
        where status = 'SCHEDULED' and coalesce(next_attempt_at, scheduled_at) <= now()
        order by coalesce(next_attempt_at, scheduled_at)
        limit greatest(p_limit, 0)
        for update skip locked
    ), held as (
        select id, next_attempt_at as due_at, scheduled_at,
               coalesce(held_since, now()) < now() - interval '24 hours' as expired
        from tiktok_posts
        where status = 'HELD' and next_attempt_at <= now()
        order by next_attempt_at, scheduled_at
        limit greatest(p_limit, 0)
        for update skip locked
    ), failed as (
        update tiktok_posts p
        set status = 'FAILED', next_attempt_at = null
        from held
        where p.id = held.id and held.expired
        returning p.id
    ), due as (
        select id from (
            select id, due_at, scheduled_at from scheduled
            union all
            select id, due_at, scheduled_at from held where not expired
        ) candidates
        order by due_at, scheduled_at
        limit greatest(p_limit, 0)
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
                              order by coalesce(c.next_attempt_at, c.scheduled_at), c.scheduled_at),
                    '[]'::jsonb)
    into v_claimed
    from claimed c
    left join social_connections s on s.id = c.connection_id;
    return v_claimed;
end $$;

drop index if exists public.tiktok_posts_held_since_idx;
