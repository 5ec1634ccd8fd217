#!/usr/bin/env python3
"""Read N messages of a Kafka topic from the beginning, as an external client.

Used by hmt's end-to-end Kafka test to check what `hmt record --sink kafka://...`
produced with a consumer that shares no code with hmt (confluent-kafka, from
scripts/requirements-test.txt). Run it with the repository's virtualenv:

    .venv/bin/python scripts/kafka_consume.py --bootstrap HOST:PORT --topic T --count N [--timeout 30]

Each message goes to stdout as one JSON line:

    {"key": "<key or null>", "value": "<value>", "partition": 0, "offset": 12}

Key and value are decoded as UTF-8 (invalid bytes become U+FFFD). Exits 0 as
soon as N messages have been printed; exits 1, saying why on stderr, when
fewer than N arrived within the timeout (counted from the start) or the
client hit a fatal error; exits 2 on bad arguments.

A fresh consumer group is used every run (with auto.offset.reset=earliest and
no commits), so the topic is always read from its beginning.
"""

import argparse
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException


def decode(data):
    if data is None:
        return None
    return data.decode("utf-8", errors="replace")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT[,HOST:PORT...]")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", required=True, type=int, help="messages to read")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait in all (default 30)"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra librdkafka consumer setting (repeatable)",
    )
    args = parser.parse_args()
    if args.count < 0:
        parser.error("--count must be at least 0")

    deadline = time.monotonic() + args.timeout
    # Error text -> times seen. librdkafka retries transient errors (broker
    # down, connection refused) on its own, reporting them again at every
    # reconnect: each distinct one is printed once, and all of them are
    # summed up if the wait times out.
    errors = {}

    def on_error(error):
        text = str(error)
        if text not in errors:
            print(f"kafka_consume: {text}", file=sys.stderr, flush=True)
        errors[text] = errors.get(text, 0) + 1

    config = {
        "bootstrap.servers": args.bootstrap,
        "group.id": f"kafka-consume-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "error_cb": on_error,
        # librdkafka's own log would repeat what error_cb reports; keep only
        # critical lines (`--option log_level=7 --option debug=...` to debug).
        "log_level": 2,
    }
    for option in args.option:
        key, sep, value = option.partition("=")
        if not sep:
            parser.error(f"--option {option} is not KEY=VALUE")
        config[key] = value

    if args.count == 0:
        return 0

    consumer = Consumer(config)
    consumer.subscribe([args.topic])
    read = 0
    try:
        while read < args.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = "; ".join(f"{text} ({n}x)" for text, n in errors.items())
                last = f" (errors: {seen})" if errors else ""
                print(
                    f"kafka_consume: timed out after {args.timeout:g} s with "
                    f"{read} of {args.count} messages from topic {args.topic} "
                    f"at {args.bootstrap}{last}",
                    file=sys.stderr,
                )
                return 1
            message = consumer.poll(min(remaining, 1.0))
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal() or not error.retriable():
                    # UNKNOWN_TOPIC_OR_PART comes back while a topic is
                    # being auto-created: keep waiting for it.
                    if error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        print(f"kafka_consume: {error}", file=sys.stderr)
                        return 1
                on_error(error)
                continue
            line = {
                "key": decode(message.key()),
                "value": decode(message.value()),
                "partition": message.partition(),
                "offset": message.offset(),
            }
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            read += 1
    except KafkaException as error:
        print(f"kafka_consume: {error}", file=sys.stderr)
        return 1
    finally:
        # Nothing was committed; closing only leaves the group.
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
