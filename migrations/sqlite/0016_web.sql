-- What the web pages read. History pages filter on service, severity and opening time and page
-- by id; the status page reads public updates (`public_update` timeline entries) by time and
-- the incidents resolved in its window; `/` reads each active incident's last update by kind.
CREATE INDEX incidents_by_service ON incidents (service, id);
CREATE INDEX incidents_by_severity ON incidents (severity, id);
CREATE INDEX incidents_by_opened ON incidents (opened_at);
CREATE INDEX incidents_by_resolved ON incidents (resolved_at);
CREATE INDEX timeline_by_incident_kind ON timeline (incident_id, kind, at);
CREATE INDEX timeline_public ON timeline (at) WHERE kind = 'public_update';

-- Insights read each incident's response milestones from its row, kept by the timeline as
-- entries are appended: when a mitigation was first in (the first move to Mitigating or
-- Monitoring, or an applied change; Unix milliseconds) and whether firewatch escalated a missed
-- response target (0 or 1).
ALTER TABLE incidents ADD COLUMN mitigated_at INTEGER;
ALTER TABLE incidents ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;

UPDATE incidents SET
    mitigated_at = (SELECT MIN(t.at) FROM timeline t WHERE t.incident_id = incidents.id
        AND (t.kind = 'mutation_applied' OR (t.kind = 'status_changed'
        AND (t.detail LIKE '%"to":"mitigating"%' OR t.detail LIKE '%"to":"monitoring"%')))),
    escalated = EXISTS (SELECT 1 FROM timeline t WHERE t.incident_id = incidents.id
        AND t.kind = 'response_target_missed');

CREATE TRIGGER timeline_mitigated AFTER INSERT ON timeline
WHEN NEW.kind = 'mutation_applied' OR (NEW.kind = 'status_changed'
    AND (NEW.detail LIKE '%"to":"mitigating"%' OR NEW.detail LIKE '%"to":"monitoring"%'))
BEGIN
    UPDATE incidents SET mitigated_at = NEW.at WHERE id = NEW.incident_id AND mitigated_at IS NULL;
END;

CREATE TRIGGER timeline_escalated AFTER INSERT ON timeline
WHEN NEW.kind = 'response_target_missed'
BEGIN
    UPDATE incidents SET escalated = 1 WHERE id = NEW.incident_id;
END;
