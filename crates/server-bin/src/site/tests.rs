//! The engine as the exchange will call it: one request through `decide`, `fallback`,
//! `error_page` and `fields`; the reference in `docs/site-file.md` against the schema; and a
//! micro-benchmark run by hand.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Instant;

use base64ct::{Base64, Encoding};
use http_core::target;

use super::auth::tests::cheap_hash;
use super::*;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn site(toml: &str) -> Site {
    let file = SiteFile::parse(Path::new("s.toml"), toml.to_owned(), &[]).unwrap();
    Site::compile(&file).unwrap_or_else(|e| panic!("{e}"))
}

/// A request for `raw` (a request target) with `fields` given as `name: value` lines.
struct Req {
    method: Method,
    raw: String,
    fields: Vec<(String, Vec<u8>)>,
    now: Instant,
}

impl Req {
    fn get(raw: &str) -> Self {
        Self {
            method: Method::Get,
            raw: raw.to_owned(),
            fields: Vec::new(),
            now: Instant::now(),
        }
    }

    fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    fn with(mut self, name: &str, value: &str) -> Self {
        self.fields
            .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        self
    }

    fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Runs `f` with the engine's view of this request.
    fn view<R>(&self, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let target = target::decode(self.raw.as_bytes()).unwrap();
        let req = Request {
            method: self.method,
            target: &target,
            authorization: self.field("authorization"),
            origin: self.field("origin"),
            request_method: self.field("access-control-request-method"),
            request_headers: self.field("access-control-request-headers"),
            accept: self.field("accept"),
            client: CLIENT,
            now: self.now,
        };
        f(&req)
    }
}

/// What `decide` said, in a comparable form.
#[derive(Debug, PartialEq, Eq)]
enum Said {
    Preflight(Vec<(String, String)>),
    Redirect(u16, String),
    Challenge(String),
    RateLimited(u64),
    Bad,
    Serve(String, bool, Option<String>),
}

fn decide(site: &Site, req: &Req) -> Said {
    req.view(|r| match site.decide(r) {
        Decision::Preflight(fields) => Said::Preflight(pairs(&fields)),
        Decision::Redirect(r) => Said::Redirect(r.status.as_u16(), r.location),
        Decision::Denied(Denial::Challenge(c)) => Said::Challenge(c.to_owned()),
        Decision::Denied(Denial::RateLimited(s)) => Said::RateLimited(s),
        Decision::Bad(_) => Said::Bad,
        Decision::Serve(plan) => Said::Serve(
            plan.path.into_owned(),
            plan.rewritten,
            plan.user.map(str::to_owned),
        ),
    })
}

fn pairs(fields: &Fields<'_>) -> Vec<(String, String)> {
    fields
        .list
        .iter()
        .map(|f| (f.name.to_owned(), f.value.to_string()))
        .collect()
}

/// The plan `decide` gives `r`, which must be to serve.
fn plan<'a>(site: &'a Site, r: &Request<'a>) -> Plan<'a> {
    match site.decide(r) {
        Decision::Serve(plan) => plan,
        other => panic!("{other:?}"),
    }
}

/// The fields of a response with `status` whose content is the file at `path`, for a server
/// whose `Cache-Control` is `no-cache`.
fn fields_of<'a>(
    site: &'a Site,
    r: &Request<'_>,
    plan: Option<&Plan<'_>>,
    path: &str,
    status: StatusCode,
) -> Fields<'a> {
    site.fields(r, plan, (path, false), status, &|| "no-cache")
}

fn serve(path: &str) -> Said {
    Said::Serve(path.to_owned(), false, None)
}

/// The issue's example, less `[auth]` and `[cors]` (their hashes are made per test).
pub const SPA: &str = r#"
fallback = "/index.html"

[[headers]]
match = "/assets/**"
set = { "Cache-Control" = "public, max-age=31536000, immutable" }

[[headers]]
match = "/**"
set = { "X-Content-Type-Options" = "nosniff", "Referrer-Policy" = "no-referrer" }

[[redirects]]
from = '^/blog/(\d+)/(.+)$'
to = "/posts/$1-$2"
status = 301

[[rewrites]]
from = '^/docs/(.*)$'
to = "/manual/$1"

[[rewrites]]
from = '^/manual/(.*)$'
to = "/docs/$1"

[[rewrites]]
from = '^/team$'
to = "/private/team.html"

[error_pages]
404 = "/404.html"
401 = "/private/401.html"
"#;

