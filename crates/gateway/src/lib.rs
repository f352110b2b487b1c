//! ledge-gateway: Amazon API Gateway, served locally.
//!
//! This crate owns HTTP APIs (API Gateway v2): reading them from a template, compiling a
//! deployment (route tables, stages, throttles, authorizers), and serving requests with
//! AWS's observable behaviour — stage and route selection, Lambda proxy events in payload
//! formats 1.0 and 2.0 and the response rules, `HTTP_PROXY` integrations with parameter
//! mapping, CORS, JWT and Lambda authorizers, throttling, access logs and AWS's error
//! bodies byte for byte. Each API exports an `axum::Router`; a new deployment can be
//! swapped in while serving.
//!
//! It never spawns processes or links the runtime: functions are reached only through
//! [`ledge_model::Invoke`], so tests plug in a fake. It never binds sockets: `ledge-app`
//! binds and serves.

mod error;
pub mod http;

pub use error::GatewayError;
