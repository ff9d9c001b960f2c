-- The approval ledger of production changes (the `approvals` and `approval_votes` tables of
-- 0001), extended with what running a request later needs.
--
-- States: pending → approved (enough votes, committed with the last vote) → running (claimed by
-- one process with one atomic `UPDATE … WHERE state = 'approved'`, just before the cluster is
-- touched) → succeeded | failed. pending → denied | expired | cancelled (the incident is over).
-- A restart resumes `approved` rows (they never started) and marks `running` rows of an earlier
-- process `failed` (they may have reached the cluster): a change never runs twice.
ALTER TABLE approvals ADD COLUMN command TEXT NOT NULL DEFAULT '';  -- rollback | scale | action
ALTER TABLE approvals ADD COLUMN service TEXT NOT NULL DEFAULT '';  -- the service it acts on
ALTER TABLE approvals ADD COLUMN severity TEXT NOT NULL DEFAULT 'P2'; -- the incident's, when asked
ALTER TABLE approvals ADD COLUMN runner TEXT;                        -- the claiming process
ALTER TABLE approvals ADD COLUMN started_at INTEGER;
ALTER TABLE approvals ADD COLUMN finished_at INTEGER;

-- The channel's pending requests, and what a restart resumes.
CREATE INDEX approvals_by_incident ON approvals (incident_id, state);
