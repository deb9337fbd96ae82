-- One refresh of a connection at a time. The sweep's batch claim kept concurrent sweep
-- runs apart, but an on-demand refresh (a user's request) took no lock: it could send
-- the same refresh token to TikTok while the sweep, or another request, was doing so.
-- The compare-and-swap kept the stored pair right, yet TikTok saw two refreshes.
--
-- Whoever is about to call TikTok's refresh now takes `refreshing_until` first (a short
-- lease, held only while one refresh is in flight; the batch claim stays the sweep's way
-- of sharing work and never blocks a user's request). New tokens end the lease; a failed
-- refresh ends it explicitly, and a crashed one lapses after the lease.

alter table public.social_connections add column if not exists refreshing_until timestamptz;

create or replace function public.begin_refresh(
    p_id bigint,
    p_refresh_token text,
    p_lease_seconds integer default 30
) returns boolean
language sql
set search_path = public, pg_temp
as $$
    with taken as (
        update social_connections
        set refreshing_until = now() + make_interval(secs => p_lease_seconds)
        where id = p_id and refresh_token = p_refresh_token
          and (refreshing_until is null or refreshing_until < now())
        returning 1
    )
    select exists (select 1 from taken);
$$;

create or replace function public.end_refresh(p_id bigint, p_refresh_token text)
returns void
language sql
set search_path = public, pg_temp
as $$
    update social_connections set refreshing_until = null
    where id = p_id and refresh_token = p_refresh_token and refreshing_until is not null;
$$;

-- As before (migration 20261128000008), and new tokens also end the refresh lease.
create or replace function public.track_token_writes() returns trigger
language plpgsql as $$
begin
    if new.access_token is distinct from old.access_token and coalesce(new.access_token, '') <> '' then
        new.revoked_at := null;
        new.revoked_reason := null;
        new.refresh_claimed_until := null;
        new.refreshing_until := null;
        if new.refresh_token is distinct from old.refresh_token then
            new.refreshed_at := now();
        end if;
    end if;
    return new;
end $$;

revoke execute on function public.begin_refresh(bigint, text, integer) from public, anon, authenticated;
revoke execute on function public.end_refresh(bigint, text) from public, anon, authenticated;
grant execute on function public.begin_refresh(bigint, text, integer) to service_role;
grant execute on function public.end_refresh(bigint, text) to service_role;
