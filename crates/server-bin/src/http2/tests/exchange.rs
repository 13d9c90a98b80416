//! Requests and responses over HTTP/2: heads, bodies within the windows, the turn, the
//! buffers a connection keeps, and the work a response costs.

use super::*;

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
    h.headers(1, &block, true);
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
    h.request(1, "/hello.txt", &[("connection", "close")], true);
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
fn all_streams_of_a_connection_share_one_turn() {
    let mut h = Harness::connected();
    // Old enough for the worker's cache, which answers all but the first.
    std::thread::sleep(crate::files::cache::RACY_WINDOW + Duration::from_millis(100));
    // HEADs end at once, so one read brings more requests than streams may be open at once.
    for i in 0..150 {
        let block = h.block("HEAD", "/hello.txt", &[]);
        h.headers(2 * i + 1, &block, true);
    }
    // The turn ends at a hundred; the worker's other connections come before the rest.
    assert_eq!(h.ready(), Next::Yield);
    let answered = h.frames().iter().filter(|g| status(g).is_some()).count();
    assert_eq!(answered, MAX_STREAMS as usize);
    assert!(matches!(h.ready(), Next::Wait(_)));
    let more = h.frames().iter().filter(|g| status(g).is_some()).count();
    assert_eq!(more, 50);
}

#[test]
fn responses_the_cache_did_not_answer_end_a_turn_at_sixteen() {
    let mut h = Harness::connected();
    // Each a look into the file system (here a 404), with no body for the byte budget.
    for i in 0..40 {
        let block = h.block("HEAD", &format!("/missing-{i}.txt"), &[]);
        h.headers(2 * i + 1, &block, true);
    }
    assert_eq!(h.ready(), Next::Yield);
    let answered = h.frames().iter().filter(|g| status(g).is_some()).count();
    assert_eq!(answered, 16);
    h.settle();
    let more = h.frames().iter().filter(|g| status(g).is_some()).count();
    assert_eq!(more, 24);
}

#[test]
fn over_tls_a_turn_fills_every_record_but_its_last() {
    let (mut h, mut client) = Harness::over_tls();
    fs::write(h.root().join("k.html"), [b'k'; 1024]).unwrap();
    // Old enough for the worker's cache, so that one turn answers every request.
    std::thread::sleep(crate::files::cache::RACY_WINDOW + Duration::from_millis(100));
    let mut plain = frame::PREFACE.to_vec();
    frame::write_settings(
        &mut plain,
        &[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 1 << 30)],
    );
    frame::write_window_update(&mut plain, 0, 1 << 30);
    for i in 0..90 {
        let block = h.block("GET", "/k.html", &[]);
        frame::write_headers(
            &mut plain,
            2 * i + 1,
            &block,
            true,
            frame::DEFAULT_MAX_FRAME_SIZE,
        );
    }
    h.feed_sealed(&mut client, &plain);
    assert!(matches!(h.ready(), Next::Wait(_)), "one turn");
    // Ninety responses, about 95 KiB: six full records, then the rest in one short one (three
    // short ones when each 32 KiB of DATA was written as it came).
    let (mut records, mut at) = (Vec::new(), &h.socket.output[..]);
    while let [_, _, _, high, low, rest @ ..] = at {
        let len = usize::from(*high) << 8 | usize::from(*low);
        records.push(len);
        at = &rest[len..];
    }
    let full = records.iter().copied().max().unwrap();
    let short = records.iter().filter(|&&len| len < full).count();
    assert_eq!(short, 1, "record lengths {records:?}");
    assert!(records.len() >= 6, "record lengths {records:?}");
    // A rest held back moved to the front each time: the buffer the worker lent sufficed.
    let out = &h.conn.as_ref().unwrap().out;
    assert!(
        out.capacity() <= super::super::OUTPUT_INITIAL,
        "{} bytes",
        out.capacity()
    );
}

#[test]
fn over_tls_a_response_that_ends_the_turn_goes_in_one_write() {
    let (mut h, mut client) = Harness::over_tls();
    fs::write(h.root().join("m.bin"), [b'm'; 20 * 1024]).unwrap();
    let mut plain = frame::PREFACE.to_vec();
    frame::write_settings(&mut plain, &[]);
    let block = h.block("GET", "/m.bin", &[]);
    frame::write_headers(&mut plain, 1, &block, true, frame::DEFAULT_MAX_FRAME_SIZE);
    h.feed_sealed(&mut client, &plain);
    let sends = h.socket.sends;
    assert!(matches!(h.ready(), Next::Wait(_)));
    // Nothing follows the last DATA frame, so no rest is held back for a pass that brings
    // nothing: the records go in one write.
    assert_eq!(h.socket.sends - sends, 1);
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
fn repeated_responses_decode_alike_whether_their_heads_are_encoded_or_sent_again() {
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
    h.request(1, "/hello.txt", &[("content-length", "5")], true);
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
