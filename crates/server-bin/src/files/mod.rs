//! Files: the document root (and its swaps), finding the file a request names inside it, and
//! its response body.

pub mod body;
pub mod cache;
pub mod compress;
pub mod listing;
pub mod resolve;
pub mod root;
