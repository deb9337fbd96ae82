-- The server-side TikTok authorization flow (tiktok-authorize, tiktok-callback): one row
-- per authorization in progress, holding the PKCE verifier (Fernet-encrypted, like the
-- tokens) and the intent, for 10 minutes. The state itself is never stored, only its
-- SHA-256, so a leaked row cannot be replayed. Expired rows are removed as new ones are
-- made, and a user or a client address keeps at most 20 open: the table never only
-- grows. (Sign-in states have no user: they are counted per client address, so one
-- address cannot crowd out the link states of users behind it.)

create table if not exists public.oauth_states (
    id bigint generated always as identity primary key,
    state_hash text not null unique,
    intent text not null check (intent in ('sign_in', 'link')),
    firebase_uid text,
    redirect_uri text not null,
    scopes text not null,
    code_verifier text not null,
    client_address text,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    check (intent = 'sign_in' or firebase_uid is not null)
);
create index if not exists oauth_states_expires_at_idx on public.oauth_states (expires_at);
create index if not exists oauth_states_user_idx on public.oauth_states (firebase_uid, created_at)
    where firebase_uid is not null;
create index if not exists oauth_states_client_idx on public.oauth_states (client_address, created_at)
    where firebase_uid is null;

-- Only the service role reaches the rows.
alter table public.oauth_states enable row level security;
revoke all on public.oauth_states from anon, authenticated;

-- Stores a new state; answers {expires_at}.
create or replace function public.create_oauth_state(
    p_state_hash text,
    p_intent text,
    p_redirect_uri text,
    p_scopes text,
    p_code_verifier text,
    p_firebase_uid text default null,
    p_client_address text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_expires timestamptz := now() + interval '10 minutes';
begin
    -- Expired states go (a bounded batch each time, by the expiry index).
    delete from oauth_states where id in (
        select id from oauth_states where expires_at <= now() order by expires_at limit 100);
    -- At most 20 open per user and per client address: the oldest go.
    if p_firebase_uid is not null then
        delete from oauth_states where id in (
            select id from oauth_states where firebase_uid = p_firebase_uid
            order by created_at desc, id desc offset 19);
    end if;
    if p_firebase_uid is null and p_client_address is not null then
        delete from oauth_states where id in (
            select id from oauth_states
            where client_address = p_client_address and firebase_uid is null
            order by created_at desc, id desc offset 19);
    end if;
    insert into oauth_states (state_hash, intent, firebase_uid, redirect_uri, scopes,
                              code_verifier, client_address, expires_at)
    values (p_state_hash, p_intent, p_firebase_uid, p_redirect_uri, p_scopes,
            p_code_verifier, p_client_address, v_expires);
    return jsonb_build_object('expires_at', v_expires);
end $$;

-- Consumes a state exactly once (delete ... returning): the row, or null when it is
-- unknown, already used or expired.
create or replace function public.consume_oauth_state(p_state_hash text) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_state oauth_states;
begin
    delete from oauth_states where state_hash = p_state_hash returning * into v_state;
    if v_state.id is null or v_state.expires_at <= now() then
        return null;
    end if;
    return to_jsonb(v_state);
end $$;

revoke execute on function public.create_oauth_state(text, text, text, text, text, text, text) from public, anon, authenticated;
revoke execute on function public.consume_oauth_state(text) from public, anon, authenticated;
grant execute on function public.create_oauth_state(text, text, text, text, text, text, text) to service_role;
grant execute on function public.consume_oauth_state(text) to service_role;
