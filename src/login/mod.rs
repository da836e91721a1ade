//! The hosted pages: login and sign-up forms branded per client, the SSO session
//! cookies, CSRF binding, brute-force throttling and the completion of a login
//! (rules, then the authorization code).

pub mod device;
pub mod flow;
pub mod pages;
pub mod password;
pub mod session;
pub mod throttle;
