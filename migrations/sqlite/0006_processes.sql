-- The process that accepted (or adopted after a restart) each inbox request. SQLite has one
-- writer (firewatch holds a lock on `<file>.lock`), so every request another process accepted
-- is that earlier process's leftover; a running process never takes over its own requests.
-- (0005 is left for the baselines table.)
ALTER TABLE processed_requests ADD COLUMN owner TEXT;
