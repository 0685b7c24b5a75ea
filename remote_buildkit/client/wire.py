"""The few protobuf messages ``doctor`` needs from BuildKit's public API, encoded by hand.

From ``api/services/control/control.proto``, ``api/types/worker.proto`` and
``solver/pb/ops.proto``::

    message ListWorkersRequest  { repeated string filter = 1; }
    message ListWorkersResponse { repeated WorkerRecord record = 1; }
    message WorkerRecord        { string ID = 1; map<string,string> Labels = 2; repeated Platform platforms = 3; ... }
    message Platform            { string Architecture = 1; string OS = 2; string Variant = 3; ... }

Unknown fields are skipped, as protobuf requires, so newer BuildKit versions decode fine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

LIST_WORKERS = "/moby.buildkit.v1.Control/ListWorkers"


class WireError(ValueError):
    """The bytes are not a valid message of the expected shape."""


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Worker:
    id: str
    platforms: tuple[Platform, ...]


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if offset >= len(data):
            raise WireError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def _fields(data: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    offset = 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, offset = _varint(data, offset)
            yield number, wire_type, value
        elif wire_type == 2:
            length, offset = _varint(data, offset)
            if offset + length > len(data):
                raise WireError("truncated length-delimited field")
            yield number, wire_type, data[offset : offset + length]
            offset += length
        elif wire_type == 1:
            offset += 8
        elif wire_type == 5:
            offset += 4
        else:
            raise WireError(f"unsupported wire type {wire_type}")
    if offset != len(data):
        raise WireError("truncated fixed-width field")


def _text(value: bytes | int) -> str:
    if isinstance(value, int):
        raise WireError("expected a string field")
    return value.decode()


def _platform(data: bytes) -> Platform:
    fields = {n: _text(v) for n, t, v in _fields(data) if t == 2 and n in (1, 2, 3)}
    return Platform(os=fields.get(2, ""), architecture=fields.get(1, ""), variant=fields.get(3, ""))


def decode_list_workers_response(data: bytes) -> list[Worker]:
    workers = []
    for number, wire_type, record in _fields(data):
        if number != 1 or wire_type != 2 or isinstance(record, int):
            continue
        worker_id = ""
        platforms = []
        for field, kind, value in _fields(record):
            if field == 1 and kind == 2:
                worker_id = _text(value)
            elif field == 3 and kind == 2 and not isinstance(value, int):
                platforms.append(_platform(value))
        workers.append(Worker(id=worker_id, platforms=tuple(platforms)))
    return workers


def encode_list_workers_request() -> bytes:
    """An empty request: no filter, all workers."""
    return b""


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def encode_list_workers_response(workers: list[Worker]) -> bytes:
    """The server side of the same messages, as buildkitd would send them."""
    out = b""
    for worker in workers:
        record = _length_delimited(1, worker.id.encode())
        for platform in worker.platforms:
            body = _length_delimited(1, platform.architecture.encode()) + _length_delimited(2, platform.os.encode())
            if platform.variant:
                body += _length_delimited(3, platform.variant.encode())
            record += _length_delimited(3, body)
        out += _length_delimited(1, record)
    return out


def parse_platform(text: str) -> Platform:
    parts = text.split("/")
    return Platform(os=parts[0], architecture=parts[1] if len(parts) > 1 else "", variant="/".join(parts[2:]))
