//! Test support for OnAir: a scriptable fake obs-websocket server for protocol
//! corners, a real OBS Studio world for everything a user meets, and helpers.

pub mod desktop;
pub mod fake;
pub mod sandbox;
pub mod support;
pub mod webdriver;
pub mod world;
