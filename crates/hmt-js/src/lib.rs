//! mountebank's JavaScript injections for hmt, run in an embedded QuickJS.
//!
//! mountebank runs users' functions with Node's `eval`, with the whole of
//! Node in reach. hmt runs them in QuickJS inside the server process: a
//! fresh runtime per imposter, no `require`, no file, network or process
//! access, a memory limit, and a time limit after which the function is
//! interrupted (an infinite loop in a predicate costs one request, not
//! the server). What mountebank's functions rely on is provided: the
//! `config` argument (`request`, `state`, `logger`, `callback`, and the
//! request's fields copied onto it, as mountebank's older signatures
//! read them), the older positional arguments, `process.env`, and one
//! `state` object per imposter shared by all its functions.
//!
//! Values cross as JSON text: mountebank's functions only ever see and
//! return JSON-shaped objects, and this keeps the boundary simple and
//! safe (no JavaScript object escapes into Rust).
//!
//! Functions run synchronously: a response injection that calls
//! `config.callback(response)` before it returns is answered; one that
//! would call it later (after a timer or a promise) cannot be, since
//! there is no event loop, and gets an error saying so.

use hmt_stub::Scripts;
use rquickjs::{CatchResultExt, Context, Function, Runtime};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bounds on what one imposter's functions may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Heap of the imposter's runtime.
    pub memory: usize,
    /// How long one call may run.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: 64 * 1024 * 1024,
            time: Duration::from_secs(5),
        }
    }
}

/// One imposter's JavaScript: its runtime, its `state`, its limits.
pub struct Engine {
    context: Context,
    _runtime: Runtime,
    /// Milliseconds after `epoch` when the running call must stop; 0 when none runs.
    deadline: Arc<AtomicU64>,
    epoch: Instant,
    limits: Limits,
    /// One call at a time: the deadline belongs to it.
    turn: Mutex<()>,
}

const OUT_OF_MEMORY: &str = "out of memory";

/// The glue that gives functions mountebank's arguments. Functions are
/// compiled once per source and kept.
const PRELUDE: &str = r#"
(() => {
  const compiled = new Map();
  const noop = () => {};
  const logger = { debug: noop, info: noop, warn: noop, error: noop };
  const state = {};
  const compile = (source) => {
    let fn = compiled.get(source);
    if (fn === undefined) {
      fn = (0, eval)('(' + source + ')');
      if (typeof fn !== 'function') throw new TypeError('not a function: ' + source.slice(0, 60));
      compiled.set(source, fn);
    }
    return fn;
  };
  const configFor = (request, extra) => {
    const config = Object.assign({}, request, { request, state, logger }, extra);
    return config;
  };
  globalThis.__hmt = {
    check(source) { compile(source); return 'null'; },
    call(kind, source, requestText, responseText) {
      const fn = compile(source);
      const request = JSON.parse(requestText);
      if (kind === 'predicate') {
        return JSON.stringify(Boolean(fn(configFor(request, {}), logger, state)));
      }
      if (kind === 'response') {
        let answered;
        const callback = (response) => { answered = response; };
        const returned = fn(configFor(request, { callback }), {}, logger, callback, state);
        const response = returned !== undefined ? returned : answered;
        if (response === undefined) {
          throw new Error('the function neither returned a response nor called callback() before returning');
        }
        return JSON.stringify(response);
      }
      if (kind === 'decorate') {
        const response = JSON.parse(responseText);
        const returned = fn(configFor(request, { response }), response, logger);
        return JSON.stringify(returned || response);
      }
      if (kind === 'wait') {
        return JSON.stringify(Number(fn(configFor(request, {}), logger, state)));
      }
      if (kind === 'generate') {
        return JSON.stringify(fn(configFor(request, {}), logger, state));
      }
      throw new Error('unknown kind ' + kind);
    },
  };
  // Globals mountebank's functions use, and nothing that reaches outside.
  delete globalThis.require;
})();
"#;

/// Why a JavaScript engine could not be started; shown as QuickJS's own
/// message.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// QuickJS could not make a runtime or a context (out of memory).
    #[error("{0}")]
    Runtime(#[from] rquickjs::Error),
    /// The prelude that defines mountebank's calling conventions, or the
    /// `process.env` it hands to functions, did not evaluate.
    #[error("{0}")]
    Prelude(String),
}

