//! What every request handler and resolver shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use projections::projector::Projector;
use sqlx::PgPool;

/// Cheap to clone: pools and flags behind `Arc`s.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub projector: Projector,
    /// Whether this process currently runs the projectors (holds the leader lock).
    leader: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(pool: PgPool, projector: Projector) -> Self {
        Self {
            pool,
            projector,
            leader: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
        metrics::gauge!("aegis_projector_leader").set(if leader { 1.0 } else { 0.0 });
    }
}
