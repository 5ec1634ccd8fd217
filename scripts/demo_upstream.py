#!/usr/bin/env python3
"""A small real HTTP API for `make demo` to record: a bookshop.

    python3 scripts/demo_upstream.py PORT

Standard library only. Serves JSON on /api/v1/books, /api/v1/books/{id},
/api/v1/books/{id}/reviews, /api/v1/authors/{id}, POST /api/v1/orders,
a text /health, and problem+json 404s; gzip when the client asks for it.
"""

import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

AUTHORS = {
    1: {"id": 1, "name": "Ursula K. Le Guin", "born": "1929-10-21"},
    2: {"id": 2, "name": "Terry Pratchett", "born": "1948-04-28"},
    3: {"id": 3, "name": "Octavia E. Butler", "born": "1947-06-22"},
}
BOOKS = {
    101: {"id": 101, "title": "A Wizard of Earthsea", "authorId": 1, "price": 9.99,
          "genre": "fantasy", "published": "1968-11-01", "isbn": "978-0547773742", "series": "Earthsea"},
    102: {"id": 102, "title": "The Dispossessed", "authorId": 1, "price": 11.5,
          "genre": "science-fiction", "published": "1974-05-01", "isbn": "978-0061054884", "series": None},
    103: {"id": 103, "title": "Guards! Guards!", "authorId": 2, "price": 8.99,
          "genre": "fantasy", "published": "1989-11-01", "isbn": "978-0062225757", "series": "Discworld"},
    104: {"id": 104, "title": "Small Gods", "authorId": 2, "price": 8.99,
          "genre": "fantasy", "published": "1992-05-01", "isbn": "978-0062237378", "series": "Discworld"},
    105: {"id": 105, "title": "Kindred", "authorId": 3, "price": 12.0,
          "genre": "science-fiction", "published": "1979-06-01", "isbn": "978-0807083697", "series": None},
}
REVIEWS = {
    101: [{"user": "ged@example.org", "stars": 5, "text": "True names matter."}],
    103: [{"user": "vimes@example.org", "stars": 5, "text": "Dragons, in Ankh-Morpork."},
          {"user": "carrot@example.org", "stars": 4, "text": "Very tall dwarf."}],
}


class Handler(BaseHTTPRequestHandler):
    server_version = "bookshop/1.0"

    def log_message(self, *args):  # quiet: the demo prints what matters
        pass

    def send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content-type": content_type, "x-ratelimit-remaining": "99"}
        if "gzip" in self.headers.get("accept-encoding", "") and len(data) > 200:
            data = gzip.compress(data, mtime=0)
            headers["content-encoding"] = "gzip"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self):
        self.send(404, {"title": "Not Found", "status": 404, "detail": f"no resource at {self.path}"},
                  "application/problem+json")

    def do_GET(self):
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        if parts == ["health"]:
            return self.send(200, b"ok", "text/plain")
        if parts[:2] != ["api", "v1"]:
            return self.not_found()
        rest = parts[2:]
        if rest == ["books"]:
            books = list(BOOKS.values())
            if "genre" in query:
                books = [b for b in books if b["genre"] == query["genre"][0]]
            limit = int(query.get("limit", ["10"])[0])
            return self.send(200, {"items": books[:limit], "total": len(books)})
        if len(rest) >= 2 and rest[0] == "books" and rest[1].isdigit():
            book = BOOKS.get(int(rest[1]))
            if book is None:
                return self.not_found()
            if rest[2:] == ["reviews"]:
                return self.send(200, REVIEWS.get(book["id"], []))
            if not rest[2:]:
                return self.send(200, book)
        if len(rest) == 2 and rest[0] == "authors" and rest[1].isdigit():
            author = AUTHORS.get(int(rest[1]))
            return self.send(200, author) if author else self.not_found()
        return self.not_found()

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if urlparse(self.path).path != "/api/v1/orders":
            return self.not_found()
        book = BOOKS.get(body.get("bookId"))
        if book is None:
            return self.send(422, {"title": "Unprocessable", "status": 422, "detail": "unknown bookId"},
                             "application/problem+json")
        quantity = body.get("quantity", 1)
        self.send(201, {"orderId": f"ord_{book['id']}{quantity:03d}", "bookId": book["id"],
                        "quantity": quantity, "total": round(book["price"] * quantity, 2),
                        "status": "pending"})


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
