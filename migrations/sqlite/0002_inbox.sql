-- Chat requests are accepted (stored) before they are acknowledged to the platform, and marked
-- done in the same transaction as their effect. A restart re-runs what was accepted but not
-- done; a redelivery of a done request has no effect.
ALTER TABLE processed_requests ADD COLUMN payload TEXT;
ALTER TABLE processed_requests ADD COLUMN done_at INTEGER;

UPDATE processed_requests SET done_at = seen_at;

CREATE INDEX processed_requests_pending ON processed_requests (seen_at) WHERE done_at IS NULL;
