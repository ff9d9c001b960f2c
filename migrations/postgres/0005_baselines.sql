-- Load-test baselines (`/performance-test baseline`), mirrors migrations/sqlite/0005_baselines.sql:
-- the figures of one load job for one service, replaced by the next baseline run.
-- `/performance-test` compares a new run with it.
CREATE TABLE baselines (
    service TEXT NOT NULL,            -- the [[services]] name
    job TEXT NOT NULL,                -- the [[jobs]] name (kind = "load")
    p95_ms DOUBLE PRECISION NOT NULL CHECK (p95_ms >= 0),
    error_rate DOUBLE PRECISION NOT NULL CHECK (error_rate >= 0 AND error_rate <= 1),
    rps DOUBLE PRECISION NOT NULL CHECK (rps >= 0),
    incident_id BIGINT NOT NULL REFERENCES incidents (id),  -- the incident it was taken in
    job_name TEXT NOT NULL,           -- the Job that measured it (firewatch-3-load-1)
    recorded_by_platform TEXT NOT NULL,
    recorded_by_id TEXT NOT NULL,
    recorded_by_name TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,      -- Unix milliseconds
    PRIMARY KEY (service, job)
);
