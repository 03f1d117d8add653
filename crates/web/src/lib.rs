//! The guestcpu browser app; see `docs/architecture.md`.
