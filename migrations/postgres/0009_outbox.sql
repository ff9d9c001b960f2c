-- The outbox (mirrors migrations/sqlite/0009_outbox.sql): what firewatch sends out and must not
-- lose, stored before the request that caused it is marked delivered, sent by one process, in
-- order per `lane`, and deleted once delivered, refused for good or given up. A post claimed by
-- a process whose lease (see 0006) ran out is taken over by another; claiming skips rows another
-- process is claiming at that moment (`FOR UPDATE SKIP LOCKED`).
CREATE TABLE outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT   NOT NULL,
    destination TEXT   NOT NULL,
    lane        TEXT   NOT NULL,
    payload     TEXT   NOT NULL,
    summary     TEXT   NOT NULL,
    incident_id BIGINT REFERENCES incidents (id),
    stored_at   BIGINT NOT NULL,
    give_up_at  BIGINT NOT NULL,
    next_at     BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    claimed_by  TEXT
);

CREATE INDEX outbox_by_lane ON outbox (lane, id);
CREATE INDEX outbox_by_next ON outbox (next_at);