fn spa_with_auth() -> Site {
    site(&format!(
        "{SPA}\n[auth]\npaths = ['/private/**']\nrealm = 'private'\nusers = {{ alice = '{}' }}\n\n[cors]\nallow_origins = ['https://example.com']\npaths = ['/api/**', '/assets/**']\n",
        cheap_hash("wonderland")
    ))
}

fn basic(credentials: &str) -> String {
    format!("Basic {}", Base64::encode_string(credentials.as_bytes()))
}

#[test]
fn without_rules_every_request_is_served_as_asked() {
    let site = Site::empty();
    assert_eq!(
        decide(&site, &Req::get("/a/b.html?x=1")),
        serve("/a/b.html")
    );
    assert_eq!(
        decide(&site, &Req::get("/dir/")),
        Said::Serve("/dir".into(), false, None)
    );
    Req::get("/x").view(|r| {
        let plan = match site.decide(r) {
            Decision::Serve(plan) => plan,
            other => panic!("{other:?}"),
        };
        assert_eq!(site.fallback(r, &plan), None);
        assert_eq!(site.error_page(StatusCode::NOT_FOUND, None), None);
        let fields = fields_of(&site, r, Some(&plan), "/x", StatusCode::OK);
        assert_eq!(fields, Fields::default());
    });
    assert_eq!(site.summary(), "0 header rules, 0 redirects, 0 rewrites");
}

#[test]
fn redirects_come_first_then_one_rewrite_step() {
    let site = spa_with_auth();
    assert_eq!(
        decide(&site, &Req::get("/blog/7/hi?utm=x")),
        Said::Redirect(301, "/posts/7-hi?utm=x".into())
    );
    assert_eq!(
        decide(&site, &Req::get("/docs/intro.html")),
        Said::Serve("/manual/intro.html".into(), true, None)
    );
    // The rules rewrite /docs and /manual into each other: one step, no loop.
    assert_eq!(
        decide(&site, &Req::get("/manual/intro.html")),
        Said::Serve("/docs/intro.html".into(), true, None)
    );
}

#[test]
fn a_rewrite_into_a_protected_path_needs_credentials() {
    let site = spa_with_auth();
    assert_eq!(
        decide(&site, &Req::get("/team")),
        Said::Challenge("Basic realm=\"private\", charset=\"UTF-8\"".into())
    );
    assert_eq!(
        decide(
            &site,
            &Req::get("/team").with("Authorization", &basic("alice:wonderland"))
        ),
        Said::Serve("/private/team.html".into(), true, Some("alice".into()))
    );
}

#[test]
fn a_protected_path_needs_credentials_and_the_directory_itself_is_protected() {
    let site = spa_with_auth();
    for path in ["/private", "/private/", "/private/a.html", "/private/a%0Ab"] {
        assert!(
            matches!(decide(&site, &Req::get(path)), Said::Challenge(_)),
            "{path}"
        );
    }
    assert_eq!(
        decide(
            &site,
            &Req::get("/private/a.html").with("Authorization", &basic("alice:wonderland"))
        ),
        Said::Serve("/private/a.html".into(), false, Some("alice".into()))
    );
    assert_eq!(
        decide(&site, &Req::get("/public.html")),
        serve("/public.html")
    );
}

#[test]
fn failed_passwords_are_rate_limited_with_retry_after() {
    let site = spa_with_auth();
    let wrong = Req::get("/private/a").with("Authorization", &basic("alice:guess"));
    for _ in 0..auth::FAILURE_BURST {
        assert!(matches!(decide(&site, &wrong), Said::Challenge(_)));
    }
    assert_eq!(
        decide(&site, &wrong),
        Said::RateLimited(auth::FAILURE_INTERVAL.as_secs())
    );
}

#[test]
fn a_preflight_is_answered_without_credentials_even_on_a_protected_path() {
    let site = site(&format!(
        "[auth]\nusers = {{ alice = '{}' }}\n[cors]\nallow_origins = ['https://example.com']\n",
        cheap_hash("x")
    ));
    let preflight = Req::get("/private/data.json")
        .method(Method::Options)
        .with("Origin", "https://example.com")
        .with("Access-Control-Request-Method", "GET")
        .with("Access-Control-Request-Headers", "authorization");
    let Said::Preflight(fields) = decide(&site, &preflight) else {
        panic!("{:?}", decide(&site, &preflight));
    };
    assert_eq!(
        fields[0],
        (
            "Access-Control-Allow-Origin".into(),
            "https://example.com".into()
        )
    );
    assert!(fields.contains(&(
        "Access-Control-Allow-Headers".into(),
        "authorization".into()
    )));
    // A plain OPTIONS, or a GET, still needs them.
    let options = Req::get("/private/data.json").method(Method::Options);
    assert!(matches!(decide(&site, &options), Said::Challenge(_)));
}

