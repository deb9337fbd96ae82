-- The claim of unfinished media uploads reads an index by its condition: the lease as
-- one expression (no lease: long lapsed), so the scan starts at the lapsed leases
-- instead of reading the whole partial index and filtering.

drop index if exists public.tiktok_posts_media_upload_idx;
create index if not exists tiktok_posts_media_lease_idx
    on public.tiktok_posts ((coalesce(lease_until, '-infinity'::timestamptz)))
    where status = 'PROCESSING_UPLOAD' and source_type = 'media';

create or replace function public.claim_tiktok_uploads(p_limit integer, p_lease_seconds integer)
returns jsonb
language sql
set search_path = public, pg_temp
as $$
    with due as (
        select id from tiktok_posts
        where status = 'PROCESSING_UPLOAD' and source_type = 'media'
          and coalesce(lease_until, '-infinity'::timestamptz) < now()
          and upload is not null
          and coalesce(uploaded_bytes, 0) < (upload ->> 'video_size')::bigint
        order by coalesce(lease_until, '-infinity'::timestamptz)
        limit greatest(p_limit, 0)
        for update skip locked
    ), claimed as (
        update tiktok_posts p
        set lease_until = now() + make_interval(secs => greatest(p_lease_seconds, 1))
        from due where p.id = due.id
        returning p.*
    )
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) from claimed c;
$$;

revoke execute on function public.claim_tiktok_uploads(integer, integer) from public, anon, authenticated;
grant execute on function public.claim_tiktok_uploads(integer, integer) to service_role;
