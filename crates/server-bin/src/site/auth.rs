//! `[auth]`: HTTP Basic authentication (RFC 7617) for the paths its globs match, against
//! Argon2id password hashes (PHC strings, as `http-server hash-password` prints them).
//!
//! An Argon2id check costs tens of milliseconds and megabytes on purpose, and it runs on the
//! worker that got the request; were every request checked, anyone could keep the workers busy.
//! So: credentials verified once are remembered ([`CREDENTIAL_CACHE_ENTRIES`], for
//! [`CREDENTIAL_TTL`]), keyed by an HMAC-SHA256 of the credentials under a key made at load
//! (never the password itself, and a new key, an empty cache, on every reload); a client
//! address (IPv6 by its /64) may fail [`FAILURE_BURST`] checks, then one per
//! [`FAILURE_INTERVAL`], and past that its unknown credentials are not checked at all but
//! answered `429` with `Retry-After` (not `401`, which would make a browser ask the person
//! again for a password that would not be looked at); a header that is not Basic costs no
//! check and counts as no failure. A name that is not a user is checked against the first
//! user's hash all the same, so timing does not tell names apart; the comparison of the
//! Argon2 output is constant-time (in the `password-hash` crate).
//!
//! Hashes are checked at load: Argon2id, version 19, and parameters within
//! [`MAX_HASH_MEMORY_KIB`], [`MAX_HASH_PASSES`] and [`MAX_HASH_LANES`], since a site file's hash
//! decides what each check costs a worker. This module must not build responses; it answers
//! allowed (with the user's name), challenge, or rate-limited.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::{Argon2, Params, PasswordHash, PasswordVerifier};
use base64ct::{Base64, Encoding};
use ring::hmac;

use super::file::{AuthSection, Located, Text};
use super::glob::GlobSet;
use super::headers::compile_globs;

/// The realm when the file names none.
pub const DEFAULT_REALM: &str = "restricted";
/// Most memory one check may take (Argon2's `m`, in KiB): 64 MiB, three times the OWASP
/// recommendation `hash-password` uses.
pub const MAX_HASH_MEMORY_KIB: u32 = 64 * 1024;
/// Most passes over that memory (Argon2's `t`).
pub const MAX_HASH_PASSES: u32 = 10;
/// Most lanes (Argon2's `p`); the check runs them on one thread.
pub const MAX_HASH_LANES: u32 = 4;
/// Verified credentials remembered at once; the oldest is forgotten first.
pub const CREDENTIAL_CACHE_ENTRIES: usize = 1024;
/// How long verified credentials are remembered.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(10 * 60);
/// Failed checks a client address may have in a row before it is slowed down.
pub const FAILURE_BURST: u32 = 10;
/// Then one more failed check per this long.
pub const FAILURE_INTERVAL: Duration = Duration::from_secs(6);
/// Client addresses whose failures are tracked at once. When every one of them is being
/// slowed down, a new address is slowed down too: under a spread-out attack the workers' CPU
/// comes first.
pub const MAX_TRACKED_CLIENTS: usize = 4096;
/// An `Authorization` field longer than this is not decoded.
pub const MAX_AUTHORIZATION_BYTES: usize = 1024;
/// The longest user name or realm.
const MAX_NAME_BYTES: usize = 256;

/// The outcome of an authentication check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'s> {
    /// The credentials are this user's.
    Allowed(&'s str),
    /// No credentials, malformed ones or wrong ones: `401` with the challenge.
    Challenge,
    /// This client has failed too often: `429`, to try again after this long.
    RateLimited(Duration),
}

/// The compiled `[auth]` section and its state.
#[derive(Debug)]
pub struct Auth {
    paths: GlobSet,
    /// The `WWW-Authenticate` value.
    challenge: Box<str>,
    users: Vec<User>,
    cache_key: hmac::Key,
    verified: Mutex<Verified>,
    failures: Mutex<Failures>,
}

#[derive(Debug)]
struct User {
    name: Box<str>,
    hash: PasswordHash,
}

