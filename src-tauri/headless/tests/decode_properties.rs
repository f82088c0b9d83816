//! Fuzzing the decoder: whatever arrives on the socket, every parser the engine has for frames,
//! events and answers yields a value or an error, never a panic, and in memory bounded by the
//! size of what came in.
//!
//! OBS is not the only thing that can talk on port 4455, and a newer or older obs-websocket (or a
//! broken proxy, or a truncated frame) sends shapes nobody wrote a test for. These properties feed
//! arbitrary bytes, arbitrary JSON, and JSON shaped like obs-websocket frames (random ops, event
//! types and data, request statuses and response data, with the right field names holding wrong
//! types or extreme numbers) to:
//! * the frame decoder, [`ServerMessage::parse`] (what the client actor runs on every text frame);
//! * the event typer, [`ObsEvent::from_raw`], and [`OutputState::from_wire`];
//! * every response body type in [`responses`], decoded with `serde_json::from_value` exactly as
//!   `Client::request_as` does, and [`scenes_top_first`] / [`status_code_name`] on what they hold;
//! * the model, which must take whatever those decoders let through (NaN, infinities, 1e308,
//!   negative durations, clocks going backwards) without an arithmetic panic.
//!
//! Memory is measured by a counting global allocator: the peak extra heap while decoding one
//! input must stay within a linear bound of the input's length (no size taken from the input and
//! pre-allocated, no blow-up from nesting, which serde_json caps at 128 levels).
//!
//! The normal test run uses proptest's default of 256 cases per property (a few seconds). Longer
//! runs set `PROPTEST_CASES`, e.g. the README's benchmark command
//! `PROPTEST_CASES=100000 cargo test --release -p onair-headless --test decode_properties`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use onair_headless::obs::protocol::{
    responses, scenes_top_first, status_code_name, InputEvent, ObsEvent, OutputState, RawEvent, SceneEntry,
    ServerMessage,
};
use onair_headless::obs::RequestError;
use onair_headless::obs::{Model, SyncAnswers};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Memory: a counting allocator, per thread (tests run on several threads at once)
// ---------------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (frees of other threads' memory make it
    /// drift, which is why only differences within one call are used).
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn note(delta: i64) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        note(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work` and returns its result with the most heap it held at once beyond what was live
/// when it started.
fn peak_heap<R>(work: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let result = work();
    let peak = PEAK.with(Cell::get);
    (result, (peak - start).max(0) as usize)
}

/// The bound on decoding `len` bytes of input: linear, with room for serde_json's maps and the
/// copies the typed decoders make. Measured over 2,000 cases of each property: at most 18 KB for
/// any input, at most 16 bytes of heap per byte of input above 1 KB.
fn heap_bound(len: usize) -> usize {
    64 * len + 64 * 1024
}

// ---------------------------------------------------------------------------------------------
// Decoding everything there is to decode
// ---------------------------------------------------------------------------------------------

/// Event types the engine types, plus neighbours it must leave alone.
const EVENT_TYPES: &[&str] = &[
    "StreamStateChanged",
    "RecordStateChanged",
    "ReplayBufferStateChanged",
    "ReplayBufferSaved",
    "VirtualcamStateChanged",
    "CurrentProgramSceneChanged",
    "SceneNameChanged",
    "SceneCreated",
    "SceneRemoved",
    "InputNameChanged",
    "InputMuteStateChanged",
    "InputCreated",
    "InputRemoved",
    "CurrentProfileChanged",
    "RecordFileChanged",
    "SceneListChanged",
    "StudioModeStateChanged",
    "CurrentSceneCollectionChanging",
    "CurrentSceneCollectionChanged",
    "ExitStarted",
    "CurrentPreviewSceneChanged",
    "InputVolumeMeters",
    "VendorEvent",
];

const REQUEST_TYPES: &[&str] = &[
    "GetVersion",
    "GetStreamStatus",
    "GetRecordStatus",
    "GetReplayBufferStatus",
    "GetVirtualCamStatus",
    "GetSceneList",
    "GetStudioModeEnabled",
    "GetStats",
    "StopRecord",
    "ToggleStream",
];

/// Every response body type, decoded as `Client::request_as` decodes it; what decodes is used the
/// way the engine uses it.
fn decode_response_bodies(data: &Value) {
    let _ = serde_json::from_value::<responses::Version>(data.clone());
    let _ = serde_json::from_value::<responses::StreamStatus>(data.clone());
    let _ = serde_json::from_value::<responses::RecordStatus>(data.clone());
    let _ = serde_json::from_value::<responses::OutputActive>(data.clone());
    let _ = serde_json::from_value::<responses::StudioMode>(data.clone());
    let _ = serde_json::from_value::<responses::Stats>(data.clone());
    let _ = serde_json::from_value::<responses::OutputPath>(data.clone());
    let _ = serde_json::from_value::<responses::InputMute>(data.clone());
    if let Ok(specials) = serde_json::from_value::<responses::SpecialInputs>(data.clone()) {
        assert!(specials.mics().len() <= 4 && specials.mics().iter().all(|m| !m.is_empty()));
    }
    if let Ok(list) = serde_json::from_value::<responses::SceneList>(data.clone()) {
        check_scene_order(&list.scenes);
    }
}

/// `scenes_top_first` keeps every scene and orders the indexed ones top (highest index) first.
fn check_scene_order(entries: &[SceneEntry]) {
    let ordered = scenes_top_first(entries);
    assert_eq!(ordered.len(), entries.len(), "no scene lost or invented");
    // Each name is matched to the highest-indexed entry of that name still unmatched: in a list
    // ordered top first, entries that share a name also come highest first.
    let mut indexes: Vec<i64> = Vec::new();
    let mut remaining: Vec<&SceneEntry> = entries.iter().collect();
    for name in &ordered {
        let at = (0..remaining.len())
            .filter(|&i| &remaining[i].scene_name == name)
            .max_by_key(|&i| remaining[i].scene_index.unwrap_or(i64::MIN))
            .expect("every name comes from an entry");
        indexes.push(remaining.remove(at).scene_index.unwrap_or(i64::MIN));
    }
    assert!(indexes.windows(2).all(|w| w[0] >= w[1]), "top first: {indexes:?}");
}

/// One text frame through the frame decoder and, for what decodes, the parsers behind it.
fn decode_frame(text: &str) {
    match ServerMessage::parse(text) {
        Ok(ServerMessage::Event(raw)) => {
            let typed = ObsEvent::from_raw(&raw);
            check_typed_event(&raw, &typed);
            check_input_event(&raw, InputEvent::from_raw(&raw));
        }
        Ok(ServerMessage::RequestResponse(response)) => {
            let _ = status_code_name(response.request_status.code);
            if let Some(data) = &response.response_data {
                decode_response_bodies(data);
            }
        }
        Ok(ServerMessage::Hello(_) | ServerMessage::Identified(_) | ServerMessage::Other { .. }) => {}
        Err(error) => assert!(!error.0.is_empty(), "an error says what was wrong"),
    }
}

/// What `from_raw` may give: `Other` keeps the event's own type, and an unknown type is never
/// taken for a known one.
fn check_typed_event(raw: &RawEvent, typed: &ObsEvent) {
    match typed {
        ObsEvent::Other { event_type } => assert_eq!(event_type, &raw.event_type),
        _ => assert!(EVENT_TYPES.contains(&raw.event_type.as_str()), "{} typed as {typed:?}", raw.event_type),
    }
}

/// An input event is only ever one of the input types, and names its input; levels are
/// three per channel as sent, so nothing is made up.
fn check_input_event(raw: &RawEvent, typed: Option<InputEvent>) {
    let Some(typed) = typed else { return };
    assert!(INPUT_EVENT_TYPES.contains(&raw.event_type.as_str()), "{} typed as {typed:?}", raw.event_type);
    if let InputEvent::VolumeMeters(levels) = typed {
        let sent = raw.event_data.as_ref().and_then(|d| d.get("inputs")).and_then(Value::as_array).map_or(0, Vec::len);
        assert!(levels.len() <= sent, "{} levels from {sent} entries", levels.len());
        for level in levels {
            assert!(level.peak() >= 0.0 && level.input_peak() >= 0.0, "{level:?}");
        }
    }
}

const INPUT_EVENT_TYPES: &[&str] = &["InputMuteStateChanged", "InputCreated", "InputRemoved", "InputVolumeMeters"];

/// Decodes `text` as a frame and checks the heap it took.
fn decode_frame_within_bounds(text: &str) {
    let ((), peak) = peak_heap(|| decode_frame(text));
    assert!(peak <= heap_bound(text.len()), "{peak} bytes of heap for {} bytes of input", text.len());
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Field names of the protocol, so generated objects hit the decoders' fields, not only misses.
const FIELDS: &[&str] = &[
    "op",
    "d",
    "eventType",
    "eventIntent",
    "eventData",
    "requestType",
    "requestId",
    "requestStatus",
    "result",
    "code",
    "comment",
    "responseData",
    "obsWebSocketVersion",
    "obsStudioVersion",
    "obsVersion",
    "rpcVersion",
    "negotiatedRpcVersion",
    "authentication",
    "challenge",
    "salt",
    "outputActive",
    "outputState",
    "outputPath",
    "outputReconnecting",
    "outputPaused",
    "outputDuration",
    "outputTimecode",
    "outputBytes",
    "outputCongestion",
    "outputSkippedFrames",
    "outputTotalFrames",
    "savedReplayPath",
    "newOutputPath",
    "sceneName",
    "sceneIndex",
    "sceneUuid",
    "oldSceneName",
    "isGroup",
    "inputName",
    "oldInputName",
    "scenes",
    "currentProgramSceneName",
    "studioModeEnabled",
    "cpuUsage",
    "memoryUsage",
    "availableDiskSpace",
    "activeFps",
    "averageFrameRenderTime",
    "renderSkippedFrames",
    "renderTotalFrames",
    "platform",
    "results",
];

fn field_name() -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
    .boxed()
}

/// Numbers a decoder may choke on: the edges of every integer type, floats beyond them,
/// negative zero, tiny and huge magnitudes.
fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        prop::sample::select(vec![
            0.0,
            -0.0,
            -1.0,
            0.5,
            1e-308,
            f64::MIN_POSITIVE,
            1e15,
            9_007_199_254_740_993.0,
            1.8446744073709552e19,
            1e300,
            f64::MAX,
            f64::MIN,
            4_294_967_296.0,
            -4_294_967_296.0,
        ])
        .prop_map(Value::from),
        prop::sample::select(vec![0i64, 1, 100, 207, 604, u32::MAX as i64, u32::MAX as i64 + 1, i64::MIN, i64::MAX])
            .prop_map(Value::from),
    ]
    .boxed()
}

/// Strings the decoders meet: output states, names, empty, odd unicode.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        prop::sample::select(vec![
            "OBS_WEBSOCKET_OUTPUT_STARTING",
            "OBS_WEBSOCKET_OUTPUT_STARTED",
            "OBS_WEBSOCKET_OUTPUT_STOPPING",
            "OBS_WEBSOCKET_OUTPUT_STOPPED",
            "OBS_WEBSOCKET_OUTPUT_RECONNECTING",
            "OBS_WEBSOCKET_OUTPUT_RECONNECTED",
            "OBS_WEBSOCKET_OUTPUT_PAUSED",
            "OBS_WEBSOCKET_OUTPUT_RESUMED",
            "OBS_WEBSOCKET_OUTPUT_UNKNOWN",
            "OBS_WEBSOCKET_OUTPUT_",
            "STARTED",
            "",
            "Scene",
            "Q&A",
            "\u{0}",
            "\u{feff}",
            "/tmp/rec.mkv",
            "5.7.3",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number(), text().prop_map(Value::String),]
        .boxed()
}

/// Any JSON value, with protocol field names for object keys most of the time.
fn json_value() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((field_name(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A field's value: mostly well-typed or extreme, sometimes any JSON at all.
fn field_value() -> BoxedStrategy<Value> {
    prop_oneof![3 => leaf(), 1 => json_value()].boxed()
}

/// An object with (most of) these fields, each holding a value from `value` (a `scenes` field
/// holds a scene array most of the time).
fn shaped_with(fields: &'static [&'static str], value: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let scenes = prop_oneof![3 => scene_array(), 1 => value.clone()].boxed();
    let entries: Vec<_> = fields
        .iter()
        .map(|&name| {
            let value = if name == "scenes" { scenes.clone() } else { value.clone() };
            (Just(name), prop::option::weighted(0.85, value))
        })
        .collect();
    entries
        .prop_map(|entries| {
            let mut object = Map::new();
            for (name, value) in entries {
                if let Some(value) = value {
                    object.insert(name.to_owned(), value);
                }
            }
            Value::Object(object)
        })
        .boxed()
}

/// [`shaped_with`] any field value.
fn shaped(fields: &'static [&'static str]) -> BoxedStrategy<Value> {
    shaped_with(fields, field_value())
}

/// `scenes` arrays: well-formed entries with extreme indexes, and broken ones.
fn scene_array() -> BoxedStrategy<Value> {
    let entry = prop_oneof![
        3 => (text(), prop::option::of(number()), prop::option::of(text())).prop_map(|(name, index, uuid)| {
            let mut e = json!({ "sceneName": name });
            if let Some(index) = index {
                e["sceneIndex"] = index;
            }
            if let Some(uuid) = uuid {
                e["sceneUuid"] = json!(uuid);
            }
            e
        }),
        1 => leaf(),
    ];
    prop::collection::vec(entry, 0..12).prop_map(Value::Array).boxed()
}

const EVENT_DATA_FIELDS: &[&str] = &[
    "outputActive",
    "outputState",
    "outputPath",
    "savedReplayPath",
    "newOutputPath",
    "sceneName",
    "sceneUuid",
    "oldSceneName",
    "isGroup",
    "inputName",
    "oldInputName",
    "studioModeEnabled",
    "scenes",
];

const RESPONSE_FIELDS: &[&str] = &[
    "obsVersion",
    "obsWebSocketVersion",
    "rpcVersion",
    "platform",
    "outputActive",
    "outputReconnecting",
    "outputPaused",
    "outputDuration",
    "outputTimecode",
    "outputBytes",
    "outputCongestion",
    "outputSkippedFrames",
    "outputTotalFrames",
    "outputPath",
    "currentProgramSceneName",
    "scenes",
    "studioModeEnabled",
    "cpuUsage",
    "memoryUsage",
    "availableDiskSpace",
    "activeFps",
    "averageFrameRenderTime",
    "renderSkippedFrames",
    "renderTotalFrames",
];

fn op() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => (0u64..=9).prop_map(Value::from),
        1 => number(),
        1 => leaf(),
    ]
    .boxed()
}

fn event_body() -> BoxedStrategy<Value> {
    let event_type = prop_oneof![
        4 => prop::sample::select(EVENT_TYPES).prop_map(|t| json!(t)),
        1 => leaf(),
    ];
    let data = prop_oneof![
        4 => shaped(EVENT_DATA_FIELDS),
        1 => json_value(),
    ];
    (event_type, prop::option::of(number()), prop::option::weighted(0.9, data))
        .prop_map(|(event_type, intent, data)| {
            let mut d = json!({ "eventType": event_type });
            if let Some(intent) = intent {
                d["eventIntent"] = intent;
            }
            if let Some(data) = data {
                d["eventData"] = data;
            }
            d
        })
        .boxed()
}

fn response_body() -> BoxedStrategy<Value> {
    let request_type = prop_oneof![
        4 => prop::sample::select(REQUEST_TYPES).prop_map(|t| json!(t)),
        1 => leaf(),
    ];
    let request_status = prop_oneof![
        4 => (any::<bool>(), number(), prop::option::of(text())).prop_map(|(result, code, comment)| {
            let mut status = json!({ "result": result, "code": code });
            if let Some(comment) = comment {
                status["comment"] = json!(comment);
            }
            status
        }),
        1 => json_value(),
    ];
    let data = prop_oneof![
        4 => shaped(RESPONSE_FIELDS),
        1 => json_value(),
    ];
    let request_id = prop_oneof![4 => text().prop_map(Value::String), 1 => leaf()];
    (request_type, request_id, request_status, prop::option::weighted(0.8, data))
        .prop_map(|(request_type, request_id, request_status, data)| {
            let mut d =
                json!({ "requestType": request_type, "requestId": request_id, "requestStatus": request_status });
            if let Some(data) = data {
                d["responseData"] = data;
            }
            d
        })
        .boxed()
}

fn hello_body() -> BoxedStrategy<Value> {
    prop_oneof![
        shaped(&["obsWebSocketVersion", "rpcVersion", "authentication", "obsStudioVersion"]),
        (text(), number(), prop::option::of((text(), text()))).prop_map(|(version, rpc, auth)| {
            let mut d = json!({ "obsWebSocketVersion": version, "rpcVersion": rpc });
            if let Some((challenge, salt)) = auth {
                d["authentication"] = json!({ "challenge": challenge, "salt": salt });
            }
            d
        }),
    ]
    .boxed()
}

/// A JSON value shaped like an obs-websocket frame: an `op` (usually a real one) and a `d` shaped
/// for some op, which need not be the same op.
fn frame_value() -> BoxedStrategy<Value> {
    let body = prop_oneof![
        2 => event_body(),
        2 => response_body(),
        1 => hello_body(),
        1 => shaped(&["negotiatedRpcVersion"]),
        1 => json_value(),
    ];
    (op(), prop::option::weighted(0.95, body), prop::collection::vec((field_name(), leaf()), 0..3))
        .prop_map(|(op, body, extra)| {
            let mut frame: Map<String, Value> = extra.into_iter().collect();
            frame.insert("op".into(), op);
            if let Some(body) = body {
                frame.insert("d".into(), body);
            }
            Value::Object(frame)
        })
        .boxed()
}

/// A byte-level change to a valid frame: truncation, an inserted byte, an overwritten byte.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, u8),
    Overwrite(prop::sample::Index, u8),
}

fn edit() -> BoxedStrategy<Edit> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Edit::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Overwrite(at, b)),
    ]
    .boxed()
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Truncate(at) => bytes.truncate(at.index(len + 1)),
            Edit::Insert(at, b) => bytes.insert(at.index(len + 1), *b),
            Edit::Overwrite(at, b) if len > 0 => bytes[at.index(len)] = *b,
            Edit::Overwrite(..) => {}
        }
    }
    bytes
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    /// Any bytes (as the text a websocket frame would carry): a frame or an error.
    #[test]
    fn any_bytes_decode_to_a_frame_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_frame_within_bounds(&String::from_utf8_lossy(&bytes));
    }

    /// Any JSON value as a frame.
    #[test]
    fn any_json_decodes_to_a_frame_or_an_error(value in json_value()) {
        decode_frame_within_bounds(&value.to_string());
    }

    /// Values shaped like obs-websocket frames, and everything behind the frame decoder.
    #[test]
    fn frame_shaped_json_decodes_all_the_way_down(value in frame_value()) {
        decode_frame_within_bounds(&value.to_string());
    }

    /// Valid-looking frames cut, spliced and corrupted at the byte level.
    #[test]
    fn corrupted_frames_decode_to_a_frame_or_an_error(
        value in frame_value(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let bytes = apply(value.to_string().into_bytes(), &edits);
        decode_frame_within_bounds(&String::from_utf8_lossy(&bytes));
    }

    /// Event data of any shape under any event type.
    #[test]
    fn any_event_data_gives_a_typed_event_or_other(body in event_body(), name in any::<String>()) {
        let mut raw = RawEvent { event_type: name, event_intent: None, event_data: body.get("eventData").cloned() };
        check_typed_event(&raw, &ObsEvent::from_raw(&raw));
        if let Some(Value::String(event_type)) = body.get("eventType") {
            raw.event_type = event_type.clone();
            check_typed_event(&raw, &ObsEvent::from_raw(&raw));
        }
    }

    /// Response data of any shape, decoded as every response type.
    #[test]
    fn any_response_data_decodes_as_every_answer_type(data in prop_oneof![3 => shaped(RESPONSE_FIELDS), 1 => json_value()]) {
        let ((), peak) = peak_heap(|| decode_response_bodies(&data));
        let len = data.to_string().len();
        prop_assert!(peak <= heap_bound(len), "{} bytes of heap for {} bytes of data", peak, len);
    }

    /// Any output state string.
    #[test]
    fn any_output_state_string_is_known_or_unknown(state in text()) {
        let parsed = OutputState::from_wire(&state);
        if let OutputState::Unknown(kept) = &parsed {
            prop_assert_eq!(kept, &state);
        }
        let decoded: Result<OutputState, _> = serde_json::from_value(json!(state));
        prop_assert_eq!(decoded.ok(), Some(parsed));
    }

    /// Whatever the decoders let through drives the model without a panic, in any order, with a
    /// clock that may jump anywhere (NaN, infinities, 1e308, negative counters, time going back).
    #[test]
    fn decoded_answers_and_events_drive_the_model_without_panic(
        steps in prop::collection::vec(model_step(), 1..20),
        polls_drive_reconnects in any::<bool>(),
    ) {
        let mut model = Model::new();
        model.set_polls_drive_reconnects(polls_drive_reconnects);
        for step in &steps {
            match step {
                Step::Sync(answers, now) => { model.on_synced(answers, *now); }
                Step::Resync(answers, now) => { model.on_resynced(answers, *now); }
                Step::Event(event, now) => { model.on_event(event, *now); }
                Step::StreamPoll(polled, now) => { model.on_stream_status(polled, *now); }
                Step::RecordPoll(polled) => model.on_record_status(polled, 0),
                Step::Stats(stats, now) => {
                    model.on_stats(stats, *now);
                    model.on_polled(*now);
                }
                Step::SceneList(list, with_program) => model.on_scene_list(list, *with_program),
                Step::Lost(now) => { model.on_connection_lost("fuzz", *now); }
                Step::Away(now) => model.on_disconnected_on_purpose(*now),
            }
            let _ = model.wants_polling();
            let _ = model.status();
        }
    }
}

/// One input to the model, built from decoded (possibly nonsensical) values.
#[derive(Debug, Clone)]
enum Step {
    Sync(SyncAnswers, u64),
    Resync(SyncAnswers, u64),
    Event(ObsEvent, u64),
    StreamPoll(responses::StreamStatus, u64),
    RecordPoll(responses::RecordStatus),
    Stats(responses::Stats, u64),
    SceneList(responses::SceneList, bool),
    Lost(u64),
    Away(u64),
}

/// Clock readings: plausible ones close together, and the extremes.
fn clock() -> BoxedStrategy<u64> {
    prop_oneof![
        4 => 1_700_000_000_000u64..1_700_000_100_000,
        1 => any::<u64>(),
        1 => prop::sample::select(vec![0u64, 1, u64::MAX]),
    ]
    .boxed()
}

/// Decodes `value` as `T`, or `T` from `{}` padded with the required fields when it does not decode.
fn decoded<T: serde::de::DeserializeOwned>(value: &Value, fallback: Value) -> T {
    serde_json::from_value(value.clone()).or_else(|_| serde_json::from_value(fallback)).expect("the fallback decodes")
}

fn answer() -> BoxedStrategy<Result<responses::OutputActive, RequestError>> {
    prop_oneof![
        any::<bool>().prop_map(|output_active| Ok(responses::OutputActive { output_active })),
        any::<u32>().prop_map(|code| Err(RequestError::Failed { code, comment: None })),
        Just(Err(RequestError::Failed { code: 604, comment: Some("not available".into()) })),
    ]
    .boxed()
}

/// Response data for the model: the right fields with well-typed or extreme leaves (the
/// decoders above see the deeper garbage; here it is the numbers that matter).
fn model_data() -> BoxedStrategy<Value> {
    shaped_with(RESPONSE_FIELDS, leaf().boxed())
}

fn sync_answers() -> BoxedStrategy<SyncAnswers> {
    (model_data(), model_data(), answer(), answer(), model_data(), any::<bool>(), prop::option::of(model_data()))
        .prop_map(|(stream, record, replay_buffer, virtual_camera, scenes, studio_mode, stats)| SyncAnswers {
            stream: decoded(&stream, json!({ "outputActive": false })),
            record: decoded(&record, json!({ "outputActive": false })),
            replay_buffer,
            virtual_camera,
            scenes: decoded(&scenes, json!({})),
            studio_mode,
            stats: stats.map(|s| decoded(&s, json!({}))),
            mics: Vec::new(),
        })
        .boxed()
}

fn model_step() -> BoxedStrategy<Step> {
    let event = (prop::sample::select(EVENT_TYPES), shaped_with(EVENT_DATA_FIELDS, leaf().boxed())).prop_map(
        |(event_type, data)| {
            let raw = RawEvent { event_type: event_type.to_owned(), event_intent: None, event_data: Some(data) };
            ObsEvent::from_raw(&raw)
        },
    );
    prop_oneof![
        2 => (sync_answers(), clock()).prop_map(|(a, now)| Step::Sync(a, now)),
        1 => (sync_answers(), clock()).prop_map(|(a, now)| Step::Resync(a, now)),
        6 => (event, clock()).prop_map(|(e, now)| Step::Event(e, now)),
        3 => (model_data(), clock())
            .prop_map(|(v, now)| Step::StreamPoll(decoded(&v, json!({ "outputActive": true })), now)),
        1 => model_data().prop_map(|v| Step::RecordPoll(decoded(&v, json!({ "outputActive": true })))),
        1 => (model_data(), clock()).prop_map(|(v, now)| Step::Stats(decoded(&v, json!({})), now)),
        1 => (model_data(), any::<bool>())
            .prop_map(|(v, with_program)| Step::SceneList(decoded(&v, json!({})), with_program)),
        1 => clock().prop_map(Step::Lost),
        1 => clock().prop_map(Step::Away),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Inputs that once were (or easily could be) trouble, kept as plain tests
// ---------------------------------------------------------------------------------------------

#[test]
fn nesting_far_beyond_serde_jsons_limit_is_an_error_in_little_memory() {
    for depth in [129, 10_000, 1_000_000] {
        for (open, close) in [("[", "]"), ("{\"d\":", "}")] {
            let text = format!("{}{}", open.repeat(depth), close.repeat(depth));
            let (parsed, peak) = peak_heap(|| ServerMessage::parse(&text));
            assert!(parsed.is_err(), "depth {depth} of {open}");
            assert!(peak < 64 * 1024, "depth {depth} of {open}: {peak} bytes");
        }
        let text = format!(
            "{{\"op\":5,\"d\":{{\"eventType\":\"X\",\"eventData\":{}1{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(ServerMessage::parse(&text).is_err(), "nested event data, depth {depth}");
    }
}

#[test]
fn huge_numbers_are_values_or_errors_in_little_memory() {
    let digits = "9".repeat(100_000);
    for number in [digits.clone(), format!("-{digits}"), format!("0.{digits}"), "1e999999".into(), "-1e400".into()] {
        for frame in [
            format!(r#"{{"op":{number},"d":{{}}}}"#),
            format!(
                r#"{{"op":7,"d":{{"requestType":"GetStreamStatus","requestId":"1","requestStatus":{{"result":true,"code":100}},"responseData":{{"outputActive":true,"outputDuration":{number},"outputBytes":{number}}}}}}}"#
            ),
            format!(
                r#"{{"op":7,"d":{{"requestType":"X","requestId":"1","requestStatus":{{"result":false,"code":{number}}}}}}}"#
            ),
        ] {
            let ((), peak) = peak_heap(|| decode_frame(&frame));
            assert!(peak <= heap_bound(frame.len()), "{peak} bytes for a {}-byte frame", frame.len());
        }
    }
}

#[test]
fn scene_indexes_at_the_extremes_keep_every_scene_in_order() {
    let list: responses::SceneList = serde_json::from_value(json!({
        "currentProgramSceneName": null,
        "scenes": [
            {"sceneName": "min", "sceneIndex": i64::MIN},
            {"sceneName": "max", "sceneIndex": i64::MAX},
            {"sceneName": "none"},
            {"sceneName": "zero", "sceneIndex": 0},
        ]
    }))
    .expect("decodes");
    assert_eq!(scenes_top_first(&list.scenes), ["max", "zero", "min", "none"]);
}

/// Found by the property (in its own checker, not the engine): two scenes of one name.
#[test]
fn scenes_sharing_a_name_are_all_kept_in_order() {
    let list: responses::SceneList = serde_json::from_value(json!({
        "scenes": [{"sceneName": "Scene"}, {"sceneIndex": 0, "sceneName": "Scene"}, {"sceneIndex": 3, "sceneName": "B"}]
    }))
    .expect("decodes");
    check_scene_order(&list.scenes);
    assert_eq!(scenes_top_first(&list.scenes), ["B", "Scene", "Scene"]);
}

#[test]
fn lone_surrogates_and_control_characters_are_errors_or_text() {
    for frame in [
        r#"{"op":5,"d":{"eventType":"\ud800"}}"#,
        r#"{"op":5,"d":{"eventType":"CurrentProgramSceneChanged","eventData":{"sceneName":"\udfff"}}}"#,
        "{\"op\":5,\"d\":{\"eventType\":\"X\u{0}\"}}",
        "\u{feff}{\"op\":2,\"d\":{\"negotiatedRpcVersion\":1}}",
    ] {
        decode_frame_within_bounds(frame);
    }
}

#[test]
fn duplicate_keys_are_a_frame_or_an_error() {
    for frame in [
        r#"{"op":5,"op":7,"d":{"eventType":"ExitStarted"}}"#,
        r#"{"op":5,"d":{"eventType":"ExitStarted","eventType":"StreamStateChanged"}}"#,
    ] {
        decode_frame_within_bounds(frame);
    }
}

#[test]
fn the_allocator_counts() {
    // The memory bound means nothing if the counter does not see allocations.
    let (bytes, peak) = peak_heap(|| vec![0u8; 1 << 20]);
    assert!(peak >= 1 << 20, "{peak}");
    drop(bytes);
}
