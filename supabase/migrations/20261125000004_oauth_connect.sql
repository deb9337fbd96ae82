-- Sign-in with TikTok: attaches a proved TikTok account to the right user in one
-- transaction. Called after TikTok has confirmed the token's open_id.
--
-- The user is: the verified session's (linking); else the one who owns this TikTok
-- connection; else the user whose Firebase uid is the one derived from this open_id (a
-- returning user whose connection was removed, or a retry after a partial failure);
-- else, only with p_create, a new user, whose unverified contact email must not
-- belong to any existing user (PT409 'account_exists'). Without p_create it answers
-- {"needs_new_user": true, "email_in_use": ...} and writes nothing.
create or replace function public.tiktok_oauth_connect(
    p_open_id text,
    p_access_token text,
    p_derived_uid text,
    p_refresh_token text default null,
    p_expires_at timestamptz default null,
    p_refresh_expires_at timestamptz default null,
    p_scope text default null,
    p_profile jsonb default null,
    p_metadata jsonb default null,
    p_session_uid text default null,
    p_session_email text default null,
    p_session_email_verified boolean default false,
    p_session_full_name text default null,
    p_session_avatar_url text default null,
    p_new_email text default null,
    p_new_full_name text default null,
    p_new_avatar_url text default null,
    p_create boolean default false
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_owner bigint;
    v_user bigint;
    v_created_user boolean := false;
    v_conn social_connections;
    -- metadata.profile is TikTok's (or store-tiktok-profile's) alone, never the request's.
    v_meta jsonb := coalesce(p_metadata, '{}'::jsonb) - 'profile';
    v_email text := nullif(btrim(p_new_email), '');
    v_row users;
begin
    perform pg_advisory_xact_lock(hashtext('account:tiktok:' || p_open_id));
    select user_id into v_owner from social_connections
    where provider = 'tiktok' and provider_account_id = p_open_id;

    if nullif(p_session_uid, '') is not null then
        v_user := ensure_app_user(p_session_uid, p_session_email, p_session_email_verified,
                                  p_session_full_name, p_session_avatar_url);
        if v_owner is not null and v_owner <> v_user then
            raise exception 'tiktok_account_in_use' using errcode = 'PT409';
        end if;
    elsif v_owner is not null then
        v_user := v_owner;
    else
        select id into v_user from users where firebase_uid = p_derived_uid;
        if v_user is null then
            if not coalesce(p_create, false) then
                return jsonb_build_object(
                    'needs_new_user', true,
                    'email_in_use', v_email is not null
                        and exists (select 1 from users where lower(email) = lower(v_email)));
            end if;
            if v_email is null then
                raise exception 'email_required' using errcode = '22023';
            end if;
            if exists (select 1 from users where lower(email) = lower(v_email)) then
                raise exception 'account_exists' using errcode = 'PT409';
            end if;
            insert into users (firebase_uid, email, email_verified, full_name, avatar_url, auth_provider)
            values (p_derived_uid, v_email, false, nullif(p_new_full_name, ''),
                    nullif(p_new_avatar_url, ''), 'tiktok.com')
            returning id into v_user;
            v_created_user := true;
        end if;
    end if;

    if p_profile is not null then
        v_meta := v_meta || jsonb_build_object('profile', p_profile);
    end if;
    perform pg_advisory_xact_lock(hashtext('primary:' || v_user || ':tiktok'));
    select * into v_conn from social_connections
    where user_id = v_user and provider = 'tiktok' and provider_account_id = p_open_id
    for update;
    if v_conn.id is null then
        insert into social_connections (
            user_id, provider, provider_account_id, access_token, refresh_token, expires_at,
            refresh_expires_at, scope, is_primary, metadata)
        values (
            v_user, 'tiktok', p_open_id, p_access_token, nullif(p_refresh_token, ''), p_expires_at,
            p_refresh_expires_at, nullif(p_scope, ''),
            not exists (select 1 from social_connections
                        where user_id = v_user and provider = 'tiktok' and is_primary),
            v_meta)
        returning * into v_conn;
    else
        update social_connections set
            access_token = p_access_token,
            refresh_token = coalesce(nullif(p_refresh_token, ''), refresh_token),
            expires_at = coalesce(p_expires_at, expires_at),
            refresh_expires_at = case when nullif(p_refresh_token, '') is not null
                                      then p_refresh_expires_at else refresh_expires_at end,
            scope = coalesce(nullif(p_scope, ''), scope),
            metadata = coalesce(metadata, '{}'::jsonb) || v_meta
        where id = v_conn.id
        returning * into v_conn;
    end if;

    select * into v_row from users where id = v_user;
    return jsonb_build_object(
        'needs_new_user', false,
        'created_user', v_created_user,
        'connection_id', v_conn.id,
        'user', to_jsonb(v_row));
end $$;

revoke execute on function public.tiktok_oauth_connect(text, text, text, text, timestamptz, timestamptz, text, jsonb, jsonb, text, text, boolean, text, text, text, text, text, boolean) from public, anon, authenticated;
grant execute on function public.tiktok_oauth_connect(text, text, text, text, timestamptz, timestamptz, text, jsonb, jsonb, text, text, boolean, text, text, text, text, text, boolean) to service_role;
