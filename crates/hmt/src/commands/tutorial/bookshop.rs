//! The tutorial's upstream: a small bookshop API on 127.0.0.1, served by
//! hmt's own library (`hmt::MockServer` with stubs that keep a shelf), so
//! the tutorial needs nothing installed and no network.
//!
//! `GET /books`, `GET /books/{id}` (404 for a book it does not have) and
//! `POST /books` with `{"title": ..., "author": ..., "year": ...}` (201,
//! or 400 naming what is missing).

use hmt::matchers::{method, path, path_template};
use hmt::{MockServer, Reply, Request, Stub};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The books on the shelf when the bookshop opens.
fn first_books() -> Vec<Value> {
    vec![
        json!({"id": 1, "title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin", "year": 1969}),
        json!({"id": 2, "title": "Kindred", "author": "Octavia E. Butler", "year": 1979}),
        json!({"id": 3, "title": "Solaris", "author": "Stanisław Lem", "year": 1961}),
    ]
}

/// Opens the bookshop on a free port of 127.0.0.1; it closes when dropped.
pub(super) fn open() -> anyhow::Result<MockServer> {
    let shelf = Arc::new(Mutex::new(first_books()));
    let server = MockServer::builder().start_blocking()?;
    let books = shelf.clone();
    server.register(
        Stub::given(method("GET"))
            .and(path("/books"))
            .respond_with(move |_: &Request| Reply::new(200).json(&Value::Array(lock(&books)))),
    );
    let books = shelf.clone();
    server.register(
        Stub::given(method("GET"))
            .and(path_template("/books/{id}"))
            .respond_with(move |request: &Request| {
                let id = request.path.rsplit('/').next().unwrap_or_default();
                let number: Option<u64> = id.parse().ok();
                match lock(&books)
                    .into_iter()
                    .find(|book| number.is_some() && book["id"].as_u64() == number)
                {
                    Some(book) => Reply::new(200).json(&book),
                    None => Reply::new(404).json(&json!({"error": format!("no book {id}")})),
                }
            }),
    );
    server.register(
        Stub::given(method("POST"))
            .and(path("/books"))
            .respond_with(move |request: &Request| add(&shelf, &request.body)),
    );
    Ok(server)
}

/// `POST /books`: a new book with the next id, or 400 saying what is wrong.
fn add(shelf: &Mutex<Vec<Value>>, body: &str) -> Reply {
    let Ok(Value::Object(mut book)) = serde_json::from_str::<Value>(body) else {
        return Reply::new(400).json(&json!({"error": "the body is not a JSON object"}));
    };
    for field in ["title", "author"] {
        if !book.get(field).is_some_and(Value::is_string) {
            return Reply::new(400)
                .json(&json!({"error": format!("{field} (a string) is missing")}));
        }
    }
    let mut books = hmt_types::sync::lock(shelf);
    let id = books.len() + 1;
    book.insert("id".into(), json!(id));
    let book = Value::Object(book);
    books.push(book.clone());
    Reply::new(201)
        .with_header("location", &format!("/books/{id}"))
        .json(&book)
}

/// The shelf as it is now (a poisoned lock still holds the books).
fn lock(shelf: &Mutex<Vec<Value>>) -> Vec<Value> {
    hmt_types::sync::lock(shelf).clone()
}
