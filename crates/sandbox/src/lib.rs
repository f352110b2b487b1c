//! ledge-sandbox (in progress).
