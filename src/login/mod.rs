//! The hosted pages as HTTP: `/login` and `/signup`, branded by the client that asked and
//! bound to its connection. The decisions (password checks, throttling, sign-up, the
//! completion of a login) are the core's (idp); here forms are read, cookies set and
//! pages rendered.

mod form;
pub mod login_page;
pub mod signup_page;
mod transaction;