#[test]
fn the_fallback_serves_browser_navigations_only() {
    let site = spa_with_auth();
    let browser = "text/html,application/xhtml+xml,*/*;q=0.8";
    let fallback = |req: Req| {
        req.view(|r| match site.decide(r) {
            Decision::Serve(plan) => site.fallback(r, &plan).map(str::to_owned),
            other => panic!("{other:?}"),
        })
    };
    assert_eq!(
        fallback(Req::get("/app/settings").with("Accept", browser)),
        Some("/index.html".into())
    );
    assert_eq!(
        fallback(
            Req::get("/app/settings")
                .method(Method::Head)
                .with("Accept", browser)
        ),
        Some("/index.html".into())
    );
    // A script, an image, fetch() without Accept: the 404 stays.
    assert_eq!(
        fallback(Req::get("/missing.js").with("Accept", "*/*")),
        None
    );
    assert_eq!(
        fallback(Req::get("/missing.png").with("Accept", "image/webp,*/*")),
        None
    );
    assert_eq!(fallback(Req::get("/missing")), None);
    assert_eq!(
        fallback(
            Req::get("/x")
                .method(Method::Options)
                .with("Accept", browser)
        ),
        None
    );
    // The fallback page's own 404 is real.
    assert_eq!(
        fallback(Req::get("/index.html").with("Accept", browser)),
        None
    );
}

#[test]
fn a_protected_page_is_never_the_fallback_or_error_page_of_an_unprotected_request() {
    let hash = cheap_hash("x");
    let site = site(&format!(
        "fallback = '/private/app.html'\n[error_pages]\n404 = '/private/404.html'\n[auth]\npaths = ['/private/**']\nusers = {{ a = '{hash}' }}\n"
    ));
    let req = Req::get("/nowhere").with("Accept", "text/html");
    req.view(|r| {
        let plan = plan(&site, r);
        assert_eq!(site.fallback(r, &plan), None);
        assert_eq!(site.error_page(StatusCode::NOT_FOUND, plan.user), None);
        assert_eq!(
            site.error_page(StatusCode::NOT_FOUND, Some("a")),
            Some("/private/404.html")
        );
    });
}

#[test]
fn error_pages_are_found_by_status() {
    let site = site(SPA);
    assert_eq!(
        site.error_page(StatusCode::NOT_FOUND, None),
        Some("/404.html")
    );
    assert_eq!(site.error_page(StatusCode::FORBIDDEN, None), None);
}

