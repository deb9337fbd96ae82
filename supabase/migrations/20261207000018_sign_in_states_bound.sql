-- Sign-in states after the second security review:
-- - a client address (an IPv6 client by its /64, grouped by the function) holding 20
--   open sign-in states is refused a new one (`PT429` `too_many_pending_authorizations`)
--   instead of evicting the oldest, which let anyone behind the same NAT cancel someone
--   else's sign-in; the count is taken under a transaction lock per address, so
--   concurrent requests cannot pass the cap together;
-- - a state holds the SHA-256 of a `binding` secret the authorizing browser keeps (never
--   in a URL): a sign-in state is consumed only with it, so a code and state posted from
--   another browser (login CSRF) sign no one in, and a wrong binding does not use the
--   state up. Link states are bound to their user's session instead.

alter table public.oauth_states add column if not exists binding_hash text;

-- The earlier signatures go: one function per name for PostgREST.
drop function if exists public.create_oauth_state(text, text, text, text, text, text, text);
drop function if exists public.consume_oauth_state(text);

create or replace function public.create_oauth_state(
    p_state_hash text,
    p_intent text,
    p_redirect_uri text,
    p_scopes text,
    p_code_verifier text,
    p_firebase_uid text default null,
    p_client_address text default null,
    p_binding_hash text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_expires timestamptz := now() + interval '10 minutes';
    v_open integer;
begin
    -- Expired states go (a bounded batch each time, by the expiry index).
    delete from oauth_states where id in (
        select id from oauth_states where expires_at <= now() order by expires_at limit 100);
    -- A user keeps at most 20 link states open: their own oldest go.
    if p_firebase_uid is not null then
        delete from oauth_states where id in (
            select id from oauth_states where firebase_uid = p_firebase_uid
            order by created_at desc, id desc offset 19);
    end if;
    -- A client address gets at most 20 open sign-in states: no more until some are used
    -- or expire. Counted under a lock per address (held to the end of the transaction).
    if p_firebase_uid is null and p_client_address is not null then
        perform pg_advisory_xact_lock(hashtextextended('oauth_states:' || p_client_address, 0));
        select count(*) into v_open from oauth_states
        where client_address = p_client_address and firebase_uid is null and expires_at > now();
        if v_open >= 20 then
            raise sqlstate 'PT429' using message = 'too_many_pending_authorizations';
        end if;
    end if;
    insert into oauth_states (state_hash, intent, firebase_uid, redirect_uri, scopes,
                              code_verifier, client_address, binding_hash, expires_at)
    values (p_state_hash, p_intent, p_firebase_uid, p_redirect_uri, p_scopes,
            p_code_verifier, p_client_address, p_binding_hash, v_expires);
    return jsonb_build_object('expires_at', v_expires);
end $$;

-- Consumes a state exactly once (delete ... returning): the row, or null when it is
-- unknown, already used, expired, or a sign-in state whose binding is not this one (then
-- it stays, for its rightful browser).
create or replace function public.consume_oauth_state(
    p_state_hash text,
    p_binding_hash text default null
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    v_state oauth_states;
begin
    delete from oauth_states
    where state_hash = p_state_hash
      and (intent = 'link' or (binding_hash is not null and binding_hash = p_binding_hash))
    returning * into v_state;
    if v_state.id is null or v_state.expires_at <= now() then
        return null;
    end if;
    return to_jsonb(v_state) - 'binding_hash';
end $$;

revoke execute on function public.create_oauth_state(text, text, text, text, text, text, text, text) from public, anon, authenticated;
revoke execute on function public.consume_oauth_state(text, text) from public, anon, authenticated;
grant execute on function public.create_oauth_state(text, text, text, text, text, text, text, text) to service_role;
grant execute on function public.consume_oauth_state(text, text) to service_role;
