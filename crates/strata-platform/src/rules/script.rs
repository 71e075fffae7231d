//! Filter and transform scripts, in Rhai: a small, embeddable language whose engine is
//! sandboxed (no file, network or process access; `eval` is switched off) and bounded
//! here in CPU (operations per run), memory (string, array and map sizes) and depth.
//!
//! A script sees `msg` (the message: telemetry values, attributes, shadow, alarm...) and
//! `meta` (`device_id`, `device_name`, `device_type`, `labels`, `trigger`, `ts`). A filter
//! is an expression that yields a boolean, e.g. `msg.temp > 30 && "boiler" in meta.labels`;
//! a transform is a script whose last value is the new message (a map), or `()` to drop it.

use rhai::{AST, Dynamic, Engine, Scope};
use serde_json::Value;

use crate::PlatformError;

/// Longest string a script may build.
const MAX_STRING: usize = 64 * 1024;
/// Largest array or map a script may build.
const MAX_COLLECTION: usize = 10_000;

/// A configured engine.
pub(crate) struct Scripts {
    engine: Engine,
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts").finish_non_exhaustive()
    }
}

/// A compiled filter or transform.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    ast: AST,
}

impl Scripts {
    pub(crate) fn new(max_operations: u64) -> Self {
        let mut engine = Engine::new();
        engine
            .set_max_operations(max_operations)
            .set_max_call_levels(16)
            .set_max_expr_depths(64, 32)
            .set_max_string_size(MAX_STRING)
            .set_max_array_size(MAX_COLLECTION)
            .set_max_map_size(MAX_COLLECTION)
            .set_max_variables(256)
            .set_max_functions(64)
            .set_max_modules(0);
        engine.disable_symbol("eval");
        // Scripts have no console: what they print goes to the log.
        engine.on_print(|text| tracing::debug!(target: "strata::rules", "script: {text}"));
        engine.on_debug(|text, _, _| tracing::debug!(target: "strata::rules", "script: {text}"));
        Self { engine }
    }

    /// Compiles a filter (a single expression).
    pub(crate) fn compile_filter(&self, source: &str) -> Result<Script, PlatformError> {
        self.engine
            .compile_expression(source)
            .map(|ast| Script { ast })
            .map_err(|e| PlatformError::invalid(format!("filter does not compile: {e}")))
    }

    /// Compiles a transform (a script; its last value is the result).
    pub(crate) fn compile_transform(&self, source: &str) -> Result<Script, PlatformError> {
        self.engine
            .compile(source)
            .map(|ast| Script { ast })
            .map_err(|e| PlatformError::invalid(format!("transform does not compile: {e}")))
    }

    /// The variables scripts see for one message; reused by every rule that looks at it.
    pub(crate) fn scope(msg: Dynamic, meta: Dynamic) -> Scope<'static> {
        let mut scope = Scope::new();
        scope.push_constant("msg", msg);
        scope.push_constant("meta", meta);
        scope
    }

    fn run(&self, script: &Script, scope: &mut Scope<'static>) -> Result<Dynamic, String> {
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(scope, &script.ast)
            .map_err(|e| e.to_string());
        // Whatever the script declared goes; `msg` and `meta` (constants) stay.
        scope.rewind(2);
        result
    }

    /// Runs a filter: `Ok(true)` to go on.
    pub(crate) fn filter(
        &self,
        script: &Script,
        scope: &mut Scope<'static>,
    ) -> Result<bool, String> {
        let result = self.run(script, scope)?;
        result
            .as_bool()
            .map_err(|kind| format!("the filter gave a {kind}, not true or false"))
    }

    /// Runs a transform: the new message, or `None` to drop it.
    pub(crate) fn transform(
        &self,
        script: &Script,
        scope: &mut Scope<'static>,
    ) -> Result<Option<Value>, String> {
        let result = self.run(script, scope)?;
        if result.is_unit() {
            return Ok(None);
        }
        rhai::serde::from_dynamic::<Value>(&result)
            .map(Some)
            .map_err(|e| format!("the transform's result is not JSON-like: {e}"))
    }
}

/// A JSON value as a script value.
pub(crate) fn to_dynamic(value: &Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scripts() -> Scripts {
        Scripts::new(10_000)
    }

    #[test]
    fn filters_and_transforms_see_msg_and_meta() {
        let s = scripts();
        let msg = to_dynamic(&json!({"temp": 31.5, "unit": "C"})).into_shared();
        let meta = to_dynamic(&json!({"device_name": "boiler-1", "labels": ["boiler"]}));
        let mut scope = Scripts::scope(msg, meta);
        let f = s
            .compile_filter(r#"msg.temp > 30 && "boiler" in meta.labels"#)
            .unwrap();
        assert_eq!(s.filter(&f, &mut scope), Ok(true));
        let t = s
            .compile_transform(
                "let f = msg.temp * 9.0 / 5.0 + 32.0; #{temp_f: f, from: meta.device_name}",
            )
            .unwrap();
        assert_eq!(
            s.transform(&t, &mut scope),
            Ok(Some(json!({"temp_f": 88.7, "from": "boiler-1"})))
        );
        let drop = s
            .compile_transform("if msg.temp > 100 { msg } else { () }")
            .unwrap();
        assert_eq!(s.transform(&drop, &mut scope), Ok(None));
        // Variables of one script do not leak into the next.
        let leak = s.compile_filter("f == ()").unwrap();
        assert!(s.filter(&leak, &mut scope).is_err() || s.filter(&leak, &mut scope) == Ok(true));
        assert_eq!(scope.len(), 2);
    }

    #[test]
    fn runaway_and_hostile_scripts_are_stopped() {
        let s = scripts();
        let mut unit = Scripts::scope(Dynamic::UNIT, Dynamic::UNIT);
        let endless = s.compile_transform("let x = 0; loop { x += 1; }").unwrap();
        let err = s.transform(&endless, &mut unit).unwrap_err();
        assert!(err.contains("operations"), "{err}");
        let big = s
            .compile_transform(r#"let s = "x"; loop { s += s; }"#)
            .unwrap();
        assert!(s.transform(&big, &mut unit).is_err());
        assert!(
            s.compile_filter("eval(\"1\")").is_err() || {
                let f = s.compile_filter("eval(\"1\")").unwrap();
                s.filter(&f, &mut unit).is_err()
            }
        );
        assert!(
            s.compile_filter("let x = 1; x").is_err(),
            "filters are expressions"
        );
        let not_bool = s.compile_filter("42").unwrap();
        assert!(
            s.filter(&not_bool, &mut unit)
                .unwrap_err()
                .contains("not true")
        );
    }
}
