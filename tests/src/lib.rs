//! Test support for OnAir: a scriptable fake obs-websocket server for protocol
//! corners, a real OBS Studio world for everything a user meets (with a TCP proxy
//! that can cut OnAir's own link to it), and helpers.

pub mod desktop;
pub mod fake;
pub mod measure;
pub mod proxy;
pub mod sandbox;
pub mod support;
pub mod webdriver;
pub mod world;
