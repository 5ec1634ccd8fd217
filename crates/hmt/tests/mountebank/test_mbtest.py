"""mbtest, mountebank's Python client from PyPI, driving `hmt mock`.

Run by crates/hmt/tests/mountebank_clients.rs, which starts `hmt mock -a PORT`
and passes the port in MB_PORT. Each test is written as an mbtest user writes
one against mountebank; nothing here knows it is talking to hmt.
"""

import gzip
import json
import os

import httpx2 as httpx
import pytest
import requests
from brunns.matchers.response import is_response
from hamcrest import assert_that, contains_string, has_entries, has_length
from mbtest.imposters import Imposter, Predicate, Proxy, Response, Stub
from mbtest.imposters.behaviors.copy import Copy
from mbtest.imposters.behaviors.using import UsingRegex
from mbtest.imposters.responses import FaultResponse, PredicateGenerator
from mbtest.matchers import had_request
from mbtest.server import MountebankServer


@pytest.fixture
def mock_server():
    server = MountebankServer(port=int(os.environ["MB_PORT"]), host="localhost")
    yield server
    httpx.delete(str(server.server_url)).raise_for_status()


def test_a_stub_answers_and_the_request_is_recorded(mock_server):
    imposter = Imposter(Stub(Predicate(path="/test"), Response(body="sausages")), record_requests=True)
    with mock_server(imposter):
        response = requests.get(f"{imposter.url}/test", headers={"X-Team": "Blue"})
        assert_that(response, is_response().with_status_code(200).and_body("sausages"))
        assert_that(imposter, had_request().with_path("/test").and_method("GET"))
        assert_that(imposter, had_request().with_headers(has_entries({"X-Team": "Blue"})))


def test_predicates_pick_the_stub(mock_server):
    imposter = Imposter(
        [
            Stub(Predicate(method="POST", body={"kind": "big"}), Response(status_code=201, body="big")),
            Stub(Predicate(query={"q": "x"}, operator="contains", case_sensitive=False), Response(body="query")),
            Stub(Predicate(headers={"X-Key": "^k\\d+$"}, operator="matches"), Response(body="header")),
            Stub(Predicate(path="/json"), Response(body={"a": [1, 2]}, headers={"Content-Type": "application/json"})),
        ]
    )
    with mock_server(imposter):
        assert_that(requests.post(f"{imposter.url}/", json={"kind": "big", "n": 1}), is_response().with_status_code(201))
        assert_that(requests.get(f"{imposter.url}/?q=XYZ"), is_response().with_body("query"))
        assert_that(requests.get(f"{imposter.url}/", headers={"X-Key": "k42"}), is_response().with_body("header"))
        assert requests.get(f"{imposter.url}/json").json() == {"a": [1, 2]}
        assert_that(requests.get(f"{imposter.url}/none"), is_response().with_status_code(200).and_body(""))


def test_responses_cycle_repeat_and_copy(mock_server):
    imposter = Imposter(
        [
            Stub(Predicate(path="/cycle"), [Response(body="one", repeat=2), Response(body="two")]),
            Stub(
                Predicate(path="/hello", operator="startsWith"),
                Response(body="Hello, ${NAME}!", copy=Copy("path", "${NAME}", UsingRegex("[^/]+$"))),
            ),
        ]
    )
    with mock_server(imposter):
        bodies = [requests.get(f"{imposter.url}/cycle").text for _ in range(4)]
        assert bodies == ["one", "one", "two", "one"]
        assert_that(requests.get(f"{imposter.url}/hello/ann"), is_response().with_body("Hello, ann!"))


def test_a_gzip_request_body_is_matched_inflated(mock_server):
    imposter = Imposter(Stub(Predicate(body="plain text", operator="contains"), Response(body="inflated")))
    with mock_server(imposter):
        response = requests.post(
            f"{imposter.url}/", data=gzip.compress(b"some plain text"), headers={"Content-Encoding": "gzip"}
        )
        assert_that(response, is_response().with_body("inflated"))


def test_a_fault_resets_the_connection(mock_server):
    imposter = Imposter(Stub(Predicate(path="/boom"), FaultResponse(FaultResponse.Fault.CONNECTION_RESET_BY_PEER)))
    with mock_server(imposter):
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"{imposter.url}/boom")


def test_a_proxy_records_and_the_recording_replays(mock_server):
    origin = Imposter(Stub(responses=[Response(body="first"), Response(body="second")]))
    with mock_server(origin):
        proxy = Imposter(
            Stub(responses=Proxy(to=origin.url, mode=Proxy.Mode.ONCE, predicate_generators=[PredicateGenerator(path=True)]))
        )
        mock_server.add_imposters(proxy)
        assert requests.get(f"{proxy.url}/a").text == "first"
        assert requests.get(f"{proxy.url}/a").text == "first"
        assert requests.get(f"{proxy.url}/b").text == "second"
        replayable = mock_server.get_replayable_imposter(proxy)
        assert_that(replayable.stubs, has_length(2))
        assert [stub.responses[0].body for stub in replayable.stubs] == ["first", "second"]


def test_every_imposter_is_listed_and_imported(mock_server):
    one = Imposter(Stub(Predicate(path="/one"), Response(body="1")), name="one")
    two = Imposter(Stub(Predicate(path="/two"), Response(body="2")), name="two")
    with mock_server([one, two]):
        listed = mock_server.query_all_imposters()
        assert sorted(imposter.name for imposter in listed) == ["one", "two"]
        assert [imposter.port for imposter in listed] == sorted(imposter.port for imposter in listed)
        mock_server.import_running_imposters()
        assert_that(mock_server.get_running_imposters(), has_length(2))


def test_https_imposters(mock_server):
    imposter = Imposter(Stub(Predicate(path="/secure"), Response(body="tls")), protocol=Imposter.Protocol.HTTPS)
    with mock_server(imposter):
        response = requests.get(f"{imposter.url}/secure", verify=False)
        assert_that(response, is_response().with_body("tls"))


def test_errors_are_mountebanks(mock_server):
    response = httpx.post(str(mock_server.server_url), content=b"{not json")
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"code": "invalid JSON", "message": "Unable to parse body as JSON", "source": "{not json"}]
    }
    response = httpx.post(str(mock_server.server_url), json={"protocol": "tcp", "port": 5555})
    assert response.status_code == 400
    assert_that(json.dumps(response.json()), contains_string("tcp"))
