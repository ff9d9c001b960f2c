-- What the web pages read. History pages filter on service, severity and opening time and page
-- by id; the status page reads public updates (`public_update` timeline entries) by time and
-- the incidents resolved in its window; insights look up each incident's first mitigation and
-- escalations by kind.
CREATE INDEX incidents_by_service ON incidents (service, id);
CREATE INDEX incidents_by_severity ON incidents (severity, id);
CREATE INDEX incidents_by_opened ON incidents (opened_at);
CREATE INDEX incidents_by_resolved ON incidents (resolved_at);
CREATE INDEX timeline_by_incident_kind ON timeline (incident_id, kind, at);
CREATE INDEX timeline_public ON timeline (at) WHERE kind = 'public_update';