impl Engine {
    /// A fresh runtime with its own `state`.
    pub fn new(limits: Limits) -> Result<Engine, EngineError> {
        let runtime = Runtime::new()?;
        runtime.set_memory_limit(limits.memory);
        runtime.set_max_stack_size(1024 * 1024);
        let deadline = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        {
            let deadline = deadline.clone();
            runtime.set_interrupt_handler(Some(Box::new(move || {
                let until = deadline.load(Ordering::Relaxed);
                until != 0 && epoch.elapsed().as_millis() as u64 > until
            })));
        }
        let context = Context::full(&runtime)?;
        let environment: serde_json::Map<String, Value> = std::env::vars()
            .map(|(key, value)| (key, Value::String(value)))
            .collect();
        context.with(|ctx| -> Result<(), EngineError> {
            ctx.eval::<(), _>(PRELUDE)
                .catch(&ctx)
                .map_err(|error| EngineError::Prelude(error.to_string()))?;
            let process = format!(
                "globalThis.process = {{ env: {} }};",
                Value::Object(environment)
            );
            ctx.eval::<(), _>(process)
                .catch(&ctx)
                .map_err(|error| EngineError::Prelude(error.to_string()))
        })?;
        Ok(Engine {
            context,
            _runtime: runtime,
            deadline,
            epoch,
            limits,
            turn: Mutex::new(()),
        })
    }

    /// Runs `__hmt.<method>(args...)` within the time limit; its JSON result.
    fn run(&self, method: &str, args: &[&str]) -> Result<Value, String> {
        let _turn = hmt_types::sync::lock(&self.turn);
        let until = self.epoch.elapsed() + self.limits.time;
        self.deadline
            .store(until.as_millis().max(1) as u64, Ordering::Relaxed);
        let result = self.context.with(|ctx| -> Result<String, String> {
            let glue: rquickjs::Object = ctx
                .globals()
                .get("__hmt")
                .map_err(|error| error.to_string())?;
            let function: Function = glue.get(method).map_err(|error| error.to_string())?;
            let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
            let called = match args.as_slice() {
                [a] => {
                    function.call::<_, String>((rquickjs::function::This(glue.clone()), a.as_str()))
                }
                [a, b, c, d] => function.call::<_, String>((
                    rquickjs::function::This(glue.clone()),
                    a.as_str(),
                    b.as_str(),
                    c.as_str(),
                    d.as_str(),
                )),
                _ => return Err("wrong number of arguments".to_string()),
            };
            called.catch(&ctx).map_err(|error| match error {
                // QuickJS throws null when it cannot even allocate the error.
                rquickjs::CaughtError::Value(value) if value.is_null() => OUT_OF_MEMORY.to_string(),
                error => error.to_string().trim().to_string(),
            })
        });
        let timed_out = self.epoch.elapsed() > until;
        self.deadline.store(0, Ordering::Relaxed);
        let text = result.map_err(|message| {
            if timed_out {
                format!(
                    "the function ran longer than {} ms and was stopped",
                    self.limits.time.as_millis()
                )
            } else if message == OUT_OF_MEMORY {
                format!(
                    "the function ran out of memory (the limit is {} MiB)",
                    self.limits.memory / (1024 * 1024)
                )
            } else {
                message
            }
        })?;
        serde_json::from_str(&text)
            .map_err(|error| format!("the function's result is not JSON: {error}"))
    }

    fn call(
        &self,
        kind: &str,
        source: &str,
        request: &Value,
        response: Option<&Value>,
    ) -> Result<Value, String> {
        let request = request.to_string();
        let response = response
            .map(Value::to_string)
            .unwrap_or_else(|| "null".to_string());
        self.run("call", &[kind, source, &request, &response])
    }
}

impl Scripts for Engine {
    fn check(&self, source: &str) -> Result<(), String> {
        self.run("check", &[source]).map(|_| ())
    }

    fn predicate(&self, source: &str, request: &Value) -> Result<bool, String> {
        Ok(self
            .call("predicate", source, request, None)?
            .as_bool()
            .unwrap_or(false))
    }

    fn response(&self, source: &str, request: &Value) -> Result<Value, String> {
        self.call("response", source, request, None)
    }

    fn decorate(&self, source: &str, request: &Value, response: Value) -> Result<Value, String> {
        self.call("decorate", source, request, Some(&response))
    }

    fn wait(&self, source: &str, request: &Value) -> Result<f64, String> {
        Ok(self
            .call("wait", source, request, None)?
            .as_f64()
            .unwrap_or(0.0))
    }

