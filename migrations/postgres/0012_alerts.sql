-- Alerts from Alertmanager and Grafana, and the incidents they open (mirrors
-- migrations/sqlite/0012_alerts.sql).
--
-- One row per alert group (`groupKey`): the incident it belongs to now. `opened_at` is when
-- firewatch opened that incident for the group (the storm cap counts the openings of the last
-- minute); it stays NULL for a group that joined the storm incident. The row `firewatch/storm`
-- holds the storm incident, and every alert transaction locks it first, so they take turns.
CREATE TABLE alert_groups (
    group_key   TEXT PRIMARY KEY,
    incident_id BIGINT REFERENCES incidents (id),
    opened_at   BIGINT
);

CREATE INDEX alert_groups_by_opening ON alert_groups (opened_at) WHERE opened_at IS NOT NULL;

INSERT INTO alert_groups (group_key) VALUES ('firewatch/storm');

-- Every alert an incident keeps, by group and fingerprint: its state, how often it started
-- firing, and whether a message has shown it since. `detail` is the alert as JSON.
CREATE TABLE alerts (
    incident_id BIGINT  NOT NULL REFERENCES incidents (id),
    group_key   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at   BIGINT  NOT NULL,
    firings     BIGINT  NOT NULL,
    announced   BIGINT  NOT NULL,
    detail      TEXT    NOT NULL,
    PRIMARY KEY (incident_id, group_key, fingerprint)
);

-- The "more alerts firing" messages of each incident opened from alerts: when one last showed
-- its alerts, and when the alerts waiting since may be shown (NULL: none wait).
CREATE TABLE alert_incidents (
    incident_id  BIGINT  PRIMARY KEY REFERENCES incidents (id),
    announced_at BIGINT  NOT NULL,
    due_at       BIGINT
);

CREATE INDEX alert_incidents_due ON alert_incidents (due_at) WHERE due_at IS NOT NULL;
