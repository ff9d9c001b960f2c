//! The SQLite writer lock: an exclusive `flock` on `<database>.lock`, held for the life of the
//! store, so a second serving process on the same file is refused instead of replaying the first
//! one's requests and failing its running approvals. The kernel drops the lock when the process
//! ends, however it ends, so a crash never leaves a stale lock behind.
//!
//! Owns the lock file only; it never touches the database.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::{Error, Result};

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock of the database at `database` without waiting.
    ///
    /// # Errors
    /// [`Error::Locked`] naming the holder's pid when another process holds it;
    /// [`Error::Lock`] when the lock file cannot be created.
    pub fn take(database: &Path) -> Result<Self> {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let io_error = |source| Error::Lock {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path: database.display().to_string(),
                    lock: path.display().to_string(),
                    holder: if holder.is_empty() {
                        "unknown".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_error(e)),
        }
        // Who holds it, for the message another process shows.
        file.set_len(0).map_err(io_error)?;
        file.rewind().map_err(io_error)?;
        write!(file, "{}", std::process::id()).map_err(io_error)?;
        file.flush().map_err(io_error)?;
        Ok(Self { _file: file })
    }
}
