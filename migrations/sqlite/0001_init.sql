-- firewatch store, SQLite dialect. Times are Unix milliseconds (UTC).

CREATE TABLE incidents (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    summary              TEXT    NOT NULL,
    service              TEXT    NOT NULL,
    severity             TEXT    NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
    severity_reason      TEXT    NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('investigating', 'mitigating', 'monitoring', 'resolved', 'closed')),
    platform             TEXT    NOT NULL,
    channel_id           TEXT    NOT NULL,
    opened_by_platform   TEXT    NOT NULL,
    opened_by_id         TEXT    NOT NULL,
    opened_by_name       TEXT    NOT NULL,
    opened_at            INTEGER NOT NULL,
    acknowledged_by_platform TEXT,
    acknowledged_by_id   TEXT,
    acknowledged_by_name TEXT,
    acknowledged_at      INTEGER,
    resolved_by_platform TEXT,
    resolved_by_id       TEXT,
    resolved_by_name     TEXT,
    resolved_at          INTEGER,
    root_cause           TEXT,
    resolution           TEXT,
    closed_at            INTEGER,
    version              INTEGER NOT NULL DEFAULT 0
);

-- "Which incident is this channel's": open incidents by channel.
CREATE INDEX incidents_by_channel ON incidents (platform, channel_id, status);
CREATE INDEX incidents_by_status ON incidents (status);

-- Append-only history of every incident.
CREATE TABLE timeline (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id    INTEGER NOT NULL REFERENCES incidents (id),
    at             INTEGER NOT NULL,
    actor_platform TEXT    NOT NULL,
    actor_id       TEXT    NOT NULL,
    actor_name     TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    detail         TEXT    NOT NULL -- the event as JSON
);

CREATE INDEX timeline_by_incident ON timeline (incident_id, seq);

CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
BEGIN
    SELECT RAISE(ABORT, 'the timeline is append-only');
END;

CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
BEGIN
    SELECT RAISE(ABORT, 'the timeline is append-only');
END;

-- Pending timers: one row per incident and kind while something is due.
-- 'ack': the response target; 'update': the promised next update.
CREATE TABLE reminders (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('ack', 'update')),
    due_at      INTEGER NOT NULL,
    PRIMARY KEY (incident_id, kind)
);

CREATE INDEX reminders_by_due ON reminders (due_at);

-- Requests for production changes that need approval, and their outcome.
CREATE TABLE approvals (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id           INTEGER NOT NULL REFERENCES incidents (id),
    action                TEXT    NOT NULL, -- the change as JSON
    preview               TEXT    NOT NULL,
    reason                TEXT,
    requested_by_platform TEXT    NOT NULL,
    requested_by_id       TEXT    NOT NULL,
    requested_by_name     TEXT    NOT NULL,
    requested_at          INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    required              INTEGER NOT NULL CHECK (required >= 0),
    state                 TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'running', 'succeeded', 'failed', 'denied', 'expired', 'cancelled')),
    result                TEXT,
    updated_at            INTEGER NOT NULL
);

CREATE INDEX approvals_pending ON approvals (state, expires_at);

-- One vote per person per request.
CREATE TABLE approval_votes (
    approval_id    INTEGER NOT NULL REFERENCES approvals (id),
    voter_platform TEXT    NOT NULL,
    voter_id       TEXT    NOT NULL,
    voter_name     TEXT    NOT NULL,
    vote           TEXT    NOT NULL CHECK (vote IN ('approve', 'deny')),
    reason         TEXT,
    at             INTEGER NOT NULL,
    PRIMARY KEY (approval_id, voter_platform, voter_id)
);

-- Platform request ids (Slack trigger_id, Discord interaction id) already handled.
CREATE TABLE processed_requests (
    request_key TEXT    PRIMARY KEY,
    seen_at     INTEGER NOT NULL
);

CREATE INDEX processed_requests_by_age ON processed_requests (seen_at);
