//! The HTTP/2 attacks and protocol errors: floods of frames that bring nothing, rapid and
//! server-made resets, oversized blocks, HPACK bombs, bad windows and stream ids, frames the
//! client sent before it saw a reset.

use super::*;

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
fn output_for_a_client_that_reads_nothing_stays_bounded() {
    // Whatever the client asks for (bodies, response heads, PING and SETTINGS ACKs, resets of
    // streams it gets wrong), what waits for it stops growing at the bound, plus one frame.
    let mut h = Harness::with_open_windows();
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
    // Within the allowance the client cannot fill it: the bodies stop at the output's target.
    assert!(
        most >= crate::http2::send::OUTPUT_TARGET,
        "the output never filled: {most}"
    );
    assert!(
        most <= MAX_PENDING_OUTPUT + 16 * 1024 + 9,
        "{most} bytes wait"
    );
}

#[test]
fn a_client_that_reads_part_of_every_write_does_not_grow_the_output_buffer() {
    // Big windows, and a socket that takes 10,000 bytes a call: every write is partial and
    // the output never empties while the 200 KiB body goes out. What was sent must not pile
    // up in front of what waits.
    let mut h = Harness::with_open_windows();
    h.get(1, "/big.bin");
    let mut longest = 0;
    for _ in 0..40 {
        h.socket.room = Some(10_000);
        h.settle();
        longest = longest.max(h.conn.as_ref().unwrap().out.len());
    }
    assert!(h.socket.output.len() > BIG, "the body went out");
    // Less than the small target written in front, the bulk target and a frame waiting.
    let bound =
        crate::http2::send::OUTPUT_TARGET + crate::http2::send::OUTPUT_TARGET_BULK + 16 * 1024 + 9;
    assert!(longest <= bound, "{longest} bytes held, {bound} at most");
}
