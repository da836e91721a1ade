//! Sample Orders API routes (filled in by the verifier work).
