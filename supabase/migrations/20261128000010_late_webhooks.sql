-- A webhook delivery can arrive late (TikTok retries for 72 hours, in any order): an
-- authorization.removed older than the connection's last token write (the user
-- authorized the app again since) must not clear the new grant.
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
        where provider = 'tiktok' and provider_account_id = p_user_openid
          and (p_create_time is null
               -- TikTok's time is in whole seconds: a removal in the same second wins.
               or date_trunc('second', coalesce(refreshed_at, updated_at, created_at))
                  <= to_timestamp(p_create_time));
        get diagnostics v_revoked = row_count;
    end if;
    return jsonb_build_object('duplicate', false, 'revoked', v_revoked);
end $$;
