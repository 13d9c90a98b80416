//! The HTTP/2 codec over an in-memory socket: frames a client writes, in the chunks it writes
//! them, and the frames it gets back, without a real socket or clock.

use std::fs;
use std::time::{Duration, Instant};

use http_core::Status;
use http_core::h2::frame::{self, ErrorCode, Frame};
use http_core::h2::hpack::{self, Decoder, Encoder};
use pool::{CloseReason, Next, Readiness};

use super::{
    ABUSE_ALLOWANCE, Conn, MAX_HELD_HEADS, MAX_OPEN_FILES, MAX_PENDING_OUTPUT, MAX_STREAMS,
};
use crate::access_log::AccessLog;
use crate::config::LogFormat;
use crate::context::Context;
use crate::files::root::SwappableRoot;
use crate::service::{Peer, Service};
use crate::site::reload::SiteHandle;
use crate::transport::socket::MemorySocket;
use crate::transport::{Transport, Wire};

const BIG: usize = 200 * 1024;

/// One HTTP/2 connection of a server whose root holds `hello.txt` and the 200 KiB `big.bin`.
struct Harness {
    _dir: tempfile::TempDir,
    svc: Service,
    socket: MemorySocket,
    transport: Transport,
    conn: Option<Conn>,
    now: Instant,
    /// The client's HPACK state.
    encoder: Encoder,
    decoder: Decoder,
    /// Server output already looked at.
    seen: usize,
}