impl Auth {
    /// Checks and compiles the section.
    ///
    /// # Errors
    ///
    /// [`Located`] at the first glob, realm, user name or hash that cannot be used.
    pub fn compile(section: &AuthSection) -> Result<Self, Located> {
        let everything = [Text {
            value: "/**".to_owned(),
            span: section.span.clone(),
        }];
        let globs = section.paths.as_deref().unwrap_or(&everything);
        let paths = compile_globs(globs.iter().map(|g| (0, g)), "paths")?;
        let realm = match &section.realm {
            Some(realm) => check_realm(realm)?,
            None => DEFAULT_REALM,
        };
        let mut users = Vec::with_capacity(section.users.len());
        for (name, hash) in &section.users {
            check_user_name(name)?;
            users.push(User {
                name: name.value.as_str().into(),
                hash: check_hash(hash)?,
            });
        }
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| {
                Located::invalid(
                    section.span.clone(),
                    "auth",
                    "no random bytes from the system for the credential cache's key",
                )
            })?;
        Ok(Self {
            paths,
            challenge: format!("Basic realm=\"{realm}\", charset=\"UTF-8\"").into(),
            users,
            cache_key,
            verified: Mutex::new(Verified::default()),
            failures: Mutex::new(Failures::default()),
        })
    }

    /// Whether `path` needs credentials.
    pub fn protects(&self, path: &str) -> bool {
        self.paths.is_match(path)
    }

    /// The `WWW-Authenticate` value of a `401`.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// How many users there are.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Checks a request's `Authorization` value from `client`, at `now`.
    pub fn check(&self, authorization: Option<&[u8]>, client: IpAddr, now: Instant) -> Outcome<'_> {
        let mut decoded = [0u8; MAX_AUTHORIZATION_BYTES];
        let Some(credentials) = authorization.and_then(|a| basic_credentials(a, &mut decoded))
        else {
            return Outcome::Challenge;
        };
        let key = hmac::sign(&self.cache_key, credentials);
        let key: [u8; 32] = key.as_ref().try_into().unwrap_or([0; 32]);
        let remembered = lock(&self.verified).get(&key, now);
        if let Some(user) = remembered.and_then(|i| self.users.get(i)) {
            return Outcome::Allowed(&user.name);
        }
        let client = client_key(client);
        if let Err(retry_after) = lock(&self.failures).check(client, now) {
            return Outcome::RateLimited(retry_after);
        }
        // Outside the locks: this is the slow part.
        match self.verify(credentials) {
            Some(user) => {
                lock(&self.verified).insert(key, user, now);
                self.users
                    .get(user)
                    .map_or(Outcome::Challenge, |u| Outcome::Allowed(&u.name))
            }
            None => {
                lock(&self.failures).fail(client, now);
                Outcome::Challenge
            }
        }
    }

    /// The index of the user whose password `user:password` holds, if any.
    fn verify(&self, credentials: &[u8]) -> Option<usize> {
        let colon = credentials.iter().position(|&b| b == b':')?;
        let (name, password) = (credentials.get(..colon)?, credentials.get(colon + 1..)?);
        let found = self.users.iter().position(|u| u.name.as_bytes() == name);
        // An unknown name costs a check too, against the first user's hash, so that how long
        // the answer takes does not say whether a name exists.
        let hash = &self.users.get(found.unwrap_or(0))?.hash;
        let matches = Argon2::default().verify_password(password, hash).is_ok();
        found.filter(|_| matches)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `user:password` bytes of a `Basic` credentials value, decoded into `buf`.
fn basic_credentials<'b>(value: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return None;
    }
    let value = value.trim_ascii();
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, token) = (value.get(..space)?, value.get(space..)?.trim_ascii_start());
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = Base64::decode(token, buf).ok()?;
    decoded.contains(&b':').then_some(decoded)
}

