//! The playground: a demo relying party at /playground (filled in by the playground work).

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
