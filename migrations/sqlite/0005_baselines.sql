-- Load-test baselines (`/performance-test baseline`): the figures of one load job for one
-- service, replaced by the next baseline run. `/performance-test` compares a new run with it.
CREATE TABLE baselines (
    service TEXT NOT NULL,            -- the [[services]] name
    job TEXT NOT NULL,                -- the [[jobs]] name (kind = "load")
    p95_ms REAL NOT NULL CHECK (p95_ms >= 0),
    error_rate REAL NOT NULL CHECK (error_rate >= 0 AND error_rate <= 1),
    rps REAL NOT NULL CHECK (rps >= 0),
    incident_id INTEGER NOT NULL REFERENCES incidents (id),  -- the incident it was taken in
    job_name TEXT NOT NULL,           -- the Job that measured it (firewatch-3-load-1)
    recorded_by_platform TEXT NOT NULL,
    recorded_by_id TEXT NOT NULL,
    recorded_by_name TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,     -- Unix milliseconds
    PRIMARY KEY (service, job)
);