/// A frame the server sent, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Settings {
        ack: bool,
    },
    Headers {
        stream: u32,
        end_stream: bool,
        fields: Vec<(String, String)>,
    },
    Data {
        stream: u32,
        len: usize,
        end_stream: bool,
    },
    Reset {
        stream: u32,
        code: ErrorCode,
    },
    GoAway {
        last: u32,
        code: ErrorCode,
    },
    Ping {
        ack: bool,
    },
    WindowUpdate {
        stream: u32,
    },
    Other,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
        fs::write(dir.path().join("big.bin"), vec![b'x'; BIG]).unwrap();
        let root = dir.path().canonicalize().unwrap();
        let config = crate::cli::config_for_tests(&root, &["--access-log", "off"]);
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new(1));
        let ctx = Context {
            root: std::sync::Arc::new(SwappableRoot::open(root.clone()).unwrap()),
            metrics: std::sync::Arc::clone(&metrics),
            compression: None,
            listings: crate::files::listing::ListingCache::new(1),
            site: std::sync::Arc::new(SiteHandle::new(None, crate::cli::load_site, true)),
            config,
        };
        let svc = Service::new(
            std::sync::Arc::new(ctx),
            0,
            AccessLog::new(LogFormat::Off, None),
        );
        let now = Instant::now();
        Self {
            _dir: dir,
            svc,
            socket: MemorySocket::default(),
            transport: Transport::plain(),
            conn: Some(Conn::new(Peer::default(), None, &[], metrics, now)),
            now,
            encoder: Encoder::new(hpack::DEFAULT_TABLE_SIZE),
            decoder: Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            seen: 0,
        }
    }

    /// A client that has sent its preface and empty SETTINGS, and read the server's first
    /// frames.
    fn connected() -> Self {
        let mut h = Self::new();
        let mut hello = frame::PREFACE.to_vec();
        frame::write_settings(&mut hello, &[]);
        h.socket.feed(&hello);
        h.ready();
        h.frames();
        h
    }

    /// A client that has sent its preface and `settings`, and read nothing yet.
    fn with_settings(settings: &[(u16, u32)]) -> Self {
        let mut h = Self::new();
        let mut hello = frame::PREFACE.to_vec();
        frame::write_settings(&mut hello, settings);
        h.socket.feed(&hello);
        h
    }

    fn ready(&mut self) -> Next {
        // As the poller reports it: an end of stream comes with the event that brings it.
        let readiness = Readiness {
            read_closed: self.socket.eof,
        };
        let mut io = Wire {
            transport: &mut self.transport,
            socket: &mut self.socket,
        };
        let conn = self.conn.as_mut().unwrap();
        conn.ready(&mut self.svc, &mut io, readiness, self.now)
    }

    /// Calls the connection until it no longer yields its turn.
    fn settle(&mut self) -> Next {
        for _ in 0..1000 {
            let next = self.ready();
            if next != Next::Yield {
                return next;
            }
        }
        panic!("the connection keeps yielding");
    }

    fn timeout(&mut self) -> Next {
        let mut io = Wire {
            transport: &mut self.transport,
            socket: &mut self.socket,
        };
        let conn = self.conn.as_mut().unwrap();
        conn.timeout(&mut self.svc, &mut io, self.now)
    }

    /// `by` passes as the worker lets it: the deadline of `last` (what the connection said the
    /// call before) fires if `by` reaches it, then the input queued meanwhile is read.
    fn later(&mut self, by: Duration, last: Next) -> Next {
        self.now += by;
        let next = match last {
            Next::Wait(Some(deadline)) if deadline <= self.now => self.timeout(),
            _ => last,
        };
        match next {
            Next::Close => Next::Close,
            _ => self.ready(),
        }
    }

    fn drain(&mut self) -> Next {
        let mut io = Wire {
            transport: &mut self.transport,
            socket: &mut self.socket,
        };
        let conn = self.conn.as_mut().unwrap();
        conn.drain(&mut self.svc, &mut io, self.now)
    }

    fn close(&mut self) {
        let mut io = Wire {
            transport: &mut self.transport,
            socket: &mut self.socket,
        };
        self.conn
            .take()
            .unwrap()
            .close(&mut self.svc, &mut io, CloseReason::Done);
    }

    fn config(&self) -> &crate::config::Config {
        &self.svc.ctx().config
    }

    /// A request's header block for `path` (method GET unless `extra` sets it).
    fn block(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.begin_block(&mut block);
        for (name, value) in [
            (":method", method),
            (":scheme", "http"),
            (":path", path),
            (":authority", "example.com"),
        ]
        .iter()
        .chain(extra)
        {
            self.encoder
                .field(&mut block, name.as_bytes(), value.as_bytes());
        }
        block
    }

    /// A GET of `path` encoded without the dynamic table (static indexes and literals that
    /// are not indexed), so it decodes the same whatever either side's table holds.
    fn plain_block(path: &str) -> Vec<u8> {
        // :method GET (2), :scheme http (6), then :path (4) and :authority (1) as literals.
        let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
        block.extend_from_slice(path.as_bytes());
        block.extend_from_slice(&[0x01, 11]);
        block.extend_from_slice(b"example.com");
        block
    }

    /// Sends a complete request on `stream`.
    fn get(&mut self, stream: u32, path: &str) {
        self.request(stream, path, &[], true);
    }

    /// Sends a request's HEADERS on `stream` (with `extra` fields); `end_stream`: no body.
    fn request(&mut self, stream: u32, path: &str, extra: &[(&str, &str)], end_stream: bool) {
        let block = self.block("GET", path, extra);
        self.headers(stream, &block, end_stream);
    }

    /// Sends `block` in one HEADERS frame on `stream`.
    fn headers(&mut self, stream: u32, block: &[u8], end_stream: bool) {
        let mut bytes = Vec::new();
        frame::write_headers(
            &mut bytes,
            stream,
            block,
            end_stream,
            frame::DEFAULT_MAX_FRAME_SIZE,
        );
        self.socket.feed(&bytes);
    }

    /// Sends a DATA frame of `len` bytes on `stream`.
    fn data(&mut self, stream: u32, len: usize, end_stream: bool) {
        let mut bytes = Vec::new();
        frame::write_data_header(&mut bytes, stream, len as u32, end_stream);
        bytes.resize(bytes.len() + len, b'b');
        self.socket.feed(&bytes);
    }

    /// Sends trailers (one field) on `stream`, ending it.
    fn trailers(&mut self, stream: u32) {
        let mut block = Vec::new();
        self.encoder.begin_block(&mut block);
        self.encoder.field(&mut block, b"x-checksum", b"1234");
        self.headers(stream, &block, true);
    }

    /// Sends a frame of any type with `payload`.
    fn raw(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let mut bytes = Vec::new();
        frame::write_header(&mut bytes, payload.len() as u32, kind, flags, stream);
        bytes.extend_from_slice(payload);
        self.socket.feed(&bytes);
    }

    /// The frames the server wrote since last asked.
    fn frames(&mut self) -> Vec<Got> {
        let mut got = Vec::new();
        loop {
            let rest = &self.socket.output[self.seen..];
            let Ok(Status::Complete((parsed, used))) =
                frame::parse(rest, frame::MAX_MAX_FRAME_SIZE)
            else {
                break;
            };
            let owned = match parsed {
                Frame::Settings { ack, .. } => Got::Settings { ack },
                Frame::Headers {
                    stream,
                    block,
                    end_stream,
                    ..
                } => {
                    let mut fields = hpack::Fields::default();
                    self.decoder
                        .decode(block, 1 << 20, 1000, &mut fields)
                        .expect("the server's HPACK decodes");
                    let fields = fields
                        .iter()
                        .map(|(n, v)| {
                            (
                                String::from_utf8_lossy(n).into_owned(),
                                String::from_utf8_lossy(v).into_owned(),
                            )
                        })
                        .collect();
                    Got::Headers {
                        stream,
                        end_stream,
                        fields,
                    }
                }
                Frame::Data {
                    stream,
                    data,
                    end_stream,
                    ..
                } => Got::Data {
                    stream,
                    len: data.len(),
                    end_stream,
                },
                Frame::RstStream { stream, code } => Got::Reset { stream, code },
                Frame::GoAway {
                    last_stream, code, ..
                } => Got::GoAway {
                    last: last_stream,
                    code,
                },
                Frame::Ping { ack, .. } => Got::Ping { ack },
                Frame::WindowUpdate { stream, .. } => Got::WindowUpdate { stream },
                _ => Got::Other,
            };
            self.seen += used;
            got.push(owned);
        }
        got
    }
}

