-- SQL functions the backend calls over PostgREST `rpc`: each is one atomic round trip.
-- Executable by service_role alone (Postgres grants EXECUTE to PUBLIC by default and
-- Supabase to anon/authenticated; both are revoked below).
--
-- Absent arguments have defaults: callers omit them rather than sending null.

-- The user row of a verified Firebase user, created from the token's claims on first
-- sight. A verified email another user already holds is kept unverified here.
create or replace function public.ensure_app_user(
    p_firebase_uid text,
    p_email text default null,
    p_email_verified boolean default false,
    p_full_name text default null,
    p_avatar_url text default null,
    p_auth_provider text default null
) returns bigint
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_id bigint;
    v_email text := nullif(btrim(p_email), '');
begin
    if nullif(btrim(p_firebase_uid), '') is null then
        raise exception 'firebase uid required' using errcode = '22023';
    end if;
    select id into v_id from users where firebase_uid = p_firebase_uid;
    if found then
        return v_id;
    end if;
    begin
        insert into users (firebase_uid, email, email_verified, full_name, avatar_url, auth_provider)
        values (p_firebase_uid, v_email, coalesce(p_email_verified, false) and v_email is not null,
                nullif(p_full_name, ''), nullif(p_avatar_url, ''), nullif(p_auth_provider, ''))
        on conflict (firebase_uid) do nothing
        returning id into v_id;
    exception when unique_violation then
        -- The verified email belongs to another user already.
        insert into users (firebase_uid, email, email_verified, full_name, avatar_url, auth_provider)
        values (p_firebase_uid, v_email, false,
                nullif(p_full_name, ''), nullif(p_avatar_url, ''), nullif(p_auth_provider, ''))
        on conflict (firebase_uid) do nothing
        returning id into v_id;
    end;
    if v_id is null then
        -- A concurrent request created it.
        select id into v_id from users where firebase_uid = p_firebase_uid;
    end if;
    return v_id;
end $$;

-- The caller's user id and one TikTok connection: `p_account_id` (an open_id) if
-- given, else the primary, else the most recently updated.
create or replace function public.tiktok_connection_for(
    p_firebase_uid text,
    p_email text default null,
    p_email_verified boolean default false,
    p_full_name text default null,
    p_avatar_url text default null,
    p_account_id text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_user bigint;
    v_conn social_connections;
    v_account text := nullif(p_account_id, '');
begin
    v_user := ensure_app_user(p_firebase_uid, p_email, p_email_verified, p_full_name, p_avatar_url);
    select * into v_conn
    from social_connections c
    where c.user_id = v_user
      and c.provider = 'tiktok'
      and (v_account is null or c.provider_account_id = v_account)
    order by coalesce(c.is_primary, false) desc, c.updated_at desc nulls last, c.id desc
    limit 1;
    return jsonb_build_object(
        'user_id', v_user,
        'connection', case when v_conn.id is null then null else to_jsonb(v_conn) end);
end $$;

-- Compare-and-swap of a connection's tokens after a refresh: only if the stored refresh
-- token is still the one the caller refreshed with. Returns the row as it now is.
create or replace function public.swap_connection_tokens(
    p_id bigint,
    p_expected_refresh_token text,
    p_access_token text,
    p_refresh_token text,
    p_expires_at timestamptz,
    p_refresh_expires_at timestamptz default null,
    p_scope text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_conn social_connections;
begin
    update social_connections
    set access_token = p_access_token,
        refresh_token = p_refresh_token,
        expires_at = p_expires_at,
        -- A rotated refresh token has its own lifetime; the old one's no longer applies.
        refresh_expires_at = p_refresh_expires_at,
        scope = coalesce(nullif(p_scope, ''), scope)
    where id = p_id and refresh_token = p_expected_refresh_token
    returning * into v_conn;
    if found then
        return jsonb_build_object('swapped', true, 'connection', to_jsonb(v_conn));
    end if;
    select * into v_conn from social_connections where id = p_id;
    return jsonb_build_object(
        'swapped', false,
        'connection', case when v_conn.id is null then null else to_jsonb(v_conn) end);
end $$;

revoke execute on function public.ensure_app_user(text, text, boolean, text, text, text) from public, anon, authenticated;
revoke execute on function public.tiktok_connection_for(text, text, boolean, text, text, text) from public, anon, authenticated;
revoke execute on function public.swap_connection_tokens(bigint, text, text, text, timestamptz, timestamptz, text) from public, anon, authenticated;
grant execute on function public.ensure_app_user(text, text, boolean, text, text, text) to service_role;
grant execute on function public.tiktok_connection_for(text, text, boolean, text, text, text) to service_role;
grant execute on function public.swap_connection_tokens(bigint, text, text, text, timestamptz, timestamptz, text) to service_role;
