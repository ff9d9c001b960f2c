use super::*;

/// Alertmanager's webhook body as its documentation and `notify/webhook` define it (a
/// `ProbeFailure` group of one alert).
pub(crate) const ALERTMANAGER: &str = r#"{
  "receiver": "firewatch",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {
        "alertname": "ProbeFailure",
        "instance": "https://server.example.org",
        "job": "http_checks",
        "monitor": "master",
        "severity": "critical"
      },
      "annotations": {
        "description": "Instance https://server.example.org has been down for over 5m. Job: http_checks",
        "summary": "BlackBox Probe Failure: https://server.example.org"
      },
      "startsAt": "2023-02-06T13:08:45.828Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1",
      "fingerprint": "1a30ba71cca2921f"
    }
  ],
  "groupLabels": {"alertname": "ProbeFailure"},
  "commonLabels": {
    "alertname": "ProbeFailure",
    "instance": "https://server.example.org",
    "job": "http_checks",
    "monitor": "master",
    "severity": "critical"
  },
  "commonAnnotations": {
    "description": "Instance https://server.example.org has been down for over 5m. Job: http_checks",
    "summary": "BlackBox Probe Failure: https://server.example.org"
  },
  "externalURL": "http://prometheus.example.org:9093",
  "version": "4",
  "groupKey": "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}",
  "truncatedAlerts": 0
}"#;

/// Grafana's webhook contact point body, as its documentation shows it.
pub(crate) const GRAFANA: &str = r#"{
  "receiver": "My Super Webhook",
  "status": "firing",
  "orgId": 1,
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
      "annotations": {
        "description": "The system has high memory usage",
        "runbook_url": "https://myrunbook.com/runbook/1234",
        "summary": "This alert was triggered for zone us-1"
      },
      "startsAt": "2021-10-12T09:51:03.157076+02:00",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
      "fingerprint": "c6eadffa33fcdf37",
      "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
      "dashboardURL": "",
      "panelURL": "",
      "values": {"B": 44.23943737541908, "C": 1}
    },
    {
      "status": "firing",
      "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1"},
      "annotations": {
        "description": "The system has high CPU usage",
        "runbook_url": "https://myrunbook.com/runbook/1234",
        "summary": "This alert was triggered for zone eu-1"
      },
      "startsAt": "2021-10-12T09:56:03.157076+02:00",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
      "fingerprint": "bc97ff14869b13e3",
      "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1",
      "dashboardURL": "",
      "panelURL": "",
      "values": {"B": 44.23943737541908, "C": 1}
    }
  ],
  "groupLabels": {},
  "commonLabels": {"team": "blue"},
  "commonAnnotations": {},
  "externalURL": "https://play.grafana.org/",
  "version": "1",
  "groupKey": "{}:{}",
  "truncatedAlerts": 0,
  "title": "[FIRING:2]  (blue)",
  "state": "alerting",
  "message": "**Firing**\n\nLabels:\n - alertname = T2\n"
}"#;

#[test]
fn alertmanagers_documented_body_is_read() {
    let n = read(ALERTMANAGER.as_bytes()).expect("reads");
    assert_eq!(n.source, Source::Alertmanager);
    assert_eq!(n.reporter(), "alertmanager/firewatch");
    assert_eq!(n.status, AlertStatus::Firing);
    assert_eq!(
        n.group_key,
        "{}/{severity=\"critical\"}:{alertname=\"ProbeFailure\"}"
    );
    let alert = &n.alerts[0];
    assert_eq!(alert.fingerprint, "1a30ba71cca2921f");
    assert_eq!(alert.name(), "ProbeFailure");
    assert_eq!(alert.severity_label(), Some("critical"));
    assert_eq!(
        alert.summary,
        "BlackBox Probe Failure: https://server.example.org"
    );
    assert_eq!(
        alert.starts_at.to_rfc3339(),
        "2023-02-06T13:08:45.828+00:00"
    );
    assert_eq!(alert.ends_at, None, "the zero time means still firing");
    assert!(
        alert
            .links
            .source
            .as_deref()
            .unwrap()
            .starts_with("http://prometheus")
    );
    assert_eq!(
        n.external_url.as_deref(),
        Some("http://prometheus.example.org:9093")
    );
}

