//! `GET /readyz`: 503 with the reasons, and back to 200.

use super::flaky::Flaky;
use super::*;

async fn serve_health(health: Health) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState {
        slack: None,
        discord: None,
        alerts: None,
        pagers: None,
        health,
        bodies: http::body::Bodies::new(std::time::Duration::from_secs(10), 1 << 20),
        web: None,
    };
    let routes = http::router(state);
    tokio::spawn(async move { axum::serve(listener, routes).await });
    addr
}

#[tokio::test]
async fn readyz_is_503_with_the_reason_while_the_store_is_down_and_200_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStore::connect(&format!("sqlite://{}", dir.path().join("fw.db").display()))
        .await
        .unwrap();
    let store = Arc::new(Flaky {
        inner: sqlite,
        mode: AtomicU8::new(0),
    });
    let readiness = Readiness::default();
    readiness.templates_loaded();
    let metrics = Arc::new(Metrics::default());
    let addr = serve_health(Health::new(store.clone(), readiness, metrics)).await;

    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    store.mode.store(1, Ordering::SeqCst);
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("store: store query failed"), "{body}");
    // /healthz says the process is alive all the same; /metrics leaves the store gauge out
    // only when the store cannot count (here it can).
    assert_eq!(get(addr, "/healthz").await.0, 200);

    store.mode.store(2, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body, "store: no answer within 2000 ms\n");
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");

    store.mode.store(0, Ordering::SeqCst);
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
}

#[tokio::test]
async fn readyz_names_every_problem_a_closed_store_and_unloaded_templates_and_a_dropped_link() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStore::connect(&format!("sqlite://{}", dir.path().join("fw.db").display()))
        .await
        .unwrap();
    sqlite.close().await;
    let readiness = Readiness::default();
    let link = readiness.link("discord gateway");
    let addr = serve_health(Health::new(
        Arc::new(sqlite),
        readiness.clone(),
        Arc::new(Metrics::default()),
    ))
    .await;
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[0].starts_with("store: "), "{body}");
    assert_eq!(
        lines[1..],
        ["templates: not loaded", "discord gateway: not connected"]
    );
    // The metrics still answer, without the gauge the store would give.
    let (status, _, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(!text.contains("firewatch_open_incidents"), "{text}");
    check_exposition(&text);
    link.connected();
    readiness.templates_loaded();
    let (_, _, body) = get(addr, "/readyz").await;
    assert_eq!(body.lines().count(), 1, "{body}");
}

#[tokio::test]
async fn readyz_waits_for_socket_mode_to_say_hello() {
    let fake = FakeSlack::start().await;
    let env = vec![
        (
            "FIREWATCH__SLACK__API_URL".to_owned(),
            format!("{}/api", fake.url),
        ),
        (
            "FIREWATCH__SLACK__BOT_TOKEN".to_owned(),
            "xoxb-test-token".to_owned(),
        ),
        (
            "FIREWATCH__SLACK__APP_TOKEN".to_owned(),
            "xapp-test-token".to_owned(),
        ),
        (
            "FIREWATCH__SLACK__SIGNING_SECRET".to_owned(),
            SECRET.to_owned(),
        ),
    ];
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    fake.wait_calls("apps.connections.open", 1).await;
    let mut last = String::new();
    for _ in 0..200 {
        let (status, _, body) = get(running.addr, "/readyz").await;
        if status == 200 {
            running.stop().await.unwrap();
            return;
        }
        assert_eq!(body, "slack socket mode: not connected\n");
        last = body;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never ready: {last}");
}

/// The acceptance test of #8: a real `serve` on Postgres, the database cut off and back.
#[tokio::test]
async fn on_postgres_readyz_goes_503_while_the_database_is_cut_off_and_200_when_it_is_back() {
    let proxy = crate::support::pg_proxy::PgProxy::to_test_server().await;
    let schema = crate::support::pg::PgSchema::create_on(&proxy.url()).await;
    let fake = crate::fake_slack::FakeSlack::start().await;
    let t = crate::helpers::TestApp::spawn_with(vec![
        ("FIREWATCH__STORE__URL".into(), schema.url.clone()),
        (
            "FIREWATCH__SLACK__API_URL".into(),
            format!("{}/api", fake.url),
        ),
        (
            "FIREWATCH__SLACK__BOT_TOKEN".into(),
            "xoxb-test-token".into(),
        ),
        (
            "FIREWATCH__SLACK__SIGNING_SECRET".into(),
            crate::slack::SECRET.into(),
        ),
    ])
    .await;
    let running = firewatch::app::serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let readyz = || async { get(running.addr, "/readyz").await };
    let (status, _, body) = readyz().await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    proxy.off();
    // Each probe is bounded (2 s); the pool notices the cut on its next query.
    let mut down = None;
    for _ in 0..10 {
        let (status, _, body) = readyz().await;
        if status == 503 {
            down = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = down.expect("/readyz said 503 while the database was cut off");
    assert!(body.starts_with("store: "), "{body}");
    assert!(!body.contains("postgres@"), "no URL in the reason: {body}");
    assert_eq!(get(running.addr, "/healthz").await.0, 200, "still alive");

    proxy.on();
    let mut back = false;
    for _ in 0..40 {
        let (status, _, body) = readyz().await;
        if status == 200 {
            assert_eq!(body, "ready\n");
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(back, "/readyz is 200 again once the database is back");
    running.stop().await.unwrap();
}
