//! Timeouts and the bounds a connection keeps: zero windows, bodies that never end, PINGs that
//! must not keep a stream alive, open files and waiting heads, shutdown.

use super::*;

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
