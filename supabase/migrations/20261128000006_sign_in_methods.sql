-- Sign-in methods that cannot be planted, bounds on what one user can store, and one
-- place for the rules every writer of a connection shares.
--
-- * `sign_in_enabled`: a connected TikTok account signs its user in only when it is a
--   sign-in method: the account a user was created with, or one linked by a session
--   that signed in within the last 5 minutes. Every other connection (legacy ones
--   included) is for posting only.
-- * One SQL function each for the advisory-lock keys, "clear the other primaries", and
--   writing a connection row (`put_connection`), used by every function that needs
--   them. The lock keys are the strings the previous functions used, so old and new
--   functions serialise against each other during a deploy.
-- * At most 50 connections per user and provider; a connection's metadata stays under
--   64 KiB (both enforced by triggers, so no path can skip them).

alter table public.social_connections
    add column if not exists sign_in_enabled boolean not null default false;

-- Legacy rows: only the account a TikTok-created user signed up with (their oldest
-- TikTok connection). Links the earlier backend made from an unproven email are not.
update public.social_connections c
set sign_in_enabled = true
from public.users u
where u.id = c.user_id
  and u.auth_provider = 'tiktok.com'
  and c.provider = 'tiktok'
  and c.id = (select o.id from public.social_connections o
              where o.user_id = c.user_id and o.provider = 'tiktok'
              order by o.created_at nulls last, o.id
              limit 1);

-- --- Bounds ----------------------------------------------------------------------------

create or replace function public.check_connection_bounds() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    if tg_op = 'INSERT' and (select count(*) from social_connections
                             where user_id = new.user_id and provider = new.provider) >= 50 then
        raise exception 'too_many_connections' using errcode = 'PT409';
    end if;
    -- Only a change is checked: a larger legacy value does not block token updates.
    if (tg_op = 'INSERT' or new.metadata is distinct from old.metadata)
       and octet_length(coalesce(new.metadata, '{}'::jsonb)::text) >= 65536 then
        raise exception 'payload_too_large' using errcode = 'PT413';
    end if;
    return new;
end $$;
drop trigger if exists social_connections_bounds on public.social_connections;
create trigger social_connections_bounds before insert or update on public.social_connections
    for each row execute function public.check_connection_bounds();

-- --- Shared helpers --------------------------------------------------------------------

-- Serialises writers of one provider account.
create or replace function public.lock_provider_account(p_provider text, p_account_id text)
returns void
language sql
set search_path = public, pg_temp
as $$
    select pg_advisory_xact_lock(hashtext('account:' || p_provider || ':' || p_account_id));
$$;

-- Serialises writers of one user's primary flag of one provider.
create or replace function public.lock_user_primary(p_user_id bigint, p_provider text)
returns void
language sql
set search_path = public, pg_temp
as $$
    select pg_advisory_xact_lock(hashtext('primary:' || p_user_id || ':' || p_provider));
$$;

-- Clears the user's primary flags of that provider except on p_keep_id (all when null).
-- The caller holds lock_user_primary.
create or replace function public.clear_other_primaries(p_user_id bigint, p_provider text, p_keep_id bigint)
returns void
language sql
set search_path = public, pg_temp
as $$
    update social_connections set is_primary = false
    where user_id = p_user_id and provider = p_provider and is_primary
      and id is distinct from p_keep_id;
$$;

-- Whether this connection is the only way its user can sign in that the database
-- knows of: a TikTok-created user's last sign-in-enabled TikTok account. (Other
-- providers on the Firebase user are for the caller to check.)
create or replace function public.only_sign_in_method(c public.social_connections)
returns boolean
language sql stable
set search_path = public, pg_temp
as $$
    select c.id is not null and c.provider = 'tiktok' and c.sign_in_enabled
       and exists (select 1 from users u where u.id = c.user_id and u.auth_provider = 'tiktok.com')
       and not exists (select 1 from social_connections o
                       where o.user_id = c.user_id and o.provider = 'tiktok'
                         and o.sign_in_enabled and o.id <> c.id);
$$;

