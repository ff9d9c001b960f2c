//! The post-incident report as the web pages show it: rendered from the trail as
//! `/incident-report` writes it (or will, for an incident not yet closed). Reads only.

use super::{Engine, Result};
use crate::incident::trail;
use crate::incident::{Incident, TimelineEntry};

impl Engine {
    /// The report of `incident` (with its `timeline`) in Markdown, as of now.
    ///
    /// # Errors
    /// The store could not read the incident's alerts, or the template failed.
    pub async fn report_markdown(
        &self,
        incident: &Incident,
        timeline: &[TimelineEntry],
    ) -> Result<String> {
        let alerts = self.store.alerts_of(incident.id).await?;
        let trail = trail::derive(incident, timeline);
        self.report_text(incident, &trail, &alerts, self.clock.now())
    }
}
