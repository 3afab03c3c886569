//! What a run remembers of each step.

use serde::Serialize;

/// Inputs and outputs larger than this are recorded as a preview with a marker.
pub const MAX_RECORDED_BYTES: usize = 64 * 1024;
const PREVIEW_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Succeeded,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
        }
    }
}

/// One executed step, in execution order. `input` and `output` are JSON text.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// Position in the handler: `3`, `3.do[2].0`, `1.then.0`.
    pub path: String,
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attempt: u32,
    pub status: StepStatus,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    /// What the step wrote while it ran (a script's `console`).
    pub logs: Vec<String>,
    /// Unix milliseconds.
    pub started_at: i64,
    pub duration_ms: f64,
    /// The step's span id, when the run is traced.
    #[serde(skip)]
    pub span_id: Option<String>,
}

/// JSON text of a value, or a marker with a preview when it is over [`MAX_RECORDED_BYTES`].
pub fn recorded_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.len() <= MAX_RECORDED_BYTES {
        return text;
    }
    let mut cut = PREVIEW_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    serde_json::json!({ "truncated": true, "bytes": text.len(), "preview": &text[..cut] }).to_string()
}
