-- Several replicas on one database. Each process has an id and a lease: its row here, renewed
-- every few seconds while it runs (`heartbeat_at`, the database's clock) and deleted when it
-- closes the store. The inbox records which process accepted (or adopted) a request, so a
-- replica starting or recovering takes over only requests whose owner is gone: no owner row, or
-- a lease not renewed for the lease time. Running approvals name their runner the same way.
-- (0005 is left for the baselines table, as in SQLite.)
CREATE TABLE processes (
    id           TEXT PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE processed_requests ADD COLUMN owner TEXT;
