//! The Deployment and Service of the base: probes, ports, security, resources.

use super::*;

#[test]
fn the_deployment_probes_serves_and_reads_its_config_where_firewatch_expects() {
    let m = base();
    let d = &m.deployments[0];
    let c = container(d);
    let (settings, config_path) = generated_settings(&m);
    let listen: std::net::SocketAddr = settings.server.listen.parse().unwrap();
    let live = c
        .liveness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    let ready = c
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(live.path.as_deref(), Some("/healthz"));
    assert_eq!(ready.path.as_deref(), Some("/readyz"));
    assert_eq!(resolve(&live.port, c), i32::from(listen.port()));
    assert_eq!(resolve(&ready.port, c), i32::from(listen.port()));
    // The readiness timeout is longer than /readyz's bound on the store check.
    let timeout = c.readiness_probe.as_ref().unwrap().timeout_seconds.unwrap();
    assert!(u64::try_from(timeout).unwrap() > firewatch::app::health::STORE_CHECK.as_secs());
    assert_eq!(
        c.args.as_deref().unwrap(),
        ["serve", "--config", config_path.as_str()]
    );
    // The Service sends its traffic to that port, on the pods of this Deployment.
    let service = &m.services[0];
    let spec = service.spec.as_ref().unwrap();
    for port in spec.ports.as_deref().unwrap() {
        assert_eq!(
            resolve(port.target_port.as_ref().unwrap(), c),
            i32::from(listen.port())
        );
    }
    let labels = pod_labels(d);
    for (k, v) in spec.selector.as_ref().unwrap() {
        assert_eq!(labels.get(k), Some(v), "service selector {k}");
    }
    // The pod's grace period outlasts firewatch's own shutdown grace.
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(
        pod.termination_grace_period_seconds.unwrap()
            > i64::try_from(settings.server.shutdown_grace.as_secs()).unwrap()
    );
    // The image's helm and entrypoint are where the settings and the Deployment say.
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains(&format!(" {}; \\", settings.helm.binary.display())));
    assert!(dockerfile.contains(&format!("\"--config\", \"{config_path}\"")));
    assert!(dockerfile.contains("USER 65532:65532"));
}

#[test]
fn the_pod_runs_non_root_on_a_read_only_root_with_writable_volumes_where_it_writes() {
    let m = base();
    let d = &m.deployments[0];
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert!(pod_security.run_as_user.is_some_and(|u| u != 0));
    let c = container(d);
    let security = c.security_context.as_ref().unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_ne!(security.privileged, Some(true));
    let caps = security.capabilities.as_ref().unwrap();
    assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_owned()][..]));
    assert!(caps.add.is_none());
    // Every writable mount is an emptyDir; the store, reports, profiles and helm's home are on
    // one.
    let volumes: BTreeMap<&str, _> = pod
        .volumes
        .as_deref()
        .unwrap()
        .iter()
        .map(|v| (v.name.as_str(), v))
        .collect();
    let writable: Vec<&str> = c
        .volume_mounts
        .as_deref()
        .unwrap()
        .iter()
        .filter(|m| m.read_only != Some(true))
        .map(|m| {
            assert!(volumes[m.name.as_str()].empty_dir.is_some(), "{}", m.name);
            m.mount_path.as_str()
        })
        .collect();
    let env = env_of(c);
    let store = env["FIREWATCH__STORE__URL"]
        .strip_prefix("sqlite://")
        .unwrap()
        .to_owned();
    let (settings, _) = generated_settings(&m);
    for path in [
        store.as_str(),
        &settings.reports.dir.display().to_string(),
        &settings.diagnose.profile_dir.display().to_string(),
        "/tmp/helm/cache",
    ] {
        assert!(
            writable.iter().any(|w| path.starts_with(&format!("{w}/"))),
            "{path} is not on a writable volume ({writable:?})"
        );
    }
    // Secrets come from files the Secret provides; the template holds placeholders only.
    let template: Secret = yaml(&deploy().join("base/secret.example.yaml"));
    let keys = template.string_data.as_ref().unwrap();
    for value in keys.values() {
        assert!(
            value.starts_with("REPLACE_WITH_"),
            "a placeholder, not a secret: {value}"
        );
    }
    let secret_volume = volumes
        .values()
        .find(|v| v.secret.is_some())
        .expect("the Secret is mounted");
    assert_eq!(
        secret_volume.secret.as_ref().unwrap().secret_name,
        template.metadata.name
    );
    let mount = c
        .volume_mounts
        .as_deref()
        .unwrap()
        .iter()
        .find(|m| m.name == secret_volume.name)
        .unwrap();
    for (name, value) in &env {
        if name.ends_with("_FILE") {
            let key = value
                .strip_prefix(&format!("{}/", mount.mount_path))
                .unwrap_or_else(|| panic!("{name} points outside the Secret mount"));
            assert!(
                keys.contains_key(key),
                "{name}: the Secret has no key {key}"
            );
        }
    }
}

/// Parses `64Mi`, `1Gi`, `500M` into MiB.
fn mebibytes(quantity: &str) -> f64 {
    let (number, unit) = quantity.split_at(quantity.find(|c: char| c.is_alphabetic()).unwrap());
    let n: f64 = number.parse().unwrap();
    match unit {
        "Mi" => n,
        "Gi" => n * 1024.0,
        "M" => n * 1e6 / 1_048_576.0,
        other => panic!("unit {other}"),
    }
}

#[test]
fn resources_are_sized_from_the_measured_footprint() {
    let m = base();
    let c = container(&m.deployments[0]);
    let resources = c.resources.as_ref().unwrap();
    let request = mebibytes(&resources.requests.as_ref().unwrap()["memory"].0);
    let limit = mebibytes(&resources.limits.as_ref().unwrap()["memory"].0);
    assert!(resources.requests.as_ref().unwrap().contains_key("cpu"));
    let benchmarks = std::fs::read_to_string(repo().join("BENCHMARKS.md")).unwrap();
    // The measured columns (SQLite, Postgres) of a row of BENCHMARKS.md's table, in MiB: every
    // number past the measure and its target.
    let number = regex::Regex::new(r"\d+(\.\d+)?").unwrap();
    let figures = |measure: &str| -> Vec<f64> {
        let row = benchmarks
            .lines()
            .find(|l| l.starts_with(&format!("| {measure} |")))
            .unwrap_or_default();
        row.split('|')
            .skip(3)
            .flat_map(|cell| number.find_iter(cell).map(|n| n.as_str().parse().unwrap()))
            .collect()
    };
    let idle = figures("idle RSS");
    let peak = figures("RSS right after the burst");
    assert!(
        !idle.is_empty() && !peak.is_empty(),
        "BENCHMARKS.md has the figures"
    );
    let idle = idle.into_iter().fold(0.0, f64::max);
    let peak = peak.into_iter().fold(0.0, f64::max);
    assert!(
        request >= idle,
        "request {request} MiB below idle {idle} MiB"
    );
    // Room for the measured peak and a helm rollback (the helm CLI runs in the container).
    assert!(limit >= 2.0 * peak, "limit {limit} MiB vs peak {peak} MiB");
    assert!(
        limit <= 1024.0,
        "limit {limit} MiB is far above the footprint"
    );
}
