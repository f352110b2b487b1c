//! ledge-template (in progress).