    fn generate(&self, source: &str, request: &Value) -> Result<Value, String> {
        self.call("generate", source, request, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn engine() -> Engine {
        Engine::new(Limits {
            memory: 16 * 1024 * 1024,
            time: Duration::from_millis(300),
        })
        .unwrap()
    }

    fn request() -> Value {
        json!({"method": "POST", "path": "/orders", "query": {"q": "1"}, "headers": {"X-Id": "7"}, "body": "{\"n\": 2}"})
    }

    #[test]
    fn functions_get_mountebanks_arguments() {
        let engine = engine();
        assert!(
            engine
                .predicate("config => config.request.path === '/orders'", &request())
                .unwrap()
        );
        assert!(
            engine
                .predicate(
                    "function (request) { return request.method === 'POST'; }",
                    &request()
                )
                .unwrap()
        );
        assert!(
            !engine
                .predicate(
                    "config => JSON.parse(config.request.body).n > 5",
                    &request()
                )
                .unwrap()
        );
        let response = engine
            .response(
                "config => ({statusCode: 201, body: config.request.headers['X-Id']})",
                &request(),
            )
            .unwrap();
        assert_eq!(response, json!({"statusCode": 201, "body": "7"}));
        let called = engine
            .response(
                "(config) => { config.callback({body: 'later'}); }",
                &request(),
            )
            .unwrap();
        assert_eq!(called, json!({"body": "later"}));
        let decorated = engine
            .decorate(
                "(config) => { config.response.headers = {'X-Decorated': 'yes'}; }",
                &request(),
                json!({"body": "x"}),
            )
            .unwrap();
        assert_eq!(
            decorated,
            json!({"body": "x", "headers": {"X-Decorated": "yes"}})
        );
        let replaced = engine
            .decorate(
                "(request, response) => ({body: response.body + '!'})",
                &request(),
                json!({"body": "x"}),
            )
            .unwrap();
        assert_eq!(replaced, json!({"body": "x!"}));
        assert_eq!(engine.wait("() => 250", &request()).unwrap(), 250.0);
        assert_eq!(
            engine
                .generate(
                    "config => [{equals: {path: config.request.path}}]",
                    &request()
                )
                .unwrap(),
            json!([{"equals": {"path": "/orders"}}])
        );
    }

    #[test]
    fn state_is_shared_by_an_imposters_functions_and_not_across_imposters() {
        let engine = engine();
        let count = "config => { config.state.count = (config.state.count || 0) + 1; return {body: String(config.state.count)}; }";
        assert_eq!(engine.response(count, &request()).unwrap()["body"], "1");
        assert_eq!(engine.response(count, &request()).unwrap()["body"], "2");
        assert!(
            engine
                .predicate("config => config.state.count === 2", &request())
                .unwrap()
        );
        assert_eq!(
            self::engine().response(count, &request()).unwrap()["body"],
            "1"
        );
    }

    #[test]
    fn the_sandbox_holds() {
        let engine = engine();
        let looping = engine
            .predicate("() => { while (true) {} }", &request())
            .unwrap_err();
        assert!(looping.contains("longer than 300 ms"), "{looping}");
        // The engine still works after an interrupted call.
        assert!(engine.predicate("() => true", &request()).unwrap());
        let hungry = engine
            .response(
                "() => { const a = []; while (true) a.push(new Array(100000).fill(a.length)); }",
                &request(),
            )
            .unwrap_err();
        assert!(hungry.to_lowercase().contains("memory"), "{hungry}");
        for source in [
            "() => require('fs')",
            "() => fetch('http://example.com')",
            "() => process.exit(1)",
        ] {
            assert!(engine.response(source, &request()).is_err(), "{source}");
        }
        assert_eq!(
            engine
                .response("() => ({body: typeof process.env.PATH})", &request())
                .unwrap()["body"],
            "string"
        );
    }

    #[test]
    fn bad_functions_are_refused_when_checked() {
        let engine = engine();
        assert!(engine.check("config => config.request").is_ok());
        let error = engine.check("function (config) { return ").unwrap_err();
        assert!(error.contains("unexpected"), "{error}");
        assert!(engine.check("42").unwrap_err().contains("not a function"));
        let error = engine
            .response("() => { throw new Error('boom'); }", &request())
            .unwrap_err();
        assert!(error.contains("boom"), "{error}");
        let error = engine.response("() => {}", &request()).unwrap_err();
        assert!(error.contains("callback"), "{error}");
    }
}