fn status(got: &Got) -> Option<&str> {
    match got {
        Got::Headers { fields, .. } => fields
            .iter()
            .find(|(n, _)| n == ":status")
            .map(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// `got` in short, for a failure's message: a head as its status only.
fn brief(got: &[Got]) -> Vec<String> {
    got.iter()
        .map(|g| match g {
            Got::Headers { stream, .. } => format!("HEADERS[{stream}] {:?}", status(g)),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Whether `got` holds a GOAWAY with `code`.
fn goaway(got: &[Got], code: ErrorCode) -> bool {
    got.iter()
        .any(|g| matches!(g, Got::GoAway { code: c, .. } if *c == code))
}

/// The RST_STREAM frames in `got`.
fn resets(got: &[Got]) -> Vec<(u32, ErrorCode)> {
    got.iter()
        .filter_map(|g| match g {
            Got::Reset { stream, code } => Some((*stream, *code)),
            _ => None,
        })
        .collect()
}

fn field<'a>(got: &'a Got, name: &str) -> Option<&'a str> {
    match got {
        Got::Headers { fields, .. } => fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str()),
        _ => None,
    }
}

#[test]
fn the_server_speaks_first_and_answers_a_get_with_headers_and_data() {
    let mut h = Harness::new();
    assert!(matches!(h.ready(), Next::Wait(_)));
    assert_eq!(
        h.frames(),
        [Got::Settings { ack: false }],
        "the server's preface"
    );
    let mut hello = frame::PREFACE.to_vec();
    frame::write_settings(&mut hello, &[]);
    h.socket.feed(&hello);
    h.get(1, "/hello.txt");
    h.ready();
    let got = h.frames();
    assert_eq!(got[0], Got::Settings { ack: true });
    assert_eq!(status(&got[1]), Some("200"));
    assert_eq!(field(&got[1], "content-length"), Some("6"));
    assert_eq!(
        field(&got[1], "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(field(&got[1], "date").is_some() && field(&got[1], "server").is_some());
    assert_eq!(
        got[2],
        Got::Data {
            stream: 1,
            len: 6,
            end_stream: true
        }
    );
}

#[test]
fn a_head_gets_the_length_and_no_data() {
    let mut h = Harness::connected();
    let block = h.block("HEAD", "/hello.txt", &[]);
    let mut bytes = Vec::new();
    frame::write_headers(&mut bytes, 1, &block, true, frame::DEFAULT_MAX_FRAME_SIZE);
    h.socket.feed(&bytes);
    h.ready();
    let got = h.frames();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(
        got[0],
        Got::Headers {
            end_stream: true,
            ..
        }
    ));
    assert_eq!(field(&got[0], "content-length"), Some("6"));
}

#[test]
fn a_connection_that_does_not_start_with_the_preface_gets_goaway() {
    let mut h = Harness::new();
    h.socket.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(h.ready(), Next::Close);
    let got = h.frames();
    assert!(
        got.contains(&Got::GoAway {
            last: 0,
            code: ErrorCode::ProtocolError
        }),
        "{got:?}"
    );
}

#[test]
fn a_malformed_request_resets_its_stream_and_the_next_is_served() {
    let mut h = Harness::connected();
    let block = h.block("GET", "/hello.txt", &[("connection", "close")]);
    let mut bytes = Vec::new();
    frame::write_headers(&mut bytes, 1, &block, true, frame::DEFAULT_MAX_FRAME_SIZE);
    h.socket.feed(&bytes);
    h.get(3, "/hello.txt");
    h.ready();
    let got = h.frames();
    assert_eq!(
        got[0],
        Got::Reset {
            stream: 1,
            code: ErrorCode::ProtocolError
        }
    );
    assert_eq!(status(&got[1]), Some("200"));
}

#[test]
fn bodies_respect_the_stream_window_and_go_on_when_it_opens() {
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1000)]);
    h.get(1, "/big.bin");
    h.ready();
    let sent: usize = h
        .frames()
        .iter()
        .map(|g| match g {
            Got::Data { len, .. } => *len,
            _ => 0,
        })
        .sum();
    assert_eq!(sent, 1000, "the stream's window");
    let mut more = Vec::new();
    frame::write_window_update(&mut more, 1, 5000);
    h.socket.feed(&more);
    h.ready();
    let sent: usize = h
        .frames()
        .iter()
        .map(|g| match g {
            Got::Data { len, .. } => *len,
            _ => 0,
        })
        .sum();
    assert_eq!(sent, 5000);
}

#[test]
fn a_window_held_at_zero_has_its_stream_reset_by_the_send_timeout() {
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
    h.get(1, "/big.bin");
    let next = h.ready();
    assert_eq!(next, Next::Wait(Some(h.now + h.config().send_timeout)));
    h.now += h.config().send_timeout;
    assert!(matches!(h.timeout(), Next::Wait(_)));
    assert_eq!(resets(&h.frames()), [(1, ErrorCode::Cancel)]);
}

#[test]
fn a_connection_window_held_at_zero_is_closed_by_the_send_timeout() {
    // Its own window is open, the connection's is not: no stream can go on.
    let mut h = Harness::connected();
    let mut open = Vec::new();
    frame::write_window_update(&mut open, 0, 1);
    h.socket.feed(&open);
    h.get(1, "/big.bin");
    h.get(3, "/big.bin");
    h.ready();
    h.now += h.config().send_timeout;
    assert_eq!(h.timeout(), Next::Close);
}

#[test]
fn streams_past_the_limit_are_refused() {
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
    for i in 0..=MAX_STREAMS {
        h.get(2 * i + 1, "/big.bin");
    }
    h.settle();
    let last = 2 * MAX_STREAMS + 1;
    let got = h.frames();
    assert!(
        got.contains(&Got::Reset {
            stream: last,
            code: ErrorCode::RefusedStream
        }),
        "{got:?}"
    );
    let counted = h.svc.ctx().metrics.http2.snapshot();
    assert!(
        counted.resets_sent.contains(&("refused_stream", 1)),
        "{counted:?}"
    );
}

#[test]
fn a_rapid_reset_loop_ends_in_goaway_enhance_your_calm() {
    let mut h = Harness::connected();
    let mut id = 1;
    let mut calm = false;
    while id < 2 * (ABUSE_ALLOWANCE as u32 + 100) * 2 && !calm {
        let mut bytes = Vec::new();
        for _ in 0..50 {
            let block = h.block("GET", "/big.bin", &[]);
            frame::write_headers(&mut bytes, id, &block, true, frame::DEFAULT_MAX_FRAME_SIZE);
            frame::write_rst_stream(&mut bytes, id, ErrorCode::Cancel);
            id += 2;
        }
        h.socket.feed(&bytes);
        h.settle();
        calm = h.frames().iter().any(|g| {
            matches!(
                g,
                Got::GoAway {
                    code: ErrorCode::EnhanceYourCalm,
                    ..
                }
            )
        });
    }
    assert!(calm, "no GOAWAY after {} streams", id / 2);
    // What an operator sees of the attack.
    let counted = h.svc.ctx().metrics.http2.snapshot();
    assert_eq!(counted.cleartext, 1);
    assert!(counted.client_resets > ABUSE_ALLOWANCE / 2, "{counted:?}");
    assert!(
        counted.goaways_sent.contains(&("enhance_your_calm", 1)),
        "{counted:?}"
    );
}

#[test]
fn a_window_update_past_two_to_the_31_is_a_flow_control_error() {
    let mut h = Harness::connected();
    let mut bytes = Vec::new();
    frame::write_window_update(&mut bytes, 0, frame::MAX_WINDOW);
    h.socket.feed(&bytes);
    assert_eq!(h.ready(), Next::Close);
    let got = h.frames();
    assert!(
        got.iter().any(|g| matches!(
            g,
            Got::GoAway {
                code: ErrorCode::FlowControlError,
                ..
            }
        )),
        "{got:?}"
    );
}

#[test]
fn a_header_block_over_16_kib_ends_the_connection() {
    let mut h = Harness::connected();
    let block = h.block("GET", "/hello.txt", &[]);
    let mut bytes = Vec::new();
    frame::write_header(&mut bytes, block.len() as u32, frame::TYPE_HEADERS, 0, 1);
    bytes.extend_from_slice(&block);
    let filler = vec![0u8; 4096];
    for _ in 0..5 {
        frame::write_header(
            &mut bytes,
            filler.len() as u32,
            frame::TYPE_CONTINUATION,
            0,
            1,
        );
        bytes.extend_from_slice(&filler);
    }
    h.socket.feed(&bytes);
    assert_eq!(h.ready(), Next::Close);
    assert!(h.frames().iter().any(|g| matches!(
        g,
        Got::GoAway {
            code: ErrorCode::EnhanceYourCalm,
            ..
        }
    )));
}

#[test]
fn an_hpack_bomb_gets_431_and_the_connection_goes_on() {
    let mut h = Harness::connected();
    // A block that adds one 4,000-byte field to the dynamic table (a literal with incremental
    // indexing, RFC 7541 §6.2.1), then names it by its index 100 times: 4 KiB that decode to
    // 400 KB. (The client's encoder is left out of it: its table would not know the entry.)
    let mut block = Harness::plain_block("/hello.txt");
    block.extend_from_slice(&[0x40, 6]);
    block.extend_from_slice(b"x-bomb");
    block.extend_from_slice(&[0x7f, 0xa1, 0x1e]); // 4000: 127, then 3873 in 7-bit groups
    block.extend_from_slice(&[b'b'; 4000]);
    block.extend_from_slice(&[0x80 | 62; 100]);
    let mut bytes = Vec::new();
    frame::write_headers(&mut bytes, 1, &block, true, frame::DEFAULT_MAX_FRAME_SIZE);
    let next = Harness::plain_block("/hello.txt");
    frame::write_headers(&mut bytes, 3, &next, true, frame::DEFAULT_MAX_FRAME_SIZE);
    h.socket.feed(&bytes);
    h.settle();
    let got = h.frames();
    let statuses: Vec<_> = got.iter().filter_map(status).collect();
    assert_eq!(statuses, ["431", "200"], "{got:?}");
}

#[test]
fn sigint_sends_goaway_with_the_last_stream_and_lets_it_finish() {
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1000)]);
    h.get(1, "/big.bin");
    h.ready();
    h.frames();
    h.drain();
    let got = h.frames();
    assert!(
        got.contains(&Got::GoAway {
            last: 1,
            code: ErrorCode::NoError
        }),
        "{got:?}"
    );
    // A new stream after the GOAWAY is not served; the old one finishes.
    h.get(3, "/hello.txt");
    let mut open = Vec::new();
    frame::write_window_update(&mut open, 1, frame::MAX_WINDOW - 65_535);
    frame::write_window_update(&mut open, 0, frame::MAX_WINDOW - 65_535);
    h.socket.feed(&open);
    assert_eq!(h.ready(), Next::Close);
    let got = h.frames();
    let ended = got.iter().any(|g| {
        matches!(
            g,
            Got::Data {
                stream: 1,
                end_stream: true,
                ..
            }
        )
    });
    assert!(ended, "{got:?}");
    assert!(
        !got.iter()
            .any(|g| matches!(g, Got::Headers { stream: 3, .. }))
    );
}

