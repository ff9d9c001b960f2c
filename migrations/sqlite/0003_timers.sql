-- Timers fire exactly once. `due_at` stays the promise (the response target, the next update);
-- `fire_at` is when the scheduler next acts on the row (NULL: nothing more to do, e.g. an
-- escalated response target that is still unacknowledged); `fired` counts the firings.
-- Firing claims the row (fire_at <= now), appends the timeline entry and moves or clears fire_at
-- in one transaction: a crash either fired and recorded, or did neither.
ALTER TABLE reminders ADD COLUMN fire_at INTEGER;
ALTER TABLE reminders ADD COLUMN fired INTEGER NOT NULL DEFAULT 0;

UPDATE reminders SET fire_at = due_at;

-- A tick is one range scan of this index: rows with nothing left to do are not in it.
DROP INDEX reminders_by_due;
CREATE INDEX reminders_by_fire_at ON reminders (fire_at) WHERE fire_at IS NOT NULL;
