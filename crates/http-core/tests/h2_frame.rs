//! HTTP/2 frames against the text of RFC 9113: every MUST of §3.4 (the preface), §4.1 and §4.2
//! (the frame header and sizes) and §6 (each frame type) that one frame can break, as tables;
//! then the writers, byte for byte.

use http_core::Status;
use http_core::h2::frame::{
    self, DEFAULT_HEADER_TABLE_SIZE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, ErrorCode, FLAG_ACK,
    FLAG_END_HEADERS, FLAG_END_STREAM, FLAG_PADDED, FLAG_PRIORITY, Frame, FrameError, HEADER_LEN,
    MAX_GOAWAY_DEBUG, MAX_MAX_FRAME_SIZE, MAX_WINDOW, PREFACE, Priority, SETTINGS_ENABLE_PUSH,
    SETTINGS_HEADER_TABLE_SIZE, SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_CONCURRENT_STREAMS,
    SETTINGS_MAX_FRAME_SIZE, SETTINGS_MAX_HEADER_LIST_SIZE, Settings, TYPE_CONTINUATION, TYPE_DATA,
    TYPE_GOAWAY, TYPE_HEADERS, TYPE_PING, TYPE_PRIORITY, TYPE_PUSH_PROMISE, TYPE_RST_STREAM,
    TYPE_SETTINGS, TYPE_WINDOW_UPDATE,
};

use ErrorCode::{FlowControlError, FrameSizeError, ProtocolError};

/// A frame built by hand from the layout of §4.1, independent of the writers under test.
fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    assert!(len < 1 << 24, "a test frame fits the 24-bit length");
    let mut buf = len.to_be_bytes()[1..].to_vec();
    buf.push(kind);
    buf.push(flags);
    buf.extend_from_slice(&stream.to_be_bytes());
    buf.extend_from_slice(payload);
    buf
}

/// Only the header of a frame said to be `len` bytes long.
fn header(kind: u8, flags: u8, stream: u32, len: u32) -> Vec<u8> {
    let mut buf = len.to_be_bytes()[1..].to_vec();
    buf.extend_from_slice(&[kind, flags]);
    buf.extend_from_slice(&stream.to_be_bytes());
    buf
}

type Parsed<'a> = Result<Status<(Frame<'a>, usize)>, FrameError>;

fn parse(buf: &[u8]) -> Parsed<'_> {
    frame::parse(buf, DEFAULT_MAX_FRAME_SIZE)
}