#[test]
fn all_streams_of_a_connection_share_one_turn() {
    let mut h = Harness::connected();
    for i in 0..20 {
        h.get(2 * i + 1, "/hello.txt");
    }
    assert_eq!(h.ready(), Next::Yield);
    let answered = h.frames().iter().filter(|g| status(g).is_some()).count();
    assert!(answered <= 16 + 1, "{answered} responses in one turn");
    h.ready();
    let more = h.frames().iter().filter(|g| status(g).is_some()).count();
    assert_eq!(answered + more, 20);
}

#[test]
fn an_idle_connection_gets_goaway_after_the_idle_timeout() {
    let mut h = Harness::connected();
    let next = h.ready();
    assert_eq!(next, Next::Wait(Some(h.now + h.config().idle_timeout)));
    h.now += h.config().idle_timeout + Duration::from_millis(1);
    assert_eq!(h.timeout(), Next::Close);
    assert!(h.frames().iter().any(|g| matches!(
        g,
        Got::GoAway {
            code: ErrorCode::NoError,
            ..
        }
    )));
    h.close();
    assert!(h.socket.shut);
}

#[test]
fn reusing_a_stream_id_after_its_end_is_a_connection_error() {
    let mut h = Harness::connected();
    h.get(1, "/hello.txt");
    h.settle();
    h.frames();
    h.get(1, "/hello.txt");
    h.settle();
    let got = h.frames();
    assert!(
        got.iter().any(|g| matches!(
            g,
            Got::GoAway {
                code: ErrorCode::StreamClosed,
                ..
            }
        )),
        "{got:?}"
    );
}

