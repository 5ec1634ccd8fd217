#!/usr/bin/env python3
"""Generate deterministic, realistic http-types JSONL recordings for benchmarks and tests.

The traffic is that of an imaginary shop API on one host, https://api.shop.example,
with about 25 endpoints: users, orders, products, auth, search, reports (text/csv),
images (binary, base64 with meta.responseBodyEncoding), a health check (text/plain),
an id-keyed analytics map, and a sprinkling of 400/401/404/409/500 problem responses.

    python3 scripts/gen_recordings.py --size-mb 250 --out bench-data/rec-250.jsonl
    python3 scripts/gen_recordings.py --lines 100 --out -

Output depends only on --seed: the same seed gives the same bytes, and a smaller
--size-mb/--lines run is a prefix of a larger one. Sizes are MiB (2**20 bytes); the
file stops at the first line that makes it reach the size. Every line is ASCII
(json.dumps escapes non-ASCII), so len(line) is its byte length.

Speed: Python spends most of its time building dicts, so entities (users, products,
orders...) are generated once into pools, each kept both as a dict and pre-serialised;
responses are mostly assembled from the pre-serialised strings. ~250 MB takes well
under a minute on one core.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
from urllib.parse import quote, quote_plus

HOST = "api.shop.example"
BASE_URL = f"https://{HOST}"
DEFAULT_SEED = 20240501
START_EPOCH = 1714521600  # 2024-05-01T00:00:00Z

_dumps = json.JSONEncoder(separators=(",", ":")).encode  # == json.dumps(o, separators=(",",":"))

# --------------------------------------------------------------------------- vocab

FIRST_NAMES = [
    "Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
    "Zoë", "José", "Łukasz", "Søren", "Amélie", "Björn", "Chloé", "Dmitri", "Aiko", "Priya",
    "Mateo", "Fatima", "Kwame", "Ngozi", "Yusuf", "Ingrid", "Mei", "Ravi", "Sven", "Ana",
]
LAST_NAMES = [
    "Smith", "Johnson", "Müller", "García", "Kowalski", "Nakamura", "Okafor", "Rossi",
    "Dubois", "Andersson", "Novak", "Silva", "O'Brien", "Van der Berg", "Kim", "Patel",
    "Nguyen", "Hernández", "Schmidt", "Jensen", "Ivanova", "Haddad", "Cohen", "Tanaka",
]
EMAIL_DOMAINS = ["example.com", "mail.example.org", "shop-customers.example", "corp.example.net"]
CITIES = [
    ("Berlin", "DE"), ("Paris", "FR"), ("Helsinki", "FI"), ("Madrid", "ES"), ("Kraków", "PL"),
    ("Tokyo", "JP"), ("Austin", "US"), ("Toronto", "CA"), ("Lagos", "NG"), ("São Paulo", "BR"),
    ("Oslo", "NO"), ("Melbourne", "AU"),
]
STREETS = ["Main St", "Hauptstraße", "Rue de Rivoli", "Mannerheimintie", "Calle Mayor", "Oak Avenue", "Market Street"]
CATEGORIES = ["books", "electronics", "garden", "toys", "kitchen", "sports", "fashion", "beauty", "grocery"]
PRODUCT_TAGS = ["new", "sale", "eco", "bestseller", "limited", "gift", "premium", "refurbished", "bundle", "clearance"]
ADJECTIVES = ["Classic", "Smart", "Organic", "Ultra", "Compact", "Deluxe", "Vintage", "Wireless", "Ergonomic", "Handmade"]
NOUNS = ["Lamp", "Kettle", "Backpack", "Headphones", "Notebook", "Sneakers", "Blender", "Drone", "Chair", "Mug", "Tent", "Watch"]
COLORS = ["red", "green", "blue", "black", "white", "teal", "orange", None]
SIZES = ["XS", "S", "M", "L", "XL"]
CURRENCIES = ["EUR", "USD", "GBP", "JPY"]
LANGUAGES = ["en", "de", "fr", "fi", "es", "ja", "pt-BR"]
ROLES = ["customer", "customer", "customer", "admin", "support"]
ORDER_STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
PAYMENT_METHODS = ["card", "paypal", "klarna", "bank_transfer", "apple_pay"]
REFUND_REASONS = ["damaged", "not_as_described", "late_delivery", "changed_mind", "other"]
WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua quality durable lightweight stylish perfect everyday "
    "gift comfortable reliable fast shipping great value recommended would buy again"
).split()
SEARCH_TERMS = [
    "red lamp", "wireless headphones", "mug", "camping tent 2 person", "café", "kids toys",
    "organic tea", "usb-c cable", "running shoes size 42", "notebook a5", "gift for dad",
    "drone with camera", "chair", "ergonomic & adjustable", "\u00fcber cool", "50% off",
]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "ShopApp/5.12.0 (iPhone; iOS 17.4.1; Scale/3.00)",
    "ShopApp/5.11.2 (Android 14; Pixel 8)",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
    "curl/8.7.1",
]
PROBLEM_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict",
    422: "Unprocessable Entity", 500: "Internal Server Error",
}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


# --------------------------------------------------------------------------- time


def _civil_from_days(z: int) -> tuple[int, int, int]:
    """Days since 1970-01-01 -> (year, month, day); Howard Hinnant's algorithm."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (m <= 2), m, d)