/// The frame that `buf` holds exactly.
#[track_caller]
fn whole(buf: &[u8]) -> Frame<'_> {
    match parse(buf) {
        Ok(Status::Complete((frame, len))) => {
            assert_eq!(len, buf.len(), "the frame is the whole buffer");
            frame
        }
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// The error's code and stream (`None`: a connection error), the reason left out.
#[track_caller]
fn error<T: std::fmt::Debug>(parsed: Result<T, FrameError>) -> (ErrorCode, Option<u32>) {
    match parsed {
        Err(e) => {
            assert!(e.reason.contains("RFC 9113 §"), "{e:?} cites its section");
            (e.code, e.stream)
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

const CONNECTION: Option<u32> = None;

// §3.4 -------------------------------------------------------------------------------------

#[test]
fn the_preface_is_the_24_octets_of_section_3_4() {
    assert_eq!(PREFACE.len(), 24);
    assert_eq!(PREFACE, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
}

#[test]
fn every_proper_prefix_of_the_preface_is_partial_and_the_whole_is_24_octets() {
    for n in 0..PREFACE.len() {
        assert_eq!(
            frame::parse_preface(&PREFACE[..n]),
            Ok(Status::Partial),
            "{n} octets"
        );
    }
    assert_eq!(frame::parse_preface(PREFACE), Ok(Status::Complete(24)));
    let mut more = PREFACE.to_vec();
    more.extend_from_slice(&raw(TYPE_SETTINGS, 0, 0, &[]));
    assert_eq!(frame::parse_preface(&more), Ok(Status::Complete(24)));
}

#[test]
fn an_invalid_preface_is_a_protocol_error_from_its_first_wrong_octet() {
    for at in 0..PREFACE.len() {
        let mut bad = PREFACE.to_vec();
        bad[at] ^= 0x20;
        assert_eq!(
            error(frame::parse_preface(&bad[..=at])),
            (ProtocolError, CONNECTION),
            "octet {at}"
        );
    }
    for input in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\n\r\n",
        b"\x16\x03\x01",
    ] {
        assert_eq!(
            error(frame::parse_preface(input)),
            (ProtocolError, CONNECTION)
        );
    }
}

// §4.1: the frame header ---------------------------------------------------------------------

#[test]
fn the_header_is_length_type_flags_and_a_31_bit_stream_id() {
    let buf = raw(TYPE_DATA, FLAG_END_STREAM, 0x0102_0304, b"abc");
    assert_eq!(buf[..HEADER_LEN], [0, 0, 3, 0, 1, 1, 2, 3, 4]);
    assert_eq!(
        whole(&buf),
        Frame::Data {
            stream: 0x0102_0304,
            data: b"abc",
            end_stream: true,
            flow_len: 3
        }
    );
    assert_eq!(frame::frame_len(&buf), Some(12));
    assert_eq!(frame::frame_len(&buf[..8]), None);
}

#[test]
fn fewer_than_9_octets_are_partial() {
    let buf = raw(TYPE_PING, 0, 0, &[0; 8]);
    for n in 0..HEADER_LEN {
        assert_eq!(parse(&buf[..n]), Ok(Status::Partial), "{n} octets");
    }
}

#[test]
fn the_reserved_bit_of_a_stream_id_is_ignored_on_receipt() {
    const R: u32 = 0x8000_0000;
    let cases: [(Vec<u8>, Frame<'static>); 9] = [
        (
            raw(TYPE_DATA, 0, R | 1, b"x"),
            Frame::Data {
                stream: 1,
                data: b"x",
                end_stream: false,
                flow_len: 1,
            },
        ),
        (
            raw(TYPE_HEADERS, FLAG_END_HEADERS, R | 3, b"h"),
            Frame::Headers {
                stream: 3,
                block: b"h",
                end_stream: false,
                end_headers: true,
                priority: None,
            },
        ),
        (
            raw(TYPE_PRIORITY, 0, R | 5, &[0, 0, 0, 0, 7]),
            Frame::Priority {
                stream: 5,
                priority: Priority {
                    exclusive: false,
                    dependency: 0,
                    weight: 7,
                },
            },
        ),
        (
            raw(TYPE_RST_STREAM, 0, R | 7, &[0, 0, 0, 8]),
            Frame::RstStream {
                stream: 7,
                code: ErrorCode::Cancel,
            },
        ),
        (
            raw(TYPE_WINDOW_UPDATE, 0, R | 9, &[0, 0, 0, 1]),
            Frame::WindowUpdate {
                stream: 9,
                increment: 1,
            },
        ),
        (
            raw(TYPE_CONTINUATION, 0, R | 11, b"c"),
            Frame::Continuation {
                stream: 11,
                block: b"c",
                end_headers: false,
            },
        ),
        // Stream 0 with the reserved bit set is stream 0: valid for the connection's frames.
        (
            raw(TYPE_PING, 0, R, b"reserve!"),
            Frame::Ping {
                ack: false,
                data: *b"reserve!",
            },
        ),
        (
            raw(TYPE_GOAWAY, 0, R, &[0, 0, 0, 0, 0, 0, 0, 0]),
            Frame::GoAway {
                last_stream: 0,
                code: ErrorCode::NoError,
                debug: b"",
            },
        ),
        (
            raw(0xEE, 0, R | 0x7fff_ffff, b""),
            Frame::Unknown {
                kind: 0xEE,
                stream: 0x7fff_ffff,
            },
        ),
    ];
    for (buf, expected) in &cases {
        assert_eq!(whole(buf), *expected);
    }
    let settings = raw(TYPE_SETTINGS, 0, R, &[]);
    assert!(matches!(
        whole(&settings),
        Frame::Settings { ack: false, .. }
    ));
}

/// One valid frame of each type, with the flags it sets and every flag its type defines.
fn one_of_each() -> Vec<(u8, u8, u8, u32, Vec<u8>)> {
    let data = FLAG_END_STREAM | FLAG_PADDED;
    let headers = FLAG_END_STREAM | FLAG_END_HEADERS | FLAG_PADDED | FLAG_PRIORITY;
    vec![
        (TYPE_DATA, data, data, 1, vec![2, b'd', 0, 0]),
        (TYPE_DATA, 0, data, 1, vec![2, b'd', 0, 0]),
        (
            TYPE_HEADERS,
            headers,
            headers,
            1,
            vec![1, 0x80, 0, 0, 3, 9, b'h', 0],
        ),
        (
            TYPE_HEADERS,
            0,
            headers,
            1,
            vec![1, 0x80, 0, 0, 3, 9, b'h', 0],
        ),
        (TYPE_PRIORITY, 0, 0, 1, vec![0, 0, 0, 3, 9]),
        (TYPE_RST_STREAM, 0, 0, 1, vec![0, 0, 0, 1]),
        (TYPE_SETTINGS, 0, FLAG_ACK, 0, vec![0, 4, 0, 0, 0, 0]),
        (TYPE_SETTINGS, FLAG_ACK, FLAG_ACK, 0, vec![]),
        (
            TYPE_PUSH_PROMISE,
            FLAG_END_HEADERS | FLAG_PADDED,
            FLAG_END_HEADERS | FLAG_PADDED,
            1,
            vec![1, 0, 0, 0, 2, b'p', 0],
        ),
        (TYPE_PING, FLAG_ACK, FLAG_ACK, 0, b"12345678".to_vec()),
        (TYPE_PING, 0, FLAG_ACK, 0, b"12345678".to_vec()),
        (TYPE_GOAWAY, 0, 0, 0, vec![0, 0, 0, 5, 0, 0, 0, 0, b'g']),
        (TYPE_WINDOW_UPDATE, 0, 0, 0, vec![0, 0, 1, 0]),
        (
            TYPE_CONTINUATION,
            FLAG_END_HEADERS,
            FLAG_END_HEADERS,
            1,
            b"c".to_vec(),
        ),
        (TYPE_CONTINUATION, 0, FLAG_END_HEADERS, 1, b"c".to_vec()),
    ]
}

#[test]
fn flags_a_type_does_not_define_are_ignored() {
    for (kind, flags, defined, stream, payload) in one_of_each() {
        let plain = raw(kind, flags, stream, &payload);
        let flagged = raw(kind, flags | !defined, stream, &payload);
        assert_eq!(
            whole(&plain),
            whole(&flagged),
            "type {kind:#x} with every undefined flag set"
        );
    }
    // A flag defined for another type changes nothing: CONTINUATION has no PADDED, DATA no
    // PRIORITY, PRIORITY and GOAWAY no ACK.
    let continuation = raw(
        TYPE_CONTINUATION,
        FLAG_PADDED | FLAG_PRIORITY,
        1,
        &[1, 2, 3],
    );
    assert_eq!(
        whole(&continuation),
        Frame::Continuation {
            stream: 1,
            block: &[1, 2, 3],
            end_headers: false
        }
    );
    let data = raw(
        TYPE_DATA,
        FLAG_PRIORITY | FLAG_END_HEADERS,
        1,
        &[1, 2, 3, 4, 5],
    );
    assert_eq!(
        whole(&data),
        Frame::Data {
            stream: 1,
            data: &[1, 2, 3, 4, 5],
            end_stream: false,
            flow_len: 5
        }
    );
}

#[test]
fn every_unknown_type_is_parsed_as_unknown_on_any_stream_with_any_flags() {
    for kind in 0x0a..=0xff_u8 {
        for stream in [0, 1, 2, 0x7fff_ffff] {
            let buf = raw(kind, kind, stream, &vec![kind; usize::from(kind)]);
            assert_eq!(whole(&buf), Frame::Unknown { kind, stream });
        }
    }
}

// §4.2: frame size ---------------------------------------------------------------------------

#[test]
fn a_frame_over_max_frame_size_is_a_frame_size_error_from_its_header_alone() {
    for kind in 0..=0xff_u8 {
        for (max, len) in [
            (DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE + 1),
            (100_000, 100_001),
            (MAX_MAX_FRAME_SIZE - 1, MAX_MAX_FRAME_SIZE),
        ] {
            let head = header(kind, 0, 1, len);
            assert_eq!(
                error(frame::parse(&head, max)),
                (FrameSizeError, CONNECTION),
                "type {kind:#x}, {len} octets over {max}"
            );
        }
    }
}

#[test]
fn a_data_frame_of_exactly_max_frame_size_is_accepted() {
    let payload = vec![7; 16_384];
    let buf = raw(TYPE_DATA, 0, 1, &payload);
    assert_eq!(parse(&buf[..HEADER_LEN]), Ok(Status::Partial));
    assert!(matches!(
        whole(&buf),
        Frame::Data {
            flow_len: 16_384,
            ..
        }
    ));
    let big = raw(TYPE_DATA, 0, 1, &vec![7; 100_000]);
    assert!(matches!(
        frame::parse(&big, 100_000),
        Ok(Status::Complete((
            Frame::Data {
                flow_len: 100_000,
                ..
            },
            100_009
        )))
    ));
}

#[test]
fn a_max_frame_size_outside_the_range_of_section_4_2_is_brought_into_it() {
    // Every endpoint accepts 2^14 octets (§4.2), whatever a confused caller passes.
    let buf = raw(TYPE_DATA, 0, 1, &[0; 16_384]);
    for max in [0, 1, 16_383] {
        assert!(matches!(
            frame::parse(&buf, max),
            Ok(Status::Complete((Frame::Data { .. }, _)))
        ));
        assert_eq!(
            error(frame::parse(&header(TYPE_DATA, 0, 1, 16_385), max)),
            (FrameSizeError, CONNECTION)
        );
    }
    // No length exceeds 2^24-1: a larger max accepts every header.
    assert_eq!(
        frame::parse(&header(TYPE_DATA, 0, 1, MAX_MAX_FRAME_SIZE), u32::MAX),
        Ok(Status::Partial)
    );
}

// §6: a table of every per-frame rule --------------------------------------------------------

/// What the whole frame must give.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Valid,
    Connection(ErrorCode),
    Stream(ErrorCode),
}

use Expect::{Connection, Stream, Valid};

struct Rule {
    rfc: &'static str,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
    expect: Expect,
    /// The error shows in the 9-octet header, before the payload arrives.
    from_header: bool,
}

fn rule(
    rfc: &'static str,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
    expect: Expect,
) -> Rule {
    let from_header = matches!(expect, Connection(_));
    Rule {
        rfc,
        kind,
        flags,
        stream,
        payload: payload.to_vec(),
        expect,
        from_header,
    }
}

/// An error that needs the payload to show.
fn late(mut r: Rule) -> Rule {
    r.from_header = false;
    r
}

/// The priority fields: a dependency (with the E bit) and a weight.
fn prio(dependency: u32, weight: u8) -> Vec<u8> {
    let mut p = dependency.to_be_bytes().to_vec();
    p.push(weight);
    p
}

/// One row per rule: the section and what it says, the frame (type, flags, stream, payload),
/// and the answer. A table reads best one row a line, hence no rustfmt.
#[rustfmt::skip]
fn rules() -> Vec<Rule> {
    const PE: Expect = Connection(ProtocolError);
    const FSE: Expect = Connection(FrameSizeError);
    let (d, h, p, r, s) = (TYPE_DATA, TYPE_HEADERS, TYPE_PRIORITY, TYPE_RST_STREAM, TYPE_SETTINGS);
    let (pp, ping, g, w, c) = (TYPE_PUSH_PROMISE, TYPE_PING, TYPE_GOAWAY, TYPE_WINDOW_UPDATE, TYPE_CONTINUATION);
    let (es, eh, pad, pri, ack) = (FLAG_END_STREAM, FLAG_END_HEADERS, FLAG_PADDED, FLAG_PRIORITY, FLAG_ACK);
    vec![
        // §6.1 DATA
        rule("6.1 DATA MUST be associated with a stream",                  d, 0,   0, b"x",                 PE),
        rule("6.1 DATA on a stream",                                       d, 0,   1, b"x",                 Valid),
        rule("6.1 DATA may be empty",                                      d, es,  1, b"",                  Valid),
        rule("4.2 PADDED DATA too small for its Pad Length",               d, pad, 1, b"",                  FSE),
        rule("6.1 Pad Length 0",                                           d, pad, 1, &[0],                 Valid),
        late(rule("6.1 padding equal to the payload length",               d, pad, 1, &[1],                 PE)),
        late(rule("6.1 padding equal to the payload length (h2check)",     d, pad, 1, &[6, 0, 0, 0, 0, 0],  PE)),
        late(rule("6.1 padding longer than the payload",                   d, pad, 1, &[255, 1, 2],         PE)),
        rule("6.1 padding one less than the payload length",               d, pad, 1, &[5, 0, 0, 0, 0, 0],  Valid),
        rule("6.1 non-zero padding need not be checked",                   d, pad, 1, &[2, b'd', 9, 9],     Valid),
        // §6.2 HEADERS
        rule("6.2 HEADERS MUST be associated with a stream",               h, eh,  0, b"h",                 PE),
        rule("6.2 HEADERS on a stream",                                    h, eh,  1, b"h",                 Valid),
        rule("4.2 PADDED HEADERS too small for its Pad Length",            h, pad, 1, b"",                  FSE),
        rule("4.2 HEADERS with PRIORITY too small for it",                 h, pri, 1, &[0, 0, 0, 0],        FSE),
        rule("4.2 PADDED HEADERS with PRIORITY too small for both",        h, pad | pri, 1, &[0, 0, 0, 0, 0], FSE),
        rule("6.2 HEADERS with PRIORITY and an empty block",               h, pri, 1, &prio(0, 15),         Valid),
        late(rule("6.2 HEADERS padding equal to the payload length",       h, pad, 1, &[4, b'h', 0, 0],     PE)),
        rule("6.2 HEADERS padding leaves an empty fragment",               h, pad, 1, &[3, 0, 0, 0],        Valid),
        late(rule("6.2 padding that exceeds the room the priority leaves", h, pad | pri, 1, &[1, 0, 0, 0, 0, 15], PE)),
        rule("6.2 padding that leaves exactly the priority fields",        h, pad | pri, 1, &[1, 0, 0, 0, 0, 15, 0], Valid),
        // A stream error would do, but the block must reach HPACK: a connection error (§5.4.1).
        late(rule("5.3.1 HEADERS depending on its own stream",             h, pri, 3, &prio(3, 0),          PE)),
        late(rule("5.3.1 HEADERS depending exclusively on its own stream", h, pri, 3, &prio(0x8000_0003, 0), PE)),
        // §6.3 PRIORITY
        rule("6.3 PRIORITY MUST identify a stream",                        p, 0,   0, &prio(1, 15),         PE),
        rule("6.3 PRIORITY on an idle stream",                             p, 0,   9, &prio(1, 15),         Valid),
        rule("6.3 PRIORITY on stream 0 of a wrong length: stream 0 first", p, 0,   0, &[0; 4],              PE),
        rule("6.3 PRIORITY of 4 octets",                                   p, 0,   1, &[0; 4],              Stream(FrameSizeError)),
        rule("6.3 PRIORITY of 6 octets",                                   p, 0,   1, &[0; 6],              Stream(FrameSizeError)),
        rule("6.3 PRIORITY of 0 octets",                                   p, 0,   1, &[],                  Stream(FrameSizeError)),
        rule("5.3.1 PRIORITY depending on its own stream",                 p, 0,   5, &prio(5, 15),         Stream(ProtocolError)),
        rule("5.3.1 PRIORITY depending exclusively on its own stream",     p, 0,   5, &prio(0x8000_0005, 15), Stream(ProtocolError)),
        // §6.4 RST_STREAM
        rule("6.4 RST_STREAM MUST be associated with a stream",            r, 0,   0, &[0, 0, 0, 8],        PE),
        rule("6.4 RST_STREAM of 4 octets",                                 r, 0,   1, &[0, 0, 0, 8],        Valid),
        rule("6.4 RST_STREAM of 3 octets",                                 r, 0,   1, &[0, 0, 8],           FSE),
        rule("6.4 RST_STREAM of 5 octets",                                 r, 0,   1, &[0, 0, 0, 8, 0],     FSE),
        rule("6.4 RST_STREAM of 0 octets",                                 r, 0,   1, &[],                  FSE),
        // §6.5 SETTINGS
        rule("6.5 SETTINGS MUST be on stream 0",                           s, 0,   1, &[],                  PE),
        rule("6.5 SETTINGS ACK on a stream",                               s, ack, 1, &[],                  PE),
        rule("6.5 an empty SETTINGS",                                      s, 0,   0, &[],                  Valid),
        rule("6.5 SETTINGS ACK with a payload",                            s, ack, 0, &[0, 1, 0, 0, 0, 0],  FSE),
        rule("6.5 SETTINGS ACK with one octet",                            s, ack, 0, &[0],                 FSE),
        rule("6.5 SETTINGS of 5 octets",                                   s, 0,   0, &[0; 5],              FSE),
        rule("6.5 SETTINGS of 7 octets",                                   s, 0,   0, &[0; 7],              FSE),
        rule("6.5 SETTINGS of 12 octets",                                  s, 0,   0, &[0; 12],             Valid),
        rule("6.5.1 an unknown identifier passes the frame",               s, 0,   0, &[0xff, 0xff, 1, 2, 3, 4], Valid),
        // §6.6 PUSH_PROMISE: parsed, for the caller to refuse (§8.4)
        rule("6.6 PUSH_PROMISE on stream 0",                               pp, eh, 0, &[0, 0, 0, 2],        PE),
        rule("6.6 PUSH_PROMISE on a stream",                               pp, eh, 1, &[0, 0, 0, 2],        Valid),
        rule("4.2 PUSH_PROMISE too small for its promised id",             pp, 0,  1, &[0, 0, 2],           FSE),
        rule("4.2 PADDED PUSH_PROMISE too small for both",                 pp, pad, 1, &[0, 0, 0, 2],       FSE),
        late(rule("6.6 PUSH_PROMISE padding that exceeds its room",        pp, pad, 1, &[4, 0, 0, 0, 2],    PE)),
        late(rule("6.6 PUSH_PROMISE padding over its promised id",         pp, pad, 1, &[1, 0, 0, 0, 2],    PE)),
        // §6.7 PING
        rule("6.7 PING MUST be on stream 0",                               ping, 0,   1, &[0; 8],           PE),
        rule("6.7 PING of 8 octets",                                       ping, 0,   0, &[0; 8],           Valid),
        rule("6.7 PING of 7 octets",                                       ping, 0,   0, &[0; 7],           FSE),
        rule("6.7 PING of 9 octets",                                       ping, 0,   0, &[0; 9],           FSE),
        rule("6.7 PING ACK of 0 octets",                                   ping, ack, 0, &[],               FSE),
        // §6.8 GOAWAY
        rule("6.8 GOAWAY MUST be on stream 0",                             g, 0,   1, &[0; 8],              PE),
        rule("6.8 GOAWAY of 8 octets",                                     g, 0,   0, &[0; 8],              Valid),
        rule("6.8 GOAWAY with debug data",                                 g, 0,   0, &[0; 40],             Valid),
        rule("4.2 GOAWAY of 7 octets",                                     g, 0,   0, &[0; 7],              FSE),
        rule("4.2 GOAWAY of 0 octets",                                     g, 0,   0, &[],                  FSE),
        // §6.9 WINDOW_UPDATE
        rule("6.9 WINDOW_UPDATE on the connection",                        w, 0,   0, &[0, 0, 0, 1],        Valid),
        rule("6.9 WINDOW_UPDATE on a stream",                              w, 0,   1, &[0x7f, 0xff, 0xff, 0xff], Valid),
        rule("6.9 WINDOW_UPDATE of 3 octets",                              w, 0,   0, &[0, 0, 1],           FSE),
        rule("6.9 WINDOW_UPDATE of 5 octets on a stream",                  w, 0,   1, &[0, 0, 0, 1, 0],     FSE),
        late(rule("6.9 an increment of 0 on the connection",               w, 0,   0, &[0, 0, 0, 0],        PE)),
        rule("6.9 an increment of 0 on a stream",                          w, 0,   1, &[0, 0, 0, 0],        Stream(ProtocolError)),
        rule("6.9 an increment of 0 with the reserved bit set",            w, 0,   1, &[0x80, 0, 0, 0],     Stream(ProtocolError)),
        // §6.10 CONTINUATION
        rule("6.10 CONTINUATION MUST be associated with a stream",         c, eh,  0, b"c",                 PE),
        rule("6.10 CONTINUATION on a stream",                              c, eh,  1, b"c",                 Valid),
        rule("6.10 an empty CONTINUATION",                                 c, 0,   1, b"",                  Valid),
        // §5.5 extensions
        rule("5.5 an unknown type on stream 0",                            0xBB, 0xFF, 0, b"unknown",       Valid),
        rule("5.5 an unknown type on a stream",                            0xBB, 0,    1, b"unknown",       Valid),
    ]
}

#[test]
fn every_per_frame_rule_of_section_6_gives_its_answer() {
    for r in rules() {
        let buf = raw(r.kind, r.flags, r.stream, &r.payload);
        let got = match parse(&buf) {
            Ok(Status::Complete((_, len))) => {
                assert_eq!(len, buf.len(), "§{}", r.rfc);
                Valid
            }
            Ok(Status::Partial) => panic!("§{}: the whole frame is Partial", r.rfc),
            Err(e) => {
                assert!(e.reason.contains("RFC 9113 §"), "{e:?} cites its section");
                match e.stream {
                    None => Connection(e.code),
                    Some(id) => {
                        assert_eq!(
                            id, r.stream,
                            "§{}: the stream error names the stream",
                            r.rfc
                        );
                        Stream(e.code)
                    }
                }
            }
        };
        assert_eq!(got, r.expect, "§{}", r.rfc);
    }
}

#[test]
fn connection_errors_the_header_shows_come_before_the_payload() {
    for r in rules().into_iter().filter(|r| r.from_header) {
        let buf = raw(r.kind, r.flags, r.stream, &r.payload);
        assert_eq!(
            parse(&buf[..HEADER_LEN]),
            parse(&buf),
            "§{} from the header alone",
            r.rfc
        );
    }
}

#[test]
fn other_answers_wait_for_the_whole_frame_and_every_prefix_is_partial() {
    for r in rules().into_iter().filter(|r| !r.from_header) {
        let mut buf = raw(r.kind, r.flags, r.stream, &r.payload);
        let whole = parse(&buf).map(|s| matches!(s, Status::Complete(_)));
        for n in 0..buf.len() {
            assert_eq!(
                parse(&buf[..n]),
                Ok(Status::Partial),
                "§{}: {n} octets",
                r.rfc
            );
        }
        // Bytes after the frame (the next frame) change nothing.
        let len = buf.len();
        buf.extend_from_slice(&raw(TYPE_PING, 0, 0, &[0; 8]));
        match parse(&buf) {
            Ok(Status::Complete((_, n))) => assert_eq!(n, len, "§{}", r.rfc),
            other => assert_eq!(other.map(|_| true), whole, "§{}", r.rfc),
        }
    }
}

#[test]
fn after_a_stream_error_frame_len_skips_to_the_next_frame() {
    let mut buf = raw(TYPE_PRIORITY, 0, 3, &[0, 0, 0, 0]);
    let next = raw(TYPE_WINDOW_UPDATE, 0, 3, &[0, 0, 0, 0]);
    buf.extend_from_slice(&next);
    buf.extend_from_slice(&raw(TYPE_PING, 0, 0, b"pingpong"));
    let mut at = 0;
    let mut seen = Vec::new();
    while at < buf.len() {
        match parse(&buf[at..]) {
            Ok(Status::Complete((frame, len))) => {
                seen.push(format!("{frame:?}"));
                at += len;
            }
            Err(FrameError {
                stream: Some(id),
                code,
                ..
            }) => {
                seen.push(format!("reset {id} {}", code.name()));
                at += frame::frame_len(&buf[at..]).unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "reset 3 FRAME_SIZE_ERROR",
            "reset 3 PROTOCOL_ERROR",
            "Ping { ack: false, data: [112, 105, 110, 103, 112, 111, 110, 103] }"
        ]
    );
}

// §6, field by field -------------------------------------------------------------------------

#[test]
fn data_is_the_payload_without_padding_and_flow_len_counts_the_padding() {
    // (flags, payload, data, end_stream, flow_len)
    let cases: [(u8, &[u8], &[u8], _, _); 4] = [
        (0, b"hello", b"hello", false, 5),
        (FLAG_END_STREAM, b"", b"", true, 0),
        (FLAG_PADDED, &[3, b'h', b'i', 0, 0, 0], b"hi", false, 6),
        (FLAG_PADDED | FLAG_END_STREAM, &[0], b"", true, 1),
    ];
    for (flags, payload, data, end_stream, flow_len) in cases {
        let buf = raw(TYPE_DATA, flags, 1, payload);
        assert_eq!(
            whole(&buf),
            Frame::Data {
                stream: 1,
                data,
                end_stream,
                flow_len
            }
        );
    }
}

#[test]
fn headers_give_the_fragment_without_padding_or_priority() {
    let with_all = raw(
        TYPE_HEADERS,
        FLAG_PADDED | FLAG_PRIORITY | FLAG_END_STREAM,
        5,
        &[2, 0x80, 0, 0, 3, 255, b'a', b'b', 0, 0],
    );
    assert_eq!(
        whole(&with_all),
        Frame::Headers {
            stream: 5,
            block: b"ab",
            end_stream: true,
            end_headers: false,
            priority: Some(Priority {
                exclusive: true,
                dependency: 3,
                weight: 255
            }),
        }
    );
    let plain = raw(TYPE_HEADERS, FLAG_END_HEADERS, 5, b"\x82\x86\x84");
    assert_eq!(
        whole(&plain),
        Frame::Headers {
            stream: 5,
            block: b"\x82\x86\x84",
            end_stream: false,
            end_headers: true,
            priority: None,
        }
    );
}

#[test]
fn priority_gives_the_exclusive_bit_the_31_bit_dependency_and_the_weight_as_sent() {
    let buf = raw(TYPE_PRIORITY, 0, 1, &[0xff, 0xff, 0xff, 0xff, 0]);
    assert_eq!(
        whole(&buf),
        Frame::Priority {
            stream: 1,
            priority: Priority {
                exclusive: true,
                dependency: 0x7fff_ffff,
                weight: 0
            }
        }
    );
}

#[test]
fn rst_stream_and_goaway_carry_any_error_code_unknown_ones_as_other() {
    for code in (0..=0xd).chain([0xe, 0x1234, u32::MAX]) {
        let buf = raw(TYPE_RST_STREAM, 0, 1, &code.to_be_bytes());
        assert_eq!(
            whole(&buf),
            Frame::RstStream {
                stream: 1,
                code: ErrorCode::from_u32(code)
            }
        );
    }
    let mut payload = 0xffff_ffff_u32.to_be_bytes().to_vec();
    payload.extend_from_slice(&0xbeef_u32.to_be_bytes());
    payload.extend_from_slice(b"debug data");
    assert_eq!(
        whole(&raw(TYPE_GOAWAY, 0, 0, &payload)),
        Frame::GoAway {
            last_stream: 0x7fff_ffff,
            code: ErrorCode::Other(0xbeef),
            debug: b"debug data"
        }
    );
}

#[test]
fn settings_parameters_come_in_the_order_sent_unknown_and_repeated_ones_included() {
    let params: [(u16, u32); 5] = [
        (SETTINGS_INITIAL_WINDOW_SIZE, 0),
        (0x00ff, 7),
        (SETTINGS_MAX_FRAME_SIZE, 1 << 20),
        (SETTINGS_INITIAL_WINDOW_SIZE, u32::MAX),
        (0xffff, 0xdead_beef),
    ];
    let mut payload = Vec::new();
    for (id, value) in params {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    let buf = raw(TYPE_SETTINGS, 0, 0, &payload);
    let Frame::Settings { ack, params: got } = whole(&buf) else {
        panic!("SETTINGS")
    };
    assert!(!ack);
    assert_eq!(got.len(), 5);
    assert!(!got.is_empty());
    assert_eq!(got.iter().collect::<Vec<_>>(), params);

    let ack_frame = raw(TYPE_SETTINGS, FLAG_ACK, 0, &[]);
    let Frame::Settings { ack, params } = whole(&ack_frame) else {
        panic!("SETTINGS ACK")
    };
    assert!(ack && params.is_empty() && params.iter().next().is_none());
}

#[test]
fn ping_carries_its_8_octets_and_its_ack_flag() {
    for flags in [0, FLAG_ACK] {
        assert_eq!(
            whole(&raw(
                TYPE_PING,
                flags,
                0,
                b"\x00\x01\x02\x03\xfc\xfd\xfe\xff"
            )),
            Frame::Ping {
                ack: flags == FLAG_ACK,
                data: [0, 1, 2, 3, 0xfc, 0xfd, 0xfe, 0xff]
            }
        );
    }
}

#[test]
fn window_update_ignores_the_reserved_bit_of_its_increment() {
    for (bytes, increment) in [
        ([0, 0, 0, 1], 1),
        ([0x80, 0, 0, 1], 1),
        ([0x7f, 0xff, 0xff, 0xff], MAX_WINDOW),
        ([0xff, 0xff, 0xff, 0xff], MAX_WINDOW),
    ] {
        assert_eq!(
            whole(&raw(TYPE_WINDOW_UPDATE, 0, 0, &bytes)),
            Frame::WindowUpdate {
                stream: 0,
                increment
            }
        );
    }
}

#[test]
fn push_promise_gives_its_stream_for_the_caller_to_refuse() {
    assert_eq!(
        whole(&raw(
            TYPE_PUSH_PROMISE,
            FLAG_END_HEADERS,
            3,
            &[0, 0, 0, 2, 0x82]
        )),
        Frame::PushPromise { stream: 3 }
    );
}

// §7: error codes ----------------------------------------------------------------------------

#[test]
fn error_codes_have_the_values_and_names_of_section_7() {
    use ErrorCode::*;
    let table = [
        (NoError, 0x0, "NO_ERROR"),
        (ProtocolError, 0x1, "PROTOCOL_ERROR"),
        (InternalError, 0x2, "INTERNAL_ERROR"),
        (FlowControlError, 0x3, "FLOW_CONTROL_ERROR"),
        (SettingsTimeout, 0x4, "SETTINGS_TIMEOUT"),
        (StreamClosed, 0x5, "STREAM_CLOSED"),
        (FrameSizeError, 0x6, "FRAME_SIZE_ERROR"),
        (RefusedStream, 0x7, "REFUSED_STREAM"),
        (Cancel, 0x8, "CANCEL"),
        (CompressionError, 0x9, "COMPRESSION_ERROR"),
        (ConnectError, 0xa, "CONNECT_ERROR"),
        (EnhanceYourCalm, 0xb, "ENHANCE_YOUR_CALM"),
        (InadequateSecurity, 0xc, "INADEQUATE_SECURITY"),
        (Http11Required, 0xd, "HTTP_1_1_REQUIRED"),
    ];
    for (code, value, name) in table {
        assert_eq!(ErrorCode::from_u32(value), code);
        assert_eq!(code.as_u32(), value);
        assert_eq!(code.name(), name);
        assert_eq!(code.to_string(), name);
    }
    for value in [0xe, 0xff, 0x1_0000, u32::MAX] {
        let code = ErrorCode::from_u32(value);
        assert_eq!(code, Other(value));
        assert_eq!(code.as_u32(), value);
        assert_eq!(code.name(), "UNKNOWN");
    }
    assert_eq!(Other(0xe).to_string(), "UNKNOWN(0xe)");
}

#[test]
fn a_frame_error_says_which_kind_of_error_it_is() {
    let conn = error(parse(&raw(TYPE_PING, 0, 1, &[0; 8])));
    assert_eq!(conn, (ProtocolError, CONNECTION));
    let Err(e) = parse(&raw(TYPE_PRIORITY, 0, 7, &[0; 4])) else {
        panic!()
    };
    assert_eq!(
        e.to_string(),
        "stream error FRAME_SIZE_ERROR on stream 7: PRIORITY not 5 octets long (RFC 9113 §6.3)"
    );
}

// §6.5.2: SETTINGS values --------------------------------------------------------------------

#[test]
fn settings_have_the_identifiers_and_initial_values_of_section_6_5_2() {
    assert_eq!(
        [
            SETTINGS_HEADER_TABLE_SIZE,
            SETTINGS_ENABLE_PUSH,
            SETTINGS_MAX_CONCURRENT_STREAMS,
            SETTINGS_INITIAL_WINDOW_SIZE,
            SETTINGS_MAX_FRAME_SIZE,
            SETTINGS_MAX_HEADER_LIST_SIZE
        ],
        [1, 2, 3, 4, 5, 6]
    );
    let initial = Settings::default();
    assert_eq!(initial.header_table_size, 4_096);
    assert!(initial.enable_push);
    assert_eq!(initial.max_concurrent_streams, None, "unlimited");
    assert_eq!(initial.initial_window_size, 65_535);
    assert_eq!(initial.max_frame_size, 16_384);
    assert_eq!(initial.max_header_list_size, None, "unlimited");
    assert_eq!(
        (
            DEFAULT_HEADER_TABLE_SIZE,
            DEFAULT_WINDOW,
            DEFAULT_MAX_FRAME_SIZE
        ),
        (4_096, 65_535, 16_384)
    );
}

/// (identifier, value, the settings after it or the connection error). A table reads best one
/// row a line, hence no rustfmt.
#[rustfmt::skip]
fn apply_table() -> Vec<(u16, u32, Result<Settings, ErrorCode>)> {
    let d = Settings::default();
    vec![
        (0x1, 0,              Ok(Settings { header_table_size: 0, ..d })),
        (0x1, u32::MAX,       Ok(Settings { header_table_size: u32::MAX, ..d })),
        (0x2, 0,              Ok(Settings { enable_push: false, ..d })),
        (0x2, 1,              Ok(Settings { enable_push: true, ..d })),
        (0x2, 2,              Err(ProtocolError)),
        (0x2, u32::MAX,       Err(ProtocolError)),
        (0x3, 0,              Ok(Settings { max_concurrent_streams: Some(0), ..d })),
        (0x3, u32::MAX,       Ok(Settings { max_concurrent_streams: Some(u32::MAX), ..d })),
        (0x4, 0,              Ok(Settings { initial_window_size: 0, ..d })),
        (0x4, (1 << 31) - 1,  Ok(Settings { initial_window_size: (1 << 31) - 1, ..d })),
        (0x4, 1 << 31,        Err(FlowControlError)),
        (0x4, u32::MAX,       Err(FlowControlError)),
        (0x5, 0,              Err(ProtocolError)),
        (0x5, (1 << 14) - 1,  Err(ProtocolError)),
        (0x5, 1 << 14,        Ok(Settings { max_frame_size: 1 << 14, ..d })),
        (0x5, 100_000,        Ok(Settings { max_frame_size: 100_000, ..d })),
        (0x5, (1 << 24) - 1,  Ok(Settings { max_frame_size: (1 << 24) - 1, ..d })),
        (0x5, 1 << 24,        Err(ProtocolError)),
        (0x5, u32::MAX,       Err(ProtocolError)),
        (0x6, 0,              Ok(Settings { max_header_list_size: Some(0), ..d })),
        (0x6, u32::MAX,       Ok(Settings { max_header_list_size: Some(u32::MAX), ..d })),
        // §6.5.1: unknown identifiers are ignored whatever their value (0x8 and 0x9 are the
        // extensions of RFC 8441 and RFC 9218, which this server does not implement).
        (0x0, u32::MAX,       Ok(d)),
        (0x7, 5,              Ok(d)),
        (0x8, 2,              Ok(d)),
        (0x9, 2,              Ok(d)),
        (0xffff, 0,           Ok(d)),
    ]
}

#[test]
fn settings_apply_accepts_the_ranges_of_section_6_5_2_and_ignores_unknown_identifiers() {
    for (id, value, expected) in apply_table() {
        let mut settings = Settings::default();
        let got = settings.apply(id, value);
        match expected {
            Ok(after) => {
                assert_eq!(got, Ok(()), "{id:#x} = {value}");
                assert_eq!(settings, after, "{id:#x} = {value}");
            }
            Err(code) => {
                let e = got.expect_err("refused");
                assert_eq!((e.code, e.stream), (code, None), "{id:#x} = {value}");
                assert!(e.reason.contains("§6.5.2"));
                assert_eq!(
                    settings,
                    Settings::default(),
                    "a refused value changes nothing"
                );
            }
        }
    }
}

#[test]
fn settings_apply_in_order_so_the_last_value_wins() {
    let mut settings = Settings::default();
    for (id, value) in [(4, 10), (5, 20_000), (4, 30), (3, 7)] {
        settings.apply(id, value).unwrap();
    }
    assert_eq!(
        (
            settings.initial_window_size,
            settings.max_frame_size,
            settings.max_concurrent_streams
        ),
        (30, 20_000, Some(7))
    );
}

// The writers --------------------------------------------------------------------------------

#[test]
fn write_header_lays_out_section_4_1_and_clears_the_reserved_bit() {
    let mut buf = Vec::new();
    frame::write_header(&mut buf, 0x01_02_03, 0xAB, 0xCD, 0xffff_ffff);
    assert_eq!(buf, [1, 2, 3, 0xAB, 0xCD, 0x7f, 0xff, 0xff, 0xff]);
}

type Writer = Box<dyn Fn(&mut Vec<u8>)>;

/// (name, the call, the octets as §4.1 and §6 lay them out: length, type, flags, stream, then
/// the payload). A table reads best one row a line, hence no rustfmt.
#[rustfmt::skip]
fn writer_table() -> Vec<(&'static str, Writer, Vec<u8>)> {
    vec![
        ("SETTINGS", Box::new(|b| frame::write_settings(b, &[(3, 100), (4, 1 << 20)])),
            vec![0, 0, 12, 4, 0, 0, 0, 0, 0,  0, 3, 0, 0, 0, 100,  0, 4, 0, 0x10, 0, 0]),
        ("empty SETTINGS", Box::new(|b| frame::write_settings(b, &[])),
            vec![0, 0, 0, 4, 0, 0, 0, 0, 0]),
        ("SETTINGS ACK", Box::new(frame::write_settings_ack),
            vec![0, 0, 0, 4, 1, 0, 0, 0, 0]),
        ("PING ACK", Box::new(|b| frame::write_ping_ack(b, *b"pingpong")),
            [&[0, 0, 8, 6, 1, 0, 0, 0, 0][..], b"pingpong"].concat()),
        ("GOAWAY", Box::new(|b| frame::write_goaway(b, 0x8000_0007, ErrorCode::EnhanceYourCalm, b"calm")),
            [&[0, 0, 12, 7, 0, 0, 0, 0, 0,  0, 0, 0, 7,  0, 0, 0, 0xb][..], b"calm"].concat()),
        ("RST_STREAM", Box::new(|b| frame::write_rst_stream(b, 5, ErrorCode::Other(0x1234))),
            vec![0, 0, 4, 3, 0, 0, 0, 0, 5,  0, 0, 0x12, 0x34]),
        ("WINDOW_UPDATE", Box::new(|b| frame::write_window_update(b, 0, MAX_WINDOW)),
            vec![0, 0, 4, 8, 0, 0, 0, 0, 0,  0x7f, 0xff, 0xff, 0xff]),
        ("WINDOW_UPDATE on a stream, its reserved bit cleared", Box::new(|b| frame::write_window_update(b, 0x8000_0003, 1)),
            vec![0, 0, 4, 8, 0, 0, 0, 0, 3,  0, 0, 0, 1]),
        ("DATA header with END_STREAM", Box::new(|b| frame::write_data_header(b, 3, 0x4000, true)),
            vec![0, 0x40, 0, 0, 1, 0, 0, 0, 3]),
        ("DATA header of an empty frame", Box::new(|b| frame::write_data_header(b, 3, 0, false)),
            vec![0, 0, 0, 0, 0, 0, 0, 0, 3]),
        ("HEADERS", Box::new(|b| frame::write_headers(b, 1, b"\x88", true, DEFAULT_MAX_FRAME_SIZE)),
            vec![0, 0, 1, 1, 5, 0, 0, 0, 1,  0x88]),
        ("HEADERS with an empty block", Box::new(|b| frame::write_headers(b, 1, b"", false, DEFAULT_MAX_FRAME_SIZE)),
            vec![0, 0, 0, 1, 4, 0, 0, 0, 1]),
    ]
}

#[test]
fn each_writer_appends_the_octets_of_its_frame() {
    for (name, write, expected) in writer_table() {
        let mut buf = b"before".to_vec();
        write(&mut buf);
        assert_eq!(&buf[..6], b"before", "{name} appends");
        assert_eq!(buf[6..], expected, "{name}");
    }
}

#[test]
fn write_goaway_cuts_its_debug_data_to_fit_any_peer() {
    let mut buf = Vec::new();
    frame::write_goaway(&mut buf, 1, ErrorCode::ProtocolError, &vec![b'x'; 100_000]);
    assert_eq!(buf.len(), HEADER_LEN + 8 + MAX_GOAWAY_DEBUG);
    assert_eq!(frame::frame_len(&buf), Some(HEADER_LEN + 16_384));
    let Frame::GoAway { debug, .. } = whole(&buf) else {
        panic!("GOAWAY")
    };
    assert_eq!(debug.len(), MAX_GOAWAY_DEBUG);
}

/// The frames `buf` holds, parsed one after the other with `max`.
fn frames(buf: &[u8], max: u32) -> Vec<Frame<'_>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < buf.len() {
        match frame::parse(&buf[at..], max) {
            Ok(Status::Complete((f, len))) => {
                assert!(len - HEADER_LEN <= max.max(DEFAULT_MAX_FRAME_SIZE) as usize);
                out.push(f);
                at += len;
            }
            other => panic!("at {at}: {other:?}"),
        }
    }
    out
}

#[test]
fn write_headers_splits_at_the_peers_frame_size_into_continuation_frames() {
    let block: Vec<u8> = (0..40_000_u32).map(|i| (i % 251) as u8).collect();
    let mut buf = Vec::new();
    frame::write_headers(&mut buf, 9, &block, true, DEFAULT_MAX_FRAME_SIZE);
    assert_eq!(buf.len(), block.len() + 3 * HEADER_LEN);
    let got = frames(&buf, DEFAULT_MAX_FRAME_SIZE);
    assert_eq!(
        got,
        [
            Frame::Headers {
                stream: 9,
                block: &block[..16_384],
                end_stream: true,
                end_headers: false,
                priority: None
            },
            Frame::Continuation {
                stream: 9,
                block: &block[16_384..32_768],
                end_headers: false
            },
            Frame::Continuation {
                stream: 9,
                block: &block[32_768..],
                end_headers: true
            },
        ]
    );
}

#[test]
fn write_headers_splits_only_past_the_frame_size() {
    for (len, max, pieces) in [
        (16_384, DEFAULT_MAX_FRAME_SIZE, 1),
        (16_385, DEFAULT_MAX_FRAME_SIZE, 2),
        (32_768, DEFAULT_MAX_FRAME_SIZE, 2),
        (32_769, DEFAULT_MAX_FRAME_SIZE, 3),
        (100_000, 100_000, 1),
        (100_001, 100_000, 2),
        // A max below §4.2's floor is raised to it.
        (16_384, 0, 1),
    ] {
        let block = vec![0x42; len];
        let mut buf = Vec::new();
        frame::write_headers(&mut buf, 1, &block, false, max);
        let got = frames(&buf, max);
        assert_eq!(got.len(), pieces, "{len} octets in frames of {max}");
    }
}
