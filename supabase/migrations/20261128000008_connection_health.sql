-- Connection health: TikTok's signed webhooks (authorization.removed revokes a
-- connection and clears its tokens) and a scheduled keep-alive refresher that claims
-- due connections in batches (FOR UPDATE SKIP LOCKED plus a short lease), so any number
-- of concurrent runs share the work and never refresh one connection twice.

alter table public.social_connections
    add column if not exists revoked_at timestamptz,
    add column if not exists revoked_reason smallint check (revoked_reason between 0 and 5),
    add column if not exists refreshed_at timestamptz,
    add column if not exists refresh_claimed_until timestamptz;

-- Until now, the last token write is the best guess of the last refresh.
update public.social_connections
set refreshed_at = coalesce(updated_at, created_at, now())
where refreshed_at is null;
alter table public.social_connections alter column refreshed_at set default now();

-- What the sweep reads: due TikTok connections by last refresh (partial: dead and
-- revoked grants are not in it).
create index if not exists social_connections_refresh_due_idx
    on public.social_connections (refreshed_at)
    where provider = 'tiktok' and revoked_at is null and reauth_required_at is null
      and refresh_token is not null;

-- New tokens (a refresh, a reconnect) mean a live grant: the revocation and any claim
-- end, and the refresh time is now.
create or replace function public.track_token_writes() returns trigger
language plpgsql as $$
begin
    if new.access_token is distinct from old.access_token and coalesce(new.access_token, '') <> '' then
        new.revoked_at := null;
        new.revoked_reason := null;
        new.refresh_claimed_until := null;
        if new.refresh_token is distinct from old.refresh_token then
            new.refreshed_at := now();
        end if;
    end if;
    return new;
end $$;
drop trigger if exists social_connections_track_token_writes on public.social_connections;
create trigger social_connections_track_token_writes before update on public.social_connections
    for each row execute function public.track_token_writes();
revoke execute on function public.track_token_writes() from public, anon, authenticated;

-- Every webhook delivery, once (TikTok delivers at least once, for 72 hours).
create table if not exists public.tiktok_webhook_events (
    id bigint generated always as identity primary key,
    event_key text not null unique,
    event text not null,
    user_openid text,
    create_time bigint,
    content jsonb not null default '{}'::jsonb,
    received_at timestamptz not null default now()
);
create index if not exists tiktok_webhook_events_received_idx on public.tiktok_webhook_events (received_at);
alter table public.tiktok_webhook_events enable row level security;
revoke all on public.tiktok_webhook_events from anon, authenticated;

