//! Fakes for the outside things firewatch reaches: a Kubernetes API server and a helm binary;
//! and for the store: fresh Postgres schemas and a proxy that can cut the connection.

pub mod jobs;
pub mod kube;
pub mod objects;
pub mod pg;
pub mod pg_proxy;

use std::path::{Path, PathBuf};

/// A `helm` stand-in: a script that records its argv (one argument a line) and exits with the
/// code and stderr it is told.
pub struct FakeHelm {
    pub binary: PathBuf,
    dir: PathBuf,
}

impl FakeHelm {
    pub fn new(dir: &Path) -> Self {
        let binary = dir.join("fake-helm");
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{d}/helm-calls'\nprintf '%s\\n' \"$@\" > '{d}/helm-argv'\ncat '{d}/helm-stderr' >&2\nexit \"$(cat '{d}/helm-exit')\"\n",
            d = dir.display()
        );
        std::fs::write(&binary, script).expect("write fake helm");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let helm = Self {
            binary,
            dir: dir.to_owned(),
        };
        helm.exit_with(0, "");
        helm
    }

    /// The next run exits with `code`, printing `stderr`.
    pub fn exit_with(&self, code: i32, stderr: &str) {
        std::fs::write(self.dir.join("helm-exit"), code.to_string()).expect("write exit code");
        std::fs::write(self.dir.join("helm-stderr"), stderr).expect("write stderr");
    }

    /// Every run so far, its argv joined by spaces, in order.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("helm-calls"))
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The argv of the last run, `None` when it never ran.
    pub fn argv(&self) -> Option<Vec<String>> {
        std::fs::read_to_string(self.dir.join("helm-argv"))
            .ok()
            .map(|t| t.lines().map(str::to_owned).collect())
    }
}
