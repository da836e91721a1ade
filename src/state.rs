//! The shared state every handler receives as `web::Data<AppState>`. A leaf: it names
//! the core and the clock, never a handler, so handler modules and `startup` do not
//! import each other.

use crate::clock::Clock;
use crate::idp::Idp;

pub struct AppState {
    /// The protocol core: settings, store, keys, secret, hashing pool, limits.
    pub idp: Idp,
    pub clock: Clock,
    /// The discovery document, serialised once per configuration (a reload replaces it).
    pub discovery: arc_swap::ArcSwap<bytes::Bytes>,
    /// Serialises housekeeping runs, so an older key snapshot never replaces a newer one.
    pub housekeeping: tokio::sync::Mutex<()>,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