-- Records a delivery and acts on it, once: {duplicate, revoked} (revoked: connections
-- of that open_id revoked by authorization.removed, their tokens cleared).
create or replace function public.record_tiktok_webhook(
    p_event_key text,
    p_event text,
    p_user_openid text default null,
    p_create_time bigint default null,
    p_content jsonb default '{}'::jsonb
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_id bigint;
    v_revoked integer := 0;
    v_reason smallint;
begin
    insert into tiktok_webhook_events (event_key, event, user_openid, create_time, content)
    values (p_event_key, p_event, p_user_openid, p_create_time, coalesce(p_content, '{}'::jsonb))
    on conflict (event_key) do nothing
    returning id into v_id;
    if v_id is null then
        return jsonb_build_object('duplicate', true, 'revoked', 0);
    end if;
    if p_event = 'authorization.removed' and p_user_openid is not null then
        v_reason := case when (p_content ->> 'reason') ~ '^[0-5]$'
                         then (p_content ->> 'reason')::smallint else 0 end;
        update social_connections
        set revoked_at = now(), revoked_reason = v_reason,
            access_token = '', refresh_token = null, refresh_claimed_until = null
        where provider = 'tiktok' and provider_account_id = p_user_openid;
        get diagnostics v_revoked = row_count;
    end if;
    return jsonb_build_object('duplicate', false, 'revoked', v_revoked);
end $$;

-- Claims up to p_limit TikTok connections last refreshed before p_stale_before, for
-- p_lease_seconds: rows another run holds (locked or leased) are skipped.
create or replace function public.claim_due_connections(
    p_limit integer,
    p_stale_before timestamptz,
    p_lease_seconds integer default 900
) returns jsonb
language sql
set search_path = public, pg_temp
as $$
    with due as (
        select id from social_connections
        where provider = 'tiktok' and revoked_at is null and reauth_required_at is null
          and refresh_token is not null and refresh_token <> ''
          and refreshed_at < p_stale_before
          and (refresh_expires_at is null or refresh_expires_at > now())
          and (refresh_claimed_until is null or refresh_claimed_until < now())
        order by refreshed_at
        limit p_limit
        for update skip locked
    ), claimed as (
        update social_connections c
        set refresh_claimed_until = now() + make_interval(secs => p_lease_seconds)
        from due where c.id = due.id
        returning c.*
    )
    select coalesce(jsonb_agg(to_jsonb(claimed)), '[]'::jsonb) from claimed;
$$;

-- How many TikTok connections are still due (the sweep's summary).
create or replace function public.count_due_connections(p_stale_before timestamptz)
returns bigint
language sql stable
set search_path = public, pg_temp
as $$
    select count(*) from social_connections
    where provider = 'tiktok' and revoked_at is null and reauth_required_at is null
      and refresh_token is not null and refresh_token <> ''
      and refreshed_at < p_stale_before
      and (refresh_expires_at is null or refresh_expires_at > now());
$$;

-- The account pages' view: `revoked` (with TikTok's reason) and `expiring` (the refresh
-- token ends within 14 days: ask the user to reconnect in time).
create or replace function public.connection_view(c public.social_connections) returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
    select jsonb_build_object(
        'id', c.id,
        'provider', c.provider,
        'provider_account_id', c.provider_account_id,
        'account_label', c.account_label,
        'account_type', c.account_type,
        'is_primary', coalesce(c.is_primary, false),
        'sign_in_enabled', c.sign_in_enabled,
        'expires_at', c.expires_at,
        'refresh_expires_at', c.refresh_expires_at,
        'scope', c.scope,
        'status', case
            when c.revoked_at is not null then 'revoked'
            when c.reauth_required_at is not null then 'reauth_required'
            when c.refresh_expires_at is not null and c.refresh_expires_at <= now() then 'reauth_required'
            when c.expires_at is not null and c.expires_at <= now()
                 and nullif(c.refresh_token, '') is null then 'reauth_required'
            when c.refresh_expires_at is not null
                 and c.refresh_expires_at <= now() + interval '14 days' then 'expiring'
            when c.expires_at is not null and c.expires_at <= now() then 'expired'
            else 'active' end,
        'revoked_reason', case c.revoked_reason
            when 0 then 'unknown' when 1 then 'user_disconnected' when 2 then 'account_deleted'
            when 3 then 'age_changed' when 4 then 'account_banned' when 5 then 'developer_revoked'
            end,
        'display_name', c.metadata -> 'profile' ->> 'display_name',
        'avatar_url', c.metadata -> 'profile' ->> 'avatar_url',
        'created_at', c.created_at,
        'updated_at', c.updated_at);
$$;

revoke execute on function public.record_tiktok_webhook(text, text, text, bigint, jsonb) from public, anon, authenticated;
revoke execute on function public.claim_due_connections(integer, timestamptz, integer) from public, anon, authenticated;
revoke execute on function public.count_due_connections(timestamptz) from public, anon, authenticated;
grant execute on function public.record_tiktok_webhook(text, text, text, bigint, jsonb) to service_role;
grant execute on function public.claim_due_connections(integer, timestamptz, integer) to service_role;
grant execute on function public.count_due_connections(timestamptz) to service_role;
