//! The protocol core: every decision Portico makes as an OpenID provider, with no HTTP in
//! it. The edge (web/, oidc/, login/) parses requests, calls in here with typed values
//! and the time (`now`, Unix seconds), and shapes the answer. Like kanidm's idm, this
//! layer imports no HTTP framework; .ci/run greps for it.

pub mod account;
pub mod admin;
pub mod auth_request;
pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod error;
pub mod grants;
pub mod hasher;
pub mod introspection;
pub mod invitations;
pub mod login;
pub mod logout;
pub mod new_password;
pub mod params;
pub mod password_check;
pub mod revocation;
pub mod signup;
pub mod throttle;
pub mod transaction;
pub mod upstream;
pub mod userinfo;
pub mod users;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub use error::{ErrorCode, OAuthError, Refusal};

use crate::config::Settings;
use crate::secrets::Secrets;
use crate::store::Store;
use crate::tokens::Keys;
use hasher::Hasher;
use throttle::{Budget, ClientAuthLimiter, IpBucket, IpLimiter, SignupLimiter};

/// Password-reset requests per client address (or IPv6 /64) per hour: the mails they
/// send are limited per account as well (account::delivery).
const RESETS_PER_IP_PER_HOUR: u32 = 20;

/// The in-memory limits, per server (review H2, M2, M3, I3).
pub struct Limits {
    pub ip: IpLimiter,
    pub signups: SignupLimiter,
    pub client_auth: ClientAuthLimiter,
    /// Codes per SSO session per minute: a session (anyone's own, after a sign-up)
    /// cannot mint codes and audit rows as fast as it can loop /authorize.
    pub sso: Budget<[u8; 16]>,
    /// Password-reset requests per address.
    pub resets: Budget<IpBucket>,
}

impl Limits {
    pub fn new(s: &Settings) -> Self {
        let l = &s.login;
        Self {
            ip: IpLimiter::new(l.max_failures_per_ip, l.failure_window),
            signups: SignupLimiter::new(
                l.max_signups_per_ip,
                l.signup_window,
                l.max_signups_per_minute,
            ),
            client_auth: ClientAuthLimiter::new(l.max_client_auth_failures, 300),
            sso: Budget::new(l.max_sso_per_minute, 60),
            resets: Budget::new(RESETS_PER_IP_PER_HOUR, 3600),
        }
    }

    pub fn forget_old(&self, now: i64) {
        self.ip.forget_old(now);
        self.signups.forget_old(now);
        self.client_auth.forget_old(now);
        self.sso.forget_old(now);
        self.resets.forget_old(now);
    }
}

/// Everything the core decides with: configuration, store, keys, the server secret, the
/// hashing pool and the limits.
pub struct Idp {
    /// The configuration in force; `reload` swaps it whole (SIGHUP).
    settings: ArcSwap<Settings>,
    pub store: Store,
    pub keys: Keys,
    pub secrets: Secrets,
    pub hasher: Hasher,
    pub limits: Limits,
    /// The transport of `[email]`; none without it. A reload that changes it swaps it.
    mailer: arc_swap::ArcSwapOption<crate::mail::Mailer>,
    /// Wakes the mail sender when a job is queued.
    pub mail_queued: tokio::sync::Notify,
    /// Upstream providers' discovery and keys, cached.
    pub upstreams: upstream::Upstreams,
}

impl Idp {
    pub fn new(
        settings: Arc<Settings>,
        store: Store,
        keys: Keys,
        secrets: Secrets,
        mailer: Option<crate::mail::Mailer>,
    ) -> Self {
        Self {
            hasher: Hasher::new(settings.login.hash_concurrency, settings.login.hash_queue),
            limits: Limits::new(&settings),
            mailer: arc_swap::ArcSwapOption::from(mailer.map(Arc::new)),
            mail_queued: tokio::sync::Notify::new(),
            upstreams: upstream::Upstreams::new(),
            settings: ArcSwap::new(settings),
            store,
            keys,
            secrets,
        }
    }

    /// The configuration in force. A request takes it once and keeps it: a reload in
    /// the middle does not mix two configurations in one answer.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.load_full()
    }

    /// The mail transport in force, if mail is configured.
    pub fn mailer(&self) -> Option<Arc<crate::mail::Mailer>> {
        self.mailer.load_full()
    }

    /// Put a new (validated) configuration in force for the requests that start from
    /// now, with its mail transport when that changed (`None`: keep the current one).
    pub fn reload(&self, settings: Arc<Settings>, mailer: Option<Option<crate::mail::Mailer>>) {
        if let Some(m) = mailer {
            self.mailer.store(m.map(Arc::new));
        }
        self.settings.store(settings);
    }

    /// How long a retired key stays published: the longest lifetime of a token it signed.
    pub fn publish_for(&self) -> i64 {
        publish_for(&self.settings())
    }
}

pub fn publish_for(s: &Settings) -> i64 {
    s.tokens.access_token_ttl.max(s.tokens.id_token_ttl)
}
