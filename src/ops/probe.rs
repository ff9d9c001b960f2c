//! HTTP probes of health URLs and Prometheus instant queries. Built once from `[prometheus]`;
//! nothing here knows about chat or the store.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{Error, Result};
use crate::catalog::Service;
use crate::config::PrometheusSettings;

/// Where Prometheus answers and what firewatch asks it; `{namespace}` and `{deployment}` in a
/// query become the incident's service's.
#[derive(Debug, Clone)]
struct Prometheus {
    /// Base URL.
    url: String,
    /// The share of requests that fail.
    error_rate: String,
    /// p99 latency in seconds.
    latency_p99: String,
    /// Memory in bytes.
    memory: String,
    /// Go goroutines.
    goroutines: String,
}

/// The most of a response body read.
const MAX_BODY: usize = 1 << 20;

/// What a GET answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Time to the whole (capped) body.
    pub latency: Duration,
    /// The body, at most 1 MiB, lossy UTF-8.
    pub body: String,
}

/// Sends probes and Prometheus queries, each within a timeout.
#[derive(Clone)]
pub struct Prober {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
    /// `None` when `prometheus.url` is not set.
    prometheus: Option<Prometheus>,
    /// `/incident-verify` passes when the error rate is at most this.
    error_rate_max: f64,
}

impl Prober {
    /// A prober with `timeout` per request, asking Prometheus as `[prometheus]` says. Without
    /// the system's root certificates, https probes fail with a clear reason and http ones still
    /// work.
    pub fn new(timeout: Duration, settings: &PrometheusSettings) -> Self {
        let config = crate::tls::native_roots().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no TLS root certificates: https probes will fail");
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config);
        let https = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        let prometheus = settings.url.as_ref().map(|url| Prometheus {
            url: url.clone(),
            error_rate: settings.error_rate.clone(),
            latency_p99: settings.latency_p99.clone(),
            memory: settings.memory.clone(),
            goroutines: settings.goroutines.clone(),
        });
        Self {
            client,
            timeout,
            prometheus,
            error_rate_max: settings.error_rate_max,
        }
    }

    /// Whether Prometheus is configured.
    pub fn has_prometheus(&self) -> bool {
        self.prometheus.is_some()
    }

    /// The error-rate ceiling of verification.
    pub fn error_rate_max(&self) -> f64 {
        self.error_rate_max
    }

    /// GETs `url`.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when it cannot be reached or does not answer in time.
    pub async fn get(&self, url: &str) -> Result<Answer> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| Error::Refused(format!("'{}' is not a URL: {e}", redact(url))))?;
        let url = redact(url);
        let started = Instant::now();
        let run = async {
            let response =
                self.client.get(uri).await.map_err(|e| {
                    Error::Unavailable(format!("{url}: {}", crate::error_chain(&e)))
                })?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            let mut stream = response.into_body();
            while let Some(frame) = stream.frame().await {
                let frame = frame.map_err(|e| Error::Unavailable(format!("{url}: {e}")))?;
                if let Some(data) = frame.data_ref() {
                    body.extend_from_slice(data);
                    if body.len() >= MAX_BODY {
                        body.truncate(MAX_BODY);
                        break;
                    }
                }
            }
            Ok(Answer {
                status,
                latency: started.elapsed(),
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(self.timeout, run).await.map_err(|_| {
            Error::Unavailable(format!(
                "{url}: no answer within {}s",
                self.timeout.as_secs()
            ))
        })?
    }

    /// Runs the named query (`error_rate`, `latency_p99`, `memory`, `goroutines`) for `service`:
    /// the first sample's value, `None` when the result is empty.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when Prometheus is not configured or not reachable,
    /// [`Error::Api`] when it refuses the query.
    pub async fn query(&self, name: &str, service: &Service) -> Result<Option<f64>> {
        let Some(p) = &self.prometheus else {
            return Err(Error::Unavailable("prometheus.url is not set".into()));
        };
        let template = match name {
            "error_rate" => &p.error_rate,
            "latency_p99" => &p.latency_p99,
            "memory" => &p.memory,
            _ => &p.goroutines,
        };
        let promql = template
            .replace("{namespace}", &service.namespace)
            .replace("{deployment}", &service.deployment);
        let url = format!(
            "{}/api/v1/query?query={}",
            p.url.trim_end_matches('/'),
            encode(&promql)
        );
        let answer = self.get(&url).await?;
        let json: serde_json::Value = serde_json::from_str(&answer.body).map_err(|_| {
            Error::Api(format!(
                "prometheus answered {} without JSON",
                answer.status
            ))
        })?;
        if json["status"] != "success" {
            return Err(Error::Api(format!(
                "prometheus: {}",
                json["error"].as_str().unwrap_or("query failed")
            )));
        }
        Ok(json["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok()))
    }
}

/// Percent-encodes a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `url` as it may be shown in a channel: without `user:password@`.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://…@{host}{path}"),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(
            redact("https://bob:s3cret@api.example.com/health"),
            "https://…@api.example.com/health"
        );
        assert_eq!(
            redact("http://api.example.com/a@b"),
            "http://api.example.com/a@b"
        );
    }
}
