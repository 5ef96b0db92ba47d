//! The simulator's clock: PMS local time that moves only when told to, so that responses
//! are reproducible.

use std::sync::Mutex;

use chrono::{Duration, NaiveDateTime};

/// The simulated office clock.
#[derive(Debug)]
pub struct Clock {
    now: Mutex<NaiveDateTime>,
}

impl Clock {
    /// A clock at `start`.
    pub fn new(start: NaiveDateTime) -> Self {
        Self { now: Mutex::new(start) }
    }

    /// The current simulated time (office local).
    pub fn now(&self) -> NaiveDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock forward and returns the new time.
    pub fn advance(&self, by: Duration) -> NaiveDateTime {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
        *now
    }
}