/// `Cache-Control` for a response that needed credentials: `private` (no shared cache may keep
/// it, RFC 9111 §5.2.2.7) with the other directives of `value`, less those for shared caches.
pub fn private_cache_control(value: &str) -> String {
    let mut out = String::from("private");
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let name = directive.split('=').next().unwrap_or_default().trim();
        if ["public", "private", "s-maxage", "proxy-revalidate"]
            .iter()
            .any(|shared| name.eq_ignore_ascii_case(shared))
        {
            continue;
        }
        out.push_str(", ");
        out.push_str(directive);
    }
    out
}

fn check_realm(realm: &Text) -> Result<&str, Located> {
    let ok = !realm.value.is_empty()
        && realm.value.len() <= MAX_NAME_BYTES
        && realm
            .value
            .bytes()
            .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b'"' && b != b'\\');
    match ok {
        true => Ok(&realm.value),
        false => Err(Located::invalid(
            realm.span.clone(),
            "realm",
            format!(
                "a realm is 1 to {MAX_NAME_BYTES} visible ASCII characters or spaces, without '\"' or '\\'"
            ),
        )),
    }
}

fn check_user_name(name: &Text) -> Result<(), Located> {
    let ok = !name.value.is_empty()
        && name.value.len() <= MAX_NAME_BYTES
        && !name.value.chars().any(|c| c == ':' || c.is_control());
    match ok {
        true => Ok(()),
        false => Err(Located::invalid(
            name.span.clone(),
            &name.value,
            format!(
                "a user name is 1 to {MAX_NAME_BYTES} bytes, without ':' or control characters"
            ),
        )),
    }
}

/// Parses a PHC string and checks that it is an Argon2id hash a worker can afford to check.
fn check_hash(text: &Text) -> Result<PasswordHash, Located> {
    let bad = |why: String| Located::invalid(text.span.clone(), "users", why);
    let hash = PasswordHash::new(&text.value).map_err(|e| {
        bad(format!(
            "not a password hash ({e}); `http-server hash-password` prints one ($argon2id$v=19$m=...)"
        ))
    })?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(bad(format!(
            "a {} hash; only argon2id is accepted (`http-server hash-password` prints one)",
            hash.algorithm
        )));
    }
    if let Some(version) = hash.version
        && version != 19
    {
        return Err(bad(format!(
            "Argon2 version {version}; only v=19 is accepted"
        )));
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(bad("the hash has no salt or no output".to_owned()));
    }
    let params = Params::try_from(&hash).map_err(|e| bad(format!("bad Argon2 parameters: {e}")))?;
    if params.m_cost() > MAX_HASH_MEMORY_KIB
        || params.t_cost() > MAX_HASH_PASSES
        || params.p_cost() > MAX_HASH_LANES
    {
        return Err(bad(format!(
            "m={}, t={}, p={} would cost a worker too much on each check (at most m={MAX_HASH_MEMORY_KIB}, t={MAX_HASH_PASSES}, p={MAX_HASH_LANES})",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        )));
    }
    Ok(hash)
}

/// What failures are counted against: an IPv4 address, or an IPv6 /64 (one host's usual share).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

/// Verified credentials, by keyed hash: the user's index and when it was checked.
#[derive(Debug, Default)]
struct Verified {
    entries: HashMap<[u8; 32], (usize, Instant)>,
    /// Insertion order, for forgetting the oldest; holds exactly the keys of `entries`.
    order: VecDeque<[u8; 32]>,
}

impl Verified {
    fn get(&self, key: &[u8; 32], now: Instant) -> Option<usize> {
        let &(user, at) = self.entries.get(key)?;
        (now.saturating_duration_since(at) < CREDENTIAL_TTL).then_some(user)
    }

    fn insert(&mut self, key: [u8; 32], user: usize, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&key) {
            *entry = (user, now);
            return;
        }
        if self.entries.len() >= CREDENTIAL_CACHE_ENTRIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.entries.remove(&oldest);
        }
        self.entries.insert(key, (user, now));
        self.order.push_back(key);
    }
}

