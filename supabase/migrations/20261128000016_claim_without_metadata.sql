-- The keep-alive sweep's claim answered whole rows, metadata included. Metadata may be
-- up to 64 KiB a row, so a batch of 50 could reach 3.2 MiB: past the 1 MiB every
-- upstream answer is capped at, and the run would end on its first claim. A refresh
-- needs no metadata, so the claim leaves it out (a batch is now a few KiB).

create or replace function public.claim_due_connections(
    p_limit integer,
    p_stale_before timestamptz,
    p_lease_seconds integer default 900
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_ids bigint[];
    v_claimed jsonb;
begin
    select array_agg(id) into v_ids from (
        select id from social_connections
        where provider = 'tiktok' and revoked_at is null and reauth_required_at is null
          and refresh_token is not null and refresh_token <> ''
          and refreshed_at < p_stale_before
          and (refresh_expires_at is null or refresh_expires_at > now())
          and (refresh_claimed_until is null or refresh_claimed_until < now())
        order by refreshed_at
        limit p_limit
        for update skip locked
    ) due;
    if v_ids is null then
        return '[]'::jsonb;
    end if;
    with claimed as (
        update social_connections
        set refresh_claimed_until = now() + make_interval(secs => p_lease_seconds)
        where id = any(v_ids)
        returning *
    )
    select coalesce(jsonb_agg(to_jsonb(claimed) - 'metadata'), '[]'::jsonb) into v_claimed
    from claimed;
    return v_claimed;
end $$;
