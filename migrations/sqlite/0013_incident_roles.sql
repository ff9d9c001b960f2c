-- Who holds each incident role now (commander, comms, scribe), and since when (Unix
-- milliseconds). One holder per role; a handover replaces the row, and the timeline's
-- `role_assigned` entries keep who held it before.
CREATE TABLE incident_roles (
    incident_id      INTEGER NOT NULL REFERENCES incidents (id),
    role             TEXT    NOT NULL CHECK (role IN ('commander', 'comms', 'scribe')),
    person_platform  TEXT    NOT NULL,
    person_id        TEXT    NOT NULL,
    person_name      TEXT    NOT NULL,
    since            INTEGER NOT NULL,
    PRIMARY KEY (incident_id, role)
);