#[test]
fn grafanas_documented_body_is_read_with_its_links_and_values() {
    let n = read(GRAFANA.as_bytes()).expect("reads");
    assert_eq!(n.source, Source::Grafana);
    assert_eq!(n.reporter(), "grafana/My Super Webhook");
    assert_eq!(n.alerts.len(), 2);
    let first = &n.alerts[0];
    assert_eq!(
        first.starts_at.to_rfc3339(),
        "2021-10-12T07:51:03.157076+00:00",
        "offsets become UTC"
    );
    assert!(
        first
            .links
            .silence
            .as_deref()
            .unwrap()
            .contains("silence/new")
    );
    assert_eq!(first.links.dashboard, None, "an empty URL is no link");
    assert_eq!(first.values, ["B=44.23943737541908", "C=1"]);
    assert_eq!(first.summary, "This alert was triggered for zone us-1");
    let later = first.starts_at + chrono::TimeDelta::hours(1);
    assert_eq!(n.detected(later), first.starts_at);
    // A sender's clock ahead of ours: detected now, not in the future.
    let earlier = first.starts_at - chrono::TimeDelta::hours(1);
    assert_eq!(n.detected(earlier), earlier);
}

#[test]
fn bad_bodies_are_refused_with_the_reason() {
    let first_status = "\"status\": \"firing\",\n      \"labels\"";
    let cases = [
        ("{not json".to_owned(), "not an alert notification"),
        (
            ALERTMANAGER.replace("\"version\": \"4\"", "\"version\": \"3\""),
            "version \"3\" is not supported",
        ),
        // Grafana's version without Grafana's orgId is neither sender's.
        (
            ALERTMANAGER.replace("\"version\": \"4\"", "\"version\": \"1\""),
            "version \"1\" is not supported",
        ),
        (
            ALERTMANAGER.replace("\"groupKey\"", "\"groupkey\""),
            "missing field `groupKey`",
        ),
        (
            ALERTMANAGER.replace("2023-02-06T13:08:45.828Z", "yesterday"),
            "alerts[0].startsAt: ",
        ),
        (
            ALERTMANAGER.replacen(
                first_status,
                "\"status\": \"burning\",\n      \"labels\"",
                1,
            ),
            "alerts[0].status: \"burning\" is not a status (firing or resolved)",
        ),
        (
            ALERTMANAGER.replace(
                "\"groupKey\": \"{}/{severity=\\\"critical\\\"}:{alertname=\\\"ProbeFailure\\\"}\"",
                "\"groupKey\": \"firewatch/storm\"",
            ),
            "groupKey may not start with \"firewatch/\"",
        ),
        (
            ALERTMANAGER.replace(first_status, "\"status\": \"resolved\",\n      \"labels\""),
            "alerts[0].endsAt: a resolved alert needs its end time",
        ),
    ];
    for (body, reason) in cases {
        let refused = read(body.as_bytes()).unwrap_err().to_string();
        assert!(
            refused.contains(reason),
            "{refused:?} does not say {reason:?}"
        );
    }
}

#[test]
fn the_key_is_the_group_and_its_alert_states() {
    let n = read(ALERTMANAGER.as_bytes()).unwrap();
    let again = read(ALERTMANAGER.as_bytes()).unwrap();
    assert_eq!(
        n.key(),
        again.key(),
        "an HA pair's duplicate has the same key"
    );
    assert!(n.key().starts_with(KEY_PREFIX));
    let resolved = ALERTMANAGER
        .replace("\"status\": \"firing\"", "\"status\": \"resolved\"")
        .replace("0001-01-01T00:00:00Z", "2023-02-06T13:30:00Z");
    let resolved = read(resolved.as_bytes()).unwrap();
    assert_ne!(n.key(), resolved.key(), "a resolution is news");
}

#[test]
fn links_other_than_web_urls_are_dropped() {
    assert_eq!(link(Some("javascript:alert(1)".into())), None);
    assert_eq!(link(Some("https://a.example/x y".into())), None);
    assert_eq!(
        link(Some("https://evil.example/\u{202e}moc.elgoog".into())),
        None
    );
    assert_eq!(
        link(Some(" https://grafana.example/d/1 ".into())).as_deref(),
        Some("https://grafana.example/d/1")
    );
}
