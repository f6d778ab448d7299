"""Per-chunk CPU cost of streaming: plain loop vs the vendor SDK's own stream vs Podium.

Serves one synthetic stream of N chunks from ``podium.testing.cassette.ReplayServer`` on loopback
and reads it three ways, repeating each R times and keeping the fastest run:

* google: ``streamGenerateContent`` SSE, N text chunks.
  plain = httpx2 stream + line split + ``json.loads``; sdk = ``client.models.generate_content_stream``
  (a pydantic object per chunk); podium = ``GoogleModel.stream``.
* bedrock: ``converse-stream`` AWS event stream, N ``contentBlockDelta`` events.
  plain = ``botocore.eventstream.EventStreamBuffer`` + ``json.loads`` on the raw bytes;
  sdk = boto3 ``converse_stream`` iteration; podium = ``BedrockModel.stream``.

Run: ``python bench/provider_stream_cost.py [--chunks 2000] [--repeat 5]`` (needs podium[google,bedrock,dev]).
"""

from __future__ import annotations

import argparse
import binascii
import json
import struct
import time
from collections.abc import Callable
from pathlib import Path

from podium.messages import Message
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer

GOOGLE_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
BEDROCK_PATH = "/model/us.amazon.nova-micro-v1:0/converse-stream"


def google_body(n: int) -> bytes:
    chunks = []
    for i in range(n):
        chunk: dict[str, object] = {
            "candidates": [{"content": {"parts": [{"text": f" word{i}"}], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": i, "totalTokenCount": 10 + i},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "bench",
        }
        if i == n - 1:
            chunk["candidates"][0]["finishReason"] = "STOP"  # type: ignore[index]
        chunks.append(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n")
    return b"".join(chunks)


def _frame(event_type: str, payload: dict[str, object]) -> bytes:
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message))


def bedrock_body(n: int) -> bytes:
    frames = [_frame("messageStart", {"role": "assistant"})]
    for i in range(n):
        frames.append(_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f" word{i}"}}))
    frames.append(_frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(_frame("messageStop", {"stopReason": "end_turn"}))
    frames.append(_frame("metadata", {"usage": {"inputTokens": 10, "outputTokens": n, "totalTokens": 10 + n}}))
    return b"".join(frames)


def serve(path: str, body: bytes, content_type: str, copies: int) -> ReplayServer:
    request = RecordedRequest("POST", "http://x" + path, path, {}, None)
    interactions = [Interaction(request, 200, {"content-type": content_type}, body) for _ in range(copies)]
    return ReplayServer(Cassette(Path("bench"), interactions)).start()


def best(fn: Callable[[], int], repeat: int, n: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - start)
        assert count >= n, (count, n)
    return min(times) / n * 1e6


def bench_google(n: int, repeat: int) -> dict[str, float]:
    import httpx2
    from google import genai

    from podium.providers.google import GoogleModel
    from podium.providers.retry import RetryPolicy

    body = google_body(n)
    server = serve(GOOGLE_PATH, body, "text/event-stream", copies=3 * (repeat + 1))
    url = server.url
    http = httpx2.Client()

    def plain() -> int:
        count = 0
        with http.stream("POST", url + GOOGLE_PATH + "?alt=sse", json={"contents": []}) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    chunk = json.loads(line[6:])
                    count += len(chunk["candidates"][0]["content"]["parts"][0]["text"]) > 0
        return count

    client = genai.Client(api_key="x", http_options={"base_url": url, "api_version": "v1beta"})

    def sdk() -> int:
        return sum(1 for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi") if c.text)

    model = GoogleModel("gemini-2.5-flash", base_url=url, api_key="x", retry=RetryPolicy(max_retries=0))

    def podium() -> int:
        return sum(1 for _ in model.stream([Message.user("hi")])) - 1

    for fn in (plain, sdk, podium):  # warm up connections and imports
        fn()
    result = {name: best(fn, repeat, n) for name, fn in (("plain", plain), ("sdk", sdk), ("podium", podium))}
    server.stop()
    return result


def bench_bedrock(n: int, repeat: int) -> dict[str, float]:
    import boto3
    import httpx2
    from botocore.eventstream import EventStreamBuffer

    from podium.providers.bedrock import BedrockModel
    from podium.providers.retry import RetryPolicy

    body = bedrock_body(n)
    server = serve(BEDROCK_PATH, body, "application/vnd.amazon.eventstream", copies=3 * (repeat + 1))
    url = server.url
    http = httpx2.Client()

    def plain() -> int:
        count = 0
        buffer = EventStreamBuffer()
        with http.stream("POST", url + BEDROCK_PATH, json={"messages": []}) as response:
            for data in response.iter_bytes():
                buffer.add_data(data)
                for message in buffer:
                    event = json.loads(message.payload)
                    count += "delta" in event
        return count

    creds = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    client = boto3.client("bedrock-runtime", endpoint_url=url, **creds)

    def sdk() -> int:
        response = client.converse_stream(
            modelId="us.amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
        return sum(1 for e in response["stream"] if "contentBlockDelta" in e)

    model = BedrockModel(
        "us.amazon.nova-micro-v1:0",
        base_url=url,
        retry=RetryPolicy(max_retries=0),
        region="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )

    def podium() -> int:
        return sum(1 for _ in model.stream([Message.user("hi")])) - 1

    for fn in (plain, sdk, podium):
        fn()
    result = {name: best(fn, repeat, n) for name, fn in (("plain", plain), ("sdk", sdk), ("podium", podium))}
    server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name, fn in (("google", bench_google), ("bedrock", bench_bedrock)):
        r = fn(args.chunks, args.repeat)
        print(
            f"{name:8s} per chunk: plain {r['plain']:6.1f} us | sdk {r['sdk']:6.1f} us | podium {r['podium']:6.1f} us"
            f" | podium/plain {r['podium'] / r['plain']:.2f}x | sdk/plain {r['sdk'] / r['plain']:.2f}x"
        )


if __name__ == "__main__":
    main()
