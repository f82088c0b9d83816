//! libFuzzer target: any bytes, as the text of a websocket frame from OBS, through the frame
//! decoder and every parser behind it (event typing, status names, every response body type).
//! A value or an error, never a panic; `-rss_limit_mb` bounds the memory.
//!
//! Needs nightly Rust and cargo-fuzz (`cargo install cargo-fuzz`). From `src-tauri/headless/fuzz`:
//!
//!     mkdir -p corpus/frame_decoder
//!     cargo +nightly fuzz run frame_decoder corpus/frame_decoder seeds/frame_decoder -- \
//!         -max_total_time=60 -rss_limit_mb=512
//!
//! `seeds/frame_decoder` holds real obs-websocket frames to start from (read only: new inputs go
//! to the first directory, `corpus/`); a crash lands in `artifacts/` (both ignored by git).
//! Without nightly, the proptest harness `tests/decode_properties.rs` covers the same parsers
//! and more (see the README's Benchmarks).

#![no_main]

use libfuzzer_sys::fuzz_target;
use onair_headless::obs::protocol::{responses, scenes_top_first, status_code_name, ObsEvent, ServerMessage};
use serde_json::Value;

/// Every response body type, decoded the way `Client::request_as` decodes it.
fn decode_bodies(data: &Value) {
    let _ = serde_json::from_value::<responses::Version>(data.clone());
    let _ = serde_json::from_value::<responses::StreamStatus>(data.clone());
    let _ = serde_json::from_value::<responses::RecordStatus>(data.clone());
    let _ = serde_json::from_value::<responses::OutputActive>(data.clone());
    let _ = serde_json::from_value::<responses::StudioMode>(data.clone());
    let _ = serde_json::from_value::<responses::Stats>(data.clone());
    let _ = serde_json::from_value::<responses::OutputPath>(data.clone());
    if let Ok(list) = serde_json::from_value::<responses::SceneList>(data.clone()) {
        assert_eq!(scenes_top_first(&list.scenes).len(), list.scenes.len());
    }
}

fuzz_target!(|bytes: &[u8]| {
    // The client only sees text frames, which tungstenite has checked are UTF-8; lossy
    // conversion keeps every input useful instead of discarding invalid UTF-8.
    let text = String::from_utf8_lossy(bytes);
    match ServerMessage::parse(&text) {
        Ok(ServerMessage::Event(raw)) => {
            let typed = ObsEvent::from_raw(&raw);
            if let ObsEvent::Other { event_type } = typed {
                assert_eq!(event_type, raw.event_type);
            }
            if let Some(data) = &raw.event_data {
                decode_bodies(data);
            }
        }
        Ok(ServerMessage::RequestResponse(response)) => {
            let _ = status_code_name(response.request_status.code);
            if let Some(data) = &response.response_data {
                decode_bodies(data);
            }
        }
        Ok(_) => {}
        Err(error) => assert!(!error.0.is_empty()),
    }
});
