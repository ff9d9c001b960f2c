-- Timers fire exactly once (mirrors migrations/sqlite/0003_timers.sql). `due_at` stays the
-- promise; `fire_at` is when the scheduler next acts on the row (NULL: nothing more to do);
-- `fired` counts the firings. Firing locks the incident and the row (`FOR UPDATE SKIP LOCKED`,
-- so replicas share the work), appends the timeline entry and moves or clears fire_at in one
-- transaction: a crash either fired and recorded, or did neither.
ALTER TABLE reminders ADD COLUMN fire_at BIGINT;
ALTER TABLE reminders ADD COLUMN fired BIGINT NOT NULL DEFAULT 0;

UPDATE reminders SET fire_at = due_at;

DROP INDEX reminders_by_due;
CREATE INDEX reminders_by_fire_at ON reminders (fire_at) WHERE fire_at IS NOT NULL;
