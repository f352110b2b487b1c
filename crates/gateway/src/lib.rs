//! ledge-gateway: Amazon API Gateway, served locally.
//!
//! This crate owns HTTP APIs (API Gateway v2, [`http`]) and REST APIs (v1, [`rest`]):
//! reading them from a template, compiling a deployment (route tables or resource trees,
//! stages, throttles, authorizers, method settings), and serving requests with AWS's
//! observable behaviour — stage and route / resource selection, Lambda proxy events in
//! payload formats 1.0 (HTTP and REST flavours) and 2.0 and their response rules, `HTTP` /
//! `HTTP_PROXY` integrations with parameter mapping, CORS, JWT and Lambda authorizers, API
//! keys and usage plans, throttling, REST's stage cache (over `ledge-cache`), access logs
//! and AWS's error bodies byte for byte. Each API exports an `axum::Router`; a new
//! deployment can be swapped in while serving. The API Gateway management calls that act
//! on served REST APIs (FlushStageCache, GetStage, UpdateStage) are
//! [`management_router`]. What both flavours share is in [`common`].
//!
//! It never spawns processes or links the runtime: functions are reached only through
//! [`ledge_model::Invoke`], so tests plug in a fake. It never binds sockets: `ledge-app`
//! binds and serves.

pub mod common;
mod error;
pub mod http;
pub mod rest;

pub use rest::{management_router, Management};

pub use error::GatewayError;
