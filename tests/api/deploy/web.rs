//! The web overlay (oauth2-proxy in front of firewatch).

use super::*;

fn web() -> Manifests {
    let mut m = Manifests::default();
    load(&deploy().join("overlays/web"), &mut m);
    m
}

fn args(d: &Deployment) -> Vec<String> {
    container(d).args.clone().unwrap_or_default()
}

#[test]
fn oauth2_proxy_signs_people_in_and_names_them_to_firewatch_which_only_it_can_reach() {
    let m = web();
    let firewatch = m
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("firewatch"))
        .expect("production's firewatch comes along");
    let proxy = m
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("oauth2-proxy"))
        .expect("the oauth2-proxy Deployment");
    let args = args(proxy);
    let service = m
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("firewatch"))
        .unwrap();
    let port = service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].port;
    assert!(
        args.contains(&format!(
            "--upstream=http://firewatch.firewatch.svc:{port}/"
        )),
        "{args:?}"
    );
    for flag in [
        "--pass-user-headers=true",
        "--skip-auth-strip-headers=true",
        "--skip-auth-route=^/slack/",
        "--skip-auth-route=^/discord/",
        "--skip-auth-route=GET=^/status",
        "--skip-auth-route=GET=^/static/",
    ] {
        assert!(args.iter().any(|a| a == flag), "{flag} in {args:?}");
    }
    // Internal pages are never skipped.
    for arg in args.iter().filter(|a| a.starts_with("--skip-auth-route=")) {
        for internal in ["/incidents", "/insights"] {
            let route = arg.rsplit('=').next().unwrap().trim_start_matches('^');
            assert!(
                !internal.starts_with(route),
                "{arg} lets {internal} through"
            );
        }
    }
    // The patch turns the pages on with the header oauth2-proxy sets.
    let patch = m
        .patches
        .iter()
        .find(|p| {
            p["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .is_some_and(|env| env.iter().any(|e| e["name"] == "FIREWATCH__WEB__ENABLED"))
        })
        .expect("the web patch");
    let env: BTreeMap<&str, &str> = patch["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(env["FIREWATCH__WEB__ENABLED"], "true");
    assert_eq!(env["FIREWATCH__WEB__USER_HEADER"], "X-Forwarded-User");
    // Only oauth2-proxy and monitoring reach firewatch's pods.
    assert_eq!(m.network_policies.len(), 1);
    let policy = m.network_policies[0].spec.as_ref().unwrap();
    let firewatch_labels = pod_labels(firewatch);
    for (k, v) in policy
        .pod_selector
        .as_ref()
        .and_then(|s| s.match_labels.as_ref())
        .unwrap()
    {
        assert_eq!(firewatch_labels.get(k), Some(v));
    }
    let proxy_labels = pod_labels(proxy);
    let from = policy.ingress.as_ref().unwrap()[0].from.as_ref().unwrap();
    let allowed_pods = from[0]
        .pod_selector
        .as_ref()
        .unwrap()
        .match_labels
        .as_ref()
        .unwrap();
    for (k, v) in allowed_pods {
        assert_eq!(proxy_labels.get(k), Some(v));
    }
    let proxy_port = resolve(&IntOrString::String("http".into()), container(proxy));
    let proxy_service = m
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("oauth2-proxy"))
        .unwrap();
    assert_eq!(
        proxy_service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].target_port,
        Some(IntOrString::String("http".into()))
    );
    assert!(args.contains(&format!("--http-address=0.0.0.0:{proxy_port}")));
}
