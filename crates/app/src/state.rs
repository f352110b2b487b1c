//! One ledge per state dir: an exclusive lock held while the platform runs.

use std::fs::File;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::AppError;

/// Held for as long as the platform runs; released on drop (or when the process dies).
pub struct StateLock {
    _lock: Flock<File>,
}

impl StateLock {
    pub fn acquire(state_dir: &Path) -> Result<Self, AppError> {
        let path = state_dir.join("ledge.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| AppError::Io {
                what: format!("cannot open {}", path.display()),
                source,
            })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Self { _lock: lock }),
            Err((_, _)) => Err(AppError::Usage(format!(
                "another ledge is already running with the state dir {}; stop it or pass a different --state-dir",
                state_dir.display()
            ))),
        }
    }
}