/// Failed checks per client, as the time its allowance is used up to (the generic cell rate
/// algorithm: each failure pushes it [`FAILURE_INTERVAL`] further; a client is slowed down
/// while it is more than `FAILURE_BURST - 1` intervals ahead of now).
#[derive(Debug, Default)]
struct Failures {
    clients: HashMap<IpAddr, Instant>,
}

impl Failures {
    fn window() -> Duration {
        FAILURE_INTERVAL * (FAILURE_BURST - 1)
    }

    /// `Err(retry_after)` when `client` may not be checked now.
    fn check(&mut self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.clients.get(&client).copied() {
            Some(used_up_to) => {
                let ahead = used_up_to.saturating_duration_since(now);
                match ahead > Self::window() {
                    true => Err(ahead - Self::window()),
                    false => Ok(()),
                }
            }
            None if self.has_room(now) => Ok(()),
            None => Err(FAILURE_INTERVAL),
        }
    }

    fn fail(&mut self, client: IpAddr, now: Instant) {
        if !self.clients.contains_key(&client) && !self.has_room(now) {
            return;
        }
        let used_up_to = self.clients.entry(client).or_insert(now);
        *used_up_to = (*used_up_to).max(now) + FAILURE_INTERVAL;
    }

    /// Whether a new client can be tracked, forgetting those with no failure left to count.
    fn has_room(&mut self, now: Instant) -> bool {
        if self.clients.len() >= MAX_TRACKED_CLIENTS {
            self.clients.retain(|_, used_up_to| *used_up_to > now);
        }
        self.clients.len() < MAX_TRACKED_CLIENTS
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::site::file::SiteFile;
    use argon2::PasswordHasher;
    use std::net::Ipv4Addr;
    use std::path::Path;

    /// A hash of `password` cheap enough for tests (the smallest Argon2id parameters).
    pub fn cheap_hash(password: &str) -> String {
        let params = Params::new(8, 1, 1, None).unwrap();
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_with_salt(password.as_bytes(), b"saltsaltsalt")
            .unwrap()
            .to_string()
    }

    fn compile(toml: &str) -> Result<Auth, String> {
        let file = SiteFile::parse(Path::new("s.toml"), toml.to_owned(), &[])
            .map_err(|e| e.to_string())?;
        Auth::compile(file.auth.as_ref().unwrap()).map_err(|e| file.error(e).to_string())
    }

    fn alice() -> Auth {
        compile(&format!(
            "[auth]\npaths = ['/private/**']\nrealm = 'private'\nusers = {{ alice = '{}', bob = '{}' }}\n",
            cheap_hash("wonderland"),
            cheap_hash("builder")
        ))
        .unwrap()
    }

    fn basic(credentials: &str) -> Vec<u8> {
        format!("Basic {}", Base64::encode_string(credentials.as_bytes())).into_bytes()
    }

    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn the_right_password_lets_its_user_in_and_others_get_the_challenge() {
        let auth = alice();
        let now = Instant::now();
        assert!(auth.protects("/private"));
        assert!(auth.protects("/private/a/b.html"));
        assert!(!auth.protects("/public.html"));
        assert_eq!(
            auth.challenge(),
            "Basic realm=\"private\", charset=\"UTF-8\""
        );
        let check = |value: &[u8]| auth.check(Some(value), HOST, now);
        assert_eq!(check(&basic("alice:wonderland")), Outcome::Allowed("alice"));
        assert_eq!(check(&basic("bob:builder")), Outcome::Allowed("bob"));
        assert_eq!(check(&basic("alice:builder")), Outcome::Challenge);
        // The first user's password under an unknown name.
        assert_eq!(check(&basic("carol:wonderland")), Outcome::Challenge);
        assert_eq!(check(&basic("alice")), Outcome::Challenge);
        assert_eq!(check(b"Bearer abc"), Outcome::Challenge);
        assert_eq!(check(b"Basic !!!"), Outcome::Challenge);
        assert_eq!(auth.check(None, HOST, now), Outcome::Challenge);
        // The scheme is case-insensitive, spaces around the token are fine (RFC 9110 §11.1).
        let mut loose = b"bAsIc   ".to_vec();
        loose.extend_from_slice(&basic("alice:wonderland")[6..]);
        assert_eq!(check(&loose), Outcome::Allowed("alice"));
    }

    #[test]
    fn a_password_may_hold_colons_and_non_ascii() {
        let auth = compile(&format!(
            "[auth]\nusers = {{ 'zoë' = '{}' }}\n",
            cheap_hash("a:b:ç")
        ))
        .unwrap();
        let now = Instant::now();
        assert!(auth.protects("/"));
        assert_eq!(
            auth.check(Some(&basic("zoë:a:b:ç")), HOST, now),
            Outcome::Allowed("zoë")
        );
        assert_eq!(
            auth.challenge(),
            "Basic realm=\"restricted\", charset=\"UTF-8\""
        );
    }

    #[test]
    fn verified_credentials_are_remembered_for_a_while_under_a_keyed_hash() {
        let auth = alice();
        let now = Instant::now();
        assert_eq!(
            auth.check(Some(&basic("alice:wonderland")), HOST, now),
            Outcome::Allowed("alice")
        );
        {
            let verified = lock(&auth.verified);
            assert_eq!(verified.entries.len(), 1);
            // The key is neither the credentials nor their encoding.
            let key = verified.order[0];
            assert_ne!(&key[..], &b"alice:wonderland"[..]);
            assert!(!key.windows(5).any(|w| w == b"alice"));
        }
        // Remembered: even a rate-limited client gets in without a new check.
        for _ in 0..FAILURE_BURST + 1 {
            auth.check(Some(&basic("alice:guess")), HOST, now);
        }
        assert!(matches!(
            auth.check(Some(&basic("bob:builder")), HOST, now),
            Outcome::RateLimited(_)
        ));
        assert_eq!(
            auth.check(Some(&basic("alice:wonderland")), HOST, now),
            Outcome::Allowed("alice")
        );
        // Forgotten after the TTL: checked again, so refused while the client is limited.
        let later = now + CREDENTIAL_TTL;
        for _ in 0..FAILURE_BURST {
            auth.check(Some(&basic("alice:guess")), HOST, later);
        }
        assert!(matches!(
            auth.check(Some(&basic("alice:wonderland")), HOST, later),
            Outcome::RateLimited(_)
        ));
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_the_oldest_first() {
        let mut verified = Verified::default();
        let now = Instant::now();
        for i in 0..CREDENTIAL_CACHE_ENTRIES + 10 {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            verified.insert(key, 0, now);
        }
        assert_eq!(verified.entries.len(), CREDENTIAL_CACHE_ENTRIES);
        assert_eq!(verified.order.len(), CREDENTIAL_CACHE_ENTRIES);
        assert_eq!(verified.get(&[0; 32], now), None);
        let mut newest = [0u8; 32];
        newest[..8].copy_from_slice(&((CREDENTIAL_CACHE_ENTRIES + 9) as u64).to_le_bytes());
        assert_eq!(verified.get(&newest, now), Some(0));
        assert_eq!(verified.get(&newest, now + CREDENTIAL_TTL), None);
        // Checked again after expiry: refreshed in place, the order not grown.
        verified.insert(newest, 0, now + CREDENTIAL_TTL);
        assert_eq!(verified.order.len(), CREDENTIAL_CACHE_ENTRIES);
        assert_eq!(verified.get(&newest, now + CREDENTIAL_TTL), Some(0));
    }

    #[test]
    fn failures_are_limited_per_client_address_then_allowed_again_at_the_interval() {
        let auth = alice();
        let now = Instant::now();
        let wrong = basic("alice:guess");
        for _ in 0..FAILURE_BURST {
            assert_eq!(auth.check(Some(&wrong), HOST, now), Outcome::Challenge);
        }
        assert_eq!(
            auth.check(Some(&wrong), HOST, now),
            Outcome::RateLimited(FAILURE_INTERVAL)
        );
        // Even the right password is not checked now.
        assert_eq!(
            auth.check(Some(&basic("bob:builder")), HOST, now),
            Outcome::RateLimited(FAILURE_INTERVAL)
        );
        // Asking without credentials costs nothing and is not limited.
        assert_eq!(auth.check(None, HOST, now), Outcome::Challenge);
        // Another address is not affected; an IPv6 /64 counts as one client.
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(
            auth.check(Some(&basic("bob:builder")), other, now),
            Outcome::Allowed("bob")
        );
        let later = now + FAILURE_INTERVAL;
        assert_eq!(auth.check(Some(&wrong), HOST, later), Outcome::Challenge);
        assert_eq!(
            auth.check(Some(&wrong), HOST, later),
            Outcome::RateLimited(FAILURE_INTERVAL)
        );
        assert_eq!(
            auth.check(Some(&wrong), HOST, later + FAILURE_INTERVAL / 2),
            Outcome::RateLimited(FAILURE_INTERVAL / 2)
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(mapped), HOST);
    }

    #[test]
    fn when_every_tracked_client_is_limited_a_new_one_is_too() {
        let mut failures = Failures::default();
        let now = Instant::now();
        for i in 0..MAX_TRACKED_CLIENTS as u32 {
            failures.fail(IpAddr::V4(Ipv4Addr::from(i)), now);
        }
        let newcomer = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        assert_eq!(failures.check(newcomer, now), Err(FAILURE_INTERVAL));
        // Once their failures are behind them, they are forgotten and there is room again.
        assert_eq!(failures.check(newcomer, now + FAILURE_INTERVAL), Ok(()));
        assert!(failures.clients.is_empty());
    }

    #[test]
    fn bad_hashes_names_and_realms_are_refused_where_they_are() {
        let err = |users: &str| compile(&format!("[auth]\nusers = {{ {users} }}\n")).unwrap_err();
        assert!(
            err("alice = '$argon2id$v=19$...'")
                .starts_with("s.toml:2:19: 'users': not a password hash"),
            "{}",
            err("alice = '$argon2id$v=19$...'")
        );
        let argon2i = cheap_hash("x").replace("argon2id", "argon2i");
        assert!(err(&format!("alice = '{argon2i}'")).contains("only argon2id is accepted"));
        let costly = cheap_hash("x").replace("m=8,", "m=1048576,");
        assert!(err(&format!("alice = '{costly}'")).contains("too much on each check"));
        let old = cheap_hash("x").replace("v=19", "v=16");
        assert!(err(&format!("alice = '{old}'")).contains("only v=19"));
        assert!(err(&format!("'a:b' = '{}'", cheap_hash("x"))).contains("without ':'"));
        let realm = compile(&format!(
            "[auth]\nrealm = 'a\"b'\nusers = {{ a = '{}' }}\n",
            cheap_hash("x")
        ));
        assert!(realm.unwrap_err().starts_with("s.toml:2:9: 'realm'"));
        assert!(
            compile("[auth]\nrealm = 'x'\n")
                .unwrap_err()
                .ends_with("[auth] needs 'users'")
        );
        let glob = compile(&format!(
            "[auth]\npaths = ['private/**']\nusers = {{ a = '{}' }}\n",
            cheap_hash("x")
        ));
        assert!(glob.unwrap_err().contains("bad glob"));
    }

    #[test]
    fn a_protected_response_is_private_keeping_the_rest_of_its_directives() {
        assert_eq!(
            private_cache_control("public, max-age=31536000, immutable"),
            "private, max-age=31536000, immutable"
        );
        assert_eq!(private_cache_control("no-cache"), "private, no-cache");
        assert_eq!(
            private_cache_control("s-maxage=60,max-age=5"),
            "private, max-age=5"
        );
        assert_eq!(private_cache_control(""), "private");
        assert_eq!(private_cache_control("Private"), "private");
    }
}
