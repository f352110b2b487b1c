//! HTTP APIs (API Gateway v2).

pub mod access_log;
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
pub mod throttle;

pub use access_log::AccessLogSink;
pub use server::{router, GatewayOptions, HttpApi};
pub use spec::*;
pub use template::{from_template, IMPLICIT_API};
