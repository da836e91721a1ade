//! The forms on the pages behind mailed links (reset, verification, invitation): no login
//! transaction carries their CSRF token, so it is bound to the browser id cookie.

use actix_web::HttpRequest;

use crate::config::Settings;
use crate::idp::params::Params;
use crate::state::AppState;
use crate::web::cookies;

/// A posted form whose CSRF field matched this browser for its form name.
pub struct LinkForm {
    params: Params,
    /// The browser id the CSRF field was bound to.
    pub browser: String,
    pub csrf: String,
}

impl LinkForm {
    /// Parse `body` and check its `csrf` field for `form`: None for a stale or forged
    /// form (or one that is not UTF-8), which gets the stale-form page.
    pub fn checked(
        req: &HttpRequest,
        state: &AppState,
        s: &Settings,
        body: &[u8],
        form: &str,
    ) -> Option<Self> {
        let params = Params::parse(body).ok()?;
        let csrf = params.one("csrf").ok().flatten().map(str::to_owned);
        let https = s.issuer.is_https();
        let browser = cookies::form_csrf_ok(req, &state.idp.secrets, https, form, csrf.as_deref())?;
        Some(Self {
            params,
            browser,
            csrf: csrf.unwrap_or_default(),
        })
    }

    /// A field posted once (a repeated or missing one reads as empty).
    pub fn field(&self, name: &str) -> String {
        self.params
            .one(name)
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_owned()
    }
}