#[test]
fn a_body_and_trailers_after_the_server_reset_a_malformed_request_are_ignored() {
    // RFC 9113 §5.1: frames the client sent before it saw our RST_STREAM must be ignored; its
    // trailers used to end the whole connection.
    let mut h = Harness::connected();
    h.request(1, "/hello.txt", &[("connection", "close")], false);
    h.data(1, 3, false);
    h.trailers(1);
    h.get(3, "/hello.txt");
    h.settle();
    let got = h.frames();
    assert_eq!(
        resets(&got),
        [(1, ErrorCode::ProtocolError)],
        "{:?}",
        brief(&got)
    );
    assert!(!goaway(&got, ErrorCode::ProtocolError), "{:?}", brief(&got));
    assert_eq!(got.iter().filter_map(status).collect::<Vec<_>>(), ["200"]);
}

#[test]
fn frames_on_a_refused_stream_are_ignored() {
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
    for i in 0..MAX_STREAMS {
        h.get(2 * i + 1, "/big.bin");
    }
    let refused = 2 * MAX_STREAMS + 1;
    h.request(refused, "/hello.txt", &[], false);
    h.data(refused, 10, false);
    h.trailers(refused);
    h.settle();
    let got = h.frames();
    assert_eq!(
        resets(&got),
        [(refused, ErrorCode::RefusedStream)],
        "{:?}",
        brief(&got)
    );
    assert!(
        !got.iter().any(|g| matches!(g, Got::GoAway { .. })),
        "{:?}",
        brief(&got)
    );
}

#[test]
fn a_body_that_goes_on_after_its_early_answer_is_ignored() {
    let mut h = Harness::connected();
    h.request(1, "/hello.txt", &[], false);
    for _ in 0..2 {
        h.data(1, 10_000, false);
    }
    h.settle();
    let got = h.frames();
    assert_eq!(got.iter().filter_map(status).collect::<Vec<_>>(), ["413"]);
    assert_eq!(resets(&got), [(1, ErrorCode::NoError)], "{:?}", brief(&got));
    // What the client had sent before it saw the RST_STREAM.
    h.data(1, 10_000, false);
    h.trailers(1);
    h.get(3, "/hello.txt");
    h.settle();
    let got = h.frames();
    assert_eq!(resets(&got), [], "{:?}", brief(&got));
    assert!(
        !got.iter().any(|g| matches!(g, Got::GoAway { .. })),
        "{:?}",
        brief(&got)
    );
    assert_eq!(got.iter().filter_map(status).collect::<Vec<_>>(), ["200"]);
}

#[test]
fn a_stream_error_on_an_idle_stream_ends_the_connection_without_naming_the_stream() {
    // RFC 9113 §6.4: RST_STREAM must never be sent for an idle stream.
    let mut h = Harness::connected();
    h.raw(frame::TYPE_WINDOW_UPDATE, 0, 5, &[0, 0, 0, 0]);
    assert_eq!(h.settle(), Next::Close);
    let got = h.frames();
    assert_eq!(resets(&got), [], "{:?}", brief(&got));
    assert!(goaway(&got, ErrorCode::ProtocolError), "{:?}", brief(&got));
}

/// The names of the `cases` that `holds` is false for: a table test reports them all.
fn failing<T>(
    cases: impl IntoIterator<Item = (&'static str, T)>,
    mut holds: impl FnMut(T) -> bool,
) -> Vec<&'static str> {
    cases
        .into_iter()
        .filter_map(|(name, case)| (!holds(case)).then_some(name))
        .collect()
}

/// Sends `frames` (made by `make`, one call per frame) in batches until the server says
/// `ENHANCE_YOUR_CALM` or `most` frames have gone; returns how many went.
fn until_calm(h: &mut Harness, most: u32, mut make: impl FnMut(&mut Harness, u32)) -> Option<u32> {
    let mut sent = 0;
    while sent < most {
        for _ in 0..100 {
            make(h, sent);
            sent += 1;
        }
        h.settle();
        if goaway(&h.frames(), ErrorCode::EnhanceYourCalm) {
            return Some(sent);
        }
    }
    None
}

