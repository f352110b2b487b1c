//! ledge-app (in progress).