-- Creates or updates a user's connection: the one writer of a connection row. The
-- caller holds lock_provider_account and has checked who owns the account. The first
-- account of a provider (no primary yet) becomes primary; p_make_primary moves the
-- flag; omitted values keep what is stored; p_metadata is merged in; p_sign_in makes
-- the account a sign-in method (never the reverse). Answers {created, connection}.
create or replace function public.put_connection(
    p_user_id bigint,
    p_provider text,
    p_account_id text,
    p_access_token text,
    p_refresh_token text,
    p_expires_at timestamptz,
    p_refresh_expires_at timestamptz,
    p_scope text,
    p_account_label text,
    p_account_type text,
    p_make_primary boolean,
    p_metadata jsonb,
    p_sign_in boolean
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_conn social_connections;
    v_created boolean;
    v_primary boolean;
begin
    perform lock_user_primary(p_user_id, p_provider);
    select * into v_conn from social_connections
    where user_id = p_user_id and provider = p_provider and provider_account_id = p_account_id
    for update;
    v_created := v_conn.id is null;
    v_primary := coalesce(p_make_primary, false) or coalesce(v_conn.is_primary, false)
        or (v_created and not exists (select 1 from social_connections
                                      where user_id = p_user_id and provider = p_provider
                                        and is_primary));
    if v_primary then
        perform clear_other_primaries(p_user_id, p_provider, v_conn.id);
    end if;
    if v_created then
        insert into social_connections (user_id, provider, provider_account_id, access_token, metadata)
        values (p_user_id, p_provider, p_account_id, p_access_token, '{}'::jsonb)
        returning * into v_conn;
    end if;
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
        metadata = coalesce(metadata, '{}'::jsonb) || coalesce(p_metadata, '{}'::jsonb),
        sign_in_enabled = sign_in_enabled or coalesce(p_sign_in, false)
    where id = v_conn.id
    returning * into v_conn;
    return jsonb_build_object('created', v_created, 'connection', to_jsonb(v_conn));
end $$;

-- --- The rpc functions, on the helpers ---------------------------------------------------

-- store-token: creates or updates the caller's connection. A TikTok account belongs to
-- one user (PT409 'tiktok_account_in_use'). `p_sign_in`: the TikTok account was linked
-- by a recent sign-in, so it becomes a sign-in method. metadata.profile is never the
-- request's.
drop function if exists public.store_connection(text, text, text, text, text, boolean, text, text, text, timestamptz, timestamptz, text, text, text, boolean, jsonb);
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
    p_metadata jsonb default null,
    p_sign_in boolean default false
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_user bigint;
begin
    v_user := ensure_app_user(p_firebase_uid, p_email, p_email_verified, p_full_name, p_avatar_url);
    perform lock_provider_account(p_provider, p_provider_account_id);
    if p_provider = 'tiktok' and exists (
        select 1 from social_connections
        where provider = 'tiktok' and provider_account_id = p_provider_account_id
          and user_id <> v_user) then
        raise exception 'tiktok_account_in_use' using errcode = 'PT409';
    end if;
    return put_connection(
        v_user, p_provider, p_provider_account_id, p_access_token, p_refresh_token,
        p_expires_at, p_refresh_expires_at, p_scope, p_account_label, p_account_type,
        p_is_primary, coalesce(p_metadata, '{}'::jsonb) - 'profile',
        p_provider = 'tiktok' and coalesce(p_sign_in, false));
end $$;

-- Sign-in with TikTok, after TikTok has confirmed the token's open_id. The user is: the
-- verified session's (linking; `p_session_recent` makes the account a sign-in method);
-- else the owner of this TikTok account, only when it is a sign-in method (else PT409
-- 'tiktok_sign_in_not_enabled'); else, when a user with the uid derived from this
-- open_id exists, the account was disconnected from it (PT409
-- 'tiktok_account_disconnected': it signs in again only after being linked while signed
-- in); else, with p_create, a new user whose unverified contact email belongs to no
-- existing user (PT409 'account_exists'; the caller decides whether an email is
-- required), signing in with this account. Without
-- p_create it answers {"needs_new_user": true, "email_in_use": ...} and writes nothing.
drop function if exists public.tiktok_oauth_connect(text, text, text, text, timestamptz, timestamptz, text, jsonb, jsonb, text, text, boolean, text, text, text, text, text, boolean);
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
    p_session_recent boolean default false,
    p_new_email text default null,
    p_new_full_name text default null,
    p_new_avatar_url text default null,
    p_create boolean default false
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_owned social_connections;
    v_user bigint;
    v_created_user boolean := false;
    v_sign_in boolean := false;
    v_put jsonb;
    -- metadata.profile is TikTok's (or store-tiktok-profile's) alone, never the request's.
    v_meta jsonb := coalesce(p_metadata, '{}'::jsonb) - 'profile';
    v_email text := nullif(btrim(p_new_email), '');
    v_row users;