class Clock:
    """Formats epoch milliseconds as ISO 8601 (…Z) and RFC 7231 dates, caching per day.

    datetime/email.utils are several times slower than this and formatting two
    timestamps and a Date header per exchange is on the hot path.
    """

    def __init__(self) -> None:
        self._days: dict[int, tuple[str, str]] = {}

    def _day(self, day: int) -> tuple[str, str]:
        cached = self._days.get(day)
        if cached is None:
            y, m, d = _civil_from_days(day)
            cached = (f"{y:04d}-{m:02d}-{d:02d}", f"{WEEKDAYS[(day + 3) % 7]}, {d:02d} {MONTHS[m - 1]} {y:04d}")
            self._days[day] = cached
        return cached

    def iso_ms(self, ms: int) -> str:
        s, milli = divmod(ms, 1000)
        day, sod = divmod(s, 86400)
        h, rem = divmod(sod, 3600)
        mi, se = divmod(rem, 60)
        return f"{self._day(day)[0]}T{h:02d}:{mi:02d}:{se:02d}.{milli:03d}Z"

    def iso_s(self, s: int) -> str:
        day, sod = divmod(s, 86400)
        h, rem = divmod(sod, 3600)
        mi, se = divmod(rem, 60)
        return f"{self._day(day)[0]}T{h:02d}:{mi:02d}:{se:02d}Z"

    def http_date(self, ms: int) -> str:
        s = ms // 1000
        day, sod = divmod(s, 86400)
        h, rem = divmod(sod, 3600)
        mi, se = divmod(rem, 60)
        return f"{self._day(day)[1]} {h:02d}:{mi:02d}:{se:02d} GMT"

    def date(self, day: int) -> str:
        return self._day(day)[0]


# --------------------------------------------------------------------------- generator


