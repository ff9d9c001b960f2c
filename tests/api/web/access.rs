//! Who may read what: internal pages need the proxy's header or Basic credentials, the status
//! page needs nothing, and every answer carries the security headers.

use base64::Engine as _;

use super::{USER_HEADER, app, app_with, get, get_as_alice, serve};
use crate::helpers::Backend;

const INTERNAL: [&str; 6] = [
    "/",
    "/incidents",
    "/incidents/1",
    "/incidents?severity=P1",
    "/insights",
    "/insights.csv",
];
const PUBLIC: [&str; 4] = [
    "/status",
    "/status.json",
    "/status.atom",
    "/static/style.css",
];

#[tokio::test]
async fn internal_pages_answer_401_without_the_proxy_header_and_the_status_page_is_public() {
    let t = app(Backend::Sqlite).await;
    t.say("/incident-assess checkout is slow").await;
    let addr = serve(&t).await;
    for path in INTERNAL {
        let answer = get(addr, path, &[]).await;
        assert_eq!(answer.status, 401, "{path}: {}", answer.body);
        assert_eq!(answer.header("www-authenticate"), None, "{path}");
        let empty = get(addr, path, &[(USER_HEADER, "  ")]).await;
        assert_eq!(empty.status, 401, "{path} with an empty header");
        let signed_in = get_as_alice(addr, path).await;
        assert_eq!(signed_in.status, 200, "{path}: {}", signed_in.body);
        if !path.ends_with(".csv") {
            assert!(signed_in.body.contains("signed in as alice"), "{path}");
        }
    }
    for path in PUBLIC {
        let answer = get(addr, path, &[]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
}

#[tokio::test]
async fn every_answer_carries_a_strict_content_security_policy() {
    let t = app(Backend::Sqlite).await;
    let addr = serve(&t).await;
    for (path, signed_in) in INTERNAL
        .iter()
        .map(|p| (*p, true))
        .chain(INTERNAL.iter().map(|p| (*p, false)))
        .chain(PUBLIC.iter().map(|p| (*p, false)))
        .chain([("/incidents/999", true), ("/incidents?from=never", true)])
    {
        let answer = if signed_in {
            get_as_alice(addr, path).await
        } else {
            get(addr, path, &[]).await
        };
        let csp = answer.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(!csp.contains("script-src"), "{path}: {csp}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("referrer-policy"), Some("same-origin"));
    }
}

#[tokio::test]
async fn without_a_way_to_identify_people_the_internal_pages_are_off_and_the_status_page_is_on() {
    let t = app_with(Backend::Sqlite, &[]).await;
    let addr = serve(&t).await;
    for path in INTERNAL {
        let answer = get_as_alice(addr, path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(answer.body.contains("web.user_header"), "{}", answer.body);
    }
    assert_eq!(get(addr, "/status", &[]).await.status, 200);
}

fn basic(name: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
    format!("Basic {encoded}")
}

#[tokio::test]
async fn basic_authentication_takes_a_listed_user_with_the_password_of_their_hash_only() {
    let hash = firewatch::web::password::hash("s3cret horse").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = crate::helpers::write_config(dir.path());
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[[web.users]]\nname = \"bob\"\npassword_hash = \"{hash}\"\n"
    ));
    std::fs::write(&path, text).unwrap();
    let settings = firewatch::config::Settings::load_with_env(&path, Vec::new()).unwrap();
    assert_eq!(settings.web.users.len(), 1);
    // The users as the file lists them, on a web-enabled app.
    let mut t = app_with(Backend::Sqlite, &[]).await;
    t.app.settings.web.users = settings.web.users;
    let addr = serve(&t).await;
    let none = get(addr, "/", &[]).await;
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Basic realm=")),
        "{:?}",
        none.headers
    );
    for (name, password) in [("bob", "wrong"), ("eve", "s3cret horse"), ("bob", "")] {
        let answer = get(addr, "/", &[("Authorization", &basic(name, password))]).await;
        assert_eq!(answer.status, 401, "{name}:{password}");
    }
    let garbage = get(addr, "/", &[("Authorization", "Basic !!!")]).await;
    assert_eq!(garbage.status, 401);
    for _ in 0..2 {
        let answer = get(
            addr,
            "/",
            &[("Authorization", &basic("bob", "s3cret horse"))],
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains("signed in as bob"));
    }
    // The proxy's header means nothing when Basic authentication is configured.
    assert_eq!(
        get(addr, "/", &[(USER_HEADER, "mallory")]).await.status,
        401
    );
}

#[test]
fn a_config_with_both_ways_or_a_bad_hash_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::helpers::write_config(dir.path());
    let base = std::fs::read_to_string(&path).unwrap();
    let hash = firewatch::web::password::hash("pw").unwrap();
    // Keys under the example's [web] header, and users after it.
    for (keys, users, key) in [
        (
            "user_header = \"X-User\"\n".to_owned(),
            format!("[[web.users]]\nname = \"a\"\npassword_hash = \"{hash}\"\n"),
            "web.user_header",
        ),
        (
            String::new(),
            "[[web.users]]\nname = \"a\"\npassword_hash = \"hunter2\"\n".to_owned(),
            "web.users[0].password_hash",
        ),
        (
            "user_header = \"X User\"\n".to_owned(),
            String::new(),
            "web.user_header",
        ),
        (
            String::new(),
            format!(
                "[[web.users]]\nname = \"a\"\npassword_hash = \"{hash}\"\n\
                 [[web.users]]\nname = \"a\"\npassword_hash = \"{hash}\"\n"
            ),
            "web.users[1].name",
        ),
    ] {
        let text = base.replace("[web]\n", &format!("[web]\n{keys}"));
        std::fs::write(&path, format!("{text}\n{users}")).unwrap();
        let error = firewatch::config::Settings::load_with_env(&path, Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains(key), "{error}");
    }
}
