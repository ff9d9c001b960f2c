-- Who holds each incident role now (mirrors migrations/sqlite/0013_incident_roles.sql).
-- One holder per role; a handover replaces the row, and the timeline's `role_assigned` entries
-- keep who held it before. `since` is Unix milliseconds.
CREATE TABLE incident_roles (
    incident_id      BIGINT  NOT NULL REFERENCES incidents (id),
    role             TEXT    NOT NULL CHECK (role IN ('commander', 'comms', 'scribe')),
    person_platform  TEXT    NOT NULL,
    person_id        TEXT    NOT NULL,
    person_name      TEXT    NOT NULL,
    since            BIGINT  NOT NULL,
    PRIMARY KEY (incident_id, role)
);
