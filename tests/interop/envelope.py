#!/usr/bin/env python3
"""Reference side of the interoperability tests (tests/interop_test.ts).

Defines, with msgspec Structs, the wire envelope of the Python original (reference §4.1), its error payloads
(ErrorEnvelope §4.2/§4.7/§5.9, DecodeError) and a few payload types, then encodes fixed messages ("cases") and
decodes bytes strictly into them, the way the original does (``msgspec.msgpack.decode(data, type=...)``).

Usage (run with the interpreter printed by scripts/python-env.sh):

    envelope.py cases                 names of the cases, one per line
    envelope.py encode <case>         msgpack bytes of the case, as hex, on stdout
    envelope.py decode <case> <hex>   strict typed decode (``-`` reads the hex from stdin); prints the canonical
                                      JSON of the decoded envelope, or exits 1 with the msgspec error on stderr
    envelope.py batch                 stdin: JSON list of {"case", "hex"}; stdout: JSON list of
                                      {"ok": true, "value": <canonical>} | {"ok": false, "error": <message>}
    envelope.py write-golden [dir]    writes <dir>/<case>.hex for every case (default: golden/ beside this file)

Canonical JSON (the TS test computes the same form from its own values): None/bool/str as is; an int as a JSON
number when |n| <= 2**53-1, else {"$int": "<decimal>"}; a finite float as a JSON number (-0.0 stays -0.0), a
non-finite one as {"$f64": "<16 hex digits, IEEE-754 big-endian>"}; bytes as {"$bytes": "<hex>"}; a datetime as
{"$datetime": "<microseconds since the epoch>"}; an enum as its value; lists/tuples as arrays; Structs and dicts as
objects (Struct fields in declaration order).

Everything is deterministic: fixed ids, timestamps and values.
"""

import datetime
import enum
import json
import math
import os
import struct
import sys
import time
from typing import Any, Dict, Generic, List, Optional, Tuple, TypeVar

import msgspec

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------------------
# The envelope (§4.1): Structs are msgpack maps with every field, in declaration order.
# ---------------------------------------------------------------------------------------------------------------

LOOM_MSGPACK = "application/x-loom-msgpack"


class ContentType(msgspec.Struct, frozen=True):
    media_type: str = LOOM_MSGPACK
    encoding: Optional[str] = None


class SchemaRef(msgspec.Struct, frozen=True):
    # The reference names these four fields without their types; loom itself always writes schema_ref = nil.
    namespace: str
    name: str
    version: int
    format: str


class MessageDescriptor(msgspec.Struct, frozen=True):
    message_type: str
    message_version: int
    content_type: ContentType = msgspec.field(default_factory=ContentType)
    schema_ref: Optional[SchemaRef] = None


def _now_ms() -> int:
    return int(time.time() * 1000)


class MessageMetadata(msgspec.Struct, frozen=True):
    descriptor: MessageDescriptor
    trace_id: Optional[str] = None
    parent_trace_id: Optional[str] = None
    correlation_id: Optional[str] = None
    causation_id: Optional[str] = None
    # The original fills a missing produced_at_ms with the wall clock at decode time (§4.1).
    produced_at_ms: int = msgspec.field(default_factory=_now_ms)


class MessageEnvelope(msgspec.Struct, Generic[T], frozen=True):
    meta: MessageMetadata
    payload: T


# ---------------------------------------------------------------------------------------------------------------
# Error payloads (§1.1.8, §4.2)
# ---------------------------------------------------------------------------------------------------------------


class ErrorKind(str, enum.Enum):
    WIRE = "wire"
    ROUTING = "routing"
    TASK = "task"
    BUSINESS = "business"


