//! ledge-runtime (in progress).
