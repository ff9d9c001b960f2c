-- One row per page, keyed by the pager's key for it, with the last event firewatch queued
-- for it (mirrors migrations/sqlite/0017_page_keys.sql).
ALTER TABLE pages ADD COLUMN page_key TEXT, ADD COLUMN asked TEXT;

UPDATE pages p SET
    page_key = 'firewatch-' || p.incident_id,
    asked = CASE WHEN i.resolved_at IS NOT NULL THEN 'resolve'
                 WHEN i.acknowledged_at IS NOT NULL THEN 'acknowledge'
                 ELSE 'trigger' END
FROM incidents i WHERE i.id = p.incident_id;

ALTER TABLE pages
    ALTER COLUMN page_key SET NOT NULL,
    ALTER COLUMN asked SET NOT NULL,
    ADD CONSTRAINT pages_asked_check CHECK (asked IN ('trigger', 'acknowledge', 'resolve')),
    DROP CONSTRAINT pages_pkey,
    ADD PRIMARY KEY (incident_id, pager, page_key);

CREATE INDEX pages_unsettled ON pages (incident_id)
    WHERE asked <> 'resolve' AND state NOT IN ('failed', 'resolved');
