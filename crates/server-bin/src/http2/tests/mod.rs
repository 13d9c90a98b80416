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
use crate::service::{Peer, Service};
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
        let svc = Service::for_tests(&root, config);
        let metrics = std::sync::Arc::clone(&svc.ctx().metrics);
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

    /// A connection over TLS (the handshake done, no frame sent yet), and the client's end of
    /// it: what the server writes is in `socket.output` as records.
    fn over_tls() -> (Self, rustls::ClientConnection) {
        let mut h = Self::new();
        let (transport, socket, client) = crate::transport::tests::tls_pair();
        (h.transport, h.socket) = (transport, socket);
        (h, client)
    }

    /// `plain` sealed by `client` and fed to the server.
    fn feed_sealed(&mut self, client: &mut rustls::ClientConnection, plain: &[u8]) {
        std::io::Write::write_all(&mut client.writer(), plain).unwrap();
        let mut sealed = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut sealed).unwrap();
        }
        self.socket.feed(&sealed);
    }

    /// The server's root, to add files to.
    fn root(&self) -> &std::path::Path {
        self._dir.path()
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

    /// A client that has sent its preface and opened every window as far as it goes (the
    /// streams' by SETTINGS, the connection's by WINDOW_UPDATE): only the socket holds output
    /// back.
    fn with_open_windows() -> Self {
        let mut h = Self::with_settings(&[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1 << 30)]);
        let mut open = Vec::new();
        frame::write_window_update(&mut open, 0, 1 << 30);
        h.socket.feed(&open);
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

mod attacks;
mod exchange;
mod limits;
