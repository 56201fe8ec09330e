//! api
pub mod local_postgres;
