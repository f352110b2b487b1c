//! HTTP APIs (API Gateway v2).

pub mod consts;
pub mod cors;
pub mod event;
pub mod jwt;
pub mod lambda_auth;
pub mod proxy;
pub mod response;
pub mod routes;
mod server;
pub mod spec;
mod template;

pub use crate::common::access_log::{self, AccessLogSink};
pub use crate::common::throttle;
pub use server::{router, GatewayOptions, HttpApi};
pub use spec::*;
pub use template::{from_template, IMPLICIT_API};
