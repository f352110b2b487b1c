//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// A platform fault while preparing or starting a confined process.
///
/// A child that starts and then fails (non-zero exit, OOM kill, signal) is not an error: that
/// is reported through [`crate::SandboxedProcess::wait`] and the accounting getters.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The [`crate::SpawnSpec`] cannot be honoured as given (caller bug).
    #[error("invalid spawn spec for environment {id:?}: {reason}")]
    InvalidSpec {
        /// The environment id of the rejected spec.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Creating, configuring or opening a cgroup file or directory failed.
    #[error("cgroup operation on {path} failed")]
    Cgroup {
        /// The cgroup file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Creating or configuring the output pipe failed.
    #[error("creating the output pipe for {program} failed")]
    Pipe {
        /// The program that was about to be spawned.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `fork`/`exec` failed (program missing, not executable, bad working directory, ...).
    #[error("spawning {program} failed")]
    Spawn {
        /// The program as passed to exec.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A confinement step in the child, between fork and exec, failed; the child never ran.
    #[error("confining {program} failed at step `{step}`")]
    Confine {
        /// The program as passed to exec.
        program: PathBuf,
        /// The failed step, e.g. `join cgroup`, `bind /var/task`, `chdir`.
        step: String,
        /// The errno of the failed system call.
        #[source]
        source: io::Error,
    },
}
