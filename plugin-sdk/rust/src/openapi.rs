//! Any other DingTalk OpenAPI call, authenticated by the host. Only the paths the
//! operator granted this plugin (`openapi = [..]` in its host config section) work.

use serde_json::Value;

use crate::Error;

/// Call `method` `path` with an optional JSON body; returns the JSON answer.
pub fn call(method: &str, path: &str, body: Option<&Value>) -> Result<Value, Error> {
    let body = body.map(Value::to_string);
    let answer = crate::bindings::dingtalk::bot::openapi::call(method, path, body.as_deref())?;
    Ok(serde_json::from_str(&answer)?)
}
