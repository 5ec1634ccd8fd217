"""Schemathesis hooks for crates/hmt/tests/schemathesis.rs.

Two kinds of failure are not the mock's to fix, and only those are dropped;
every other failure fails the test.

- A request target longer than 65,534 bytes (schemathesis sends `expand`
  arrays of 5,000-character strings) is refused by the HTTP layer before
  any operation is involved: the `http` crate's URI limit, which hyper
  answers with an empty 414, or, past hyper's 400 KiB buffer for a request
  head, an empty 431.
- A 404 to a request whose path is not the operation's. The stateful phase
  fills path parameters from earlier responses; Stripe's expandable fields
  (`account`: an id or the whole account object) give it objects, which it
  writes into the path as Python's repr, unencoded: `/v1/accounts/{'url':
  'https://...', ...}/bank_accounts`. Their `/` make segments no template
  has, so the mock (as Stripe would) answers 404, in hmt's problem document
  rather than the `default` error the operation documents, and the check
  judges that answer against an operation the request was never for.
"""

import re
from urllib.parse import urlsplit

import schemathesis

# http::Uri's limit: a longer request target does not parse.
URI_LIMIT = 65534


def _template_pattern(template):
    """A regular expression matching the paths of a path template, whose
    parameters each take one segment (what the mock's router allows)."""
    pieces = re.split(r"(\{[^}]*\})", template)
    return "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in pieces)


def _is_for_operation(path, case):
    """Whether `path` (as sent, under any base path) is one of the
    operation's."""
    return re.search(_template_pattern(case.operation.path) + r"\Z", path) is not None


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    target = urlsplit(response.request.url)
    length = len(target.path) + (len(target.query) + 1 if target.query else 0)
    if response.status_code in (414, 431) and length > URI_LIMIT:
        return False
    if response.status_code == 404 and not _is_for_operation(target.path, case):
        return False
    return True