#[test]
fn streams_the_client_makes_the_server_reset_count_as_rapid_resets() {
    // CVE-2025-8671 ("MadeYouReset"): a request followed at once by a frame that the server
    // must answer with RST_STREAM costs the server the response's start, as a rapid reset does,
    // but used to count nowhere.
    let most = 4 * ABUSE_ALLOWANCE as u32;
    type Provoke = fn(&mut Harness, u32);
    let provocations: [(&str, Provoke); 3] = [
        ("a window past 2^31-1", |h, id| {
            let mut bytes = Vec::new();
            frame::write_window_update(&mut bytes, id, frame::MAX_WINDOW);
            h.socket.feed(&bytes);
        }),
        ("DATA after END_STREAM", |h, id| h.data(id, 1, false)),
        ("a PRIORITY that depends on its own stream", |h, id| {
            let [a, b, c, d] = id.to_be_bytes();
            h.raw(frame::TYPE_PRIORITY, 0, id, &[a, b, c, d, 15]);
        }),
    ];
    let unchecked = failing(provocations, |provoke| {
        let mut h = Harness::connected();
        let calm = until_calm(&mut h, most, |h, n| {
            let id = 2 * n + 1;
            h.get(id, "/big.bin");
            provoke(h, id);
        });
        calm.is_some()
    });
    assert!(
        unchecked.is_empty(),
        "no GOAWAY after {most} streams: {unchecked:?}"
    );
}

#[test]
fn frames_that_bring_nothing_count_against_the_allowance() {
    let most = 2 * ABUSE_ALLOWANCE as u32;
    type Send = fn(&mut Harness, u32);
    let floods: [(&str, Send); 7] = [
        ("PRIORITY", |h, _| {
            h.raw(frame::TYPE_PRIORITY, 0, 1, &[0, 0, 0, 0, 15])
        }),
        ("an unknown type", |h, _| h.raw(0xbb, 0, 0, b"")),
        ("SETTINGS ACK", |h, _| {
            h.raw(frame::TYPE_SETTINGS, 1, 0, b"")
        }),
        ("PING ACK", |h, _| h.raw(frame::TYPE_PING, 1, 0, &[0; 8])),
        ("RST_STREAM on a closed stream", |h, _| {
            h.raw(frame::TYPE_RST_STREAM, 0, 1, &[0, 0, 0, 8]);
        }),
        ("DATA on a closed stream", |h, _| h.data(1, 0, true)),
        ("an empty CONTINUATION", |h, n| {
            if n == 0 {
                let block = h.block("GET", "/hello.txt", &[]);
                h.raw(frame::TYPE_HEADERS, 1, 3, &block);
            }
            h.raw(frame::TYPE_CONTINUATION, 0, 3, b"");
        }),
    ];
    let unchecked = failing(floods, |send| {
        let mut h = Harness::connected();
        h.get(1, "/hello.txt");
        h.settle();
        h.frames();
        until_calm(&mut h, most, send).is_some()
    });
    assert!(
        unchecked.is_empty(),
        "no GOAWAY after {most} frames: {unchecked:?}"
    );
}

#[test]
fn window_updates_on_a_stream_being_sent_are_never_counted() {
    // A client that reads gives credit all the time: that is no abuse however often.
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1)]);
    h.get(1, "/big.bin");
    let calm = until_calm(&mut h, 2 * ABUSE_ALLOWANCE as u32, |h, _| {
        let mut bytes = Vec::new();
        frame::write_window_update(&mut bytes, 1, 1);
        frame::write_window_update(&mut bytes, 0, 1);
        h.socket.feed(&bytes);
    });
    assert_eq!(calm, None);
}

#[test]
fn sigterm_lets_a_download_in_flight_finish_past_the_drain_grace() {
    // The grace is for a connection with nothing in flight; a response goes on until the
    // worker's drain deadline (--shutdown-timeout), as over HTTP/1.1.
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1000)]);
    h.get(1, "/big.bin");
    h.ready();
    let mut next = h.drain();
    let mut sent = 0;
    for _ in 0..10 {
        let mut more = Vec::new();
        frame::write_window_update(&mut more, 1, 50_000);
        frame::write_window_update(&mut more, 0, 50_000);
        h.socket.feed(&more);
        next = h.later(Duration::from_secs(1), next);
        sent += h
            .frames()
            .iter()
            .filter(|g| matches!(g, Got::Data { .. }))
            .count();
        if next == Next::Close {
            break;
        }
    }
    let ended = h.socket.output.len() > BIG && next == Next::Close;
    assert!(ended, "{sent} DATA frames, then {next:?}");
}

#[test]
fn a_request_whose_body_never_ends_gets_408_within_the_header_timeout() {
    // Frames that keep the connection busy do not keep the request waiting for ever.
    let mut h = Harness::connected();
    h.request(1, "/hello.txt", &[], false);
    let mut next = h.ready();
    let step = h.config().header_timeout / 4;
    let mut got = Vec::new();
    for _ in 0..8 {
        h.raw(frame::TYPE_PRIORITY, 0, 1, &[0, 0, 0, 0, 15]);
        next = h.later(step, next);
        got.extend(h.frames());
        if got.iter().any(|g| status(g).is_some()) {
            break;
        }
    }
    assert_eq!(got.iter().filter_map(status).collect::<Vec<_>>(), ["408"]);
    assert_eq!(resets(&got), [(1, ErrorCode::NoError)], "{:?}", brief(&got));
    h.get(3, "/hello.txt");
    h.ready();
    assert_eq!(
        h.frames().iter().filter_map(status).collect::<Vec<_>>(),
        ["200"]
    );
}

#[test]
fn a_window_held_shut_is_not_kept_open_by_pings() {
    // A PING's ACK is a write, but no progress of the response the window holds back.
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
    h.get(1, "/big.bin");
    let mut next = h.ready();
    let step = h.config().send_timeout / 4;
    for _ in 0..8 {
        h.raw(frame::TYPE_PING, 0, 0, &[7; 8]);
        next = h.later(step, next);
    }
    let got = h.frames();
    let reset = resets(&got).contains(&(1, ErrorCode::Cancel));
    assert!(reset || next == Next::Close, "{next:?} {:?}", brief(&got));
}

