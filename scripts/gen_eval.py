#!/usr/bin/env python3
"""Generate the path-templating evaluation set for `hmt build`: recordings of four
imaginary APIs that name resources with words, each with its ground truth.

    python3 scripts/gen_eval.py --api github --lines 200 --seed 1 --out day1.jsonl
    python3 scripts/gen_eval.py --api files --truth        # the true operations, as JSON

APIs (`--api`):
  github   orgs, repos, issues, members, users by login, `/user` and `/users/{login}`,
           `/repos/{owner}/{repo}` (two word parameters in a row), `/search/...`.
  shop     products by SKU (`kt-2041-blk`, not an identifier by spelling), category
           slugs, a cart, orders with integer ids, `/auth/login` and `/auth/logout`.
  files    `/buckets/{bucket}/files/{name}` with names such as `report-2024.pdf`.
  reports  `/v1/reports/2024-05-01/summary`, regions named by words, `/v1/reports/latest`.

The ground truth (`--truth`) is a list of {method, template}. Every generated
exchange is one of those operations, and its recorded path routes (literal segments
before parameters) to the template it was generated from; the generator asserts this.

Deterministic: the output depends only on --api, --lines and --seed. Another seed
gives "another day": other names and ids (drawn from large combinatorial pools, so
mostly unseen), other optional fields present or null. Traps that must stay literal
(`/users/me`-like words, `/auth/login` vs `/auth/logout`, sub-resources after a
parameter) are part of the truth.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

START = 1714521600  # 2024-05-01T00:00:00Z

ADJ = ["amber", "brisk", "cobalt", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly",
       "keen", "lucky", "mellow", "nimble", "olive", "proud", "quiet", "rapid", "silent", "tidy",
       "urban", "vivid", "witty", "young", "zesty", "bold", "calm", "daring", "early", "fancy"]
NOUN = ["otter", "falcon", "maple", "harbor", "comet", "lantern", "meadow", "pixel", "river", "summit",
        "tundra", "willow", "beacon", "cedar", "delta", "ember", "fjord", "glacier", "heron", "island",
        "juniper", "kestrel", "lagoon", "mesa", "nebula", "orchid", "prairie", "quartz", "raven", "sierra"]
SUFFIX = ["labs", "works", "systems", "group", "io", "hq", "soft", "tech", "co", "studio"]
PROJECT = ["core-api", "web", "billing", "ledger", "gateway", "docs", "cli", "sdk", "infra", "search-ui",
           "payments", "auth-service", "mobile", "dashboard", "scheduler", "importer", "notifier"]
FIRST = ["ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "edsger",
         "radia", "guido", "yukihiro", "anita", "bjarne", "hedy", "donald", "sophie", "tim", "katherine"]
CATEGORY = ["home-garden", "kitchen", "books", "outdoor", "toys-games", "electronics", "pet-supplies",
            "office", "beauty", "sports", "music", "baby", "tools", "grocery", "automotive", "crafts"]
PRODUCT = ["lamp", "kettle", "tent", "mug", "chair", "drone", "desk", "blender", "scarf", "jacket",
           "pillow", "speaker", "backpack", "watch", "bottle", "boots", "candle", "easel"]
COLOR = ["red", "blk", "wht", "blu", "grn", "tan", "gry", "org"]
FILE_STEM = ["report", "invoice", "logo", "backup", "notes", "budget", "photo", "contract", "slides",
             "readme", "export", "diagram", "minutes", "roadmap", "summary-q", "payroll"]
FILE_EXT = ["pdf", "png", "txt", "csv", "jpg", "tar.gz", "docx", "json", "md", "zip"]
BUCKET = ["assets", "backups", "media", "logs", "uploads", "archive", "static", "reports", "shared",
          "exports", "builds", "cache"]
ENV = ["prod", "staging", "eu", "us", "dev", "west", "east", "main"]
REGION = ["eu-west", "eu-north", "us-east", "us-west", "ap-south", "sa-east"]
LABELS = ["bug", "enhancement", "question", "docs", "good first issue", "wontfix", "duplicate"]
LANGS = ["Rust", "Python", "Go", "TypeScript", "Kotlin", "C", "Ruby", None]


def iso(ts: int) -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day(ts: int) -> str:
    import time
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


class Api:
    """One imaginary API: `ops` is a list of (method, template, weight, handler)."""

    host = ""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = START + (seed % 1000) * 86400
        self.ops: list[tuple[str, str, int, object]] = []
        self.setup()

    def setup(self) -> None:
        raise NotImplementedError

    def op(self, method: str, template: str, weight: int, handler) -> None:
        self.ops.append((method, template, weight, handler))

    def truth(self) -> list[dict]:
        return sorted(({"method": m, "template": t} for m, t, _, _ in self.ops),
                      key=lambda o: (o["template"], o["method"]))

    def pick(self, pool: list):
        # Skewed towards the front, as real traffic is: a few names are hot.
        return pool[min(int(self.rng.paretovariate(1.2)) - 1, len(pool) - 1)] \
            if self.rng.random() < 0.5 else self.rng.choice(pool)

    def maybe(self, value, p_null: float = 0.3):
        return None if self.rng.random() < p_null else value

    def exchange(self) -> dict:
        weights = [w for _, _, w, _ in self.ops]
        method, template, _, handler = self.rng.choices(self.ops, weights=weights)[0]
        path, query, req_body, status, body, media = handler()
        self.now += self.rng.randint(1, 30)
        headers = {"accept": "application/json", "user-agent": "eval-client/1.0"}
        request = {"method": method.lower(), "protocol": "https", "host": self.host,
                   "pathname": path, "query": query, "headers": headers}
        if req_body is not None:
            request["body"] = json.dumps(req_body, separators=(",", ":"))
            headers["content-type"] = "application/json"
        response = {"statusCode": status, "headers": {}}
        if body is not None:
            response["headers"]["content-type"] = media
            response["body"] = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        return {"request": request, "response": response, "_truth": (method, template)}


# --------------------------------------------------------------------------- github


class GitHub(Api):
    host = "api.github.example"

    def setup(self) -> None:
        r = self.rng
        self.orgs = sorted({f"{r.choice(ADJ)}-{r.choice(NOUN)}" + (f"-{r.choice(SUFFIX)}" if r.random() < 0.5 else "")
                            for _ in range(40)})
        r.shuffle(self.orgs)
        self.users = sorted({f"{r.choice(FIRST)}-{r.choice(NOUN)}" if r.random() < 0.6 else f"{r.choice(FIRST)}{r.choice(ADJ)}"
                             for _ in range(60)})
        r.shuffle(self.users)
        self.repos = {o: sorted({r.choice(PROJECT) for _ in range(r.randint(1, 6))}) for o in self.orgs}
        self.ids: dict[str, int] = {}
        self.op("GET", "/user", 6, lambda: self.ok(f"/user", self.user(self.users[0], private=True)))
        self.op("GET", "/users/{login}", 10, self.get_user)
        self.op("GET", "/users/{login}/repos", 6, self.user_repos)
        self.op("GET", "/users/{login}/followers", 4, self.followers)
        self.op("GET", "/orgs/{org}", 8, lambda: self.with_org(lambda o: (f"/orgs/{o}", self.org(o))))
        self.op("GET", "/orgs/{org}/repos", 8, lambda: self.with_org(lambda o: (f"/orgs/{o}/repos", [self.repo(o, n) for n in self.repos[o]])))
        self.op("GET", "/orgs/{org}/members", 6, lambda: self.with_org(lambda o: (f"/orgs/{o}/members", [self.member(u) for u in self.rng.sample(self.users, 3)])))
        self.op("GET", "/orgs/{org}/repos/{repo}", 6, self.org_repo)
        self.op("GET", "/orgs/{org}/repos/{repo}/issues", 8, self.issues)
        self.op("POST", "/orgs/{org}/repos/{repo}/issues", 3, self.create_issue)
        self.op("GET", "/orgs/{org}/repos/{repo}/issues/{number}", 10, self.issue)
        self.op("PATCH", "/orgs/{org}/repos/{repo}/issues/{number}", 3, self.update_issue)
        self.op("GET", "/repos/{owner}/{repo}", 6, self.repo_by_owner)
        self.op("GET", "/repos/{owner}/{repo}/pulls", 5, self.pulls)
        self.op("GET", "/search/repositories", 3, self.search)
        self.op("GET", "/rate_limit", 2, lambda: self.ok("/rate_limit", {"limit": 5000, "remaining": self.rng.randint(0, 5000), "reset": self.now + 3600}))

    def ok(self, path, body, query=None, status=200, req=None):
        return path, query or {}, req, status, body, "application/json; charset=utf-8"

    def num(self, key: str) -> int:
        if key not in self.ids:
            self.ids[key] = self.rng.randint(1000, 9_999_999)
        return self.ids[key]

    def with_org(self, make):
        org = self.pick(self.orgs)
        path, body = make(org)
        return self.ok(path, body)

    def user(self, login, private=False):
        u = {"login": login, "id": self.num(login), "type": "User", "name": self.maybe(login.replace("-", " ").title()),
             "company": self.maybe(self.rng.choice(self.orgs), 0.5), "blog": self.maybe(f"https://{login}.example", 0.6),
             "public_repos": self.rng.randint(0, 200), "followers": self.rng.randint(0, 5000),
             "created_at": iso(self.now - self.rng.randint(0, 10**8))}
        if private:
            u["private_repos"] = self.rng.randint(0, 30)
        return u

    def member(self, login):
        return {"login": login, "id": self.num(login), "site_admin": self.rng.random() < 0.05,
                "avatar_url": f"https://avatars.github.example/u/{self.num(login)}"}

    def org(self, org):
        return {"login": org, "id": self.num(org), "description": self.maybe(f"The {org} organisation"),
                "members_count": self.rng.randint(1, 400), "verified": self.rng.random() < 0.5,
                "location": self.maybe(self.rng.choice(["Berlin", "Oslo", "Lagos", "Austin"]), 0.4)}

    def repo(self, owner, name):
        return {"id": self.num(f"{owner}/{name}"), "name": name, "full_name": f"{owner}/{name}",
                "private": self.rng.random() < 0.3, "language": self.rng.choice(LANGS),
                "stargazers_count": self.rng.randint(0, 9000), "default_branch": "main",
                "topics": self.rng.sample(["cli", "web", "rust", "api", "infra"], self.rng.randint(0, 3))}

    def issue_body(self, n):
        return {"number": n, "title": f"Issue {n}", "state": self.rng.choice(["open", "closed"]),
                "labels": self.rng.sample(LABELS, self.rng.randint(0, 2)), "comments": self.rng.randint(0, 40),
                "assignee": self.maybe(self.rng.choice(self.users), 0.5), "body": self.maybe("Steps to reproduce...", 0.4),
                "created_at": iso(self.now - self.rng.randint(0, 10**7))}

    def get_user(self):
        login = self.pick(self.users)
        if self.rng.random() < 0.03:
            return self.ok(f"/users/{login}", {"message": "Not Found"}, status=404)
        return self.ok(f"/users/{login}", self.user(login))

    def user_repos(self):
        login = self.pick(self.users)
        return self.ok(f"/users/{login}/repos", [self.repo(login, n) for n in self.rng.sample(PROJECT, self.rng.randint(0, 3))])

    def followers(self):
        login = self.pick(self.users)
        return self.ok(f"/users/{login}/followers", [self.member(u) for u in self.rng.sample(self.users, self.rng.randint(0, 4))])

    def org_repo_pair(self):
        org = self.pick(self.orgs)
        return org, self.rng.choice(self.repos[org])

    def org_repo(self):
        o, n = self.org_repo_pair()
        return self.ok(f"/orgs/{o}/repos/{n}", self.repo(o, n))

    def issues(self):
        o, n = self.org_repo_pair()
        return self.ok(f"/orgs/{o}/repos/{n}/issues", [self.issue_body(self.rng.randint(1, 900)) for _ in range(self.rng.randint(0, 3))],
                       query={"state": [self.rng.choice(["open", "closed", "all"])]} if self.rng.random() < 0.5 else {})

    def create_issue(self):
        o, n = self.org_repo_pair()
        return self.ok(f"/orgs/{o}/repos/{n}/issues", self.issue_body(self.rng.randint(1, 900)), status=201,
                       req={"title": "Something broke", "body": self.maybe("details", 0.5), "labels": self.rng.sample(LABELS, 1)})

    def issue(self):
        o, n = self.org_repo_pair()
        num = self.rng.randint(1, 900)
        return self.ok(f"/orgs/{o}/repos/{n}/issues/{num}", self.issue_body(num))

    def update_issue(self):
        o, n = self.org_repo_pair()
        num = self.rng.randint(1, 900)
        return self.ok(f"/orgs/{o}/repos/{n}/issues/{num}", self.issue_body(num), req={"state": "closed"})

    def repo_by_owner(self):
        o, n = self.org_repo_pair()
        return self.ok(f"/repos/{o}/{n}", self.repo(o, n))

    def pulls(self):
        o, n = self.org_repo_pair()
        return self.ok(f"/repos/{o}/{n}/pulls", [{"number": self.rng.randint(1, 900), "title": "Fix it", "draft": self.rng.random() < 0.2,
                                                   "merged_at": self.maybe(iso(self.now - 5000), 0.6), "head": {"ref": "feature"}}
                                                  for _ in range(self.rng.randint(0, 3))])

    def search(self):
        q = self.rng.choice(PROJECT)
        return self.ok("/search/repositories", {"total_count": self.rng.randint(0, 900), "incomplete_results": False,
                                                "items": [self.repo(self.pick(self.orgs), q)]}, query={"q": [q]})


# --------------------------------------------------------------------------- shop


class Shop(Api):
    host = "api.store.example"

    def setup(self) -> None:
        r = self.rng
        self.skus = sorted({f"{r.choice(PRODUCT)[:2]}-{r.randint(1000, 9999)}-{r.choice(COLOR)}" if r.random() < 0.6
                            else f"{r.choice(PRODUCT)}-{r.choice(ADJ)}-{r.choice(COLOR)}" for _ in range(300)})
        r.shuffle(self.skus)
        # A shop's category tree is its catalogue, the same on every day (only
        # products, carts and orders vary with the seed).
        self.cats = list(CATEGORY)
        self.op("GET", "/products", 8, lambda: self.ok("/products", [self.product(self.pick(self.skus)) for _ in range(self.rng.randint(1, 3))],
                                                          query={"page": [str(self.rng.randint(1, 9))]}))
        self.op("GET", "/products/search", 4, lambda: self.ok("/products/search", {"hits": self.rng.randint(0, 99), "items": [self.product(self.pick(self.skus))]},
                                                                 query={"q": [self.rng.choice(PRODUCT)]}))
        self.op("GET", "/products/{sku}", 14, self.get_product)
        self.op("PUT", "/products/{sku}", 3, self.put_product)
        self.op("GET", "/products/{sku}/reviews", 6, self.reviews)
        self.op("GET", "/categories", 3, lambda: self.ok("/categories", [self.category(c) for c in self.cats[:5]]))
        self.op("GET", "/categories/{slug}", 6, lambda: self.with_cat(lambda c: (f"/categories/{c}", self.category(c))))
        self.op("GET", "/categories/{slug}/products", 8, lambda: self.with_cat(lambda c: (f"/categories/{c}/products",
                                                                                           [self.product(self.pick(self.skus)) for _ in range(2)])))
        self.op("GET", "/cart", 5, lambda: self.ok("/cart", self.cart()))
        self.op("POST", "/cart/items", 5, lambda: self.ok("/cart/items", self.cart(), status=201,
                                                            req={"sku": self.pick(self.skus), "quantity": self.rng.randint(1, 4)}))
        self.op("DELETE", "/cart/items/{sku}", 3, lambda: (f"/cart/items/{self.pick(self.skus)}", {}, None, 204, None, None))
        self.op("POST", "/orders", 4, lambda: self.ok("/orders", self.order(), status=201, req={"payment": self.rng.choice(["card", "paypal"])}))
        self.op("GET", "/orders/{orderId}", 6, lambda: self.ok(f"/orders/{self.rng.randint(10000, 99999)}", self.order()))
        self.op("POST", "/orders/{orderId}/cancel", 2, lambda: self.ok(f"/orders/{self.rng.randint(10000, 99999)}/cancel", self.order()))
        self.op("POST", "/auth/login", 3, lambda: self.ok("/auth/login", {"token": "t" * 20, "expires_in": 3600},
                                                            req={"user": self.rng.choice(FIRST), "password": "hunter2"}))
        self.op("POST", "/auth/logout", 2, lambda: ("/auth/logout", {}, None, 204, None, None))

    ok = GitHub.ok

    def with_cat(self, make):
        path, body = make(self.pick(self.cats))
        return self.ok(path, body)

    def product(self, sku):
        return {"sku": sku, "name": sku.replace("-", " ").title(), "price": round(self.rng.uniform(2, 400), 2),
                "currency": self.rng.choice(["EUR", "USD"]), "stock": self.rng.randint(0, 500),
                "color": self.maybe(sku.rsplit("-", 1)[-1], 0.3), "rating": self.maybe(round(self.rng.uniform(1, 5), 1), 0.4),
                "category": self.rng.choice(self.cats)}

    def category(self, slug):
        return {"slug": slug, "title": slug.replace("-", " ").title(), "productCount": self.rng.randint(0, 2000),
                "parent": self.maybe(self.rng.choice(self.cats), 0.6)}

    def cart(self):
        return {"items": [{"sku": self.pick(self.skus), "quantity": self.rng.randint(1, 5)} for _ in range(self.rng.randint(0, 4))],
                "total": round(self.rng.uniform(0, 900), 2), "coupon": self.maybe("SPRING10", 0.8)}

    def order(self):
        return {"id": self.rng.randint(10000, 99999), "status": self.rng.choice(["pending", "paid", "shipped", "cancelled"]),
                "total": round(self.rng.uniform(5, 900), 2), "placedAt": iso(self.now - self.rng.randint(0, 10**6)),
                "trackingNumber": self.maybe(f"TRK{self.rng.randint(10**8, 10**9)}", 0.5)}

    def get_product(self):
        sku = self.pick(self.skus)
        if self.rng.random() < 0.03:
            return self.ok(f"/products/{sku}", {"error": "not_found", "message": f"no product {sku}"}, status=404)
        return self.ok(f"/products/{sku}", self.product(sku))

    def put_product(self):
        sku = self.pick(self.skus)
        body = self.product(sku)
        return self.ok(f"/products/{sku}", body, req={"price": body["price"], "stock": body["stock"]})

    def reviews(self):
        sku = self.pick(self.skus)
        return self.ok(f"/products/{sku}/reviews", [{"author": self.rng.choice(FIRST), "stars": self.rng.randint(1, 5),
                                                       "text": self.maybe("Great value", 0.3)} for _ in range(self.rng.randint(0, 3))])


# --------------------------------------------------------------------------- files


class Files(Api):
    host = "files.example"

    def setup(self) -> None:
        r = self.rng
        self.buckets = sorted({f"{r.choice(BUCKET)}-{r.choice(ENV)}" if r.random() < 0.7 else r.choice(BUCKET) for _ in range(25)})
        r.shuffle(self.buckets)
        self.names = sorted({f"{r.choice(FILE_STEM)}-{r.randint(2019, 2025)}.{r.choice(FILE_EXT)}" if r.random() < 0.5
                             else f"{r.choice(FILE_STEM)}.{r.choice(FILE_EXT)}" if r.random() < 0.5
                             else f"{r.choice(FILE_STEM)}_{r.choice(ADJ)}.{r.choice(FILE_EXT)}" for _ in range(400)})
        r.shuffle(self.names)
        self.op("GET", "/buckets", 4, lambda: self.ok("/buckets", [self.bucket(b) for b in self.buckets[:4]]))
        self.op("GET", "/buckets/{bucket}", 6, lambda: self.with_bucket(lambda b: (f"/buckets/{b}", self.bucket(b))))
        self.op("GET", "/buckets/{bucket}/files", 8, lambda: self.with_bucket(lambda b: (f"/buckets/{b}/files",
                                                                                          {"files": [self.meta(b, self.pick(self.names)) for _ in range(self.rng.randint(0, 3))],
                                                                                           "next": self.maybe("cursor-2", 0.7)})))
        self.op("GET", "/buckets/{bucket}/files/{name}", 16, lambda: self.file_op("GET"))
        self.op("PUT", "/buckets/{bucket}/files/{name}", 6, lambda: self.file_op("PUT"))
        self.op("DELETE", "/buckets/{bucket}/files/{name}", 3, lambda: self.file_op("DELETE"))
        self.op("GET", "/buckets/{bucket}/files/{name}/versions", 4, self.versions)
        self.op("GET", "/buckets/{bucket}/policy", 2, lambda: self.with_bucket(lambda b: (f"/buckets/{b}/policy",
                                                                                           {"public": self.rng.random() < 0.2, "retentionDays": self.rng.choice([7, 30, 365])})))

    ok = GitHub.ok

    def with_bucket(self, make):
        path, body = make(self.pick(self.buckets))
        return self.ok(path, body)

    def bucket(self, b):
        return {"name": b, "region": self.rng.choice(REGION), "objects": self.rng.randint(0, 10**6),
                "versioning": self.rng.random() < 0.5, "createdAt": iso(self.now - self.rng.randint(0, 10**8))}

    def meta(self, b, name):
        return {"bucket": b, "name": name, "size": self.rng.randint(0, 10**8), "etag": "%016x" % self.rng.getrandbits(64),
                "contentType": self.maybe("application/octet-stream", 0.2), "updatedAt": iso(self.now - self.rng.randint(0, 10**6)),
                "owner": self.maybe(self.rng.choice(FIRST), 0.5)}

    def file_op(self, method):
        b, name = self.pick(self.buckets), self.pick(self.names)
        path = f"/buckets/{b}/files/{name}"
        if method == "DELETE":
            return path, {}, None, 204, None, None
        if method == "GET" and self.rng.random() < 0.03:
            return self.ok(path, {"error": "NoSuchKey"}, status=404)
        return self.ok(path, self.meta(b, name), req={"size": self.rng.randint(0, 10**6)} if method == "PUT" else None)

    def versions(self):
        b, name = self.pick(self.buckets), self.pick(self.names)
        return self.ok(f"/buckets/{b}/files/{name}/versions",
                       [{"version": v, "size": self.rng.randint(0, 10**6), "latest": v == 1} for v in range(1, self.rng.randint(2, 4))])


# --------------------------------------------------------------------------- reports


class Reports(Api):
    host = "reports.example"

    def setup(self) -> None:
        self.op("GET", "/v1/reports", 4, lambda: self.ok("/v1/reports", [{"date": self.date(), "ready": True} for _ in range(3)]))
        self.op("GET", "/v1/reports/latest", 4, lambda: self.ok("/v1/reports/latest", self.summary(self.date())))
        self.op("GET", "/v1/reports/{date}/summary", 12, lambda: self.dated("summary", self.summary))
        self.op("GET", "/v1/reports/{date}/breakdown", 6, lambda: self.dated("breakdown", lambda d: {
            "date": d, "byChannel": {c: self.rng.randint(0, 999) for c in ["web", "app", "store"]}, "note": self.maybe("partial", 0.8)}))
        self.op("GET", "/v1/reports/{date}/anomalies", 5, lambda: self.dated("anomalies", lambda d: [
            {"metric": self.rng.choice(["revenue", "orders"]), "zScore": round(self.rng.uniform(2, 6), 2), "at": iso(self.now)}
            for _ in range(self.rng.randint(0, 2))]))
        self.op("GET", "/v1/reports/{date}/regions", 4, lambda: self.dated("regions", lambda d: [self.region(d, r) for r in REGION[:3]]))
        self.op("GET", "/v1/reports/{date}/regions/{region}", 10, self.one_region)
        self.op("GET", "/v1/reports/{date}/export", 3, lambda: (f"/v1/reports/{self.date()}/export", {"format": ["csv"]}, None, 200,
                                                                  "region,revenue\neu-west,100\n", "text/csv"))

    ok = GitHub.ok

    def date(self) -> str:
        return day(self.now - self.rng.randint(0, 400) * 86400)

    def dated(self, leaf, make):
        d = self.date()
        return self.ok(f"/v1/reports/{d}/{leaf}", make(d))

    def summary(self, d):
        return {"date": d, "revenue": round(self.rng.uniform(1000, 90000), 2), "orders": self.rng.randint(10, 9000),
                "refunds": self.rng.randint(0, 90), "comment": self.maybe("holiday", 0.8)}

    def region(self, d, r):
        return {"date": d, "region": r, "revenue": round(self.rng.uniform(100, 9000), 2), "orders": self.rng.randint(1, 900),
                "currency": self.maybe("EUR", 0.3)}

    def one_region(self):
        d, r = self.date(), self.rng.choice(REGION)
        return self.ok(f"/v1/reports/{d}/regions/{r}", self.region(d, r))


APIS = {"github": GitHub, "shop": Shop, "files": Files, "reports": Reports}


def route(templates: list[str], path: str) -> str | None:
    """The template a router preferring literal segments over parameters picks."""
    segs = [s for s in path.split("/") if s]
    best = None
    for t in templates:
        ts = [s for s in t.split("/") if s]
        if len(ts) != len(segs):
            continue
        if all(a == b or (a.startswith("{") and a.endswith("}")) for a, b in zip(ts, segs)):
            key = [not a.startswith("{") for a in ts]
            if best is None or key > best[0]:
                best = (key, t)
    return best[1] if best else None


def generate(api: str, lines: int, seed: int):
    gen = APIS[api](seed)
    templates = sorted({o["template"] for o in gen.truth()})
    for _ in range(lines):
        ex = gen.exchange()
        method, template = ex.pop("_truth")
        got = route(templates, ex["request"]["pathname"])
        assert got == template, f"{api}: {ex['request']['pathname']} routes to {got}, generated from {template}"
        yield ex


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--api", required=True, choices=sorted(APIS))
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="-", help="output file, or - for stdout")
    ap.add_argument("--truth", action="store_true", help="print the true operations as JSON instead of traffic")
    args = ap.parse_args(argv)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="ascii")
    try:
        if args.truth:
            json.dump({"api": args.api, "host": APIS[args.api].host, "operations": APIS[args.api](args.seed).truth()}, out, indent=1)
            out.write("\n")
        else:
            for ex in generate(args.api, args.lines, args.seed):
                out.write(json.dumps(ex, separators=(",", ":")) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
