-- An incident may have several pages through one pager: its own (`firewatch-12`) and, through
-- PagerDuty, one per role woken through that role's own service (`firewatch-12-dba`). Each
-- row is now one page, keyed by the pager's key for it, and remembers the last event
-- firewatch queued for it (`asked`), so that an acknowledgement or a resolution a crash left
-- unqueued can be sent later. Pages already made were queued everything their incident
-- called for.
CREATE TABLE pages_by_key (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    pager       TEXT    NOT NULL CHECK (pager IN ('pagerduty', 'opsgenie')),
    page_key    TEXT    NOT NULL,
    state       TEXT    NOT NULL
                CHECK (state IN ('triggering', 'triggered', 'acknowledged', 'resolved', 'failed')),
    asked       TEXT    NOT NULL CHECK (asked IN ('trigger', 'acknowledge', 'resolve')),
    target      TEXT    NOT NULL,
    detail      TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (incident_id, pager, page_key)
);

INSERT INTO pages_by_key (incident_id, pager, page_key, state, asked, target, detail, at)
SELECT p.incident_id, p.pager, 'firewatch-' || p.incident_id, p.state,
       CASE WHEN i.resolved_at IS NOT NULL THEN 'resolve'
            WHEN i.acknowledged_at IS NOT NULL THEN 'acknowledge'
            ELSE 'trigger' END,
       p.target, p.detail, p.at
FROM pages p JOIN incidents i ON i.id = p.incident_id;

DROP TABLE pages;
ALTER TABLE pages_by_key RENAME TO pages;

-- The scheduler's look for pages still owed an event reads only pages not yet resolved.
CREATE INDEX pages_unsettled ON pages (incident_id) WHERE asked <> 'resolve' AND state NOT IN ('failed', 'resolved');