#[test]
fn a_stream_held_by_its_own_window_is_reset_and_the_others_go_on() {
    let mut h = Harness::connected();
    let block = h.block("GET", "/big.bin", &[]);
    h.headers(1, &block, true);
    h.ready();
    // Stream 1 has had its 64 KiB; stream 3 is given window as it goes.
    h.get(3, "/big.bin");
    let mut next = h.ready();
    let step = h.config().send_timeout / 4;
    for _ in 0..6 {
        let mut more = Vec::new();
        frame::write_window_update(&mut more, 3, 20_000);
        frame::write_window_update(&mut more, 0, 20_000);
        h.socket.feed(&more);
        next = h.later(step, next);
    }
    let got = h.frames();
    assert!(
        resets(&got).contains(&(1, ErrorCode::Cancel)),
        "{:?}",
        brief(&got)
    );
    assert!(
        !resets(&got).iter().any(|(id, _)| *id == 3),
        "{:?}",
        brief(&got)
    );
    assert!(matches!(next, Next::Wait(_)), "{next:?}");
}

#[test]
fn a_client_that_closes_its_side_leaves_no_stream_waiting_for_it() {
    // Neither a window nor a body can come any more: the files and buffers go at once, not
    // after the send timeout.
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
    h.get(1, "/big.bin");
    h.request(3, "/hello.txt", &[], false);
    h.socket.eof = true;
    assert_eq!(h.settle(), Next::Close);
}

