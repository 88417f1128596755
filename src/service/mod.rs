//! The service layer between HTTP and the engine: reading a request's expressions and
//! points, building programs through the cache, and the error type every request path
//! answers with. It knows JSON values (points) but nothing of axum.

pub mod cache;
pub mod error;
pub mod grade;
pub mod point;
pub mod points;
pub mod program;
pub mod spellings;
pub mod work;

pub use cache::ProgramCache;
pub use error::ApiError;
pub use work::{RequestBudget, Workers};
