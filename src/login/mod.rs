//! The hosted pages: login and sign-up forms branded per client, the SSO session
//! cookies, CSRF binding, brute-force throttling and the completion of a login
//! (rules, then the authorization code).

pub mod flow;
pub mod pages;
pub mod password;
pub mod session;
pub mod throttle;

/// Common passwords refused at sign-up (shipped in the repository).
pub fn is_common_password(p: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../../assets/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
    .contains(p.to_lowercase().as_str())
}
