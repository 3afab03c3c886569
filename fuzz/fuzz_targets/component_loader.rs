//! Any bytes as a component file: the serde loader and the one-pass validator answer with a
//! component or errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > 64 * 1024 {
        return;
    }
    let file = onset_model::SourceFile { path: "fuzz.yaml".into(), text: text.to_string(), files: Default::default() };
    let _ = onset_model::parse_component(&file);
    let _ = onset_engine::validate_component(std::path::Path::new("fuzz.yaml"), text, &onset_engine::NoConnectors);
});