class ShopTraffic:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.now_ms = START_EPOCH * 1000
        self._build_pools()
        self._build_endpoints()

    # ---------------------------------------------------------------- primitives

    def uuid(self) -> str:
        h = "%032x" % self.rng.getrandbits(128)
        # Set version 4 and the RFC 4122 variant so strict uuid checks accept it.
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def hexid(self, n: int) -> str:
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def b62(self, n: int) -> str:
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        return "".join(self.rng.choices(alphabet, k=n))

    def past_iso(self, max_days: int = 900) -> str:
        return self.clock.iso_s(START_EPOCH - self.rng.randrange(max_days * 86400))

    def sentence(self, lo: int, hi: int) -> str:
        s = " ".join(self.rng.choices(WORDS, k=self.rng.randint(lo, hi)))
        return s[0].upper() + s[1:] + "."

    def price(self) -> float:
        return round(self.rng.lognormvariate(3.2, 0.9), 2)

    # ---------------------------------------------------------------- pools

    def _address(self) -> dict:
        city, country = self.rng.choice(CITIES)
        addr = {
            "line1": f"{self.rng.randint(1, 250)} {self.rng.choice(STREETS)}",
            "line2": self.rng.choice([None, None, None, f"Apt {self.rng.randint(1, 80)}"]),
            "city": city,
            "postalCode": f"{self.rng.randint(1000, 99999):05d}",
            "country": country,
        }
        if self.rng.random() < 0.3:
            addr["geo"] = {"lat": round(self.rng.uniform(-60, 70), 6), "lng": round(self.rng.uniform(-170, 170), 6)}
        return addr

    def _user(self, uid: int) -> dict:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        # Keep e-mails ASCII so they are valid plain addresses.
        local = local.encode("ascii", "ignore").decode() or "user"
        user = {
            "id": uid,
            "email": f"{local}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}",
            "name": f"{first} {last}",
            "role": rng.choice(ROLES),
            "createdAt": self.past_iso(),
            "updatedAt": rng.choice([None, self.past_iso(120)]),
            "emailVerified": rng.random() < 0.85,
            "phone": rng.choice([None, f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}"]),
            "address": rng.choice([None, self._address(), self._address()]),
            "preferences": {
                "newsletter": rng.random() < 0.4,
                "currency": rng.choice(CURRENCIES),
                "language": rng.choice(LANGUAGES),
            },
            "loyaltyPoints": rng.randrange(0, 20000),
            "tags": rng.sample(["vip", "wholesale", "beta", "fraud-check", "b2b", "newsletter"], rng.randint(0, 3)),
        }
        if rng.random() < 0.2:  # optional field: present on some records only
            user["avatarUrl"] = f"{BASE_URL}/v1/images/{self.hexid(24)}"
        return user

    def _product(self) -> dict:
        rng = self.rng
        sku = "prd_" + self.b62(8)
        attrs: dict = {"color": rng.choice(COLORS)}
        if rng.random() < 0.5:
            attrs["size"] = rng.choice(SIZES)
        if rng.random() < 0.3:
            attrs["weightKg"] = round(rng.uniform(0.05, 25), 3)
        return {
            "sku": sku,
            "name": f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}",
            "description": self.sentence(6, 40),
            "category": rng.choice(CATEGORIES),
            "price": self.price(),
            "currency": rng.choice(CURRENCIES[:3]),
            "stock": rng.randrange(0, 500),
            "active": rng.random() < 0.93,
            "rating": rng.choice([None, round(rng.uniform(1, 5), 1), round(rng.uniform(3, 5), 1)]),
            "reviewCount": rng.randrange(0, 3000),
            "tags": rng.sample(PRODUCT_TAGS, rng.randint(0, 4)),
            "images": [f"{BASE_URL}/v1/images/{self.hexid(24)}" for _ in range(rng.randint(0, 5))],
            "attributes": attrs,
            "createdAt": self.past_iso(),
        }

    def _order_item(self) -> dict:
        p = self.rng.choice(self.products)
        return {
            "sku": p["sku"],
            "name": p["name"],
            "quantity": self.rng.randint(1, 5),
            "unitPrice": p["price"],
            "discount": self.rng.choice([None, None, None, round(p["price"] * 0.1, 2)]),
        }

    def _order(self) -> dict:
        rng = self.rng
        items = [self._order_item() for _ in range(rng.choice([1, 1, 2, 3, 4, 6, 10]))]
        status = rng.choice(ORDER_STATUSES)
        created = START_EPOCH - rng.randrange(400 * 86400)
        total = round(sum(i["quantity"] * i["unitPrice"] for i in items), 2)
        return {
            "id": self.uuid(),
            "userId": rng.choice(self.users)["id"],
            "status": status,
            "items": items,
            "subtotal": total,
            "shipping": rng.choice([0.0, 4.99, 9.9]),
            "total": round(total + 4.99, 2),
            "currency": rng.choice(CURRENCIES[:3]),
            "payment": None if status == "pending" else {
                "method": rng.choice(PAYMENT_METHODS),
                "transactionId": "txn_" + self.b62(16),
                "capturedAt": self.clock.iso_s(created + rng.randrange(3600)),
            },
            "shippingAddress": self._address(),
            "createdAt": self.clock.iso_s(created),
            "shippedAt": self.clock.iso_s(created + 86400 + rng.randrange(200000)) if status in ("shipped", "delivered") else None,
            "notes": rng.choice([None, None, None, self.sentence(3, 12)]),
            "couponCode": rng.choice([None, None, "SPRING24", "WELCOME10"]),
        }

    def _review(self) -> dict:
        rng = self.rng
        u = rng.choice(self.users)
        return {
            "id": rng.randrange(1, 10**7),
            "author": {"id": u["id"], "name": u["name"]},
            "rating": rng.randint(1, 5),
            "title": self.sentence(2, 6),
            "body": rng.choice([None, self.sentence(5, 60)]),
            "verifiedPurchase": rng.random() < 0.7,
            "createdAt": self.past_iso(300),
        }

    def _build_pools(self) -> None:
        rng = self.rng
        ids = rng.sample(range(1, 5_000_000), 6000)
        self.users = [self._user(i) for i in ids]
        self.users_s = [_dumps(u) for u in self.users]
        self.products = [self._product() for _ in range(3000)]
        self.products_s = [_dumps(p) for p in self.products]
        self.orders = [self._order() for _ in range(8000)]
        self.orders_s = [_dumps(o) for o in self.orders]
        self.orders_by_user: dict[int, list[int]] = {}
        for idx, o in enumerate(self.orders):
            self.orders_by_user.setdefault(o["userId"], []).append(idx)
        self.reviews_s = [_dumps(self._review()) for _ in range(3000)]
        self.tokens = [
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + self.b62(rng.randint(60, 120)) + "." + self.b62(43)
            for _ in range(300)
        ]
        self.api_keys = ["sk_live_" + self.b62(24) for _ in range(12)]
        self.session_cookies = ["sid=" + self.b62(32) for _ in range(200)]
        self.search_terms = [(t, quote_plus(t)) for t in SEARCH_TERMS]
        # Binary images: a PNG signature (not UTF-8: 0x89) followed by random bytes.
        self.images = []
        for _ in range(60):
            raw = b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(200, 3000))
            self.images.append((self.hexid(24), base64.b64encode(raw).decode("ascii"), len(raw)))
        # CSV rows for the reports endpoint.
        self.csv_rows = [
            f"{o['id']},{o['userId']},{o['status']},{o['total']:.2f},{o['currency']},{o['createdAt']}"
            for o in self.orders[:2000]
        ]

    # ---------------------------------------------------------------- helpers for responses

    def problem(self, status: int, instance: str, detail: str | None = None, errors: list | None = None) -> tuple:
        body = {
            "type": f"{BASE_URL}/problems/{PROBLEM_TITLES[status].lower().replace(' ', '-')}",
            "title": PROBLEM_TITLES[status],
            "status": status,
            "detail": detail,
            "instance": instance,
            "traceId": self.hexid(32),
        }
        if errors is not None:
            body["errors"] = errors
        return status, "application/problem+json", _dumps(body)

    def page_envelope(self, items: list[str], page: int, limit: int, total: int, path: str) -> str:
        has_next = page * limit < total
        nxt = f'"{BASE_URL}{path}?page={page + 1}&limit={limit}"' if has_next else "null"
        return (
            f'{{"data":[{",".join(items)}],"page":{page},"limit":{limit},'
            f'"total":{total},"next":{nxt}}}'
        )

    def pick_user(self) -> tuple[int, dict]:
        i = self.rng.randrange(len(self.users))
        return i, self.users[i]

    def missing_int_id(self) -> int:
        return self.rng.randrange(5_000_000, 9_999_999)

    # Every endpoint returns: (method, pathname, query pairs, request body or None,
    # request content-type or None, status, response content-type or None,
    # response body or None, extra response headers or None, meta or None).

    def ep_list_users(self):
        rng = self.rng
        page, limit = rng.randint(1, 40), rng.choice([10, 20, 30])
        n = rng.choice([limit, limit, rng.randint(0, limit)])
        q = [("page", str(page)), ("limit", str(limit))]
        if rng.random() < 0.2:
            q.append(("role", rng.choice(ROLES)))
        body = self.page_envelope(rng.sample(self.users_s, n), page, limit, 6000, "/v1/users")
        return "get", "/v1/users", q, None, None, 200, "application/json; charset=utf-8", body, None, None

    def ep_create_user(self):
        rng = self.rng
        _, u = self.pick_user()
        req = {"email": u["email"], "name": u["name"], "password": self.b62(14),
               "preferences": u["preferences"], "address": u["address"]}
        if rng.random() < 0.08:
            req.pop("email")
            st, ct, body = self.problem(400, "/v1/users", "Validation failed",
                                        [{"field": "email", "message": "is required"}])
            return "post", "/v1/users", [], _dumps(req), "application/json", st, ct, body, None, None
        new = dict(u, id=rng.randrange(5_000_000, 9_999_999), createdAt=self.clock.iso_ms(self.now_ms), updatedAt=None)
        extra = {"location": f"{BASE_URL}/v1/users/{new['id']}"}
        return "post", "/v1/users", [], _dumps(req), "application/json", 201, "application/json; charset=utf-8", _dumps(new), extra, None

    def ep_get_user(self):
        if self.rng.random() < 0.06:
            uid = self.missing_int_id()
            st, ct, body = self.problem(404, f"/v1/users/{uid}", f"User {uid} does not exist")
            return "get", f"/v1/users/{uid}", [], None, None, st, ct, body, None, None
        i, u = self.pick_user()
        return "get", f"/v1/users/{u['id']}", [], None, None, 200, "application/json; charset=utf-8", self.users_s[i], None, None

    def ep_me(self):
        i, _ = self.pick_user()
        return "get", "/v1/me", [], None, None, 200, "application/json; charset=utf-8", self.users_s[i], None, None

    def ep_update_user(self):
        rng = self.rng
        _, u = self.pick_user()
        if rng.random() < 0.5:
            method, req = "put", {k: u[k] for k in ("email", "name", "phone", "address", "preferences")}
        else:
            method = "patch"
            req = rng.choice([{"name": u["name"]}, {"phone": None}, {"preferences": {"newsletter": rng.random() < 0.5}},
                              {"address": self._address()}])
        new = dict(u, **{k: v for k, v in req.items() if k != "preferences"}, updatedAt=self.clock.iso_ms(self.now_ms))
        return method, f"/v1/users/{u['id']}", [], _dumps(req), "application/json", 200, "application/json; charset=utf-8", _dumps(new), None, None

    def ep_delete_user(self):
        _, u = self.pick_user()
        return "delete", f"/v1/users/{u['id']}", [], None, None, 204, None, None, None, None

    def ep_user_orders(self):
        rng = self.rng
        _, u = self.pick_user()
        idxs = self.orders_by_user.get(u["id"], [])
        q = []
        if rng.random() < 0.3:
            q.append(("status", rng.choice(ORDER_STATUSES)))
        body = "[" + ",".join(self.orders_s[i] for i in idxs[:30]) + "]"
        return "get", f"/v1/users/{u['id']}/orders", q, None, None, 200, "application/json; charset=utf-8", body, None, None

    def ep_list_orders(self):
        rng = self.rng
        page, limit = rng.randint(1, 100), rng.choice([5, 10, 20])
        q = [("page", str(page)), ("limit", str(limit))]
        if rng.random() < 0.5:
            q.append(("status", rng.choice(ORDER_STATUSES)))
        if rng.random() < 0.2:
            q.append(("createdAfter", self.past_iso(60)))
        body = self.page_envelope(rng.sample(self.orders_s, rng.randint(0, limit)), page, limit, 8000, "/v1/orders")
        return "get", "/v1/orders", q, None, None, 200, "application/json; charset=utf-8", body, None, None

    def ep_create_order(self):
        rng = self.rng
        _, u = self.pick_user()
        items = [{"sku": rng.choice(self.products)["sku"], "quantity": rng.randint(1, 4)} for _ in range(rng.randint(1, 6))]
        req = {"userId": u["id"], "items": items, "shippingAddress": u["address"] or self._address(),
               "couponCode": rng.choice([None, "SPRING24"]), "paymentMethod": rng.choice(PAYMENT_METHODS)}
        if rng.random() < 0.05:
            st, ct, body = self.problem(422, "/v1/orders", "Insufficient stock",
                                        [{"field": "items[0].quantity", "message": "only 0 left"}])
            return "post", "/v1/orders", [], _dumps(req), "application/json", st, ct, body, None, None
        o = dict(rng.choice(self.orders), id=self.uuid(), userId=u["id"], status="pending", payment=None,
                 createdAt=self.clock.iso_ms(self.now_ms), shippedAt=None)
        extra = {"location": f"{BASE_URL}/v1/orders/{o['id']}"}
        return "post", "/v1/orders", [], _dumps(req), "application/json", 201, "application/json; charset=utf-8", _dumps(o), extra, None

    def ep_get_order(self):
        if self.rng.random() < 0.05:
            oid = self.uuid()
            st, ct, body = self.problem(404, f"/v1/orders/{oid}", "Order not found")
            return "get", f"/v1/orders/{oid}", [], None, None, st, ct, body, None, None
        i = self.rng.randrange(len(self.orders))
        oid = self.orders[i]["id"]
        return "get", f"/v1/orders/{oid}", [], None, None, 200, "application/json; charset=utf-8", self.orders_s[i], None, None

    def ep_refund_order(self):
        rng = self.rng
        o = rng.choice(self.orders)
        path = f"/v1/orders/{o['id']}/refund"
        amount = round(o["total"] * rng.choice([1, 1, 0.5, 0.25]), 2)
        req = {"amount": amount, "reason": rng.choice(REFUND_REASONS), "comment": rng.choice([None, self.sentence(3, 15)])}
        if rng.random() < 0.15:
            req["amount"] = round(o["total"] * 2, 2)
            st, ct, body = self.problem(400, path, "Refund amount exceeds order total",
                                        [{"field": "amount", "message": f"must be <= {o['total']}"}])
            return "post", path, [], _dumps(req), "application/json", st, ct, body, None, None
        res = {"id": "re_" + self.b62(14), "orderId": o["id"], "amount": amount, "currency": o["currency"],
               "reason": req["reason"], "status": rng.choice(["pending", "succeeded"]),
               "createdAt": self.clock.iso_ms(self.now_ms)}
        return "post", path, [], _dumps(req), "application/json", 200, "application/json; charset=utf-8", _dumps(res), None, None

    def ep_cancel_order(self):
        rng = self.rng
        i = rng.randrange(len(self.orders))
        o = self.orders[i]
        path = f"/v1/orders/{o['id']}/cancel"
        req = _dumps({"reason": rng.choice(["customer_request", "fraud", "out_of_stock"])}) if rng.random() < 0.6 else None
        req_ct = "application/json" if req else None
        if o["status"] in ("shipped", "delivered"):
            st, ct, body = self.problem(409, path, f"Order is already {o['status']}")
            return "post", path, [], req, req_ct, st, ct, body, None, None
        body = _dumps(dict(o, status="cancelled"))
        return "post", path, [], req, req_ct, 200, "application/json; charset=utf-8", body, None, None

    def ep_list_products(self):
        rng = self.rng
        page, limit = rng.randint(1, 30), rng.choice([12, 24])
        q = [("category", rng.choice(CATEGORIES)), ("page", str(page))]
        if rng.random() < 0.4:
            q.append(("limit", str(limit)))
        if rng.random() < 0.35:  # repeated query parameter
            q.extend(("tag", t) for t in rng.sample(PRODUCT_TAGS, rng.randint(1, 3)))
        if rng.random() < 0.2:
            q.append(("sort", rng.choice(["price", "-price", "rating", "-createdAt"])))
        body = self.page_envelope(rng.sample(self.products_s, rng.randint(0, limit)), page, limit, 3000, "/v1/products")
        return "get", "/v1/products", q, None, None, 200, "application/json; charset=utf-8", body, None, None

    def ep_get_product(self):
        if self.rng.random() < 0.04:
            sku = "prd_" + self.b62(8)
            st, ct, body = self.problem(404, f"/v1/products/{sku}", "No such product")
            return "get", f"/v1/products/{sku}", [], None, None, st, ct, body, None, None
        i = self.rng.randrange(len(self.products))
        sku = self.products[i]["sku"]
        return "get", f"/v1/products/{sku}", [], None, None, 200, "application/json; charset=utf-8", self.products_s[i], None, None

    def ep_patch_product(self):
        rng = self.rng
        p = rng.choice(self.products)
        req = rng.choice([{"price": self.price()}, {"stock": rng.randrange(0, 500)}, {"active": False},
                          {"price": self.price(), "tags": rng.sample(PRODUCT_TAGS, 2)}])
        body = _dumps(dict(p, **req))
        return "patch", f"/v1/products/{p['sku']}", [], _dumps(req), "application/json", 200, "application/json; charset=utf-8", body, None, None

    def ep_product_reviews(self):
        rng = self.rng
        p = rng.choice(self.products)
        q = [("page", str(rng.randint(1, 5)))] if rng.random() < 0.5 else []
        body = "[" + ",".join(rng.sample(self.reviews_s, rng.randint(0, 15))) + "]"
        return "get", f"/v1/products/{p['sku']}/reviews", q, None, None, 200, "application/json; charset=utf-8", body, None, None

    def ep_categories(self):
        body = _dumps([{"slug": c, "name": c.title(), "productCount": self.rng.randrange(10, 900)} for c in CATEGORIES])
        return "get", "/v1/categories", [], None, None, 200, "application/json; charset=utf-8", body, {"cache-control": "public, max-age=3600"}, None

    def ep_login(self):
        rng = self.rng
        _, u = self.pick_user()
        form = f"username={quote(u['email'], safe='')}&password={self.b62(12)}&grant_type=password"
        ct_form = "application/x-www-form-urlencoded"
        if rng.random() < 0.1:
            st, ct, body = self.problem(401, "/v1/auth/login", "Invalid credentials")
            return "post", "/v1/auth/login", [], form, ct_form, st, ct, body, None, None
        res = {"accessToken": rng.choice(self.tokens), "refreshToken": "rt_" + self.b62(40),
               "tokenType": "Bearer", "expiresIn": 3600, "scope": "read write",
               "user": {"id": u["id"], "email": u["email"], "name": u["name"]}}
        sid = rng.choice(self.session_cookies)
        cookies = [f"{sid}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=86400",
                   f"csrf={self.b62(20)}; Path=/; Secure; SameSite=Strict"]
        extra = {"set-cookie": cookies, "cache-control": "no-store"}  # array-valued header
        return "post", "/v1/auth/login", [], form, ct_form, 200, "application/json; charset=utf-8", _dumps(res), extra, None

    def ep_refresh(self):
        req = _dumps({"refreshToken": "rt_" + self.b62(40)})
        res = _dumps({"accessToken": self.rng.choice(self.tokens), "tokenType": "Bearer", "expiresIn": 3600})
        return "post", "/v1/auth/refresh", [], req, "application/json", 200, "application/json; charset=utf-8", res, {"cache-control": "no-store"}, None

    def ep_logout(self):
        extra = {"set-cookie": "sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}
        return "post", "/v1/auth/logout", [], None, None, 204, None, None, extra, None

    def ep_search(self):
        rng = self.rng
        term, _ = rng.choice(self.search_terms)
        q = [("q", term)]
        if rng.random() < 0.5:
            q.append(("limit", str(rng.choice([10, 25]))))
        if rng.random() < 0.1:
            q = [("q", "")]
            st, ct, body = self.problem(400, "/v1/search", "Query parameter q must not be empty",
                                        [{"field": "q", "message": "must not be empty"}])
            return "get", "/v1/search", q, None, None, st, ct, body, None, None
        results = []
        for _ in range(rng.randint(0, 20)):
            if rng.random() < 0.8:
                p = rng.choice(self.products)
                results.append({"type": "product", "id": p["sku"], "title": p["name"], "score": round(rng.random(), 4),
                                "highlight": rng.choice([None, f"<em>{term}</em> {p['name']}"])})
            else:
                u = rng.choice(self.users)
                results.append({"type": "user", "id": str(u["id"]), "title": u["name"], "score": round(rng.random(), 4),
                                "highlight": None})
        body = _dumps({"query": term, "tookMs": rng.randint(2, 300), "total": len(results), "results": results})
        return "get", "/v1/search", q, None, None, 200, "application/json; charset=utf-8", body, None, None

    def ep_health(self):
        return "get", "/health", [], None, None, 200, "text/plain; charset=utf-8", "ok", {"cache-control": "no-cache"}, None

    def ep_report(self):
        rng = self.rng
        day = START_EPOCH // 86400 - rng.randrange(365)
        date = self.clock.date(day)
        start = rng.randrange(len(self.csv_rows) - 60)
        rows = self.csv_rows[start:start + rng.randint(0, 60)]
        body = "orderId,userId,status,total,currency,createdAt\r\n" + "".join(r + "\r\n" for r in rows)
        extra = {"content-disposition": f'attachment; filename="orders-{date}.csv"'}
        return "get", f"/v1/reports/{date}.csv", [], None, None, 200, "text/csv; charset=utf-8", body, extra, None

    def ep_image(self):
        name, b64, size = self.rng.choice(self.images)
        extra = {"cache-control": "public, max-age=31536000, immutable", "content-length": str(size)}
        return "get", f"/v1/images/{name}", [], None, None, 200, "image/png", b64, extra, {"responseBodyEncoding": "base64"}

    def ep_analytics(self):
        rng = self.rng
        # Id-keyed map: keys are identifiers, not property names.
        customers = {}
        for u in rng.sample(self.users, rng.randint(1, 25)):
            customers[f"u_{u['id']}"] = {
                "orders": rng.randrange(0, 80),
                "spent": round(rng.uniform(0, 5000), 2),
                "lastSeen": rng.choice([None, self.past_iso(30)]),
                "segment": rng.choice(["new", "returning", "vip", "churn-risk"]),
            }
        body = _dumps({"generatedAt": self.clock.iso_ms(self.now_ms), "period": rng.choice(["7d", "30d", "90d"]),
                       "customers": customers})
        q = [("period", "30d")] if rng.random() < 0.5 else []
        return "get", "/v1/analytics/customers", q, None, None, 200, "application/json; charset=utf-8", body, None, None

    # ---------------------------------------------------------------- mix

    def _build_endpoints(self) -> None:
        weighted = [
            (self.ep_list_users, 5), (self.ep_create_user, 2), (self.ep_get_user, 10), (self.ep_me, 4),
            (self.ep_update_user, 3), (self.ep_delete_user, 1), (self.ep_user_orders, 4),
            (self.ep_list_orders, 4), (self.ep_create_order, 3), (self.ep_get_order, 9),
            (self.ep_refund_order, 2), (self.ep_cancel_order, 2), (self.ep_list_products, 8),
            (self.ep_get_product, 12), (self.ep_patch_product, 2), (self.ep_product_reviews, 4),
            (self.ep_categories, 2), (self.ep_login, 3), (self.ep_refresh, 1), (self.ep_logout, 1),
            (self.ep_search, 6), (self.ep_health, 5), (self.ep_report, 1), (self.ep_image, 3),
            (self.ep_analytics, 1),
        ]
        self.endpoints = [f for f, _ in weighted]
        acc, self.cum_weights = 0, []
        for _, w in weighted:
            acc += w
            self.cum_weights.append(acc)
        self.no_auth = {self.ep_health, self.ep_login, self.ep_refresh}

    def exchange(self) -> dict:
        rng = self.rng
        self.now_ms += rng.randrange(1, 400)
        ep = rng.choices(self.endpoints, cum_weights=self.cum_weights)[0]
        method, pathname, query, req_body, req_ct, status, res_ct, res_body, extra, meta = ep()

        # Any endpoint can fail with a server error now and then.
        if rng.random() < 0.004 and ep is not self.ep_health:
            if rng.random() < 0.7:
                status, res_ct, res_body = self.problem(500, pathname, None)
            else:  # the gateway answers, not the app: HTML, not JSON
                status, res_ct = 502, "text/html"
                res_body = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
            extra, meta = None, None

        req_headers = {
            "host": HOST,
            "user-agent": rng.choice(USER_AGENTS),
            "accept": "application/json" if res_ct is None or "json" in res_ct else "*/*",
            "accept-encoding": "gzip, deflate, br",
        }
        if ep not in self.no_auth and rng.random() < 0.92:
            req_headers["authorization"] = "Bearer " + rng.choice(self.tokens)
        if rng.random() < 0.3:
            req_headers["x-api-key"] = rng.choice(self.api_keys)
        if rng.random() < 0.15:
            req_headers["cookie"] = rng.choice(self.session_cookies)
        if rng.random() < 0.4:
            req_headers["x-request-id"] = self.uuid()
        if req_body is not None:
            req_headers["content-type"] = req_ct
            req_headers["content-length"] = str(len(req_body.encode()))

        request: dict = {"method": method, "protocol": "https", "host": HOST}
        if query:
            qs: dict = {}
            for k, v in query:
                prev = qs.get(k)
                qs[k] = v if prev is None else (prev + [v] if isinstance(prev, list) else [prev, v])
            request["path"] = pathname + "?" + "&".join(f"{k}={quote_plus(v)}" for k, v in query)
            request["query"] = qs
        else:
            request["path"] = pathname
            request["query"] = {}
        request["pathname"] = pathname
        request["headers"] = req_headers
        if req_body is not None:
            request["body"] = req_body
        request["timestamp"] = self.clock.iso_ms(self.now_ms)

        latency = int(rng.lognormvariate(3.5, 0.8)) + 1
        res_headers = {"date": self.clock.http_date(self.now_ms + latency), "server": "shop-api/2.14.3"}
        if res_ct is not None:
            res_headers["content-type"] = res_ct
        if res_body is not None and meta is None:
            res_headers["content-length"] = str(len(res_body.encode()))
        if status < 300 and method == "get" and res_body is not None:
            res_headers["etag"] = f'W/"{self.hexid(16)}"'
        res_headers["x-request-id"] = req_headers.get("x-request-id") or self.uuid()
        if "x-api-key" in req_headers:
            res_headers["x-ratelimit-limit"] = "1000"
            res_headers["x-ratelimit-remaining"] = str(rng.randrange(1000))
        res_headers["vary"] = "Accept-Encoding, Authorization"
        if extra:
            res_headers.update(extra)
        response: dict = {"statusCode": status, "headers": res_headers}
        if res_body is not None:
            response["body"] = res_body
        response["timestamp"] = self.clock.iso_ms(self.now_ms + latency)

        ex: dict = {"request": request, "response": response}
        if meta is not None:
            ex["meta"] = meta
        return ex


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--size-mb", type=float, help="stop once the file reaches this many MiB")
    size.add_argument("--lines", type=int, help="write exactly this many exchanges")
    ap.add_argument("--out", required=True, help="output file, or - for stdout")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    args = ap.parse_args(argv)

    limit_bytes = int(args.size_mb * 1024 * 1024) if args.size_mb is not None else None
    limit_lines = args.lines

    gen = ShopTraffic(args.seed)

    if args.out == "-":
        out, tmp = sys.stdout, None
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        # Write to a temporary name and rename at the end, so an interrupted run never
        # leaves a truncated file that looks finished (bench-build.sh skips existing files).
        tmp = f"{args.out}.tmp{os.getpid()}"
        out = open(tmp, "w", encoding="ascii", buffering=1 << 20)

    written = lines = 0
    batch: list[str] = []
    try:
        while True:
            if limit_lines is not None and lines >= limit_lines:
                break
            if limit_bytes is not None and written >= limit_bytes:
                break
            line = _dumps(gen.exchange()) + "\n"
            batch.append(line)
            written += len(line)  # ASCII only, so characters == bytes
            lines += 1
            if len(batch) >= 512:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
        out.flush()
    except BrokenPipeError:  # e.g. `| head`
        return 0
    finally:
        if tmp is not None:
            out.close()
    if tmp is not None:
        os.replace(tmp, args.out)
        print(f"wrote {lines} exchanges, {written / 2**20:.1f} MiB to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
