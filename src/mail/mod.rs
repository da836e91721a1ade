//! Account mail as messages: branded templates rendered into multipart text + HTML
//! (`render`), and the transports that carry them (`transport`: SMTP through lettre, or
//! `.eml` files in an outbox). What to send and when is the core's (idp::account); this
//! layer knows nothing of users or links' meaning.

pub mod render;
pub mod transport;

pub use render::{compose, MailBrand, MailKind, Rendered};
pub use transport::{Mailer, SendError};
