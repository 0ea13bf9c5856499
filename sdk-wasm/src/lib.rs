//! edgeauth's client SDK for browsers and Node, built with wasm-bindgen.
#![forbid(unsafe_code)]
