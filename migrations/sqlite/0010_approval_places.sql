-- Approvals scoped to their incident, and one vote per person.
--
-- `channel_platform`/`channel_id`: the channel a request's card was posted in (its incident's
-- channel when it was asked). A vote counts only from there, on that platform. Requests made
-- before this migration were posted in their incident's channel.
ALTER TABLE approvals ADD COLUMN channel_platform TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN channel_id TEXT NOT NULL DEFAULT '';
UPDATE approvals SET
    channel_platform = (SELECT platform FROM incidents WHERE incidents.id = approvals.incident_id),
    channel_id = (SELECT channel_id FROM incidents WHERE incidents.id = approvals.incident_id);

-- `person`: who a vote is by as a person — `person:NAME` for an account `[people.NAME]` links,
-- the account itself (`slack:U…`) otherwise — so one person's second account cannot vote again.
ALTER TABLE approval_votes ADD COLUMN person TEXT NOT NULL DEFAULT '';
UPDATE approval_votes SET person = voter_platform || ':' || voter_id;
CREATE UNIQUE INDEX approval_votes_by_person ON approval_votes (approval_id, person);
