-- Lookups that every sign-in and store pays for, served by an index of their own (the
-- first part of the scale work): a TikTok open_id alone (the one-owner check and the
-- sign-in lookup; the unique index leads with the constant `provider`), and the
-- case-insensitive email check of a new TikTok sign-up (only verified emails had an
-- index).
create index if not exists social_connections_tiktok_open_id_idx
    on public.social_connections (provider_account_id)
    where provider = 'tiktok';
create index if not exists users_lower_email_idx
    on public.users (lower(email));
