//! One module per verb.

pub mod build;
pub mod ca;
pub mod record;
pub mod state;
