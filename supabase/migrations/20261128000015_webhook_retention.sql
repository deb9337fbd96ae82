-- Webhook deliveries are kept a week, then cleared: TikTok retries a delivery for 72
-- hours (so a key older than that cannot come back as a duplicate), and a post event
-- that arrives before its post is recorded is replayed within the same minute. Until
-- now the table only grew, by every delivery of every user.
--
-- A statement trigger, so every way a delivery is recorded keeps the table bounded:
-- each insert clears at most 100 rows older than a week, oldest first, through the
-- received_at index and the primary key (no scan of the table).
create or replace function public.clear_stale_webhook_events()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
    delete from tiktok_webhook_events where id = any(array(
        select id from tiktok_webhook_events
        where received_at < now() - interval '7 days'
        order by received_at
        limit 100));
    return null;
end $$;

drop trigger if exists tiktok_webhook_events_clear_stale on public.tiktok_webhook_events;
create trigger tiktok_webhook_events_clear_stale after insert on public.tiktok_webhook_events
    for each statement execute function public.clear_stale_webhook_events();
revoke execute on function public.clear_stale_webhook_events() from public, anon, authenticated;
