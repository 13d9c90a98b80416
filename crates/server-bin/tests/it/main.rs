//! Integration tests: the real binary on 127.0.0.1, port 0, a temporary root, raw sockets, curl
//! and wget.

mod caching;
mod clients;
mod compression;
mod deploys;
mod directories;
mod errors;
mod http2;
mod lifecycle;
mod load;
mod makefile;
mod observability;
mod precompressed;
mod ranges;
mod readme;
mod restart;
mod security;
mod serving;
mod site;
mod site_rules;
mod startup;
mod support;
mod tls;
