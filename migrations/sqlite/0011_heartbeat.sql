-- The store's heartbeat on SQLite: one row that the serving process rewrites every few seconds,
-- a small write whose outcome tells `/readyz` whether the store still takes writes (a full disk,
-- an I/O error) and shows it recovering without any other traffic. Postgres renews the process's
-- lease row in `processes` for the same purpose.
CREATE TABLE heartbeat (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    process TEXT NOT NULL,
    at      INTEGER NOT NULL
);
