//! The obs-websocket v5 wire as the fake speaks it: the frames it writes (envelopes, responses,
//! events with their `eventIntent`), how it reads a client frame the way obs-websocket does, the
//! status and close codes by name, and the check a first Identify must pass (authentication
//! included). Pure functions only: the sockets are in `socket`, the OBS behind them is
//! `onair_headless::sim`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use onair_headless::obs::authentication_string;
use onair_headless::obs::protocol::op;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The websocket subprotocol obs-websocket speaks in JSON mode.
pub use onair_headless::obs::protocol::SUBPROTOCOL;

/// `eventSubscriptions` default when Identify omits it (All, as of obs-websocket 5.1).
pub const EVENT_SUBSCRIPTION_ALL: u64 = 2047;

/// The `comment` obs-websocket 5.3+ sends with 207 NotReady.
pub const NOT_READY_COMMENT: &str = "OBS is not ready to perform the request.";

/// Request status codes (`requestStatus.code`) by their obs-websocket names, as the simulated OBS
/// answers them.
pub use onair_headless::sim::status;

/// Websocket close codes by their obs-websocket names: the headless crate's one list.
pub mod close_code {
    pub use onair_headless::obs::protocol::close::*;
}

/// Why obs-websocket would end the session: the close code and its reason text.
pub(super) type CloseWith = (u16, String);

/// The `eventIntent` (subscription bit) obs-websocket attaches to an event type.
pub use onair_headless::sim::event_intent;

/// A fresh base64 token for salts and challenges (unpredictable enough for tests).
pub(super) fn random_token() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    BASE64.encode(Sha256::digest(format!("onair-fake-{}-{n}-{nanos}", std::process::id()).as_bytes()))
}

pub(super) fn frame_json(op: u64, d: Value) -> String {
    json!({ "op": op, "d": d }).to_string()
}

/// Op 0 Hello; `auth` is `(salt, challenge)` when the server asks for authentication.
pub(super) fn hello_json(auth: Option<(&str, &str)>, ws_version: &str, obs_studio_version: Option<&str>) -> String {
    let mut d = json!({ "obsWebSocketVersion": ws_version, "rpcVersion": 1 });
    if let Some(obs_version) = obs_studio_version {
        d["obsStudioVersion"] = json!(obs_version);
    }
    if let Some((salt, challenge)) = auth {
        d["authentication"] = json!({ "challenge": challenge, "salt": salt });
    }
    frame_json(op::HELLO, d)
}

/// Op 2 Identified, `negotiatedRpcVersion` 1.
pub(super) fn identified_json() -> String {
    frame_json(op::IDENTIFIED, json!({ "negotiatedRpcVersion": 1 }))
}

pub(super) fn event_json(event_type: &str, data: Value) -> String {
    let mut d = json!({ "eventType": event_type, "eventIntent": event_intent(event_type) });
    if !data.is_null() {
        d["eventData"] = data;
    }
    frame_json(op::EVENT, d)
}

pub(super) fn request_status(code: u32, comment: Option<&str>) -> Value {
    let mut request_status = json!({ "result": code == status::SUCCESS, "code": code });
    if let Some(comment) = comment {
        request_status["comment"] = json!(comment);
    }
    request_status
}

pub(super) fn response_json(req: &FakeRequest, code: u32, comment: Option<&str>, data: Option<Value>) -> String {
    let mut d = json!({
        "requestType": req.request_type,
        "requestId": req.request_id,
        "requestStatus": request_status(code, comment),
    });
    if let Some(data) = data {
        d["responseData"] = data;
    }
    frame_json(op::REQUEST_RESPONSE, d)
}

/// A frame the client sent (control frames are handled by the connection task).
#[derive(Clone, Debug, PartialEq)]
pub enum ClientFrame {
    Text(String),
    Binary(Vec<u8>),
}

/// A request (op 6) the client sent.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeRequest {
    pub request_type: String,
    /// Empty when the client left it out (real OBS closes such a session with 4003).
    pub request_id: String,
    pub data: Option<Value>,
}

impl FakeRequest {
    /// From the `d` of an op 6 (or one entry of an op 8 `requests` array).
    pub(super) fn from_d(d: &Value) -> FakeRequest {
        let text = |key: &str| match d.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        FakeRequest {
            request_type: text("requestType"),
            request_id: text("requestId"),
            data: d.get("requestData").filter(|v| !v.is_null()).cloned(),
        }
    }
}

