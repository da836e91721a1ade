//! The demo: a relying party at /playground and the sample Orders API under /demo-api,
//! on only when `[playground] enabled`.

pub mod demo_api;
pub mod playground;
