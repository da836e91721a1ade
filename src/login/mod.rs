//! The hosted pages as HTTP: `/login` and `/signup`, branded by the client that asked and
//! bound to its connection, and the account pages mailed links open (`/verify-email`,
//! `/forgot-password`, `/reset-password`). The decisions (password checks, throttling,
//! sign-up, links, the completion of a login) are the core's (idp); here forms are read,
//! cookies set and pages rendered.

mod form;
pub mod invitation_page;
mod link_form;
pub mod login_page;
mod notice;
pub mod reset_pages;
pub mod signup_page;
mod transaction;
pub mod upstream_pages;
pub mod verify_pages;