#[test]
fn fields_follow_the_served_content_and_errors_keep_their_cache_control() {
    let site = spa_with_auth();
    Req::get("/assets/app.1234.js").view(|r| {
        let plan = plan(&site, r);
        let file = fields_of(&site, r, Some(&plan), "/assets/app.1234.js", StatusCode::OK);
        assert_eq!(
            file.get("Cache-Control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(file.get("X-Content-Type-Options"), Some("nosniff"));
        // CORS applies to /assets/** with a list of origins: the answer varies by Origin.
        assert_eq!(file.vary, vec!["Origin"]);
        let missing = site.fields(
            r,
            Some(&plan),
            ("/assets/app.1234.js", false),
            StatusCode::NOT_FOUND,
            &|| "no-store",
        );
        assert_eq!(missing.get("Cache-Control"), None);
        assert_eq!(missing.get("Referrer-Policy"), Some("no-referrer"));
        let not_modified = fields_of(
            &site,
            r,
            Some(&plan),
            "/assets/app.1234.js",
            StatusCode::NOT_MODIFIED,
        );
        assert_eq!(not_modified.list, file.list);
        let moved = fields_of(
            &site,
            r,
            Some(&plan),
            "/assets/app.1234.js",
            StatusCode::MOVED_PERMANENTLY,
        );
        assert_eq!(moved.get("Cache-Control"), None);
        assert_eq!(moved.get("X-Content-Type-Options"), Some("nosniff"));
    });
    // A fallback page is served with its own fields: index.html is not immutable.
    Req::get("/assets/missing.js")
        .with("Accept", "text/html")
        .view(|r| {
            let fields = fields_of(&site, r, None, "/index.html", StatusCode::OK);
            assert_eq!(fields.get("Cache-Control"), None);
            assert_eq!(fields.get("X-Content-Type-Options"), Some("nosniff"));
        });
}

#[test]
fn a_protected_response_is_private() {
    let spa = spa_with_auth();
    let req = Req::get("/private/a.html").with("Authorization", &basic("alice:wonderland"));
    req.view(|r| {
        let plan = plan(&spa, r);
        let fields = fields_of(&spa, r, Some(&plan), "/private/a.html", StatusCode::OK);
        assert_eq!(fields.get("Cache-Control"), Some("private, no-cache"));
        let not_modified = fields_of(
            &spa,
            r,
            Some(&plan),
            "/private/a.html",
            StatusCode::NOT_MODIFIED,
        );
        assert_eq!(not_modified.get("Cache-Control"), Some("private, no-cache"));
    });
    let immutable = site(&format!(
        "[[headers]]\nmatch = '/**'\nset = {{ Cache-Control = 'public, max-age=60' }}\n[auth]\nusers = {{ a = '{}' }}\n",
        cheap_hash("x")
    ));
    Req::get("/a")
        .with("Authorization", &basic("a:x"))
        .view(|r| {
            let plan = plan(&immutable, r);
            assert_eq!(plan.user, Some("a"));
            let fields = fields_of(&immutable, r, Some(&plan), "/a", StatusCode::OK);
            assert_eq!(fields.get("Cache-Control"), Some("private, max-age=60"));
        });
}

#[test]
fn a_simple_cross_origin_request_gets_its_origin_back() {
    let site = spa_with_auth();
    Req::get("/api/x")
        .with("Origin", "https://example.com")
        .view(|r| {
            let fields = fields_of(&site, r, None, "/api/x", StatusCode::OK);
            assert_eq!(
                fields.get("Access-Control-Allow-Origin"),
                Some("https://example.com")
            );
        });
    Req::get("/index.html")
        .with("Origin", "https://example.com")
        .view(|r| {
            let fields = fields_of(&site, r, None, "/index.html", StatusCode::OK);
            assert_eq!(fields.get("Access-Control-Allow-Origin"), None);
            assert!(fields.vary.is_empty());
        });
}

#[test]
fn a_rule_that_builds_a_path_above_the_root_is_a_bad_request() {
    let site = site("[[rewrites]]\nfrom = '^/x(.*)$'\nto = '/$1'\n");
    assert_eq!(decide(&site, &Req::get("/x..")), Said::Bad);
}

#[test]
fn the_summary_names_what_the_file_holds() {
    assert_eq!(
        spa_with_auth().summary(),
        "2 header rules, 1 redirect, 3 rewrites, fallback /index.html, 2 error pages, auth for 1 user, CORS for 1 origin"
    );
}

#[test]
fn retry_after_is_whole_seconds_rounded_up() {
    assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
    assert_eq!(whole_seconds(Duration::from_millis(6000)), 6);
    assert_eq!(whole_seconds(Duration::from_millis(6001)), 7);
    assert_eq!(whole_seconds(Duration::ZERO), 1);
}

/// The reference's tables: `(section, key)` for each row whose first cell is a key in
/// backquotes, under the heading that names the section (`## Top level`, ``## `[[headers]]` ``).
fn documented_keys(doc: &str) -> Vec<(String, String)> {
    let mut section = None;
    let mut keys = Vec::new();
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = if heading.trim() == "Top level" {
                Some(String::new())
            } else {
                heading
                    .split('`')
                    .nth(1)
                    .map(|s| s.trim_matches(['[', ']']).to_owned())
            };
            continue;
        }
        let (Some(section), Some(row)) = (&section, line.strip_prefix("| `")) else {
            continue;
        };
        if let Some(key) = row.split('`').next() {
            keys.push((section.clone(), key.to_owned()));
        }
    }
    keys
}

