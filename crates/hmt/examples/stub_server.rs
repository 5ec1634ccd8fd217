//! A mock server programmed in code, as a test would program it: one stub,
//! `GET PATH`, answering the bytes of FILE as JSON. It prints its address
//! and serves until it is killed. `make bench-mock` measures it.
//!
//!     cargo run --release -p hmt --example stub_server -- /users/1 body.json

// It prints its address for `make bench-mock` to read.
#![allow(clippy::print_stdout)]

use hmt::matchers::{method, path};
use hmt::{MockServer, Reply, Stub};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: stub_server PATH BODY_FILE");
        std::process::exit(2);
    };
    let body = match std::fs::read(&file) {
        Ok(body) => body,
        Err(error) => {
            eprintln!("stub_server: cannot read {file}: {error}");
            std::process::exit(2);
        }
    };
    let server = MockServer::start_blocking();
    server.register(
        Stub::given(method("GET")).and(path(&target)).respond_with(
            Reply::new(200)
                .with_header("content-type", "application/json")
                .with_body(body),
        ),
    );
    println!("{}", server.uri());
    loop {
        std::thread::park();
    }
}
