-- Each incident's page through each pager (PagerDuty, Opsgenie): where it stands
-- (triggering, triggered, acknowledged, resolved, failed), who it pages, what the pager said
-- or who acted there, and since when (Unix milliseconds). One row per incident and pager; the
-- timeline keeps the history.
CREATE TABLE pages (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    pager       TEXT    NOT NULL CHECK (pager IN ('pagerduty', 'opsgenie')),
    state       TEXT    NOT NULL
                CHECK (state IN ('triggering', 'triggered', 'acknowledged', 'resolved', 'failed')),
    target      TEXT    NOT NULL,
    detail      TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (incident_id, pager)
);
