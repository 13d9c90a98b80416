//! Files: finding the one a request names inside the document root, and its response body.

pub mod body;
pub mod cache;
pub mod compress;
pub mod listing;
pub mod resolve;
