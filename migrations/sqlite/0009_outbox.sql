-- The outbox: what firewatch sends out and must not lose (chat posts; pages and tickets reuse it
-- with their own `kind`). A post is stored before the request that caused it is marked delivered,
-- then sent by whichever process claims it, and deleted once its destination took it, refused it
-- for good, or `give_up_at` passed (then logged and, with an incident, on its timeline).
--
-- `lane` orders posts: the first waiting post of a lane (lowest `id`) is the only one sent, so a
-- later post to a channel never overtakes an earlier one. `next_at` is when it is tried next
-- (Unix ms; backoff after a failure, a platform's Retry-After); `claimed_by` the process sending
-- it now, cleared when an attempt fails. SQLite has one serving process (the file's lock), so a
-- post claimed by another process is that earlier process's leftover. AUTOINCREMENT: an id is
-- never reused, so a late answer about a post never touches a newer one.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,                   -- who sends it: slack, discord, …
    destination TEXT    NOT NULL,                   -- where, as the kind names it (a channel id)
    lane        TEXT    NOT NULL,                   -- posts of one lane go out in order
    payload     TEXT    NOT NULL,                   -- the kind's own JSON
    summary     TEXT    NOT NULL,                   -- what it says, in one line (logs, timeline)
    incident_id INTEGER REFERENCES incidents (id),  -- whose timeline hears of a failure
    stored_at   INTEGER NOT NULL,
    give_up_at  INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    claimed_by  TEXT
);

-- The head of each lane, and the posts due.
CREATE INDEX outbox_by_lane ON outbox (lane, id);
CREATE INDEX outbox_by_next ON outbox (next_at);
