//! Authentication and authorisation: who is asking (tokens, sessions), what they may do, and the account
//! flows (sign-in, passwords, two-factor login, API tokens, user administration).

pub mod identity;
pub mod session;
pub mod tokens;
