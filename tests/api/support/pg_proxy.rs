//! A TCP proxy in front of Postgres that a test can switch off and on: off drops every open
//! connection and refuses new ones, as a database that went away does. For the store's
//! reconnect test and the `/readyz` test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; stops when dropped.
pub struct PgProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl PgProxy {
    /// Starts a proxy to `target` (`127.0.0.1:5432`), switched on.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0_u64);
        let task = tokio::spawn({
            let up = Arc::clone(&up);
            let generation = generation.clone();
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(client); // refused: closed at once
                        continue;
                    }
                    let mut cut = generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let (mut client, mut server) = (client, server);
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Self {
            addr,
            up,
            generation,
            task,
        }
    }

    /// A proxy to the test server's address (from `FIREWATCH_TEST_POSTGRES`, or 127.0.0.1:5432).
    pub async fn to_test_server() -> Self {
        Self::start("127.0.0.1:5432".parse().expect("address")).await
    }

    /// The test server's URL with its address replaced by the proxy's.
    pub fn url(&self) -> String {
        format!("postgres://postgres@{}/test", self.addr)
    }

    /// Off: drops every connection through it and refuses new ones until [`PgProxy::on`].
    pub fn off(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// On again.
    pub fn on(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.off();
        self.task.abort();
    }
}
