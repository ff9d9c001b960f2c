//! News from the pagers, as their webhooks send it: PagerDuty's webhooks v3
//! (`X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`, several while secrets rotate)
//! and Opsgenie's outgoing webhook (a configured header carrying a shared token). Read here
//! into [`PageNews`] about firewatch's own pages; everything else is ignored.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::{NewsKind, PageNews};
use crate::incident::page::{Pager, incident_of, page_key};

/// Whether `header` (`v1=abc…,v1=def…`) holds a signature of `body` with `secret`: any of its
/// `v1=` signatures may match; each is compared in constant time.
pub fn signed(header: &str, body: &[u8], secret: &str) -> bool {
    let mut matched = false;
    for part in header.split(',') {
        let Some(hex_signature) = part.trim().strip_prefix("v1=") else {
            continue;
        };
        let Ok(claimed) = hex::decode(hex_signature.trim()) else {
            continue;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
        mac.update(body);
        // Every signature is checked, so the time taken does not say which one matched.
        matched |= mac.verify_slice(&claimed).is_ok();
    }
    matched
}

/// Whether `given` is `expected`, compared as SHA-256 digests without stopping early.
pub fn same_token(given: &str, expected: &str) -> bool {
    let (given, expected) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    given
        .iter()
        .zip(expected.iter())
        .fold(0u8, |differ, (a, b)| differ | (a ^ b))
        == 0
}

/// Why a webhook body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(String);

/// PagerDuty's webhook v3 body: news of a firewatch page, `None` for anything else (another
/// event type, an incident firewatch did not open, an echo of firewatch's own event).
///
/// # Errors
/// [`Unreadable`] when it is not JSON with an `event` object.
pub fn pagerduty(body: &[u8]) -> Result<Option<PageNews>, Unreadable> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| Unreadable(format!("not a PagerDuty webhook: {e}")))?;
    let event = json
        .get("event")
        .filter(|e| e.is_object())
        .ok_or_else(|| Unreadable("not a PagerDuty webhook: no event object".into()))?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let what = match event["event_type"].as_str().unwrap_or_default() {
        "incident.acknowledged" => NewsKind::Acknowledged,
        "incident.resolved" => NewsKind::Resolved,
        "incident.escalated" => NewsKind::Escalated,
        "incident.reassigned" => NewsKind::Reassigned,
        _ => return Ok(None),
    };
    let data = &event["data"];
    let key = text(&data["incident_key"]);
    let Some(incident) = incident_of(&key) else {
        return Ok(None);
    };
    let agent = &event["agent"];
    // An acknowledgement or resolution made by firewatch's own event comes back with the
    // integration (not a user) as its agent: nothing new.
    let by_person = agent["type"].as_str() == Some("user_reference");
    if matches!(what, NewsKind::Acknowledged | NewsKind::Resolved) && !by_person {
        return Ok(None);
    }
    let by = match text(&agent["summary"]) {
        name if name.is_empty() => "PagerDuty".to_owned(),
        name => name,
    };
    let now_paged = data["assignees"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| text(&p["summary"]))
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(PageNews {
        pager: Pager::PagerDuty,
        id: text(&event["id"]),
        incident,
        key,
        what,
        by,
        now_paged,
    }))
}

/// Opsgenie's outgoing webhook body: news of a firewatch alert (`Acknowledge`, `Close`,
/// `EscalateNext`, `AssignOwnership`), `None` for anything else.
///
/// # Errors
/// [`Unreadable`] when it is not JSON with an `action` and an `alert`.
pub fn opsgenie(body: &[u8]) -> Result<Option<PageNews>, Unreadable> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| Unreadable(format!("not an Opsgenie webhook: {e}")))?;
    let (Some(action), Some(alert)) = (json["action"].as_str(), json.get("alert")) else {
        return Err(Unreadable(
            "not an Opsgenie webhook: no action and alert".into(),
        ));
    };
    let what = match action {
        "Acknowledge" => NewsKind::Acknowledged,
        "Close" => NewsKind::Resolved,
        "EscalateNext" | "Escalate" => NewsKind::Escalated,
        "AssignOwnership" => NewsKind::Reassigned,
        _ => return Ok(None),
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let key = text(&alert["alias"]);
    // Opsgenie has one alert per incident: its own page's alias, nothing else.
    let Some(incident) = incident_of(&key).filter(|id| key == page_key(*id)) else {
        return Ok(None);
    };
    let by = text(&alert["username"]);
    // Firewatch's own acknowledge and close are made as user "firewatch" from source
    // "firewatch": their echo is nothing new.
    if by == crate::incident::timers::BOT_NAME
        || text(&alert["source"]) == "firewatch" && by.is_empty()
    {
        return Ok(None);
    }
    let by = if by.is_empty() {
        "Opsgenie".to_owned()
    } else {
        by
    };
    let now_paged = [&json["escalation"]["name"], &alert["owner"]]
        .into_iter()
        .map(text)
        .filter(|s| !s.is_empty())
        .collect();
    let id = format!(
        "{}:{}:{}",
        text(&alert["alertId"]),
        action,
        alert["updatedAt"].as_i64().unwrap_or_default()
    );
    Ok(Some(PageNews {
        pager: Pager::Opsgenie,
        id,
        incident,
        key,
        what,
        by,
        now_paged,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(body: &[u8], secret: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let body = br#"{"event":{}}"#;
        let good = sign(body, "s3cret");
        let other = sign(body, "old");
        assert!(signed(&good, body, "s3cret"));
        assert!(signed(&format!("{other}, {good}"), body, "s3cret"));
        assert!(!signed(&other, body, "s3cret"));
        assert!(!signed("v1=zz", body, "s3cret"));
        assert!(!signed("", body, "s3cret"));
        assert!(!signed(&good, b"{\"event\":1}", "s3cret"));
    }

    #[test]
    fn only_the_same_token_matches() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("", "abc"));
    }

    #[test]
    fn a_person_acknowledging_a_firewatch_page_is_news_and_an_echo_is_not() {
        let by = |kind: &str| {
            format!(
                r#"{{"event":{{"id":"01ABC","event_type":"incident.acknowledged","agent":{{"type":"{kind}","summary":"Jane Doe"}},"data":{{"incident_key":"firewatch-3"}}}}}}"#
            )
        };
        let news = pagerduty(by("user_reference").as_bytes()).unwrap().unwrap();
        assert_eq!(news.what, NewsKind::Acknowledged);
        assert_eq!(news.by, "Jane Doe");
        assert_eq!(news.incident.get(), 3);
        assert_eq!(news.page_key(), "firewatch-3");
        // A role's own page names its incident too.
        let role = by("user_reference").replace("firewatch-3", "firewatch-3-dba");
        let news = pagerduty(role.as_bytes()).unwrap().unwrap();
        assert_eq!(
            (news.incident.get(), news.key.as_str()),
            (3, "firewatch-3-dba")
        );
        assert_eq!(pagerduty(by("service_reference").as_bytes()).unwrap(), None);
        // News stored in the inbox before pages had keys is about the incident's own page.
        let stored = r#"{"pager":"pagerduty","id":"01ABC","incident":3,"what":"acknowledged","by":"Jane Doe"}"#;
        let old: PageNews = serde_json::from_str(stored).unwrap();
        assert_eq!(old.page_key(), "firewatch-3");
        let theirs = r#"{"event":{"event_type":"incident.acknowledged","agent":{"type":"user_reference"},"data":{"incident_key":"abc"}}}"#;
        assert_eq!(pagerduty(theirs.as_bytes()).unwrap(), None);
        assert!(pagerduty(b"[]").is_err());
    }
}
