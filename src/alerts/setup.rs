//! `firewatch alertmanager-config URL`: the receiver to paste into `alertmanager.yml`, and a
//! route that sends alerts to it.

/// The path firewatch takes notifications on.
pub const PATH: &str = "/alerts/alertmanager";
/// Where the generated receiver reads the token (the same value as `alerts.token`).
pub const DEFAULT_CREDENTIALS_FILE: &str = "/etc/alertmanager/secrets/firewatch-token";

/// The `alertmanager.yml` fragment for firewatch at `url`: its base URL
/// (`https://firewatch.example.com`) or the endpoint's own; the token is read from
/// `credentials_file`.
///
/// # Errors
/// A message when `url` is not an `http(s)` URL.
pub fn alertmanager_config(url: &str, credentials_file: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let lower = url.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    if host.is_none_or(|h| h.is_empty()) || url.chars().any(|c| c.is_whitespace() || c == '\'') {
        return Err(format!(
            "'{url}' is not an http(s) URL (write it like https://firewatch.example.com, or \
             http://firewatch.firewatch.svc in the cluster)"
        ));
    }
    let endpoint = if url.ends_with(PATH) {
        url.to_owned()
    } else {
        format!("{url}{PATH}")
    };
    Ok(format!(
        r#"# firewatch as an Alertmanager receiver (firewatch alertmanager-config).
# The token file holds the same value as firewatch's alerts.token (FIREWATCH__ALERTS__TOKEN).
receivers:
  - name: firewatch
    webhook_configs:
      - url: '{endpoint}'
        # Resolutions let firewatch say when every alert of an incident resolved.
        send_resolved: true
        # Every alert of a group, so firewatch records them all.
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials_file: '{credentials_file}'

# A route that sends alerts to firewatch: a group is one incident while it is active.
route:
  receiver: firewatch
  group_by: ['alertname', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  # Or, beside your other receivers, as a child route of your own route:
  # routes:
  #   - receiver: firewatch
  #     matchers: ['severity=~"critical|error|warning"']
  #     continue: true
"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_points_at_the_endpoint_with_the_token_file() {
        let yaml =
            alertmanager_config("https://fw.example.com/", DEFAULT_CREDENTIALS_FILE).unwrap();
        assert!(yaml.contains("url: 'https://fw.example.com/alerts/alertmanager'"));
        assert!(yaml.contains("send_resolved: true"));
        assert!(yaml.contains("max_alerts: 0"));
        assert!(yaml.contains(&format!("credentials_file: '{DEFAULT_CREDENTIALS_FILE}'")));
        let full = alertmanager_config("http://firewatch.firewatch.svc/alerts/alertmanager", "/t")
            .unwrap();
        assert!(full.contains("url: 'http://firewatch.firewatch.svc/alerts/alertmanager'"));
        assert!(alertmanager_config("firewatch.example.com", "/t").is_err());
        assert!(alertmanager_config("https://", "/t").is_err());
    }
}