/// Decodes a client frame the way obs-websocket does, into `(op, d)`.
/// `Err` is what real OBS would close the session with.
/// Does not check ops or identification state.
pub(super) fn decode_client_frame(frame: &ClientFrame) -> Result<(u64, Value), CloseWith> {
    let text = match frame {
        ClientFrame::Binary(_) => {
            return Err((
                close_code::MESSAGE_DECODE_ERROR,
                "Your session encoding is set to Json, but a binary message was received.".into(),
            ))
        }
        ClientFrame::Text(text) => text,
    };
    let message: Value = serde_json::from_str(text)
        .map_err(|e| (close_code::MESSAGE_DECODE_ERROR, format!("Unable to decode Json: {e}")))?;
    let Value::Object(mut message) = message else {
        return Err((close_code::MESSAGE_DECODE_ERROR, "You sent a non-object payload.".into()));
    };
    if message.contains_key("request-type") {
        return Err((
            close_code::UNSUPPORTED_RPC_VERSION,
            "You appear to be attempting to connect with the pre-5.0.0 plugin protocol. \
             Check to make sure your client is updated."
                .into(),
        ));
    }
    let op = match message.get("op") {
        None => return Err((close_code::UNKNOWN_OP_CODE, "Your request is missing an `op`.".into())),
        Some(op) => op.as_u64().ok_or((close_code::UNKNOWN_OP_CODE, "Your `op` is not a number.".to_string()))?,
    };
    match message.remove("d") {
        None | Some(Value::Null) => Err((close_code::MISSING_DATA_FIELD, "Your payload is missing data (`d`).".into())),
        Some(d @ Value::Object(_)) => Ok((op, d)),
        Some(_) => Err((close_code::INVALID_DATA_FIELD_TYPE, "Your payload's data (`d`) is not an object.".into())),
    }
}

/// What a server that asks for authentication sent in Hello, and the password it expects.
pub(super) struct Challenge<'a> {
    pub password: &'a str,
    pub salt: &'a str,
    pub challenge: &'a str,
}

/// Checks the client's first frame after Hello the way obs-websocket does: it must be an op 1
/// Identify with the right `authentication` (when `challenge` is set), `rpcVersion` 1 and, if
/// given, a numeric `eventSubscriptions`. Gives the Identify `d` and the subscriptions (All when
/// left out), or the close code and reason real OBS ends the session with.
pub(super) fn check_identify(frame: &ClientFrame, challenge: Option<&Challenge>) -> Result<(Value, u64), CloseWith> {
    let identify = match decode_client_frame(frame)? {
        (op::IDENTIFY, d) => d,
        (other, _) => {
            return Err((
                close_code::NOT_IDENTIFIED,
                format!("You attempted to send a non-Identify message while not identified. (op {other})"),
            ))
        }
    };
    if let Some(Challenge { password, salt, challenge }) = challenge {
        match identify.get("authentication") {
            None => {
                return Err((
                    close_code::AUTHENTICATION_FAILED,
                    "Your payload's data is missing an `authentication` string, \
                     however authentication is required."
                        .into(),
                ))
            }
            Some(auth) if auth.as_str() != Some(authentication_string(password, salt, challenge).as_str()) => {
                return Err((close_code::AUTHENTICATION_FAILED, "Authentication failed.".into()))
            }
            Some(_) => {}
        }
    }
    match identify.get("rpcVersion") {
        None => return Err((close_code::MISSING_DATA_FIELD, "Your payload's data is missing an `rpcVersion`.".into())),
        Some(v) if v.as_u64().is_none() => {
            return Err((close_code::INVALID_DATA_FIELD_TYPE, "Your `rpcVersion` is not an unsigned number.".into()))
        }
        Some(v) if v.as_u64() != Some(1) => {
            return Err((
                close_code::UNSUPPORTED_RPC_VERSION,
                "Your requested RPC version is not supported by this server.".into(),
            ))
        }
        Some(_) => {}
    }
    let subscriptions = match identify.get("eventSubscriptions") {
        None => EVENT_SUBSCRIPTION_ALL,
        Some(v) => v.as_u64().ok_or_else(|| {
            (close_code::INVALID_DATA_FIELD_TYPE, "Your `eventSubscriptions` is not an unsigned number.".to_string())
        })?,
    };
    Ok((identify, subscriptions))
}