begin
    perform lock_provider_account('tiktok', p_open_id);
    select * into v_owned from social_connections
    where provider = 'tiktok' and provider_account_id = p_open_id;

    if nullif(p_session_uid, '') is not null then
        v_user := ensure_app_user(p_session_uid, p_session_email, p_session_email_verified,
                                  p_session_full_name, p_session_avatar_url);
        if v_owned.id is not null and v_owned.user_id <> v_user then
            raise exception 'tiktok_account_in_use' using errcode = 'PT409';
        end if;
        v_sign_in := coalesce(p_session_recent, false);
    elsif v_owned.id is not null then
        if not v_owned.sign_in_enabled then
            raise exception 'tiktok_sign_in_not_enabled' using errcode = 'PT409';
        end if;
        v_user := v_owned.user_id;
    elsif exists (select 1 from users where firebase_uid = p_derived_uid) then
        raise exception 'tiktok_account_disconnected' using errcode = 'PT409';
    else
        if not coalesce(p_create, false) then
            return jsonb_build_object(
                'needs_new_user', true,
                'email_in_use', v_email is not null
                    and exists (select 1 from users where lower(email) = lower(v_email)));
        end if;
        -- (Whether a new user must give an email is the caller's rule.)
        if v_email is not null and exists (select 1 from users where lower(email) = lower(v_email)) then
            raise exception 'account_exists' using errcode = 'PT409';
        end if;
        insert into users (firebase_uid, email, email_verified, full_name, avatar_url, auth_provider)
        values (p_derived_uid, v_email, false, nullif(p_new_full_name, ''),
                nullif(p_new_avatar_url, ''), 'tiktok.com')
        returning id into v_user;
        v_created_user := true;
        v_sign_in := true;
    end if;

    if p_profile is not null then
        v_meta := v_meta || jsonb_build_object('profile', p_profile);
    end if;
    v_put := put_connection(
        v_user, 'tiktok', p_open_id, p_access_token, p_refresh_token, p_expires_at,
        p_refresh_expires_at, p_scope, null, null, false, v_meta, v_sign_in);

    select * into v_row from users where id = v_user;
    return jsonb_build_object(
        'needs_new_user', false,
        'created_user', v_created_user,
        'connection', connection_view(jsonb_populate_record(null::social_connections, v_put -> 'connection')),
        'user', to_jsonb(v_row));
end $$;

create or replace function public.update_connection(
    p_firebase_uid text,
    p_provider text,
    p_account_id text,
    p_account_label text default null,
    p_account_type text default null,
    p_make_primary boolean default false,
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
    perform lock_user_primary(v_user, p_provider);
    select * into v_conn from social_connections
    where user_id = v_user and provider = p_provider and provider_account_id = p_account_id
    for update;
    if v_conn.id is null then
        return null;
    end if;
    if coalesce(p_make_primary, false) then
        perform clear_other_primaries(v_user, p_provider, v_conn.id);
    end if;
    update social_connections set
        account_label = coalesce(nullif(p_account_label, ''), account_label),
        account_type = coalesce(nullif(p_account_type, ''), account_type),
        is_primary = coalesce(is_primary, false) or coalesce(p_make_primary, false)
    where id = v_conn.id
    returning * into v_conn;
    return connection_view(v_conn);
end $$;

-- Deletes a connection of the user's; if it was primary, the most recently updated
-- remaining account of that provider becomes primary. The last way a TikTok-created
-- user can sign in is kept (PT409 'last_sign_in_method') unless `p_other_sign_in` (the
-- Firebase user has another provider). Returns whether a row was deleted.
drop function if exists public.delete_connection(bigint, bigint);
create or replace function public.delete_connection(
    p_id bigint,
    p_user_id bigint,
    p_other_sign_in boolean default false
) returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_conn social_connections;
begin
    select * into v_conn from social_connections where id = p_id and user_id = p_user_id;
    if v_conn.id is null then
        return false;
    end if;
    -- The same locks as the other writers of this account and of this primary flag.
    perform lock_provider_account(v_conn.provider, v_conn.provider_account_id);
    perform lock_user_primary(p_user_id, v_conn.provider);
    if not coalesce(p_other_sign_in, false) and only_sign_in_method(v_conn) then
        raise exception 'last_sign_in_method' using errcode = 'PT409';
    end if;
    delete from social_connections where id = p_id and user_id = p_user_id
    returning * into v_conn;
    if v_conn.id is null then
        return false;
    end if;
    if coalesce(v_conn.is_primary, false) then
        update social_connections set is_primary = true
        where id = (select id from social_connections
                    where user_id = p_user_id and provider = v_conn.provider
                    order by updated_at desc nulls last, id desc limit 1);
    end if;
    return true;
end $$;

-- The caller's user id and one TikTok connection (`p_account_id`, else the primary, else
-- the most recently updated), and whether it is the user's only sign-in method.
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
begin
    v_user := ensure_app_user(p_firebase_uid, p_email, p_email_verified, p_full_name, p_avatar_url);
    select * into v_conn from social_connections c
    where c.user_id = v_user and c.provider = 'tiktok'
      and (nullif(p_account_id, '') is null or c.provider_account_id = p_account_id)
    order by coalesce(c.is_primary, false) desc, c.updated_at desc nulls last, c.id desc
    limit 1;
    return jsonb_build_object(
        'user_id', v_user,
        'connection', case when v_conn.id is null then null else to_jsonb(v_conn) end,
        'only_sign_in_method', only_sign_in_method(v_conn));
end $$;

-- The account pages' view of a connection gains the sign-in flag.
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
            when c.reauth_required_at is not null then 'reauth_required'
            when c.refresh_expires_at is not null and c.refresh_expires_at <= now() then 'reauth_required'
            when c.expires_at is not null and c.expires_at <= now()
                 and nullif(c.refresh_token, '') is null then 'reauth_required'
            when c.expires_at is not null and c.expires_at <= now() then 'expired'
            else 'active' end,
        'display_name', c.metadata -> 'profile' ->> 'display_name',
        'avatar_url', c.metadata -> 'profile' ->> 'avatar_url',
        'created_at', c.created_at,
        'updated_at', c.updated_at);
