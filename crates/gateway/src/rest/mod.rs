//! REST APIs (API Gateway v1): specs from templates (SAM and the low-level resources, with
//! OpenAPI definitions), the resource tree, Lambda proxy integrations with payload format
//! 1.0's REST quirks and response validation, `HTTP_PROXY`, non-proxy `AWS` (service
//! actions signed with SigV4, Lambda "custom"), `HTTP` and `MOCK` integrations with VTL
//! mapping templates (`ledge-vtl`), customised gateway responses,
//! Lambda TOKEN and REQUEST authorizers, API keys and usage plans, REST's error bodies, and
//! the stage cache (reference §1) over `ledge-cache`'s stores.

pub mod auth;
pub mod aws;
pub mod cache;
pub mod consts;
mod gateway_responses;
mod integration;
pub mod management;
pub mod openapi;
pub mod proxy;
pub mod resources;
pub mod response;
mod server;
pub mod spec;
pub mod sts;
mod template;
pub mod usage;

pub use management::{management_router, Management};
pub use server::{
    handle, router, CacheBackend, RestApi, RestBody, RestOptions, RestRegistry, DEFAULT_LOG_FORMAT,
};
pub use spec::*;
pub use template::{from_template, RestTemplate};
