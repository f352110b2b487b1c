//! What HTTP APIs and REST APIs share: the request facts and the payload format 1.0 event
//! (in both flavours), Lambda authorizer policies and their result cache, token buckets,
//! access logs, ids, and reaching a function through [`ledge_model::Invoke`].

pub mod access_log;
pub mod event;
pub mod ids;
pub mod lambda;
pub mod policy;
pub mod throttle;
pub mod values;
