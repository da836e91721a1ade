//! Looking after accounts by mail: verification and password reset. A request commits a
//! job ("send this mail") and returns at once (`jobs`); the sender task (`delivery`)
//! makes the link's token, renders the mail in the brand of the client the user came
//! through, and delivers it with retries. Links (`links`) are single-use keyed hashes;
//! `verification` and `reset` are what happens when one is used.

pub mod delivery;
pub mod jobs;
pub mod links;
pub mod reset;
pub mod verification;
