-- The approval ledger of production changes (mirrors migrations/sqlite/0004_approvals.sql).
-- pending → approved (enough votes, committed with the last vote) → running (claimed by one
-- process with one atomic `UPDATE … WHERE state = 'approved' RETURNING`) → succeeded | failed.
-- pending → denied | expired | cancelled. Recovery marks `running` rows failed only when their
-- runner is gone (see 0006): a change never runs twice.
ALTER TABLE approvals ADD COLUMN command TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN service TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN severity TEXT NOT NULL DEFAULT 'P2';
ALTER TABLE approvals ADD COLUMN runner TEXT;
ALTER TABLE approvals ADD COLUMN started_at BIGINT;
ALTER TABLE approvals ADD COLUMN finished_at BIGINT;

CREATE INDEX approvals_by_incident ON approvals (incident_id, state);
