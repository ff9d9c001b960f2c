-- Every acknowledgement inserts one row here before it is answered, so every index on the table
-- is work on the acknowledgement path. `processed_requests_by_age` served only the prune of done
-- requests, which runs every ten minutes over about an hour of rows: it reads the table instead.
-- (`processed_requests_pending` stays: the replay and the backlog sweep read requests not
-- delivered, oldest first.)
DROP INDEX processed_requests_by_age;