#[test]
fn a_connection_keeps_few_files_open_and_its_other_requests_wait_their_turn() {
    // 100 streams of a large file at a zero window held 100 descriptors each: 200 such
    // connections used up the process's 20,000 and the server stopped accepting. Past the
    // limit a request that needs a file waits, unanswered, for one to close; a small or
    // cached answer does not.
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
    let files = MAX_OPEN_FILES as u32 + 12;
    for i in 0..files {
        h.get(2 * i + 1, "/big.bin");
    }
    h.get(2 * files + 1, "/missing");
    h.settle();
    let answered: Vec<u32> = h
        .frames()
        .iter()
        .filter_map(|g| match g {
            Got::Headers { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    assert_eq!(answered.len(), MAX_OPEN_FILES + 1, "{answered:?}");
    assert!(
        answered.contains(&(2 * files + 1)),
        "the 404 waits: {answered:?}"
    );
    // Window for all: every download completes, in the order they came.
    let mut open = Vec::new();
    frame::write_settings(&mut open, &[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1 << 30)]);
    frame::write_window_update(&mut open, 0, 1 << 30);
    h.socket.feed(&open);
    h.settle();
    let ended = h
        .frames()
        .iter()
        .filter(|g| {
            matches!(
                g,
                Got::Data {
                    end_stream: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(ended, files as usize + 1);
}

#[test]
fn the_heads_a_connection_holds_for_bodies_to_come_are_bounded() {
    // A head of 15 KiB costs its client a few bytes once HPACK has indexed its fields; 100 of
    // them, each waiting for a body, held 1.5 MiB per connection.
    let mut h = Harness::connected();
    let value = "v".repeat(1000);
    let big: Vec<(String, &str)> = (0..15)
        .map(|i| (format!("x-big-{i}"), &value[..]))
        .collect();
    let fields: Vec<(&str, &str)> = big.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    // Each head is a little over 15 KiB as RFC 9113 §6.5.2 reckons it, under 16 KiB.
    let held = MAX_HELD_HEADS / (16 * 1024);
    assert_eq!(held, MAX_HELD_HEADS / (15 * 1040));
    for i in 0..MAX_STREAMS {
        h.request(2 * i + 1, "/hello.txt", &fields, false);
    }
    h.settle();
    let refused = resets(&h.frames())
        .iter()
        .filter(|(_, code)| *code == ErrorCode::RefusedStream)
        .count();
    assert_eq!(refused, MAX_STREAMS as usize - held);
}

#[test]
fn output_for_a_client_that_reads_nothing_stays_bounded() {
    // Whatever the client asks for (bodies, response heads, PING and SETTINGS ACKs, resets of
    // streams it gets wrong), what waits for it stops growing at the bound, plus one frame.
    let mut h = Harness::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1 << 30)]);
    let mut open = Vec::new();
    frame::write_window_update(&mut open, 0, 1 << 30);
    h.socket.feed(&open);
    h.socket.room = Some(0);
    let mut id = 1;
    let mut most = 0;
    for round in 0..40 {
        for i in 0..50 {
            h.get(id, if i == 0 { "/big.bin" } else { "/hello.txt" });
            if i % 10 == 1 {
                h.data(id, 1, false); // a stream error: RST_STREAM
            }
            id += 2;
        }
        for _ in 0..5 + round {
            h.raw(frame::TYPE_PING, 0, 0, &[1; 8]);
            h.raw(frame::TYPE_SETTINGS, 0, 0, b"");
        }
        h.settle();
        most = most.max(h.conn.as_ref().unwrap().pending_output());
    }
    // Within the allowance the client cannot fill it: the bodies stop at half of it.
    assert!(
        most >= MAX_PENDING_OUTPUT / 2,
        "the output never filled: {most}"
    );
    assert!(
        most <= MAX_PENDING_OUTPUT + 16 * 1024 + 9,
        "{most} bytes wait"
    );
}

#[test]
fn requests_that_arrive_together_take_one_read_and_their_responses_one_write() {
    let mut h = Harness::connected();
    for i in 0..10 {
        h.get(2 * i + 1, "/hello.txt");
    }
    let (recvs, sends) = (h.socket.recvs, h.socket.sends);
    assert!(matches!(h.ready(), Next::Wait(_)));
    // The read came back shorter than asked: under edge-triggered polling the socket is empty
    // until the next event, so no read is tried only to hear `WouldBlock`.
    assert_eq!(h.socket.recvs - recvs, 1, "reads");
    assert_eq!(h.socket.sends - sends, 1, "writes");
    let got = h.frames();
    assert_eq!(got.iter().filter(|g| status(g) == Some("200")).count(), 10);
    // The next event reads again.
    h.get(21, "/hello.txt");
    h.ready();
    assert_eq!(h.socket.recvs - recvs, 2, "reads");
    assert_eq!(status(&h.frames()[0]), Some("200"));
}

#[test]
fn repeated_responses_decode_alike_whether_their_fields_are_encoded_or_replayed() {
    let mut h = Harness::connected();
    let mut heads = Vec::new();
    for i in 0..40 {
        let path = if i % 3 == 0 { "/big.bin" } else { "/hello.txt" };
        h.get(2 * i + 1, path);
        h.settle();
        let got = h.frames();
        let head = got.iter().find(|g| status(g).is_some()).unwrap().clone();
        // The client's windows: the big body fills them, then they are given back (a stream
        // left waiting would hold its file).
        let mut update = Vec::new();
        frame::write_window_update(&mut update, 0, BIG as u32);
        frame::write_window_update(&mut update, 2 * i + 1, BIG as u32);
        h.socket.feed(&update);
        heads.push((path, head));
    }
    for (path, head) in &heads {
        let length = if *path == "/big.bin" {
            BIG.to_string()
        } else {
            "6".to_owned()
        };
        assert_eq!(
            field(head, "content-length"),
            Some(length.as_str()),
            "{head:?}"
        );
        assert!(field(head, "etag").is_some_and(|e| e.starts_with('"')));
        assert!(field(head, "last-modified").is_some_and(|d| d.ends_with(" GMT")));
        assert!(field(head, "date").is_some_and(|d| d.ends_with(" GMT")));
    }
    for path in ["/hello.txt", "/big.bin"] {
        let etags: std::collections::HashSet<_> = heads
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, h)| field(h, "etag"))
            .collect();
        assert_eq!(etags.len(), 1, "one file, one etag: {etags:?}");
    }
}

#[test]
fn an_idle_connection_keeps_no_buffers_nor_room_for_streams() {
    let mut h = Harness::connected();
    for i in 0..3 {
        h.get(2 * i + 1, "/hello.txt");
    }
    assert!(matches!(h.settle(), Next::Wait(_)));
    assert_eq!(h.frames().iter().filter(|g| status(g).is_some()).count(), 3);
    let conn = h.conn.as_ref().unwrap();
    // What an idle connection costs is its state, not the room its last requests took.
    assert_eq!(conn.streams.capacity(), 0, "streams");
    assert_eq!(conn.decoded.heap_bytes(), 0, "decoded fields");
    assert_eq!(conn.out.capacity(), 0, "output");
    assert!(!conn.input.has_buffer(), "input");
    // And it serves the next request as well.
    h.get(7, "/hello.txt");
    h.ready();
    assert_eq!(status(&h.frames()[0]), Some("200"));
}

#[test]
fn a_request_whose_content_length_its_end_contradicts_is_reset_and_the_next_is_served() {
    let mut h = Harness::connected();
    let block = h.block("GET", "/hello.txt", &[("content-length", "5")]);
    let mut bytes = Vec::new();
    frame::write_headers(&mut bytes, 1, &block, true, frame::DEFAULT_MAX_FRAME_SIZE);
    h.socket.feed(&bytes);
    h.get(3, "/hello.txt");
    h.settle();
    let got = h.frames();
    assert_eq!(
        got[0],
        Got::Reset {
            stream: 1,
            code: ErrorCode::ProtocolError
        }
    );
    assert!(
        got.iter()
            .any(|g| matches!(g, Got::Headers { stream: 3, .. }) && status(g) == Some("200"))
    );
}

#[test]
fn a_file_past_the_sendfile_limit_is_copied_from_the_workers_cache() {
    // HTTP/2 copies every body, as TLS does: the worker's cache takes files up to MAX_FILE for
    // it, where plain HTTP/1.1 leaves those past MAX_FILE_SENDFILE to sendfile.
    use crate::files::cache::{MAX_FILE_SENDFILE, RACY_WINDOW};
    let mut h = Harness::connected();
    let size = MAX_FILE_SENDFILE as usize + 1024;
    fs::write(h._dir.path().join("mid.bin"), vec![b'm'; size]).unwrap();
    // A file changed in the last RACY_WINDOW is never cached.
    std::thread::sleep(RACY_WINDOW + Duration::from_millis(100));
    for stream in [1, 3] {
        h.get(stream, "/mid.bin");
        h.settle();
        let got = h.frames();
        assert_eq!(got.iter().filter_map(status).collect::<Vec<_>>(), ["200"]);
        let body: usize = got
            .iter()
            .map(|g| match g {
                Got::Data { len, .. } => *len,
                _ => 0,
            })
            .sum();
        assert_eq!(body, size);
    }
    assert!(h.svc.cached_bytes() >= size, "{}", h.svc.cached_bytes());
}
