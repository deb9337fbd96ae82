-- The capacity ledger counts status calls too: TikTok allows 30 status fetches a minute
-- per creator (several tabs polling a post, and the dispatcher settling it, share them).
-- A status call is counted before it is sent; over the minute's 30 it is not sent, and
-- the post is answered as last known (webhooks keep moving it on).

alter table public.tiktok_post_ledger add column if not exists kind text not null default 'init';
alter table public.tiktok_post_ledger drop constraint if exists tiktok_post_ledger_kind_known;
alter table public.tiktok_post_ledger add constraint tiktok_post_ledger_kind_known
    check (kind in ('init', 'status'));

-- Counts a status call of the creator's when the minute has room: true when it may go.
create or replace function public.reserve_tiktok_status_call(p_connection_id bigint)
returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_calls integer;
begin
    perform pg_advisory_xact_lock(hashtextextended('tiktok_post_ledger', p_connection_id));
    select count(*) into v_calls from tiktok_post_ledger
    where connection_id = p_connection_id and kind = 'status'
      and at > now() - interval '60 seconds';
    if v_calls >= 30 then
        return false;
    end if;
    delete from tiktok_post_ledger
    where connection_id = p_connection_id and at < now() - interval '25 hours';
    insert into tiktok_post_ledger (connection_id, mode, kind) values (p_connection_id, 'direct', 'status');
    return true;
end $$;

-- As in 20261207000029, counting inits only (status calls have their own minute), with
-- the status calls of the last minute in the answer.
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
    v_status_calls integer;
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
          where connection_id = p_connection_id and kind = 'init'
            and at > v_now - interval '60 seconds'
          order by at desc limit 6) recent;
    if v_inits >= 6 then
        v_blocked := array_append(v_blocked, 'init_rate');
        v_slots := v_slots || v_init_slot;
    end if;
    select count(*) into v_status_calls from tiktok_post_ledger
    where connection_id = p_connection_id and kind = 'status'
      and at > v_now - interval '60 seconds';

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
              where at > v_now - interval '24 hours' and kind = 'init'
                and connection_id <> p_connection_id
              group by connection_id) others;
        if v_users >= 5 and not exists (
            select 1 from tiktok_post_ledger
            where connection_id = p_connection_id and kind = 'init'
              and at > v_now - interval '24 hours'
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
        'status_calls_last_minute', v_status_calls,
        'pending_inbox_shares', v_pending,
        'posts_last_24h', v_posts,
        'observed_daily_cap', v_cap,
        'app_audited', v_audited);
end $$;

-- As in 20261207000029: the creator's latest init (not a status call) is given back.
create or replace function public.release_tiktok_init(p_connection_id bigint)
returns void
language sql
set search_path = public, pg_temp
as $$
    delete from tiktok_post_ledger
    where ctid = (select ctid from tiktok_post_ledger
                  where connection_id = p_connection_id and kind = 'init'
                  order by at desc limit 1);
$$;

revoke execute on function public.reserve_tiktok_status_call(bigint) from public, anon, authenticated;
grant execute on function public.reserve_tiktok_status_call(bigint) to service_role;
