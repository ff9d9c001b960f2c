-- The request inbox (mirrors migrations/sqlite/0002_inbox.sql). Chat requests are accepted
-- (stored) before they are acknowledged to the platform. `done_at` is set in the same
-- transaction as the request's effect (or, for a request that changes nothing, as soon as it was
-- handled), so it never runs twice; `delivered_at` once its answer was posted. A restart runs
-- again what is not done, and for what is done but not delivered tells the channel that the
-- answer was lost. `attempts` counts replays, so a request that crashes firewatch is given up
-- after a few.
ALTER TABLE processed_requests ADD COLUMN payload TEXT;
ALTER TABLE processed_requests ADD COLUMN done_at BIGINT;
ALTER TABLE processed_requests ADD COLUMN delivered_at BIGINT;
ALTER TABLE processed_requests ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;

UPDATE processed_requests SET done_at = seen_at, delivered_at = seen_at;

CREATE INDEX processed_requests_pending ON processed_requests (seen_at) WHERE delivered_at IS NULL;