$$;

-- --- Who may execute what: the service role alone ------------------------------------

revoke execute on function public.check_connection_bounds() from public, anon, authenticated;
revoke execute on function public.lock_provider_account(text, text) from public, anon, authenticated;
revoke execute on function public.lock_user_primary(bigint, text) from public, anon, authenticated;
revoke execute on function public.clear_other_primaries(bigint, text, bigint) from public, anon, authenticated;
revoke execute on function public.only_sign_in_method(public.social_connections) from public, anon, authenticated;
revoke execute on function public.put_connection(bigint, text, text, text, text, timestamptz, timestamptz, text, text, text, boolean, jsonb, boolean) from public, anon, authenticated;
revoke execute on function public.store_connection(text, text, text, text, text, boolean, text, text, text, timestamptz, timestamptz, text, text, text, boolean, jsonb, boolean) from public, anon, authenticated;
revoke execute on function public.tiktok_oauth_connect(text, text, text, text, timestamptz, timestamptz, text, jsonb, jsonb, text, text, boolean, text, text, boolean, text, text, text, boolean) from public, anon, authenticated;
revoke execute on function public.delete_connection(bigint, bigint, boolean) from public, anon, authenticated;
grant execute on function public.lock_provider_account(text, text) to service_role;
grant execute on function public.lock_user_primary(bigint, text) to service_role;
grant execute on function public.clear_other_primaries(bigint, text, bigint) to service_role;
grant execute on function public.only_sign_in_method(public.social_connections) to service_role;
grant execute on function public.put_connection(bigint, text, text, text, text, timestamptz, timestamptz, text, text, text, boolean, jsonb, boolean) to service_role;
grant execute on function public.store_connection(text, text, text, text, text, boolean, text, text, text, timestamptz, timestamptz, text, text, text, boolean, jsonb, boolean) to service_role;
grant execute on function public.tiktok_oauth_connect(text, text, text, text, timestamptz, timestamptz, text, jsonb, jsonb, text, text, boolean, text, text, boolean, text, text, text, boolean) to service_role;
grant execute on function public.delete_connection(bigint, bigint, boolean) to service_role;
