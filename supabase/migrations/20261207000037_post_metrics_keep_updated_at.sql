-- A post's updated_at says when the post changed (its status, its schedule, its text),
-- not when the analytics sync refreshed its video's totals: that refresh (hourly in a
-- video's first day) moved every published post's updated_at with it. The touch skips an
-- update that changes video_metrics and nothing else, and one that changes nothing.
drop trigger if exists tiktok_posts_touch_updated_at on public.tiktok_posts;
create trigger tiktok_posts_touch_updated_at before update on public.tiktok_posts
    for each row
    when ((old.video_metrics is not distinct from new.video_metrics and old.* is distinct from new.*)
          or (old.video_metrics is distinct from new.video_metrics
              and (to_jsonb(old) - 'video_metrics' - 'updated_at') <> (to_jsonb(new) - 'video_metrics' - 'updated_at')))
    execute function public.touch_updated_at();
