-- Functions behind store-token, tiktok-profile and store-tiktok-profile. Each is one
-- atomic rpc round trip; service_role alone may execute them.

-- Creates or updates the caller's connection. A TikTok account belongs to one user:
-- owned by another -> PT409 'tiktok_account_in_use' (never moved). Other providers'
-- claims cannot be proved, so they never block another user. `p_is_primary` true clears
-- the caller's other primary of that provider in the same transaction; a user's first
-- connection of a provider becomes primary. On update, omitted fields keep their values.
-- `metadata.profile` is never taken from the request: it is TikTok's or the client
-- profile endpoint's, with its `source`.
create or replace function public.store_connection(
    p_firebase_uid text,
    p_provider text,
    p_provider_account_id text,
    p_access_token text,
    p_email text default null,
    p_email_verified boolean default false,
    p_full_name text default null,
    p_avatar_url text default null,
    p_refresh_token text default null,
    p_expires_at timestamptz default null,
    p_refresh_expires_at timestamptz default null,
    p_scope text default null,
    p_account_label text default null,
    p_account_type text default null,
    p_is_primary boolean default null,
    p_metadata jsonb default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_user bigint;
    v_owner bigint;
    v_conn social_connections;
    v_primary boolean;
    v_created boolean;
begin
    v_user := ensure_app_user(p_firebase_uid, p_email, p_email_verified, p_full_name, p_avatar_url);
    -- Serialise writers of this account and of this user's primary flag.
    perform pg_advisory_xact_lock(hashtext('account:' || p_provider || ':' || p_provider_account_id));
    perform pg_advisory_xact_lock(hashtext('primary:' || v_user || ':' || p_provider));

    if p_provider = 'tiktok' then
        select user_id into v_owner from social_connections
        where provider = 'tiktok' and provider_account_id = p_provider_account_id;
        if found and v_owner <> v_user then
            raise exception 'tiktok_account_in_use' using errcode = 'PT409';
        end if;
    end if;

    select * into v_conn from social_connections
    where user_id = v_user and provider = p_provider and provider_account_id = p_provider_account_id
    for update;
    v_created := v_conn.id is null;

    v_primary := coalesce(p_is_primary, false)
        or (v_created and not exists (
            select 1 from social_connections where user_id = v_user and provider = p_provider))
        or (not v_created and coalesce(v_conn.is_primary, false));
    if v_primary then
        update social_connections set is_primary = false
        where user_id = v_user and provider = p_provider and is_primary
          and (v_created or id <> v_conn.id);
    end if;

    if v_created then
        insert into social_connections (
            user_id, provider, provider_account_id, access_token, refresh_token, expires_at,
            refresh_expires_at, scope, account_label, account_type, is_primary, metadata)
        values (
            v_user, p_provider, p_provider_account_id, p_access_token, nullif(p_refresh_token, ''),
            p_expires_at, p_refresh_expires_at, nullif(p_scope, ''), nullif(p_account_label, ''),
            nullif(p_account_type, ''), v_primary, coalesce(p_metadata, '{}'::jsonb) - 'profile')
        returning * into v_conn;
    else
        update social_connections set
            access_token = p_access_token,
            refresh_token = coalesce(nullif(p_refresh_token, ''), refresh_token),
            expires_at = coalesce(p_expires_at, expires_at),
            -- A new refresh token brings its own expiry (unknown here unless given).
            refresh_expires_at = case when nullif(p_refresh_token, '') is not null
                                      then p_refresh_expires_at else refresh_expires_at end,
            scope = coalesce(nullif(p_scope, ''), scope),
            account_label = coalesce(nullif(p_account_label, ''), account_label),
            account_type = coalesce(nullif(p_account_type, ''), account_type),
            is_primary = v_primary,
            metadata = coalesce(metadata, '{}'::jsonb) || (coalesce(p_metadata, '{}'::jsonb) - 'profile')
        where id = v_conn.id
        returning * into v_conn;
    end if;
    return jsonb_build_object('created', v_created, 'connection', to_jsonb(v_conn));
end $$;

-- Caches a profile fetched from TikTok in metadata.profile.
create or replace function public.cache_tiktok_profile(p_id bigint, p_profile jsonb)
returns void
language sql
set search_path = public, pg_temp
as $$
    update social_connections
    set metadata = jsonb_set(coalesce(metadata, '{}'::jsonb), '{profile}', p_profile)
    where id = p_id;
$$;

-- Stores a client-supplied profile on one of the caller's TikTok connections; returns
-- the row, or null when the open_id is not one of the caller's.
create or replace function public.store_client_profile(
    p_firebase_uid text,
    p_open_id text,
    p_profile jsonb,
    p_email text default null,
    p_email_verified boolean default false,
    p_full_name text default null,
    p_avatar_url text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_user bigint;
    v_conn social_connections;
begin
    v_user := ensure_app_user(p_firebase_uid, p_email, p_email_verified, p_full_name, p_avatar_url);
    update social_connections
    set metadata = jsonb_set(coalesce(metadata, '{}'::jsonb), '{profile}', p_profile)
    where user_id = v_user and provider = 'tiktok' and provider_account_id = p_open_id
    returning * into v_conn;
    return case when v_conn.id is null then null else to_jsonb(v_conn) end;
end $$;

revoke execute on function public.store_connection(text, text, text, text, text, boolean, text, text, text, timestamptz, timestamptz, text, text, text, boolean, jsonb) from public, anon, authenticated;
revoke execute on function public.cache_tiktok_profile(bigint, jsonb) from public, anon, authenticated;
revoke execute on function public.store_client_profile(text, text, jsonb, text, boolean, text, text) from public, anon, authenticated;
grant execute on function public.store_connection(text, text, text, text, text, boolean, text, text, text, timestamptz, timestamptz, text, text, text, boolean, jsonb) to service_role;
grant execute on function public.cache_tiktok_profile(bigint, jsonb) to service_role;
grant execute on function public.store_client_profile(text, text, jsonb, text, boolean, text, text) to service_role;