#[test]
fn the_reference_documents_every_key_the_parser_accepts_and_no_other() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/site-file.md"),
    )
    .unwrap();
    let documented = documented_keys(&doc);
    let mut accepted: Vec<(String, String)> = crate::cli::flag_names()
        .into_iter()
        .chain(file::TOP_LEVEL.iter().map(|k| (*k).to_owned()))
        .map(|k| (String::new(), k))
        .collect();
    for section in file::SECTIONS {
        accepted.push((String::new(), section.name.to_owned()));
        for key in section.keys {
            accepted.push((section.name.to_owned(), (*key).to_owned()));
        }
    }
    for key in &accepted {
        assert!(
            documented.contains(key),
            "docs/site-file.md does not document {key:?} (a row '| `{}` |' under its section)",
            key.1
        );
    }
    for key in &documented {
        assert!(
            accepted.contains(key),
            "docs/site-file.md documents {key:?}, which the parser does not accept"
        );
    }
}

#[test]
fn every_example_in_the_reference_and_the_readme_is_a_valid_site_file() {
    for (doc, at_least) in [("docs/site-file.md", 2), ("README.md", 1)] {
        let examples = check_examples(doc);
        assert!(examples >= at_least, "{doc}: {examples} examples");
    }
}

/// Parses and compiles every TOML block of the workspace's `doc`; returns how many there were.
fn check_examples(doc: &str) -> usize {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(doc),
    )
    .unwrap();
    let mut examples = 0;
    for block in doc.split("```toml\n").skip(1) {
        let text = block.split("```").next().unwrap();
        // The examples' hashes stand for real ones.
        let text = text.replace("$argon2id$v=19$m=19456,t=2,p=1$...", &cheap_hash("x"));
        let names = crate::cli::flag_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let file = SiteFile::parse(Path::new("example.toml"), text, &names)
            .unwrap_or_else(|e| panic!("{e}"));
        Site::compile(&file).unwrap_or_else(|e| panic!("{e}"));
        examples += 1;
    }
    examples
}

/// 100 header rules (`/sectionN/**`, or `/sectionN/*.html` when `patterned`, which takes the
/// regex set rather than the prefix lookup), 100 redirects, 100 rewrites and one `/**` rule.
fn many_rules(patterned: bool) -> Site {
    use std::fmt::Write as _;
    let mut toml = String::new();
    let glob = if patterned { "*.html" } else { "**" };
    for i in 0..100 {
        let _ = write!(
            toml,
            "[[headers]]\nmatch = '/section{i}/{glob}'\nset = {{ X-Rule-{i} = 'v' }}\n\n\
             [[redirects]]\nfrom = '^/old{i}/(.*)$'\nto = '/new{i}/$1'\n\n\
             [[rewrites]]\nfrom = '^/app{i}/(.*)$'\nto = '/spa{i}/$1'\n\n"
        );
    }
    toml.push_str("[[headers]]\nmatch = '/**'\nset = { X-Content-Type-Options = 'nosniff' }\n");
    site(&toml)
}

/// The best of several runs of `rounds` calls of `f`, in nanoseconds per call: the machine is
/// shared, and noise only ever adds time.
fn best_ns(rounds: u32, mut f: impl FnMut()) -> f64 {
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..rounds {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(rounds)
        })
        .fold(f64::MAX, f64::min)
}

/// `cargo test -p server-bin --release --bin http-server site::tests::bench -- --ignored
/// --nocapture`: what the rules cost per request (`decide`, then `fields` for the path served),
/// with no rules and with [`many_rules`], on paths no redirect or rewrite matches (the common
/// case: an asset, a page under one of the sections) and on one the last redirect matches.
#[test]
#[ignore = "a measurement, run by hand"]
fn bench() {
    let sites = [
        ("no rules", Site::empty()),
        ("301 rules, prefix globs", many_rules(false)),
        ("301 rules, pattern globs", many_rules(true)),
    ];
    for (name, site) in &sites {
        for raw in [
            "/assets/index-4f3a2b.js",
            "/section42/page.html",
            "/old99/x",
        ] {
            let target = target::decode(raw.as_bytes()).unwrap();
            let req = Request {
                method: Method::Get,
                target: &target,
                authorization: None,
                origin: None,
                request_method: None,
                request_headers: None,
                accept: Some(b"*/*"),
                client: CLIENT,
                now: Instant::now(),
            };
            let ns = best_ns(200_000, || {
                if let Decision::Serve(plan) = site.decide(std::hint::black_box(&req)) {
                    let path = (plan.path.as_ref(), plan.trailing_slash);
                    let fields =
                        site.fields(&req, Some(&plan), path, StatusCode::OK, &|| "no-cache");
                    std::hint::black_box(fields);
                }
            });
            println!("{name:>26}  {raw:<24} {ns:>6.0} ns/request");
        }
    }
}
