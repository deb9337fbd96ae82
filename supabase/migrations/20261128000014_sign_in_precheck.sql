-- A new user's sign-in in three round trips in sequence instead of five: this read-only
-- check runs while TikTok proves the token, so by the time the proof is in, the function
-- knows whether a user must be created (and the Firebase user is created next, then the
-- rows in one tiktok_oauth_connect call with p_create).
--
-- It answers what tiktok_oauth_connect without a session would: needs_new_user when no
-- connection holds this open_id and no user has its derived uid (a user who has is a
-- disconnected TikTok sign-up: tiktok_oauth_connect answers tiktok_account_disconnected),
-- and whether the contact email already belongs to a user. No lock and no write: a
-- sign-up racing this check is settled by tiktok_oauth_connect, which locks and checks
-- again. Indexed lookups only (the open_id index, the users' uid and lower(email) ones).
create or replace function public.tiktok_sign_in_precheck(
    p_open_id text,
    p_derived_uid text,
    p_new_email text default null
) returns jsonb
language sql
stable
set search_path = public, pg_temp
as $$
    select jsonb_build_object(
        'needs_new_user',
            not exists (select 1 from social_connections
                        where provider = 'tiktok' and provider_account_id = p_open_id)
            and not exists (select 1 from users where firebase_uid = p_derived_uid),
        'email_in_use',
            nullif(btrim(p_new_email), '') is not null
            and exists (select 1 from users where lower(email) = lower(btrim(p_new_email))));
$$;

revoke execute on function public.tiktok_sign_in_precheck(text, text, text) from public, anon, authenticated;
grant execute on function public.tiktok_sign_in_precheck(text, text, text) to service_role;
