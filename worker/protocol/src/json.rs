//! [`WireObject`] over JSON (feature `json`): native tests read messages and the Python contract
//! through it, standing in for the JS objects the browser passes around.

use crate::wire::WireObject;

/// A JSON value read as a message object.
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub serde_json::Value);

impl WireObject for Json {
    fn string(&self, key: &str) -> Option<String> {
        self.0.get(key)?.as_str().map(str::to_string)
    }
    fn number(&self, key: &str) -> Option<f64> {
        self.0.get(key)?.as_f64()
    }
    fn boolean(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }
    fn object(&self, key: &str) -> Option<Self> {
        let value = self.0.get(key)?;
        value.is_object().then(|| Json(value.clone()))
    }
    fn list(&self, key: &str) -> Option<Vec<Self>> {
        Some(
            self.0
                .get(key)?
                .as_array()?
                .iter()
                .cloned()
                .map(Json)
                .collect(),
        )
    }
}
