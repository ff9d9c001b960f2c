//! `rm fw.db*` under a running `firewatch serve`: SQLite goes on writing to the deleted file,
//! which is lost when the process ends, so `/readyz` must say so, and the log too.

use crate::crash::Server;
use crate::fake_slack::FakeSlack;
use crate::health::get;

use super::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_database_file_makes_readyz_fail_and_is_logged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("fw.db");
    let slack = FakeSlack::start().await;
    let server = Server::start(&db, &slack);
    eventually("ready", || async {
        get(server.addr, "/readyz").await.0 == 200
    })
    .await;

    for entry in std::fs::read_dir(dir.path()).expect("the folder") {
        let path = entry.expect("an entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("fw.db"))
        {
            std::fs::remove_file(path).expect("rm fw.db*");
        }
    }
    let said = format!("the database file {} was deleted or replaced", db.display());
    eventually("/readyz names the deleted file", || async {
        let (status, _, body) = get(server.addr, "/readyz").await;
        status == 503 && body.starts_with(&format!("store: {said}"))
    })
    .await;
    eventually("the log names the deleted file", || async {
        server
            .log()
            .iter()
            .any(|line| line.contains("ERROR") && line.contains(&said))
    })
    .await;
    assert_eq!(get(server.addr, "/healthz").await.0, 200, "still alive");
}
