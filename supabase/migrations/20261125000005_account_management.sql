-- Connected-accounts management: list, set primary, relabel, disconnect.

-- When TikTok refused a connection's refresh token (the user must reconnect). Cleared
-- whenever new tokens are stored.
alter table public.social_connections add column if not exists reauth_required_at timestamptz;

-- Only the service role reaches the rows. Databases that had the earlier backend's
-- tables may carry policies or grants for the API roles: remove them, so RLS with no
-- policy is what the contract says it is.
do $$
declare
    p record;
begin
    for p in
        select policyname, tablename from pg_policies
        where schemaname = 'public' and tablename in ('users', 'social_connections', 'migration_archive')
    loop
        execute format('drop policy %I on public.%I', p.policyname, p.tablename);
    end loop;
end $$;
revoke all on public.users, public.social_connections from anon, authenticated;

create or replace function public.clear_reauth_required() returns trigger
language plpgsql as $$
begin
    if new.access_token is distinct from old.access_token
       or new.refresh_token is distinct from old.refresh_token then
        new.reauth_required_at := null;
    end if;
    return new;
end $$;
drop trigger if exists social_connections_clear_reauth on public.social_connections;
create trigger social_connections_clear_reauth before update on public.social_connections
    for each row execute function public.clear_reauth_required();
revoke execute on function public.clear_reauth_required() from public, anon, authenticated;

-- "Most recently updated" picks accounts (default account, primary handover): only
-- changes a user or a sign-in makes count, not bookkeeping (a cached profile, a
-- reauth marker).
create or replace function public.touch_connection_updated_at() returns trigger
language plpgsql as $$
begin
    if (new.access_token, new.refresh_token, new.expires_at, new.refresh_expires_at, new.scope,
        new.account_label, new.account_type, new.is_primary, new.user_id)
       is distinct from
       (old.access_token, old.refresh_token, old.expires_at, old.refresh_expires_at, old.scope,
        old.account_label, old.account_type, old.is_primary, old.user_id) then
        new.updated_at := now();
    else
        new.updated_at := old.updated_at;
    end if;
    return new;
end $$;
drop trigger if exists social_connections_touch_updated_at on public.social_connections;
create trigger social_connections_touch_updated_at before update on public.social_connections
    for each row execute function public.touch_connection_updated_at();
revoke execute on function public.touch_connection_updated_at() from public, anon, authenticated;

-- A connection as the account pages show it: never a token.
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

-- The caller's connections of every provider: by provider, primary first, then most
-- recently updated.
create or replace function public.list_connections(
    p_firebase_uid text,
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
begin
    v_user := ensure_app_user(p_firebase_uid, p_email, p_email_verified, p_full_name, p_avatar_url);
    return coalesce((
        select jsonb_agg(connection_view(c)
                         order by c.provider, coalesce(c.is_primary, false) desc,
                                  c.updated_at desc nulls last, c.id desc)
        from social_connections c
        where c.user_id = v_user), '[]'::jsonb);
end $$;

-- Relabels a connection of the caller's and/or makes it the one primary of its provider.
-- Returns its view, or null when it is not the caller's.
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
    perform pg_advisory_xact_lock(hashtext('primary:' || v_user || ':' || p_provider));
    select * into v_conn from social_connections
    where user_id = v_user and provider = p_provider and provider_account_id = p_account_id
    for update;
    if v_conn.id is null then
        return null;
    end if;
    if coalesce(p_make_primary, false) then
        update social_connections set is_primary = false
        where user_id = v_user and provider = p_provider and is_primary and id <> v_conn.id;
    end if;
    update social_connections set
        account_label = coalesce(nullif(p_account_label, ''), account_label),
        account_type = coalesce(nullif(p_account_type, ''), account_type),
        is_primary = coalesce(is_primary, false) or coalesce(p_make_primary, false)
    where id = v_conn.id
    returning * into v_conn;
    return connection_view(v_conn);
end $$;

-- Records that TikTok refused this connection's refresh token, unless newer tokens
-- have been stored since.
create or replace function public.mark_reauth_required(p_id bigint, p_refresh_token text)
returns void
language sql
set search_path = public, pg_temp
as $$
    update social_connections set reauth_required_at = now()
    where id = p_id and refresh_token = p_refresh_token and reauth_required_at is null;
$$;

-- Deletes a connection of the user's; if it was primary, the most recently updated
-- remaining account of that provider becomes primary. Returns whether a row was
-- deleted. (A TikTok-created user signing in again is found by the Firebase uid derived
-- from the open_id; a TikTok account linked to another kind of user is not remembered:
-- whoever controls it must not get into the account that disconnected it.)
create or replace function public.delete_connection(p_id bigint, p_user_id bigint)
returns boolean
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
    perform pg_advisory_xact_lock(hashtext('account:' || v_conn.provider || ':' || v_conn.provider_account_id));
    perform pg_advisory_xact_lock(hashtext('primary:' || p_user_id || ':' || v_conn.provider));
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

revoke execute on function public.connection_view(public.social_connections) from public, anon, authenticated;
revoke execute on function public.list_connections(text, text, boolean, text, text) from public, anon, authenticated;
revoke execute on function public.update_connection(text, text, text, text, text, boolean, text, boolean, text, text) from public, anon, authenticated;
revoke execute on function public.mark_reauth_required(bigint, text) from public, anon, authenticated;
revoke execute on function public.delete_connection(bigint, bigint) from public, anon, authenticated;
grant execute on function public.connection_view(public.social_connections) to service_role;
grant execute on function public.list_connections(text, text, boolean, text, text) to service_role;
grant execute on function public.update_connection(text, text, text, text, text, boolean, text, boolean, text, text) to service_role;
grant execute on function public.mark_reauth_required(bigint, text) to service_role;
grant execute on function public.delete_connection(bigint, bigint) to service_role;
