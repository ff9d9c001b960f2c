//! Helm: release history read from Helm's own release Secrets (no binary needed), and rollback
//! through the `helm` CLI, run with an argv (never through a shell).
//!
//! A release Secret is `sh.helm.release.v1.NAME.vREV` with label `owner=helm`; its `release`
//! data is base64(gzip(JSON)) under the Secret's own base64.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Error, Result};

/// One revision of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision number.
    pub number: u32,
    /// `freightliner-1.4.2`.
    pub chart: String,
    /// The chart's appVersion.
    pub app_version: String,
    /// `deployed`, `superseded`, `failed`, …
    pub status: String,
    /// When it was deployed.
    pub deployed: Option<DateTime<Utc>>,
}

impl Revision {
    /// `revision 42 (freightliner-1.4.2, app 1.4.2, deployed 2026-11-29 02:40 UTC)`.
    pub fn describe(&self) -> String {
        let at = self
            .deployed
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "unknown time".into());
        format!(
            "revision {} ({}, app {}, deployed {at}, {})",
            self.number, self.chart, self.app_version, self.status
        )
    }
}

#[derive(Deserialize)]
struct Release {
    version: u32,
    #[serde(default)]
    info: Info,
    #[serde(default)]
    chart: Chart,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Info {
    status: String,
    last_deployed: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Chart {
    metadata: ChartMetadata,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ChartMetadata {
    name: String,
    version: String,
    app_version: String,
}

/// Decodes the `release` data of a release Secret (already without the Secret's own base64).
///
/// # Errors
/// [`Error::Api`] naming what is wrong with the data.
pub fn decode(secret: &str, data: &[u8]) -> Result<Revision> {
    let bad = |what: String| Error::Api(format!("helm release secret {secret}: {what}"));
    let packed = base64::engine::general_purpose::STANDARD
        .decode(data.trim_ascii())
        .map_err(|e| bad(format!("not base64: {e}")))?;
    let json = if packed.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(packed.as_slice())
            .take(16 << 20)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("not gzip: {e}")))?;
        out
    } else {
        packed
    };
    let release: Release =
        serde_json::from_slice(&json).map_err(|e| bad(format!("not a release: {e}")))?;
    let meta = release.chart.metadata;
    Ok(Revision {
        number: release.version,
        chart: format!("{}-{}", meta.name, meta.version),
        app_version: meta.app_version,
        status: release.info.status,
        deployed: release.info.last_deployed,
    })
}

/// The revision a rollback goes to: `wanted`, or the one before the current when `None` (as
/// `helm rollback` does); with the current revision.
///
/// # Errors
/// [`Error::Refused`] when there is no history, the revision does not exist, or it is the
/// current one.
pub fn rollback_target(history: &[Revision], wanted: Option<u32>) -> Result<(Revision, Revision)> {
    let current = history
        .iter()
        .max_by_key(|r| r.number)
        .ok_or_else(|| Error::Refused("the release has no revisions to roll back".into()))?;
    let number = match wanted.filter(|n| *n > 0) {
        Some(n) => n,
        None => current
            .number
            .checked_sub(1)
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                Error::Refused(format!(
                    "revision {} is the first: there is nothing to roll back to",
                    current.number
                ))
            })?,
    };
    if number == current.number {
        return Err(Error::Refused(format!(
            "revision {number} is the current one"
        )));
    }
    let target = history.iter().find(|r| r.number == number).ok_or_else(|| {
        let known: Vec<String> = history.iter().map(|r| r.number.to_string()).collect();
        Error::Refused(format!(
            "the release has no revision {number} (known: {})",
            known.join(", ")
        ))
    })?;
    Ok((current.clone(), target.clone()))
}

/// The cluster helm must act on: firewatch's own kubeconfig and context, when configured.
/// Without them helm, like firewatch, uses `KUBECONFIG` (inherited) or the in-cluster account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// `--kubeconfig`.
    pub kubeconfig: Option<std::path::PathBuf>,
    /// `--kube-context`.
    pub context: Option<String>,
}

/// The argv of a rollback (without the binary). `--` ends helm's options, so a release name can
/// never be read as a flag.
pub fn rollback_args(
    release: &str,
    revision: u32,
    namespace: &str,
    timeout: Duration,
    target: &Target,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "rollback".into(),
        "-n".into(),
        namespace.into(),
        "--wait".into(),
        "--timeout".into(),
        format!("{}s", timeout.as_secs()),
    ];
    if let Some(kubeconfig) = &target.kubeconfig {
        args.extend(["--kubeconfig".into(), kubeconfig.display().to_string()]);
    }
    if let Some(context) = &target.context {
        args.extend(["--kube-context".into(), context.clone()]);
    }
    args.extend(["--".into(), release.into(), revision.to_string()]);
    args
}

/// Runs `binary args…` and waits at most `timeout` plus a minute (helm's own `--timeout` comes
/// first). Returns stdout on exit 0.
///
/// # Errors
/// [`Error::Helm`] with the exit code and stderr, or why it could not run.
pub async fn run(binary: &Path, args: &[String], timeout: Duration) -> Result<String> {
    let mut command = tokio::process::Command::new(binary);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(timeout + Duration::from_secs(60), command.output())
        .await
        .map_err(|_| Error::Helm(format!("{} did not finish in time", binary.display())))?
        .map_err(|e| Error::Helm(format!("cannot run {}: {e}", binary.display())))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output
        .status
        .code()
        .map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"));
    Err(Error::Helm(format!(
        "exit {code}: {}",
        stderr.trim().chars().take(1000).collect::<String>()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(number: u32) -> Revision {
        Revision {
            number,
            chart: format!("app-1.{number}.0"),
            app_version: format!("1.{number}.0"),
            status: "superseded".into(),
            deployed: None,
        }
    }

    #[test]
    fn rollback_goes_to_the_previous_revision_unless_told() {
        let history = [revision(1), revision(2), revision(3)];
        let (from, to) = rollback_target(&history, None).expect("target");
        assert_eq!((from.number, to.number), (3, 2));
        let (_, to) = rollback_target(&history, Some(1)).expect("target");
        assert_eq!(to.number, 1);
        assert!(rollback_target(&history, Some(3)).is_err());
        assert!(rollback_target(&history, Some(9)).is_err());
        assert!(rollback_target(&history[..1], None).is_err());
        assert!(rollback_target(&[], None).is_err());
    }

    #[test]
    fn decode_reads_gzipped_and_plain_release_json() {
        use std::io::Write;
        let json = br#"{"name":"app","version":4,"info":{"status":"deployed","last_deployed":"2026-11-29T02:40:00Z","description":"Upgrade complete"},"chart":{"metadata":{"name":"app","version":"1.4.0","appVersion":"2.0"}}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json).expect("gzip");
        let packed = gz.finish().expect("gzip");
        let b64 = base64::engine::general_purpose::STANDARD;
        for data in [b64.encode(&packed), b64.encode(json)] {
            let r = decode("s", data.as_bytes()).expect("decodes");
            assert_eq!(r.number, 4);
            assert_eq!(r.chart, "app-1.4.0");
            assert_eq!(r.app_version, "2.0");
            assert_eq!(r.status, "deployed");
        }
        assert!(decode("s", b"%%%").is_err());
    }
}