class ErrorMessageMeta(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    correlation_id: Optional[str] = None
    trace_id: Optional[str] = None
    parent_trace_id: Optional[str] = None
    causation_id: Optional[str] = None
    produced_at_ms: Optional[int] = None
    message_type: Optional[str] = None
    message_version: Optional[int] = None
    topic: Optional[str] = None
    partition: Optional[int] = None
    offset: Optional[int] = None
    key: Optional[bytes] = None
    headers: Dict[str, bytes] = msgspec.field(default_factory=dict)


class ErrorMessage(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    payload: T
    meta: ErrorMessageMeta


class ErrorEnvelope(msgspec.Struct, Generic[T], frozen=True):
    kind: ErrorKind
    reason: str
    payload_type: Optional[str] = None
    original_message: Optional[ErrorMessage[T]] = None


class DecodeError(msgspec.Struct, frozen=True):
    error: ErrorEnvelope[Any]
    raw: bytes
    topic: str
    key: Optional[bytes] = None
    headers: Dict[str, bytes] = msgspec.field(default_factory=dict)
    partition: Optional[int] = None
    offset: Optional[int] = None
    timestamp_ms: Optional[int] = None


# ---------------------------------------------------------------------------------------------------------------
# Payload types
# ---------------------------------------------------------------------------------------------------------------


class Order(msgspec.Struct):
    order_id: str
    amount: int


class Kind(str, enum.Enum):
    A = "a"
    B = "b"


class Item(msgspec.Struct):
    sku: str
    qty: int
    price: float


class Mixed(msgspec.Struct):
    """The payload of the MIXED vector in kafka/_envelope_test.ts."""

    id: str
    count: int
    ratio: float
    whole: float
    flag: bool
    data: bytes
    note: Optional[str]
    tags: List[str]
    items: List[Item]
    attrs: Dict[str, int]
    pair: Tuple[int, str]
    kind: Kind
    big: int
    neg: int
    when: datetime.datetime
    uni: str
    empty: Optional[str] = None


class Address(msgspec.Struct):
    street: str
    city: str
    zip: Optional[str]


class Line(msgspec.Struct):
    sku: str
    qty: int
    unit_price: float


class Profile(msgspec.Struct):
    """More than 15 fields (map16), every scalar kind, nesting, and msgpack length boundaries."""

    name: str
    age: int
    score: float
    tiny: float
    whole: float
    neg_zero: float
    active: bool
    archived: bool
    nickname: Optional[str]
    alias: Optional[str]
    avatar: bytes
    empty: bytes
    tags: List[str]
    no_tags: List[str]
    lines: List[Line]
    address: Address
    previous: Optional[Address]
    matrix: List[List[int]]
    ints: List[int]
    floats: List[float]
    counts: Dict[str, int]
    str8: str
    str16: str
    bin16: bytes


class Ledger(msgspec.Struct):
    """Integers beyond the JS safe range (2**53 - 1): the TS side declares these fields with v.bigint()."""

    account: str
    balance: int
    debt: int
    top: int
    small: int
    history: List[int]


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------


def env(
    message_type: str,
    payload: Any,
    *,
    produced_at_ms: int,
    version: int = 1,
    trace_id: Optional[str] = None,
    parent_trace_id: Optional[str] = None,
    correlation_id: Optional[str] = None,
    causation_id: Optional[str] = None,
    content_type: Optional[ContentType] = None,
    schema_ref: Optional[SchemaRef] = None,
) -> MessageEnvelope:
    descriptor = MessageDescriptor(
        message_type=message_type,
        message_version=version,
        content_type=content_type if content_type is not None else ContentType(),
        schema_ref=schema_ref,
    )
    meta = MessageMetadata(
        descriptor=descriptor,
        trace_id=trace_id,
        parent_trace_id=parent_trace_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        produced_at_ms=produced_at_ms,
    )
    return MessageEnvelope(meta=meta, payload=payload)


def _order() -> MessageEnvelope:
    # §4.1 golden example (255 bytes).
    return env(
        "order.created",
        Order("o-1", 5),
        trace_id="trace-1",
        correlation_id="corr-1",
        produced_at_ms=1000,
    )


def _mixed() -> MessageEnvelope:
    payload = Mixed(
        id="m-1",
        count=-129,
        ratio=0.25,
        whole=5.0,
        flag=True,
        data=b"\x00\x01\xff",
        note=None,
        tags=["x", "y"],
        items=[Item("s1", 2, 9.99), Item("s2", 65536, 1.0)],
        attrs={"b": 1, "a": -1},
        pair=(7, "seven"),
        kind=Kind.B,
        big=2**63,
        neg=-(2**63),
        when=datetime.datetime(2020, 1, 1, 0, 0, 0, 123000, tzinfo=datetime.timezone.utc),
        uni="h\u00e9llo w\u00f6rld \u2713 \U0001f600",
    )
    return env(
        "test.mixed",
        payload,
        trace_id="t",
        parent_trace_id="p",
        correlation_id="c",
        causation_id="k",
        produced_at_ms=1700000000000,
    )


def _profile_payload() -> Profile:
    return Profile(
        name="Ada Lovelace",
        age=36,
        score=0.1,
        tiny=5e-324,
        whole=3.0,
        neg_zero=-0.0,
        active=True,
        archived=False,
        nickname=None,
        alias="countess",
        avatar=bytes(range(40)),
        empty=b"",
        tags=["a", "\u00e9", ""],
        no_tags=[],
        lines=[Line("s-1", 2, 9.99), Line("s-2", 300, 1.0)],
        address=Address("12 St James's Square", "London", None),
        previous=None,
        matrix=[[1, 2], [3], []],
        ints=[
            0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991,
            -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -9007199254740991,
        ],
        floats=[0.5, -1.5, 1e300, -2.5e-7, float("inf"), float("-inf"), float("nan")],
        counts={"z": 1, "a": 2, "\u00e9": 3},
        str8="x" * 40,
        str16="y" * 300,
        bin16=bytes(i % 256 for i in range(300)),
    )


def _profile() -> MessageEnvelope:
    return env(
        "test.profile",
        _profile_payload(),
        version=2,
        trace_id="0f8fad5bd9cb469fa16570867728950e",
        parent_trace_id="6ecd8c99e4ae4c3d8b0a4a4bf1d1a1c2",
        correlation_id="corr-\u00e9",
        causation_id="cause-9",
        produced_at_ms=1735689600000,
    )


def _bigint() -> MessageEnvelope:
    payload = Ledger(
        account="acc-1",
        balance=2**53 + 1,
        debt=-(2**63),
        top=2**64 - 1,
        small=7,
        history=[2**53, -(2**53) - 1, 2**63 - 1, 0, -1],
    )
    return env("test.ledger", payload, trace_id="trace-big", produced_at_ms=2**41)


def _errenv_task() -> MessageEnvelope:
    # The ERRENV vector of kafka/_envelope_test.ts.
    original = ErrorMessage(
        payload=Order("o-1", 5),
        meta=ErrorMessageMeta(
            message_id="orders:0:7",
            correlation_id="corr-1",
            trace_id="trace-1",
            produced_at_ms=1000,
            message_type="order.created",
            message_version=1,
            topic="orders",
            partition=0,
            offset=7,
            key=b"k-1",
            headers={"x-a": b"1", "x-b": b""},
        ),
    )
    payload = ErrorEnvelope(
        kind=ErrorKind.TASK,
        reason="boom: 'x'",
        payload_type="order.created",
        original_message=original,
    )
    return env(
        "loom.streaming.error.task",
        payload,
        trace_id="trace-1",
        correlation_id="corr-1",
        produced_at_ms=1000,
    )


def _errenv_business() -> MessageEnvelope:
    # A business error without an original message (§4.3: new trace id, no lineage, produced_at_ms of the writer).
    payload = ErrorEnvelope(kind=ErrorKind.BUSINESS, reason="amount: must be positive")
    return env(
        "loom.streaming.error.business",
        payload,
        trace_id="b5f0c3d2a1e04f6b9c8d7e6f5a4b3c2d",
        produced_at_ms=1700000000999,
    )


def _errenv_routing() -> MessageEnvelope:
    # A routing error whose original payload is the nested Profile, with a minimal snapshot meta (nils, no headers).
    original = ErrorMessage(
        payload=_profile_payload(),
        meta=ErrorMessageMeta(message_id="profiles:3:9007199254740991", partition=3, offset=9007199254740991),
    )
    payload = ErrorEnvelope(
        kind=ErrorKind.ROUTING,
        reason="no route for '\u00e9' \"quoted\"",
        payload_type="test.profile",
        original_message=original,
    )
    return env(
        "loom.streaming.error.routing",
        payload,
        version=1,
        trace_id="trace-r",
        parent_trace_id="parent-r",
        correlation_id="corr-r",
        causation_id="cause-r",
        produced_at_ms=1735689600000,
    )


def _decode_error() -> MessageEnvelope:
    # The DECERR vector of kafka/_envelope_test.ts.
    payload = DecodeError(
        error=ErrorEnvelope(kind=ErrorKind.WIRE, reason="Input data was truncated"),
        raw=b"not-msgpack",
        topic="orders",
        key=None,
        headers={"x-trace-id": b"tr"},
        partition=3,
        offset=42,
        timestamp_ms=1700000000123,
    )
    return env("loom.streaming.error.wire", payload, trace_id="tr", produced_at_ms=1700000000123)


def _decode_error_keyed() -> MessageEnvelope:
    # A DecodeError with a binary key, no partition/offset/timestamp, and a raw value that is itself msgpack.
    payload = DecodeError(
        error=ErrorEnvelope(
            kind=ErrorKind.WIRE,
            reason="Expected `int`, got `str` - at `$.payload.amount`",
        ),
        raw=msgspec.msgpack.encode(_order())[:100],
        topic="orders.v2",
        key=b"\x00\xff\x80",
        headers={},
        partition=None,
        offset=None,
        timestamp_ms=None,
    )
    return env("loom.streaming.error.wire", payload, produced_at_ms=0)


def _dynamic() -> MessageEnvelope:
    # An untyped payload (the TS dynamic codec; `Any` here): default message type of untyped messages (§4.2).
    payload = {
        "a": 1,
        "b": 2.5,
        "c": [None, True, False, "x", -200, 70000],
        "d": b"\x01\x02",
        "e": {"nested": {"deep": []}},
        "f": 2**63,
    }
    return env("loom.streaming.message", payload, produced_at_ms=1234567890123)


def _schema_ref() -> MessageEnvelope:
    # Only Python writes this (loom itself always writes an empty schema_ref); the TS decoder must read it.
    return env(
        "order.created",
        Order("o-2", -7),
        version=3,
        content_type=ContentType(media_type="application/avro", encoding="gzip"),
        schema_ref=SchemaRef(namespace="shop", name="Order", version=3, format="avro"),
        trace_id="trace-2",
        produced_at_ms=1000,
    )


# name -> (payload decode type, envelope builder)
CASES = {
    "order": (Order, _order),
    "mixed": (Mixed, _mixed),
    "profile": (Profile, _profile),
    "bigint": (Ledger, _bigint),
    "errenv_task": (ErrorEnvelope[Order], _errenv_task),
    "errenv_business": (ErrorEnvelope[Order], _errenv_business),
    "errenv_routing": (ErrorEnvelope[Profile], _errenv_routing),
    "decode_error": (DecodeError, _decode_error),
    "decode_error_keyed": (DecodeError, _decode_error_keyed),
    "dynamic": (Dict[str, Any], _dynamic),
    "schema_ref": (Order, _schema_ref),
}

# ---------------------------------------------------------------------------------------------------------------
# Canonical JSON
# ---------------------------------------------------------------------------------------------------------------

MAX_SAFE = 2**53 - 1
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def canon(x: Any) -> Any:
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, enum.Enum):
        return canon(x.value)
    if isinstance(x, int):
        return x if -MAX_SAFE <= x <= MAX_SAFE else {"$int": str(x)}
    if isinstance(x, float):
        return x if math.isfinite(x) else {"$f64": struct.pack(">d", x).hex()}
    if isinstance(x, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(x).hex()}
    if isinstance(x, datetime.datetime):
        if x.tzinfo is None:
            raise TypeError("naive datetime in a decoded value")
        return {"$datetime": str((x - EPOCH) // datetime.timedelta(microseconds=1))}
    if isinstance(x, (list, tuple)):
        return [canon(i) for i in x]
    if isinstance(x, dict):
        return {str(k): canon(v) for k, v in x.items()}
    if isinstance(x, msgspec.Struct):
        return {f: canon(getattr(x, f)) for f in type(x).__struct_fields__}
    raise TypeError(f"no canonical form for {type(x).__name__}")


# ---------------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------------


def case_of(name: str) -> Tuple[Any, Any]:
    try:
        return CASES[name]
    except KeyError:
        raise SystemExit(f"envelope.py: unknown case {name!r}; known cases: {', '.join(CASES)}") from None


def encode(name: str) -> str:
    _, build = case_of(name)
    return msgspec.msgpack.encode(build()).hex()


def decode(name: str, hex_text: str) -> Any:
    payload_type, _ = case_of(name)
    data = bytes.fromhex("".join(hex_text.split()))
    return canon(msgspec.msgpack.decode(data, type=MessageEnvelope[payload_type]))


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=False)


def main(argv: List[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "cases" and not args:
        print("\n".join(CASES))
        return 0
    if cmd == "encode" and len(args) == 1:
        print(encode(args[0]))
        return 0
    if cmd == "decode" and len(args) == 2:
        hex_text = sys.stdin.read() if args[1] == "-" else args[1]
        try:
            value = decode(args[0], hex_text)
        except (msgspec.DecodeError, ValueError) as e:
            print(str(e), file=sys.stderr)
            return 1
        print(dump(value))
        return 0
    if cmd == "batch" and not args:
        results = []
        for req in json.load(sys.stdin):
            try:
                results.append({"ok": True, "value": decode(req["case"], req["hex"])})
            except msgspec.DecodeError as e:
                results.append({"ok": False, "error": str(e)})
        print(dump(results))
        return 0
    if cmd == "write-golden" and len(args) <= 1:
        out = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
        os.makedirs(out, exist_ok=True)
        for name in CASES:
            with open(os.path.join(out, f"{name}.hex"), "w", encoding="ascii") as f:
                f.write(encode(name) + "\n")
        print(out)
        return 0
    print(f"envelope.py: bad command line {argv!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
